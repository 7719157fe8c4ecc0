/*
 * loader.c — turn an ELF boot module into a runnable process.
 *
 * The address space: every loadable segment at its linked address with its
 * permissions (pages shared by two segments get the union), a stack below
 * USER_STACK_TOP with an unmapped guard page under it, the argument page and
 * the dispatcher frame (LMP buffers) at DISPFRAME_VADDR.
 * Pages come from the boot allocator and are written through the direct map.
 * The ELF file has been fully validated by elf_parse() before anything is
 * allocated.
 */
#include "loader.h"

#include <minnow/args.h>
#include <minnow/lmp.h>
#include "asid.h"
#include "base/cpio.h"
#include "base/elf.h"
#include "cap/bootstrap.h"
#include "memlayout.h"
#include "mmu.h"
#include "physmem.h"
#include "sched.h"
#include "string.h"
#include "sysreg.h"

#define CACHE_LINE 64

static uint64_t user_prot(uint32_t flags)
{
    uint64_t prot = PROT_USER_BASE;
    if (!(flags & ELF_SEG_W))
        prot |= PTE_AP_RO;
    if (!(flags & ELF_SEG_X))
        prot |= PTE_UXN;
    return prot;
}

/* Flags an existing user leaf grants, to merge with a second segment's. */
static uint32_t leaf_flags(pte_t leaf)
{
    uint32_t f = ELF_SEG_R;
    if (!(leaf & PTE_AP_RO)) f |= ELF_SEG_W;
    if (!(leaf & PTE_UXN)) f |= ELF_SEG_X;
    return f;
}

/* The page at va: existing (permissions widened to flags) or new. */
static errval_t user_page(uint64_t l0, uint64_t va, uint32_t flags, uint8_t **kva)
{
    uint64_t pa;
    pte_t leaf;
    if (mmu_lookup(l0, va, &pa, &leaf)) {
        *kva = phys_to_virt(pa);
        return mmu_set_prot(l0, va, user_prot(flags | leaf_flags(leaf)));
    }
    pa = physmem_alloc_page();
    if (pa == 0)
        return KERN_ERR_NO_MEMORY;
    *kva = phys_to_virt(pa);
    return mmu_map(l0, va, pa, PAGE_SIZE, user_prot(flags), physmem_alloc_page);
}

/* Make instructions written through the direct map visible to fetches. */
static void sync_icache(const uint8_t *kva)
{
    for (uint64_t off = 0; off < PAGE_SIZE; off += CACHE_LINE)
        __asm__ volatile("dc cvau, %0" :: "r"(kva + off) : "memory");
}

static errval_t load_segment(uint64_t l0, const struct elf_segment *s)
{
    uint64_t start = s->vaddr & ~(PAGE_SIZE - 1);
    uint64_t end = (s->vaddr + s->memsz + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    for (uint64_t va = start; va < end; va += PAGE_SIZE) {
        uint8_t *kva;
        errval_t err = user_page(l0, va, s->flags, &kva);
        if (err_is_fail(err))
            return err;
        /* The part of [vaddr, vaddr + filesz) inside this page. */
        uint64_t lo = va > s->vaddr ? va : s->vaddr;
        uint64_t hi = s->vaddr + s->filesz;
        if (hi > va + PAGE_SIZE)
            hi = va + PAGE_SIZE;
        if (hi > lo)
            memcpy(kva + (lo - va), (const uint8_t *)s->data + (lo - s->vaddr), hi - lo);
        if (s->flags & ELF_SEG_X)
            sync_icache(kva);
    }
    return SYS_ERR_OK;
}

static errval_t map_fresh(uint64_t l0, uint64_t va, uint64_t prot, uint64_t *pa_out)
{
    uint64_t pa = physmem_alloc_page();
    if (pa == 0)
        return KERN_ERR_NO_MEMORY;
    if (pa_out != NULL)
        *pa_out = pa;
    return mmu_map(l0, va, pa, PAGE_SIZE, prot, physmem_alloc_page);
}

static errval_t map_stack(uint64_t l0)
{
    for (uint64_t va = USER_STACK_TOP - USER_STACK_SIZE; va < USER_STACK_TOP; va += PAGE_SIZE) {
        errval_t err = map_fresh(l0, va, PROT_USER_BASE | PTE_UXN, NULL);
        if (err_is_fail(err))
            return err;
    }
    return SYS_ERR_OK;
}

static void copy_string(char *dst, const char *src, size_t cap)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static errval_t map_args(uint64_t l0, const struct dcb *d, const char *cmdline, uint64_t *pa)
{
    errval_t err = map_fresh(l0, ARGS_PAGE_VADDR, PROT_USER_BASE | PTE_UXN | PTE_AP_RO, pa);
    if (err_is_fail(err))
        return err;
    struct minnow_args *a = phys_to_virt(*pa);
    a->magic = ARGS_MAGIC;
    a->pid = d->pid;
    a->core = (uint32_t)(READ_SYSREG(mpidr_el1) & 0xff);
    copy_string(a->name, d->name, sizeof a->name);
    copy_string(a->cmdline, cmdline, sizeof a->cmdline);
    return SYS_ERR_OK;
}

/* The dispatcher frame (LMP buffers, include/minnow/lmp.h), zeroed, mapped
 * read-write at DISPFRAME_VADDR: the first program (init, which serves
 * everyone) gets DISPFRAME_INIT_BYTES, the others DISPFRAME_CHILD_BYTES. */
static errval_t map_dispframe(uint64_t l0, const struct dcb *d, struct phys_range *frame)
{
    uint64_t size = d->pid == 1 ? DISPFRAME_INIT_BYTES : DISPFRAME_CHILD_BYTES;
    uint64_t pa = physmem_alloc(size);
    if (pa == 0)
        return KERN_ERR_NO_MEMORY;
    *frame = (struct phys_range){ pa, size };
    return mmu_map(l0, DISPFRAME_VADDR, pa, size, PROT_USER_BASE | PTE_UXN, physmem_alloc_page);
}

static errval_t build_space(struct dcb *d, const struct elf_image *img, const char *cmdline,
                            uint64_t *l0_out, uint64_t *args_pa, struct phys_range *dispframe)
{
    uint64_t l0 = physmem_alloc_page();
    if (l0 == 0)
        return KERN_ERR_NO_MEMORY;
    *l0_out = l0;
    for (unsigned i = 0; i < img->nsegments; i++) {
        struct elf_segment seg;
        elf_segment(img, i, &seg);
        errval_t err = load_segment(l0, &seg);
        if (err_is_fail(err))
            return err;
    }
    __asm__ volatile("dsb ish; ic iallu; dsb ish; isb" ::: "memory");
    errval_t err = map_stack(l0);
    if (err_is_ok(err))
        err = map_args(l0, d, cmdline, args_pa);
    if (err_is_ok(err))
        err = map_dispframe(l0, d, dispframe);
    if (err_is_ok(err))
        err = asid_alloc(&d->asid);
    d->ttbr0 = l0 | ((uint64_t)d->asid << 48);
    return err;
}

static uint32_t next_pid = 1;

/* The first program gets the devices (bootstrap.c) and so drives the
 * console: tell it which DevFrame and IRQ capability that is. */
static void tell_console(struct minnow_args *a, const struct platform *p)
{
    a->console_base = p->uart.base;
    a->console_intid = p->uart_intid;
}

errval_t loader_start_process(const struct platform *p, const char *name, struct dcb **out)
{
    struct cpio_file file;
    errval_t err = cpio_find(phys_to_virt(p->initrd.base), p->initrd.size, name, &file);
    if (err_is_fail(err))
        return err_push(err, KERN_ERR_LOAD_PROGRAM);
    struct elf_image img;
    err = elf_parse(file.data, file.size, &img);
    if (err_is_fail(err))
        return err_push(err, KERN_ERR_LOAD_PROGRAM);
    /* A failure from here on stops the boot, so nothing is given back. */
    uint64_t dcb_pa = physmem_alloc_page(), l0, args_pa;
    struct phys_range dispframe;
    if (dcb_pa == 0)
        return err_push(KERN_ERR_NO_MEMORY, KERN_ERR_LOAD_PROGRAM);
    struct dcb *d = phys_to_virt(dcb_pa);
    d->pid = next_pid++;
    copy_string(d->name, name, sizeof d->name);
    err = build_space(d, &img, p->cmdline, &l0, &args_pa, &dispframe);
    if (err_is_ok(err) && d->pid == 1)
        tell_console(phys_to_virt(args_pa), p);
    if (err_is_ok(err))
        err = bootstrap_cspace(d, dcb_pa, l0, args_pa, dispframe);
    if (err_is_fail(err))
        return err_push(err, KERN_ERR_LOAD_PROGRAM);
    d->regs.elr = img.entry;
    d->regs.sp = USER_STACK_TOP;
    d->regs.spsr = 0;           /* EL0t, interrupts unmasked */
    d->regs.x[0] = ARGS_PAGE_VADDR;
    sched_make_runnable(d);
    *out = d;
    return SYS_ERR_OK;
}
