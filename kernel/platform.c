/*
 * platform.c — read memory, cores, console, interrupt controller, timer,
 * boot modules and command line from the flattened device tree.
 * Relies on lib/base/fdt.c for all parsing and bounds checks.
 */
#include "platform.h"

#include "string.h"

/* Walk every node in document order, knowing each one's parent (a stack of
 * the current path), so reading "reg" costs no parent search. */
struct walk {
    int node, depth, parent;
    int path[FDT_MAX_DEPTH];
};

static bool walk_next(const struct fdt *fdt, struct walk *w)
{
    if (err_is_fail(fdt_next_node(fdt, &w->node, &w->depth)) || w->depth >= FDT_MAX_DEPTH)
        return false;
    w->path[w->depth] = w->node;
    w->parent = w->depth > 0 ? w->path[w->depth - 1] : -1;
    return true;
}

static errval_t read_memory(const struct fdt *fdt, struct platform *p)
{
    struct walk w = { .node = -1 };
    while (walk_next(fdt, &w)) {
        int node = w.node;
        const char *type;
        if (err_is_fail(fdt_prop_string(fdt, node, "device_type", &type)) || strcmp(type, "memory") != 0)
            continue;
        struct fdt_range regs[PLATFORM_MAX_RAM];
        unsigned n;
        if (err_is_fail(fdt_reg_all_under(fdt, w.parent, node, regs, PLATFORM_MAX_RAM, &n)))
            continue;
        for (unsigned i = 0; i < n && i < PLATFORM_MAX_RAM; i++) {
            if (regs[i].size == 0 || p->nram == PLATFORM_MAX_RAM)
                continue;
            p->ram[p->nram++] = (struct phys_range){ regs[i].base, regs[i].size };
            p->ram_total += regs[i].size;
        }
    }
    return p->nram > 0 ? SYS_ERR_OK : err_push(FDT_ERR_NOT_FOUND, KERN_ERR_NO_DEVICE);
}

static void add_reserved(struct platform *p, uint64_t base, uint64_t size)
{
    if (size != 0 && p->nreserved < PLATFORM_MAX_RESERVED)
        p->reserved[p->nreserved++] = (struct phys_range){ base, size };
}

static void read_reserved(const struct fdt *fdt, struct platform *p)
{
    uint64_t base, size;
    for (unsigned i = 0; err_is_ok(fdt_mem_rsv(fdt, i, &base, &size)); i++)
        add_reserved(p, base, size);
    int parent, child;
    if (err_is_fail(fdt_path(fdt, "/reserved-memory", &parent)))
        return;
    for (errval_t e = fdt_first_child(fdt, parent, &child); err_is_ok(e);
         e = fdt_next_sibling(fdt, child, &child)) {
        for (unsigned i = 0; err_is_ok(fdt_reg(fdt, child, i, &base, &size)); i++)
            add_reserved(p, base, size);
    }
}

static errval_t read_cores(const struct fdt *fdt, struct platform *p)
{
    int cpus, child;
    errval_t err = fdt_path(fdt, "/cpus", &cpus);
    if (err_is_fail(err))
        return err_push(err, KERN_ERR_NO_DEVICE);
    for (err = fdt_first_child(fdt, cpus, &child); err_is_ok(err);
         err = fdt_next_sibling(fdt, child, &child)) {
        const char *type;
        if (err_is_ok(fdt_prop_string(fdt, child, "device_type", &type)) && strcmp(type, "cpu") == 0)
            p->ncores++;
    }
    return p->ncores > 0 ? SYS_ERR_OK : KERN_ERR_NO_DEVICE;
}

/* A device's first interrupt if it is a shared one (GIC binding: three
 * cells, type 0 = SPI, number, flags), as an INTID; 0 if it has none. */
static unsigned read_spi(const struct fdt *fdt, int node)
{
    const void *v;
    uint32_t len;
    if (err_is_fail(fdt_prop(fdt, node, "interrupts", &v, &len)) || len < 12)
        return 0;
    const uint8_t *cells = v;
    if (fdt_be32(cells) != 0 || fdt_be32(cells + 4) > 987)
        return 0;
    return 32 + fdt_be32(cells + 4);
}

/* The console: /chosen stdout-path if it names a PL011, else the first PL011. */
static errval_t read_uart(const struct fdt *fdt, struct platform *p)
{
    int chosen, node = -1;
    const char *path;
    if (err_is_ok(fdt_path(fdt, "/chosen", &chosen)) &&
        err_is_ok(fdt_prop_string(fdt, chosen, "stdout-path", &path))) {
        char buf[64];
        size_t n = 0;
        while (path[n] != '\0' && path[n] != ':' && n < sizeof buf - 1) {
            buf[n] = path[n];
            n++;
        }
        buf[n] = '\0';
        if (err_is_fail(fdt_path(fdt, buf, &node)) || !fdt_is_compatible(fdt, node, "arm,pl011"))
            node = -1;
    }
    if (node < 0 && err_is_fail(fdt_find_compatible(fdt, -1, "arm,pl011", &node)))
        return KERN_ERR_NO_DEVICE;
    errval_t err = fdt_reg(fdt, node, 0, &p->uart.base, &p->uart.size);
    if (err_is_fail(err))
        return err_push(err, KERN_ERR_BAD_DEVICE);
    p->uart_intid = read_spi(fdt, node);
    return SYS_ERR_OK;
}

static errval_t read_gic(const struct fdt *fdt, struct platform *p)
{
    int node;
    if (err_is_ok(fdt_find_compatible(fdt, -1, "arm,gic-v3", &node))) {
        p->gic_version = 3;
    } else if (err_is_ok(fdt_find_compatible(fdt, -1, "arm,cortex-a15-gic", &node)) ||
               err_is_ok(fdt_find_compatible(fdt, -1, "arm,gic-400", &node))) {
        p->gic_version = 2;
    } else {
        return KERN_ERR_NO_DEVICE;
    }
    errval_t err = fdt_reg(fdt, node, 0, &p->gicd.base, &p->gicd.size);
    if (err_is_ok(err))
        err = fdt_reg(fdt, node, 1, &p->gicc_or_gicr.base, &p->gicc_or_gicr.size);
    return err_is_ok(err) ? SYS_ERR_OK : err_push(err, KERN_ERR_BAD_DEVICE);
}

/* The architected timer's interrupts are (secure phys, phys, virt, hyp),
 * three cells each: type (1 = PPI), number, flags. */
static errval_t read_timer(const struct fdt *fdt, struct platform *p)
{
    int node;
    if (err_is_fail(fdt_find_compatible(fdt, -1, "arm,armv8-timer", &node)) &&
        err_is_fail(fdt_find_compatible(fdt, -1, "arm,armv7-timer", &node)))
        return KERN_ERR_NO_DEVICE;
    const void *v;
    uint32_t len;
    errval_t err = fdt_prop(fdt, node, "interrupts", &v, &len);
    if (err_is_fail(err) || len < 36)
        return KERN_ERR_BAD_DEVICE;
    const uint8_t *virt = (const uint8_t *)v + 24;
    if (fdt_be32(virt) != 1)
        return KERN_ERR_BAD_DEVICE;
    p->timer_intid = 16 + fdt_be32(virt + 4);
    return SYS_ERR_OK;
}

/* linux,initrd-start/-end may be one or two cells. */
static bool read_addr_prop(const struct fdt *fdt, int node, const char *name, uint64_t *out)
{
    const void *v;
    uint32_t len;
    if (err_is_fail(fdt_prop(fdt, node, name, &v, &len)) || (len != 4 && len != 8))
        return false;
    *out = fdt_read_cells(v, len / 4);
    return true;
}

static void read_chosen(const struct fdt *fdt, struct platform *p)
{
    int chosen;
    p->cmdline = "";
    if (err_is_fail(fdt_path(fdt, "/chosen", &chosen)))
        return;
    fdt_prop_string(fdt, chosen, "bootargs", &p->cmdline);
    uint64_t start, end;
    if (read_addr_prop(fdt, chosen, "linux,initrd-start", &start) &&
        read_addr_prop(fdt, chosen, "linux,initrd-end", &end) && end > start)
        p->initrd = (struct phys_range){ start, end - start };
}

static bool overlaps(struct phys_range a, struct phys_range b)
{
    return b.size != 0 && a.base < b.base + b.size && b.base < a.base + a.size;
}

static struct phys_range pages_of(uint64_t base, uint64_t size)
{
    uint64_t lo = base & ~0xfffull, hi = (base + size + 0xfff) & ~0xfffull;
    return (struct phys_range){ lo, hi - lo };
}

/* Insert keeping the list sorted by base, merging with overlapping ranges. */
static void add_device(struct platform *p, struct phys_range r)
{
    for (unsigned i = 0; i < p->ndevices; i++) {
        struct phys_range *d = &p->devices[i];
        if (overlaps(*d, r)) {
            uint64_t end = d->base + d->size > r.base + r.size ? d->base + d->size : r.base + r.size;
            d->base = d->base < r.base ? d->base : r.base;
            d->size = end - d->base;
            return;
        }
    }
    if (p->ndevices == PLATFORM_MAX_DEVICES)
        return;
    unsigned i = p->ndevices++;
    for (; i > 0 && p->devices[i - 1].base > r.base; i--)
        p->devices[i] = p->devices[i - 1];
    p->devices[i] = r;
}

static bool is_kernel_device(const struct platform *p, struct phys_range r)
{
    return overlaps(r, p->gicd) || overlaps(r, p->gicc_or_gicr);
}

static void read_devices(const struct fdt *fdt, struct platform *p)
{
    struct walk w = { .node = -1 };
    while (walk_next(fdt, &w)) {
        int node = w.node;
        const char *type;
        const void *compat;
        uint32_t len;
        if (err_is_fail(fdt_prop(fdt, node, "compatible", &compat, &len)) ||
            (err_is_ok(fdt_prop_string(fdt, node, "device_type", &type)) &&
             (strcmp(type, "memory") == 0 || strcmp(type, "cpu") == 0)))
            continue;
        struct fdt_range regs[8];
        unsigned n;
        if (err_is_fail(fdt_reg_all_under(fdt, w.parent, node, regs, 8, &n)))
            continue;
        for (unsigned i = 0; i < n && i < 8; i++) {
            struct phys_range r = pages_of(regs[i].base, regs[i].size);
            if (regs[i].size != 0 && regs[i].base + regs[i].size > regs[i].base && !is_kernel_device(p, r))
                add_device(p, r);
        }
    }
}

errval_t platform_read(const struct fdt *fdt, struct platform *p)
{
    memset(p, 0, sizeof *p);
    errval_t err = read_uart(fdt, p);
    if (err_is_ok(err)) err = read_memory(fdt, p);
    if (err_is_ok(err)) err = read_cores(fdt, p);
    if (err_is_ok(err)) err = read_gic(fdt, p);
    if (err_is_ok(err)) err = read_timer(fdt, p);
    if (err_is_fail(err))
        return err;
    read_reserved(fdt, p);
    read_chosen(fdt, p);
    read_devices(fdt, p);
    return SYS_ERR_OK;
}
