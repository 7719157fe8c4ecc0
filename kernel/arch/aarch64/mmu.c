/*
 * mmu.c — building and walking translation tables, and the kernel half.
 *
 * The kernel half starts as head.S left it (image window only, boot_mmu.c).
 * mmu_map_direct() then adds RAM and device registers to the direct map,
 * with tables from a fixed pool inside the image: the kernel allocates no
 * memory of its own after boot, so the pool is sized for the largest
 * machine we support (see KERNEL_TABLE_POOL) and exhaustion is a named error.
 * User address spaces use the same mapper with pages from the boot allocator.
 */
#include "mmu.h"

#include "memlayout.h"
#include "sysreg.h"
#include "string.h"

#define KERNEL_TABLE_POOL 64

extern pte_t boot_l0_kernel[512];
extern char _kernel_start[], _kernel_end[];

uint64_t mmu_image_pa, mmu_image_size;  /* _kernel_start's physical address; the image's size */
static pte_t table_pool[KERNEL_TABLE_POOL][512] __attribute__((aligned(4096)));
static unsigned table_pool_used;

uint64_t virt_to_phys(const void *va)
{
    uint64_t v = (uint64_t)va;
    if (v >= KERNEL_IMAGE_BASE)
        return v - KERNEL_IMAGE_BASE + mmu_image_pa;
    return v - KERNEL_DIRECT_BASE;
}

static unsigned pt_index(uint64_t va, int level)
{
    return (va >> (39 - 9 * level)) & 511;
}

static uint64_t level_size(int level)
{
    return 1ul << (39 - 9 * level);
}

/* The table one level down from *entry, created if absent. */
static errval_t next_table(pte_t *entry, mmu_alloc_fn alloc, pte_t **next)
{
    if (!(*entry & PTE_VALID)) {
        uint64_t pa = alloc();
        if (pa == 0)
            return KERN_ERR_NO_MEMORY;
        dsb_ishst();
        *entry = pa | PTE_VALID | PTE_TABLE;
    } else if (!(*entry & PTE_TABLE)) {
        return KERN_ERR_MAP_FAILED; /* a block is in the way */
    }
    *next = phys_to_virt(*entry & PTE_ADDR_MASK);
    return SYS_ERR_OK;
}

/* Can [va, va+size) -> pa use one leaf at this level? Level 0 has no blocks. */
static bool leaf_fits(int level, uint64_t va, uint64_t pa, uint64_t size)
{
    uint64_t sz = level_size(level);
    return level >= 1 && ((va | pa) & (sz - 1)) == 0 && size >= sz;
}

static errval_t map_one(pte_t *table, int level, uint64_t va, uint64_t pa,
                        uint64_t size, uint64_t prot, mmu_alloc_fn alloc, uint64_t *done)
{
    pte_t *entry = &table[pt_index(va, level)];
    if (leaf_fits(level, va, pa, size) && !(level < 3 && (*entry & (PTE_VALID | PTE_TABLE)) == (PTE_VALID | PTE_TABLE))) {
        pte_t want = pa | prot | PTE_VALID | (level == 3 ? PTE_TABLE : 0);
        if ((*entry & PTE_VALID) && *entry != want)
            return KERN_ERR_MAP_FAILED;
        *entry = want;
        *done = level_size(level);
        return SYS_ERR_OK;
    }
    if (level == 3)
        return KERN_ERR_MAP_FAILED; /* unaligned at 4 KiB */
    pte_t *next;
    errval_t err = next_table(entry, alloc, &next);
    if (err_is_fail(err))
        return err;
    return map_one(next, level + 1, va, pa, size, prot, alloc, done);
}

errval_t mmu_map(uint64_t l0_pa, uint64_t va, uint64_t pa, uint64_t size,
                 uint64_t prot, mmu_alloc_fn alloc)
{
    if (((va | pa | size) & (PAGE_SIZE - 1)) != 0)
        return KERN_ERR_MAP_FAILED;
    pte_t *l0 = phys_to_virt(l0_pa);
    while (size > 0) {
        uint64_t done;
        errval_t err = map_one(l0, 0, va, pa, size, prot, alloc, &done);
        if (err_is_fail(err))
            return err;
        va += done;
        pa += done;
        size -= done;
    }
    dsb_ishst();
    return SYS_ERR_OK;
}

static pte_t *leaf_entry(uint64_t l0_pa, uint64_t va, int *level_out)
{
    pte_t *table = phys_to_virt(l0_pa);
    for (int level = 0; level <= 3; level++) {
        pte_t *e = &table[pt_index(va, level)];
        if (!(*e & PTE_VALID))
            return NULL;
        if (level == 3 || !(*e & PTE_TABLE)) {
            *level_out = level;
            return e;
        }
        table = phys_to_virt(*e & PTE_ADDR_MASK);
    }
    return NULL;
}

bool mmu_lookup(uint64_t l0_pa, uint64_t va, uint64_t *pa, pte_t *leaf)
{
    int level;
    pte_t *e = leaf_entry(l0_pa, va, &level);
    if (e == NULL)
        return false;
    uint64_t sz = level_size(level);
    *pa = (*e & PTE_ADDR_MASK & ~(sz - 1)) + (va & (sz - 1));
    *leaf = *e;
    return true;
}

errval_t mmu_set_prot(uint64_t l0_pa, uint64_t va, uint64_t prot)
{
    int level;
    pte_t *e = leaf_entry(l0_pa, va, &level);
    if (e == NULL || level != 3)
        return KERN_ERR_MAP_FAILED;
    *e = (*e & PTE_ADDR_MASK) | prot | PTE_VALID | PTE_TABLE;
    dsb_ishst();
    return SYS_ERR_OK;
}

static uint64_t pool_alloc(void)
{
    if (table_pool_used == KERNEL_TABLE_POOL)
        return 0;
    return virt_to_phys(table_pool[table_pool_used++]);
}

void mmu_init(uint64_t image_pa)
{
    mmu_image_pa = image_pa;
    mmu_image_size = (uint64_t)(_kernel_end - _kernel_start);
    WRITE_SYSREG(cpacr_el1, 3ul << 20);     /* FP/SIMD usable (for user state) */
    isb();
}

uint64_t mmu_kernel_root(void)
{
    return virt_to_phys(boot_l0_kernel);
}

errval_t mmu_map_direct(uint64_t pa, uint64_t size, bool device)
{
    uint64_t start = pa & ~(PAGE_SIZE - 1);
    uint64_t end = (pa + size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    errval_t err = mmu_map(mmu_kernel_root(), start + KERNEL_DIRECT_BASE, start, end - start,
                           device ? PROT_KERNEL_DEV : PROT_KERNEL_RW, pool_alloc);
    if (err_is_fail(err))
        return err_push(err, KERN_ERR_MAP_FAILED);
    dsb_ish();
    isb();
    return SYS_ERR_OK;
}
