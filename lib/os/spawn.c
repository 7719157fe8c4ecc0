/*
 * spawn.c — building a process from a boot module (spawn.h).
 *
 * The process's memory is laid out as (offsets into the one allocation):
 *   [0, 80 KiB)        its five L2 CNodes (TASKCN, PAGECN, SLOT_ALLOC0/1, MEMCN)
 *   then 4 KiB         its root (L1) CNode
 *   then 4 KiB         its dispatcher
 *   then 16 KiB        its dispatcher frame (LMP buffers, include/minnow/lmp.h)
 *   then 4 KiB + priv  one Frame: the argument page, then the image's private pages
 *   then 64 KiB        its stack
 *   then n * 4 KiB     its page tables (n bounded by the image span)
 *   the rest           RAM for its own use, in MEMCN slot 0
 * Capabilities: the dispatcher, root CNode, dispatcher frame, argument/image
 * frame, an EndPoint to its own buffer 0 and, if asked, the spawner's
 * EndPoint in its TASKCN (cspace.h), the stack frame in TASKCN slot
 * TASKCN_SLOTS_USER; the
 * level-0 table in PAGECN slot 0 and every other table and mapping after it.
 *
 * Read-only segments (code, constants) are not copied: their pages are
 * mapped straight from the boot-module archive, which every process
 * shares. Only the pages something may write (data, bss) or that the
 * module cannot supply as they are are private: copied into the image
 * Frame, whose fresh memory is zero for the bss. So a program pays per
 * spawn for its writable pages, not for its code.
 */
#include "spawn.h"

#include <string.h>

#include "base/cpio.h"
#include "base/elf.h"
#include "dispatcher.h"
#include "os.h"
#include "paging.h"
#include "pt_model.h"
#include "ram.h"
#include "slots.h"
#include "thread.h"

#define PAGE            4096ull
#define CNODES_BYTES    (SPAWN_MOUNTED_CNODES * (uint64_t)OBJSIZE_L2CNODE)
#define STACK_SLOT      TASKCN_SLOTS_USER
#define MODEL_BYTES     (16 * 1024)

/* Tables besides the image's: the level-0 one, and the level-1, level-2
 * and level-3 tables the argument page and the stack share (args.h). */
_Static_assert(((USER_STACK_TOP - USER_STACK_SIZE) >> 21) == (ARGS_PAGE_VADDR >> 21),
               "stack and argument page share a level-3 table");
#define TABLES_FIXED    4
_Static_assert((DISPFRAME_VADDR >> 21) == (ARGS_PAGE_VADDR >> 21) &&
               DISPFRAME_VADDR + DISPFRAME_CHILD_BYTES < USER_STACK_TOP - USER_STACK_SIZE - PAGE,
               "the dispatcher frame shares that table and ends below the stack's guard page");

struct build {
    const struct spawn_request *req;
    char name[ARGS_NAME_MAX];
    const char *args;               /* the words after the name */
    struct elf_image img;
    uint64_t lo, hi;                /* the image's pages */
    uint64_t priv_lo, priv_hi;      /* the window of private pages, copied into the image Frame */
    size_t module;                  /* index in modules[] */
    struct capref mem;
    uint64_t mem_base, mem_size, memory;
    uint64_t l1_off, disp_off, dispframe_off, frame_off, stack_off, tables_off, tables_end, ram_off;
    uint64_t next_table;            /* offset of the next page table */
    uint32_t next_pageslot;         /* next free PAGECN slot */
    struct capref l1, disp;         /* the child's root CNode and our dispatcher copy */
    struct pt_model vspace;
};

/* Guards everything below and the mount slots ROOTCN_SLOT_SPAWN.. */
static struct thread_mutex lock = THREAD_MUTEX_INITIALIZER("spawn");
static struct cpio_file modules[SPAWN_MODULES_MAX];    /* the archive's files, found once */
static bool code_synced[SPAWN_MODULES_MAX];            /* its shared code made fetchable */
static size_t nmodules;
static bool archive_mapped;
static const uint8_t *archive_va;                       /* our read-only mapping of it */
static uint64_t archive_pa, archive_size;

/* Per image page: the CAPRIGHTS_* of the segments touching it, whether
 * one already did (PAGE_TOUCHED), and whether the page is private. */
#define PAGE_RIGHTS     0x0fu
#define PAGE_TOUCHED    0x40u
#define PAGE_PRIVATE    0x80u
static uint8_t page_rights[SPAWN_IMAGE_MAX / PAGE];
static uint8_t model_records[MODEL_BYTES] __attribute__((aligned(16)));

/* Slot `slot` of the child's L2 CNode in its root slot `l1`, while mounted. */
static struct capref child_slot(uint32_t l1, uint32_t slot)
{
    return capref_l2(ROOTCN_SLOT_SPAWN + l1, slot);
}

static struct capref ref_of(capaddr_t a) { return capref_l2(capaddr_l1(a), capaddr_l2(a)); }

static uint64_t page_down(uint64_t a) { return a & ~(PAGE - 1); }
static uint64_t page_up(uint64_t a) { return (a + PAGE - 1) & ~(PAGE - 1); }

static const char *skip_spaces(const char *s)
{
    while (*s == ' ')
        s++;
    return s;
}

static unsigned count_words(const char *s)
{
    unsigned n = 0;
    for (s = skip_spaces(s); *s != '\0'; s = skip_spaces(s)) {
        n++;
        while (*s != '\0' && *s != ' ')
            s++;
    }
    return n;
}

static errval_t check_env(const char *const *env)
{
    size_t bytes = 1, n = 0;        /* the final NUL */
    for (; env != NULL && env[n] != NULL; n++)
        bytes += strlen(env[n]) + 1;
    if (n > ARGS_ENV_VARS)
        return SPAWN_ERR_TOO_MANY_ARGS;
    return bytes > ARGS_ENV_MAX ? SPAWN_ERR_ARGS_TOO_LONG : SYS_ERR_OK;
}

/* The program's name and its arguments, checked against the argument page. */
static errval_t parse(struct build *b)
{
    const char *s = skip_spaces(b->req->cmdline != NULL ? b->req->cmdline : "");
    size_t len = strcspn(s, " ");
    if (len == 0)
        return SPAWN_ERR_NO_NAME;
    if (len >= ARGS_NAME_MAX)
        return SPAWN_ERR_NO_PROGRAM;        /* no boot module has so long a name */
    memcpy(b->name, s, len);
    b->name[len] = '\0';
    b->args = skip_spaces(s + len);
    if (strlen(b->args) >= ARGS_CMDLINE_MAX)
        return SPAWN_ERR_ARGS_TOO_LONG;
    if (count_words(b->args) > ARGS_MAX_WORDS)
        return SPAWN_ERR_TOO_MANY_ARGS;
    return check_env(b->req->env);
}

/* Index the regular files of an archive (the packer's padding aside). */
static void index_modules(const uint8_t *archive, size_t size)
{
    static const char pad[] = ".pad-";
    struct cpio_file f;
    size_t offset = 0;
    while (nmodules < SPAWN_MODULES_MAX && err_is_ok(cpio_next(archive, size, &offset, &f)))
        if ((f.mode & 0170000) == 0100000 && strncmp(f.name, pad, sizeof pad - 1) != 0)
            modules[nmodules++] = f;
}

/* Map the boot-module archive (read-only, for good) and index it, once. */
static errval_t map_archive(void)
{
    if (archive_mapped)
        return SYS_ERR_OK;
    struct capref frame = capref_l2(ROOTCN_SLOT_MODULECN, 0);
    struct capinfo ci;
    uint64_t va;
    errval_t err = paging_init();
    if (err_is_ok(err))
        err = cap_identify(frame, &ci);
    if (err_is_ok(err))
        err = paging_map_frame(frame, ci.size, VREGION_ATTR_READ, &va);
    if (err_is_fail(err))
        return err;
    archive_va = (const uint8_t *)va;
    archive_pa = ci.base;
    archive_size = ci.size;
    index_modules(archive_va, ci.size);
    archive_mapped = true;
    return SYS_ERR_OK;
}

static errval_t find_module(const char *name, size_t *index)
{
    errval_t err = map_archive();
    if (err_is_fail(err))
        return err;
    for (size_t i = 0; i < nmodules; i++) {
        if (strcmp(modules[i].name, name) == 0) {
            *index = i;
            return SYS_ERR_OK;
        }
    }
    return SPAWN_ERR_NO_PROGRAM;
}

errval_t spawn_read_module(const char *name, const void **data, size_t *size)
{
    size_t i;
    thread_mutex_lock(&lock);
    errval_t err = find_module(name, &i);
    thread_mutex_unlock(&lock);
    if (err_is_ok(err)) {
        *data = modules[i].data;
        *size = modules[i].size;
    }
    return err;
}

static errval_t find_program(struct build *b)
{
    errval_t err = find_module(b->name, &b->module);
    if (err_is_fail(err))
        return err;
    err = elf_parse(modules[b->module].data, modules[b->module].size, &b->img);
    return err_is_fail(err) ? err_push(err, SPAWN_ERR_LOAD) : SYS_ERR_OK;
}

/* The image's pages, which must fit below the process's own paging area. */
static errval_t image_span(struct build *b)
{
    b->lo = UINT64_MAX;
    b->hi = 0;
    for (unsigned i = 0; i < b->img.nsegments; i++) {
        struct elf_segment seg;
        elf_segment(&b->img, i, &seg);
        if (page_down(seg.vaddr) < b->lo)
            b->lo = page_down(seg.vaddr);
        if (page_up(seg.vaddr + seg.memsz) > b->hi)
            b->hi = page_up(seg.vaddr + seg.memsz);
    }
    if (b->hi > PAGING_LO)
        return SPAWN_ERR_IMAGE_PLACE;
    return b->hi - b->lo > SPAWN_IMAGE_MAX ? SPAWN_ERR_IMAGE_TOO_BIG : SYS_ERR_OK;
}

static uint64_t module_offset(const void *p)
{
    return (uint64_t)((const uint8_t *)p - archive_va);
}

static uint8_t rights_of(uint32_t elf_flags)
{
    return (uint8_t)(CAPRIGHTS_READ | ((elf_flags & ELF_SEG_W) ? CAPRIGHTS_WRITE : 0) |
                     ((elf_flags & ELF_SEG_X) ? CAPRIGHTS_EXECUTE : 0));
}

/* May this segment's pages be mapped straight from the archive? Only if
 * nothing may write them, they hold no bss (which must read as zero), and
 * its bytes sit at the same place within a page in the archive as in
 * memory (mkinitrd.py puts every module's data on a page; the linker keeps
 * file offsets and addresses congruent, user.ld). The bytes past the
 * segment's end on its last page are the archive's next bytes, which the
 * program never reads (as with a file mapping). */
static bool shareable(const struct elf_segment *seg)
{
    uint64_t off = module_offset(seg->data);
    return !(seg->flags & ELF_SEG_W) && seg->filesz == seg->memsz && seg->filesz > 0 &&
           (off & (PAGE - 1)) == (seg->vaddr & (PAGE - 1)) && page_up(off + seg->filesz) <= archive_size;
}

/* Each image page gets the rights of every segment that touches it. A page
 * is private unless exactly one segment, a shareable one, touches it. */
static void classify_pages(const struct build *b)
{
    memset(page_rights, 0, (b->hi - b->lo) / PAGE);
    for (unsigned i = 0; i < b->img.nsegments; i++) {
        struct elf_segment seg;
        elf_segment(&b->img, i, &seg);
        bool share = shareable(&seg);
        uint64_t end = (page_up(seg.vaddr + seg.memsz) - b->lo) / PAGE;
        for (uint64_t p = (page_down(seg.vaddr) - b->lo) / PAGE; p < end; p++) {
            if (!share || (page_rights[p] & PAGE_TOUCHED))
                page_rights[p] |= PAGE_PRIVATE;
            page_rights[p] |= rights_of(seg.flags) | PAGE_TOUCHED;
        }
    }
}

/* The smallest window of pages that holds every private one (empty: none). */
static void private_window(struct build *b)
{
    uint64_t pages = (b->hi - b->lo) / PAGE, first = pages, end = 0;
    for (uint64_t p = 0; p < pages; p++) {
        if (page_rights[p] & PAGE_PRIVATE) {
            first = p < first ? p : first;
            end = p + 1;
        }
    }
    b->priv_lo = b->lo + (end == 0 ? 0 : first * PAGE);
    b->priv_hi = b->lo + end * PAGE;
}

/* Offsets of every part (the comment at the top) and the total size. */
static void layout(struct build *b)
{
    uint64_t span = b->hi - b->lo;
    uint64_t image_tables = 1 + (span >> 30) + 2 + (span >> 21) + 2;
    b->memory = page_up(b->req->memory != 0 ? b->req->memory : SPAWN_DEFAULT_MEMORY);
    b->l1_off = CNODES_BYTES;
    b->disp_off = b->l1_off + PAGE;
    b->dispframe_off = b->disp_off + PAGE;
    b->frame_off = b->dispframe_off + DISPFRAME_CHILD_BYTES;
    b->stack_off = b->frame_off + PAGE + (b->priv_hi - b->priv_lo);
    b->tables_off = b->stack_off + USER_STACK_SIZE;
    b->tables_end = b->tables_off + (TABLES_FIXED + image_tables) * PAGE;
    b->ram_off = b->tables_end;
    b->mem_size = b->ram_off + b->memory;
}

static errval_t retype_into(struct capref dest, const struct build *b, enum objtype type,
                            uint64_t offset, uint64_t size, uint64_t count)
{
    return cap_retype(dest, b->mem, type, offset, size, count);
}

/* Root CNode, the five L2 CNodes (mounted in ours and linked into it),
 * dispatcher, level-0 table and the RAM of its own. */
static errval_t make_cspace(struct build *b)
{
    errval_t err = retype_into(b->l1, b, OBJ_L1CNODE, b->l1_off, L1_CNODE_INITIAL_SLOTS * OBJSIZE_CTE, 1);
    if (err_is_ok(err))
        err = retype_into(capref_root_slot(ROOTCN_SLOT_SPAWN), b, OBJ_L2CNODE, 0, OBJSIZE_L2CNODE,
                          SPAWN_MOUNTED_CNODES);
    for (uint32_t i = 0; err_is_ok(err) && i < SPAWN_MOUNTED_CNODES; i++)
        err = cnode_copy_to(b->l1, i, capref_root_slot(ROOTCN_SLOT_SPAWN + i));
    struct capref disp = child_slot(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_DISPATCHER);
    if (err_is_ok(err))
        err = cap_copy(child_slot(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_ROOTCN), b->l1);
    if (err_is_ok(err))
        err = retype_into(disp, b, OBJ_DISPATCHER, b->disp_off, 0, 1);
    if (err_is_ok(err))
        err = cap_copy(b->disp, disp);
    if (err_is_ok(err))
        err = retype_into(child_slot(ROOTCN_SLOT_PAGECN, 0), b, OBJ_VNODE_L0, b->tables_off, 0, 1);
    if (err_is_ok(err))
        err = retype_into(child_slot(ROOTCN_SLOT_MEMCN, 0), b, OBJ_RAM, b->ram_off, b->memory, 1);
    b->next_table = b->tables_off + PAGE;
    b->next_pageslot = 1;
    return err;
}

static void write_args(struct minnow_args *a, const struct build *b)
{
    a->magic = ARGS_MAGIC;
    a->pid = b->req->pid;
    a->core = os_args()->core;
    strcpy(a->name, b->name);
    strcpy(a->cmdline, b->args);
    char *e = a->env;
    for (const char *const *v = b->req->env; v != NULL && *v != NULL; v++) {
        size_t n = strlen(*v);
        memcpy(e, *v, n + 1);
        e += n + 1;
    }
    *e = '\0';
}

/* Make code written through the data side visible to instruction fetch. */
static void sync_code(uint8_t *va, uint64_t size)
{
    for (uint64_t off = 0; off < size; off += 64)
        __asm__ volatile("dc cvau, %0" :: "r"(va + off) : "memory");
    __asm__ volatile("dsb ish" ::: "memory");
    for (uint64_t off = 0; off < size; off += 64)
        __asm__ volatile("ic ivau, %0" :: "r"(va + off) : "memory");
    __asm__ volatile("dsb ish; isb" ::: "memory");
}

/* The segments' bytes that fall into the private window, to `image` (the
 * window's first page); the rest of it stays zero: a fresh frame. */
static void copy_segments(uint8_t *image, const struct build *b)
{
    for (unsigned i = 0; i < b->img.nsegments; i++) {
        struct elf_segment seg;
        elf_segment(&b->img, i, &seg);
        uint64_t from = seg.vaddr > b->priv_lo ? seg.vaddr : b->priv_lo;
        uint64_t to = seg.vaddr + seg.filesz < b->priv_hi ? seg.vaddr + seg.filesz : b->priv_hi;
        if (from >= to)
            continue;
        uint8_t *dst = image + (from - b->priv_lo);
        memcpy(dst, (const uint8_t *)seg.data + (from - seg.vaddr), to - from);
        if (seg.flags & ELF_SEG_X)
            sync_code(dst, to - from);
    }
}

/* The argument page and the private pages, written through a mapping of ours. */
static errval_t fill_frame(struct build *b, struct capref frame, uint64_t size)
{
    uint64_t va;
    errval_t err = retype_into(frame, b, OBJ_FRAME, b->frame_off, size, 1);
    if (err_is_ok(err))
        err = paging_map_frame(frame, size, VREGION_ATTR_RW, &va);
    if (err_is_fail(err))
        return err;
    write_args((struct minnow_args *)va, b);
    copy_segments((uint8_t *)va + PAGE, b);
    err = paging_unmap(va, size);
    return err_is_ok(err) ? paging_free(va, size) : err;
}

/* The child's page tables, made by pt_model through these ops. */
static errval_t page_slot(struct build *b, struct capref *slot)
{
    if (b->next_pageslot >= L2_CNODE_SLOTS)
        return SPAWN_ERR_TOO_MANY_TABLES;
    *slot = child_slot(ROOTCN_SLOT_PAGECN, b->next_pageslot++);
    return SYS_ERR_OK;
}

static errval_t child_new_table(void *arg, int level, capaddr_t *vnode)
{
    struct build *b = arg;
    struct capref slot;
    if (b->next_table + PAGE > b->tables_end)
        return SPAWN_ERR_TOO_MANY_TABLES;
    errval_t err = page_slot(b, &slot);
    if (err_is_ok(err))
        err = retype_into(slot, b, (enum objtype)(OBJ_VNODE_L0 + level), b->next_table, 0, 1);
    if (err_is_fail(err))
        return err;
    b->next_table += PAGE;
    *vnode = (capaddr_t)capref_addr(slot);
    return SYS_ERR_OK;
}

static errval_t child_map(void *arg, capaddr_t vnode, unsigned entry, capaddr_t frame, uint64_t offset,
                          unsigned count, unsigned flags, capaddr_t *mapping)
{
    struct capref slot;
    errval_t err = page_slot(arg, &slot);
    if (err_is_ok(err))
        err = vnode_map(ref_of(vnode), entry, ref_of(frame), (uint8_t)flags, offset, count, slot);
    if (err_is_ok(err))
        *mapping = (capaddr_t)capref_addr(slot);
    return err;
}

static errval_t child_link(void *arg, capaddr_t parent, unsigned entry, capaddr_t child, capaddr_t *mapping)
{
    return child_map(arg, parent, entry, child, 0, 1, 0, mapping);
}

/* Undo paths of pt_map: the slot stays used until the child is gone. */
static errval_t child_delete(void *arg, capaddr_t cap)
{
    (void)arg;
    return cap_delete(ref_of(cap));
}

static const struct pt_ops child_ops = { child_new_table, child_delete, child_link, child_map, child_delete };

/* Runs of private pages with equal rights, each one pt_map from the
 * image Frame (after its argument page). */
static errval_t map_private(struct build *b, capaddr_t frame, uint64_t frame_pa)
{
    uint64_t pages = (b->hi - b->lo) / PAGE;
    errval_t err = SYS_ERR_OK;
    for (uint64_t p = 0, q; err_is_ok(err) && p < pages; p = q) {
        for (q = p + 1; q < pages && page_rights[q] == page_rights[p]; q++)
            ;
        uint64_t va = b->lo + p * PAGE;
        if (page_rights[p] & PAGE_PRIVATE)
            err = pt_map(&b->vspace, va, frame, frame_pa, PAGE + (va - b->priv_lo), (q - p) * PAGE,
                         page_rights[p] & PAGE_RIGHTS, NULL);
    }
    return err;
}

/* Code is fetched from the archive's pages: make sure no stale
 * instruction cache line stands for them, once per module. */
static void sync_module_code(const struct build *b)
{
    if (code_synced[b->module])
        return;
    for (unsigned i = 0; i < b->img.nsegments; i++) {
        struct elf_segment seg;
        elf_segment(&b->img, i, &seg);
        if ((seg.flags & ELF_SEG_X) && shareable(&seg))
            sync_code((uint8_t *)seg.data, seg.filesz);
    }
    code_synced[b->module] = true;
}

/* The shared pages of one segment, in runs between private ones, mapped
 * from the archive's Frame at the segment's place in it. */
static errval_t map_shared_segment(struct build *b, const struct elf_segment *seg)
{
    capaddr_t archive = (capaddr_t)capref_addr(capref_l2(ROOTCN_SLOT_MODULECN, 0));
    uint64_t start = page_down(seg->vaddr), off = page_down(module_offset(seg->data));
    uint64_t p = (start - b->lo) / PAGE, end = (page_up(seg->vaddr + seg->memsz) - b->lo) / PAGE;
    errval_t err = SYS_ERR_OK;
    for (uint64_t q; err_is_ok(err) && p < end; p = q) {
        for (q = p + 1; q < end && (page_rights[q] & PAGE_PRIVATE) == (page_rights[p] & PAGE_PRIVATE); q++)
            ;
        uint64_t va = b->lo + p * PAGE;
        if (!(page_rights[p] & PAGE_PRIVATE))
            err = pt_map(&b->vspace, va, archive, archive_pa, off + (va - start), (q - p) * PAGE,
                         page_rights[p] & PAGE_RIGHTS, NULL);
    }
    return err;
}

/* Private pages from the image Frame, shared ones from the archive. */
static errval_t map_image(struct build *b, capaddr_t frame, uint64_t frame_pa)
{
    errval_t err = map_private(b, frame, frame_pa);
    sync_module_code(b);
    for (unsigned i = 0; err_is_ok(err) && i < b->img.nsegments; i++) {
        struct elf_segment seg;
        elf_segment(&b->img, i, &seg);
        if (shareable(&seg))
            err = map_shared_segment(b, &seg);
    }
    return err;
}

/* The dispatcher frame, mapped at DISPFRAME_VADDR (in the level-3 table of
 * the stack) and given to the dispatcher; an EndPoint to the child's own
 * buffer 0 in its TASKCN_SLOT_SELFEP; the spawner's EndPoint, if any. */
static errval_t make_lmp(struct build *b)
{
    struct capref frame = child_slot(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_DISPFRAME);
    struct capref disp = child_slot(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_DISPATCHER);
    errval_t err = retype_into(frame, b, OBJ_FRAME, b->dispframe_off, DISPFRAME_CHILD_BYTES, 1);
    if (err_is_ok(err))
        err = pt_map(&b->vspace, DISPFRAME_VADDR, (capaddr_t)capref_addr(frame), b->mem_base + b->dispframe_off,
                     0, DISPFRAME_CHILD_BYTES, CAPRIGHTS_RW, NULL);
    if (err_is_ok(err))
        err = sys_invoke(capref_addr(disp), DISPATCHER_CMD_SET_FRAME, capref_addr(frame), 0, 0, 0, 0, 0).err;
    if (err_is_ok(err))
        err = sys_invoke(capref_addr(disp), DISPATCHER_CMD_ENDPOINT, capaddr_level1(ROOTCN_SLOT_SPAWN + ROOTCN_SLOT_TASKCN),
                         TASKCN_SLOT_SELFEP, 0, 0, 0, 0).err;
    if (err_is_ok(err) && b->req->initep != NULL)
        err = b->req->initep_badge == 0
                  ? cap_copy(child_slot(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_INITEP), *b->req->initep)
                  : cap_mint(child_slot(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_INITEP), *b->req->initep,
                             CAPRIGHTS_ALL, b->req->initep_badge);
    return err;
}

static errval_t make_vspace(struct build *b)
{
    struct capref frame = child_slot(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_ARGSPAGE);
    struct capref stack = child_slot(ROOTCN_SLOT_TASKCN, STACK_SLOT);
    uint64_t frame_pa = b->mem_base + b->frame_off, stack_pa = b->mem_base + b->stack_off;
    capaddr_t f = (capaddr_t)capref_addr(frame), s = (capaddr_t)capref_addr(stack);
    errval_t err = pt_model_init(&b->vspace, (capaddr_t)capref_addr(child_slot(ROOTCN_SLOT_PAGECN, 0)),
                                 &child_ops, b, NULL, NULL);
    if (err_is_ok(err))
        err = pt_model_grow(&b->vspace, model_records, sizeof model_records);
    if (err_is_ok(err))
        err = fill_frame(b, frame, PAGE + (b->priv_hi - b->priv_lo));
    if (err_is_ok(err))
        err = map_image(b, f, frame_pa);
    if (err_is_ok(err))
        err = pt_map(&b->vspace, ARGS_PAGE_VADDR, f, frame_pa, 0, PAGE, CAPRIGHTS_READ, NULL);
    if (err_is_ok(err))
        err = retype_into(stack, b, OBJ_FRAME, b->stack_off, USER_STACK_SIZE, 1);
    if (err_is_ok(err))
        err = pt_map(&b->vspace, USER_STACK_TOP - USER_STACK_SIZE, s, stack_pa, 0, USER_STACK_SIZE,
                     CAPRIGHTS_RW, NULL);
    return err;
}

static errval_t make_dispatcher(struct build *b)
{
    errval_t err = dispatcher_setup(child_slot(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_DISPATCHER), b->l1,
                                    child_slot(ROOTCN_SLOT_PAGECN, 0), b->img.entry, USER_STACK_TOP,
                                    ARGS_PAGE_VADDR);
    return err_is_ok(err) ? dispatcher_set_name(b->disp, b->req->pid, b->name) : err;
}

static errval_t build(struct build *b)
{
    errval_t err = parse(b);
    if (err_is_ok(err))
        err = find_program(b);
    if (err_is_ok(err))
        err = image_span(b);
    if (err_is_fail(err))
        return err;
    classify_pages(b);
    private_window(b);
    layout(b);
    err = ram_alloc(b->mem_size, PAGE, &b->mem, &b->mem_base);
    if (err_is_fail(err))
        return err;
    err = make_cspace(b);
    if (err_is_ok(err))
        err = make_vspace(b);
    if (err_is_ok(err))
        err = make_lmp(b);
    if (err_is_ok(err))
        err = make_dispatcher(b);
    if (err_is_fail(err))
        ram_free(b->mem_base, b->mem_size);     /* revokes everything made from it */
    return err;
}

/* The mounts and our copy of the root CNode go; the child keeps its own. */
static void unmount(struct build *b)
{
    for (uint32_t i = 0; i < SPAWN_MOUNTED_CNODES; i++)
        cap_delete(capref_root_slot(ROOTCN_SLOT_SPAWN + i));
    cap_delete(b->l1);
    os_slot_free(b->l1);
}

errval_t spawn_load(const struct spawn_request *req, struct spawn_process *out)
{
    struct build b = { .req = req };
    errval_t err = os_slot_alloc(&b.disp);
    if (err_is_fail(err))
        return err;
    thread_mutex_lock(&lock);
    err = os_slot_alloc(&b.l1);
    if (err_is_ok(err)) {
        err = build(&b);
        unmount(&b);
    }
    thread_mutex_unlock(&lock);
    if (err_is_fail(err)) {
        os_slot_free(b.disp);
        return err;
    }
    *out = (struct spawn_process){ .dispatcher = b.disp, .mem_base = b.mem_base, .mem_size = b.mem_size };
    strcpy(out->name, b.name);
    return SYS_ERR_OK;
}

errval_t spawn_reclaim(struct spawn_process *p)
{
    errval_t err = ram_free(p->mem_base, p->mem_size);
    return err_is_ok(err) ? os_slot_free(p->dispatcher) : err;
}
