/*
 * bootstrap.c — boot-time capabilities (bootstrap.h). The objects (CNodes)
 * come from the boot allocator; after init's grant the boot allocator is
 * empty and every free byte of RAM is named by exactly one RAM capability in
 * init's MEMCN. Slots follow include/minnow/cspace.h.
 */
#include "bootstrap.h"

#include "base/cpio.h"
#include "cspace.h"
#include "lmp.h"
#include "memlayout.h"
#include "mmu.h"
#include "physmem.h"

static struct cte *slot(struct dcb *d, unsigned l1, unsigned l2)
{
    struct cte *c;
    errval_t err = cspace_lookup(&d->cspace.cap, capaddr_make(l1, l2), &c);
    return err_is_ok(err) ? c : NULL;
}

static void give(struct cte *dest, enum objtype type, uint8_t rights, uint64_t base, uint64_t size)
{
    struct capability cap = { .type = (uint8_t)type, .rights = rights, .base = base, .size = size };
    if (type == OBJ_L1CNODE)
        cap.extra = (uint32_t)(size / OBJSIZE_CTE);
    cap_insert(dest, &cap);
}

static errval_t new_l2(struct dcb *d, unsigned l1_index)
{
    uint64_t pa = physmem_alloc(OBJSIZE_L2CNODE);
    if (pa == 0)
        return KERN_ERR_NO_MEMORY;
    struct cte *l1 = (struct cte *)phys_to_virt(d->cspace.cap.base) + l1_index;
    give(l1, OBJ_L2CNODE, CAPRIGHTS_ALL, pa, OBJSIZE_L2CNODE);
    return SYS_ERR_OK;
}

static errval_t new_l2s(struct dcb *d, const unsigned *indices, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        errval_t err = new_l2(d, indices[i]);
        if (err_is_fail(err))
            return err;
    }
    return SYS_ERR_OK;
}

errval_t bootstrap_cspace(struct dcb *d, uint64_t dcb_pa, uint64_t l0_pa, uint64_t args_pa,
                          struct phys_range dispframe)
{
    static const unsigned l2s[] = { ROOTCN_SLOT_TASKCN, ROOTCN_SLOT_PAGECN,
                                    ROOTCN_SLOT_SLOT_ALLOC0, ROOTCN_SLOT_SLOT_ALLOC1 };
    uint64_t root = physmem_alloc(PAGE_SIZE);
    if (root == 0)
        return KERN_ERR_NO_MEMORY;
    give(&d->cspace, OBJ_L1CNODE, CAPRIGHTS_ALL, root, L1_CNODE_INITIAL_SLOTS * OBJSIZE_CTE);
    errval_t err = new_l2s(d, l2s, sizeof l2s / sizeof l2s[0]);
    if (err_is_fail(err))
        return err;
    give(slot(d, ROOTCN_SLOT_TASKCN, TASKCN_SLOT_ROOTCN), OBJ_L1CNODE, CAPRIGHTS_ALL,
         root, L1_CNODE_INITIAL_SLOTS * OBJSIZE_CTE);
    give(slot(d, ROOTCN_SLOT_TASKCN, TASKCN_SLOT_DISPATCHER), OBJ_DISPATCHER, CAPRIGHTS_ALL,
         dcb_pa, OBJSIZE_DISPATCHER);
    give(slot(d, ROOTCN_SLOT_TASKCN, TASKCN_SLOT_ARGSPAGE), OBJ_FRAME, CAPRIGHTS_ALL,
         args_pa, PAGE_SIZE);
    give(slot(d, ROOTCN_SLOT_TASKCN, TASKCN_SLOT_DISPFRAME), OBJ_FRAME, CAPRIGHTS_ALL,
         dispframe.base, dispframe.size);
    give(&d->dispframe, OBJ_FRAME, CAPRIGHTS_ALL, dispframe.base, dispframe.size);
    lmp_frame_set(d);
    give(slot(d, ROOTCN_SLOT_TASKCN, TASKCN_SLOT_SELFEP), OBJ_ENDPOINT, CAPRIGHTS_ALL,
         dcb_pa, OBJSIZE_DISPATCHER);       /* to its buffer 0, badge 0 */
    give(slot(d, ROOTCN_SLOT_PAGECN, 0), OBJ_VNODE_L0, CAPRIGHTS_ALL, l0_pa, OBJSIZE_VNODE);
    give(&d->vspace, OBJ_VNODE_L0, CAPRIGHTS_ALL, l0_pa, OBJSIZE_VNODE);
    return SYS_ERR_OK;
}

struct ram_sink {
    struct dcb *init;
    struct init_grant *grant;
};

static void take_ram(struct phys_range r, void *arg)
{
    struct ram_sink *sink = arg;
    struct cte *dest = slot(sink->init, ROOTCN_SLOT_MEMCN, sink->grant->ram_caps);
    if (dest == NULL || sink->grant->ram_caps >= L2_CNODE_SLOTS)
        return;     /* more ranges than slots cannot happen: physmem has fewer */
    give(dest, OBJ_RAM, CAPRIGHTS_ALL, r.base, r.size);
    sink->grant->ram_caps++;
    sink->grant->ram_bytes += r.size;
}

static struct phys_range page_round(struct phys_range r)
{
    uint64_t lo = r.base & ~(PAGE_SIZE - 1);
    uint64_t hi = (r.base + r.size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    return (struct phys_range){ lo, hi - lo };
}

static bool is_padding(const char *name)
{
    static const char pad[] = ".pad-";
    for (unsigned i = 0; i < sizeof pad - 1; i++)
        if (name[i] != pad[i])
            return false;
    return true;
}

/* MODULECN: slot 0 the whole archive, then one Frame per module whose data
 * starts on a page (tools/mkinitrd.py arranges that), in archive order,
 * skipping the packer's ".pad-" entries. All are read-only but executable:
 * spawn maps a program's code straight from the archive (lib/os/spawn.c). */
#define MODULE_RIGHTS (CAPRIGHTS_READ | CAPRIGHTS_EXECUTE | CAPRIGHTS_GRANT)
static unsigned give_modules(struct dcb *init, struct phys_range initrd)
{
    struct phys_range archive = page_round(initrd);
    give(slot(init, ROOTCN_SLOT_MODULECN, 0), OBJ_FRAME, MODULE_RIGHTS,
         archive.base, archive.size);
    const uint8_t *va = phys_to_virt(initrd.base);
    struct cpio_file f;
    size_t offset = 0;
    unsigned n = 0;
    while (n + 1 < L2_CNODE_SLOTS && err_is_ok(cpio_next(va, initrd.size, &offset, &f))) {
        uint64_t pa = initrd.base + (uint64_t)((const uint8_t *)f.data - va);
        if ((f.mode & 0170000) != 0100000 || f.size == 0 || pa % PAGE_SIZE != 0 || is_padding(f.name))
            continue;
        struct phys_range r = page_round((struct phys_range){ pa, f.size });
        give(slot(init, ROOTCN_SLOT_MODULECN, ++n), OBJ_FRAME, MODULE_RIGHTS,
             r.base, r.size);
    }
    return n;
}

errval_t bootstrap_init_resources(struct dcb *init, const struct platform *p, unsigned nirqs,
                                  struct init_grant *grant)
{
    static const unsigned l2s[] = { ROOTCN_SLOT_MEMCN, ROOTCN_SLOT_DEVCN,
                                    ROOTCN_SLOT_MODULECN, ROOTCN_SLOT_IRQCN };
    errval_t err = new_l2s(init, l2s, sizeof l2s / sizeof l2s[0]);
    if (err_is_fail(err))
        return err;
    *grant = (struct init_grant){0};
    give(slot(init, ROOTCN_SLOT_TASKCN, TASKCN_SLOT_KERNELCAP), OBJ_KERNEL, CAPRIGHTS_ALL,
         CAP_TAG_KERNEL, 1);
    for (unsigned i = 0; i < p->ndevices && i < L2_CNODE_SLOTS; i++, grant->dev_frames++)
        give(slot(init, ROOTCN_SLOT_DEVCN, i), OBJ_DEVFRAME, CAPRIGHTS_RW | CAPRIGHTS_GRANT,
             p->devices[i].base, p->devices[i].size);
    if (p->initrd.size > 0)
        grant->module_frames = give_modules(init, p->initrd);
    for (unsigned i = 0; i < nirqs && i < L2_CNODE_SLOTS; i++, grant->irq_caps++)
        give(slot(init, ROOTCN_SLOT_IRQCN, i), OBJ_IRQ, CAPRIGHTS_ALL, CAP_TAG_IRQ + 32 + i, 1);
    struct ram_sink sink = { init, grant };
    physmem_take_all(take_ram, &sink);
    return SYS_ERR_OK;
}
