/*
 * gic.c — GICv2 (memory-mapped CPU interface) and GICv3 (redistributors and
 * system-register CPU interface). Register offsets are from the GIC
 * architecture specification (ARM IHI 0048 for v2, IHI 0069 for v3).
 * The distributor and interface addresses come from the device tree.
 */
#include "gic.h"

#include "memlayout.h"
#include "mmu.h"
#include "sysreg.h"

#define GICD_CTLR       0x0000
#define GICD_TYPER      0x0004
#define GICD_IGROUPR    0x0080
#define GICD_ISENABLER  0x0100
#define GICD_ICENABLER  0x0180
#define GICD_IPRIORITYR 0x0400
#define GICD_ITARGETSR  0x0800
#define GICD_IROUTER    0x6000      /* v3: 8 bytes per INTID */

#define GICC_CTLR 0x000
#define GICC_PMR  0x004
#define GICC_IAR  0x00c
#define GICC_EOIR 0x010

#define GICR_FRAME      0x20000     /* RD_base + SGI_base, 64 KiB each */
#define GICR_WAKER      0x0014
#define GICR_TYPER      0x0008
#define GICR_SGI        0x10000
#define GICR_IGROUPR0   0x0080
#define GICR_ISENABLER0 0x0100
#define GICR_IPRIORITYR 0x0400

#define WAKER_PROCESSOR_SLEEP (1u << 1)
#define WAKER_CHILDREN_ASLEEP (1u << 2)
#define TYPER_LAST            (1ull << 4)

#define IRQ_PRIORITY 0xa0

static unsigned version;
static volatile uint8_t *gicd, *gicc, *gicr;    /* gicr: this core's frame */

static inline void w32(volatile uint8_t *base, unsigned off, uint32_t v)
{
    *(volatile uint32_t *)(base + off) = v;
}
static inline uint32_t r32(volatile uint8_t *base, unsigned off)
{
    return *(volatile uint32_t *)(base + off);
}

static volatile uint8_t *map_regs(struct phys_range r, errval_t *err)
{
    *err = mmu_map_direct(r.base, r.size, true);
    return (volatile uint8_t *)phys_to_virt(r.base);
}

/* This core's redistributor: the frame whose affinity matches MPIDR_EL1. */
static errval_t find_redistributor(volatile uint8_t *base, uint64_t size)
{
    uint64_t mpidr = READ_SYSREG(mpidr_el1);
    uint32_t aff = (uint32_t)((mpidr & 0xffffff) | ((mpidr >> 8) & 0xff000000));
    for (uint64_t off = 0; off + GICR_FRAME <= size; off += GICR_FRAME) {
        uint64_t typer = *(volatile uint64_t *)(base + off + GICR_TYPER);
        if ((uint32_t)(typer >> 32) == aff) {
            gicr = base + off;
            return SYS_ERR_OK;
        }
        if (typer & TYPER_LAST)
            break;
    }
    return KERN_ERR_BAD_DEVICE;
}

static errval_t init_v3(void)
{
    w32(gicd, GICD_CTLR, (1u << 4) | (1u << 1) | (1u << 0));  /* ARE, Grp1, Grp0 */
    w32(gicr, GICR_WAKER, r32(gicr, GICR_WAKER) & ~WAKER_PROCESSOR_SLEEP);
    while (r32(gicr, GICR_WAKER) & WAKER_CHILDREN_ASLEEP)
        ;
    WRITE_SYSREG(S3_0_C12_C12_5, READ_SYSREG(S3_0_C12_C12_5) | 1);   /* ICC_SRE_EL1.SRE */
    isb();
    WRITE_SYSREG(S3_0_C4_C6_0, 0xff);       /* ICC_PMR_EL1: let every priority in */
    WRITE_SYSREG(S3_0_C12_C12_3, 0);        /* ICC_BPR1_EL1 */
    WRITE_SYSREG(S3_0_C12_C12_7, 1);        /* ICC_IGRPEN1_EL1 */
    isb();
    return SYS_ERR_OK;
}

static errval_t init_v2(void)
{
    w32(gicd, GICD_CTLR, 1);
    w32(gicc, GICC_PMR, 0xff);
    w32(gicc, GICC_CTLR, 1);
    return SYS_ERR_OK;
}

errval_t gic_init(const struct platform *p)
{
    errval_t err;
    version = p->gic_version;
    gicd = map_regs(p->gicd, &err);
    if (err_is_fail(err))
        return err;
    volatile uint8_t *second = map_regs(p->gicc_or_gicr, &err);
    if (err_is_fail(err))
        return err;
    if (version == 2) {
        gicc = second;
        return init_v2();
    }
    err = find_redistributor(second, p->gicc_or_gicr.size);
    return err_is_ok(err) ? init_v3() : err;
}

void gic_enable_ppi(unsigned intid)
{
    if (version == 3) {
        volatile uint8_t *sgi = gicr + GICR_SGI;
        w32(sgi, GICR_IGROUPR0, r32(sgi, GICR_IGROUPR0) | (1u << intid));
        sgi[GICR_IPRIORITYR + intid] = IRQ_PRIORITY;
        w32(sgi, GICR_ISENABLER0, 1u << intid);
    } else {
        gicd[GICD_IPRIORITYR + intid] = IRQ_PRIORITY;
        w32(gicd, GICD_ISENABLER + 4 * (intid / 32), 1u << (intid % 32));
    }
}

/* v2: GICD_ITARGETSR0..7 (the SGI/PPI bytes) read as this CPU interface's
 * own bit, which is what an SPI's target byte wants. v3: the affinity of
 * this core as GICD_IROUTER holds it (Aff3 at bit 32, routing mode 0). */
static void route_spi_here(unsigned intid)
{
    if (version == 3) {
        uint64_t mpidr = READ_SYSREG(mpidr_el1);
        uint64_t aff = (mpidr & 0xffffff) | ((mpidr & 0xff00000000ull));
        *(volatile uint64_t *)(gicd + GICD_IROUTER + 8 * intid) = aff;
        w32(gicd, GICD_IGROUPR + 4 * (intid / 32),
            r32(gicd, GICD_IGROUPR + 4 * (intid / 32)) | (1u << (intid % 32)));  /* group 1: IRQ */
    } else {
        gicd[GICD_ITARGETSR + intid] = gicd[GICD_ITARGETSR];
    }
}

void gic_enable_spi(unsigned intid)
{
    gic_mask(intid);
    gicd[GICD_IPRIORITYR + intid] = IRQ_PRIORITY;
    route_spi_here(intid);
    gic_unmask(intid);
}

void gic_mask(unsigned intid)
{
    w32(gicd, GICD_ICENABLER + 4 * (intid / 32), 1u << (intid % 32));
}

void gic_unmask(unsigned intid)
{
    w32(gicd, GICD_ISENABLER + 4 * (intid / 32), 1u << (intid % 32));
}

uint32_t gic_ack(void)
{
    uint32_t id = version == 3 ? (uint32_t)READ_SYSREG(S3_0_C12_C12_0)
                               : r32(gicc, GICC_IAR) & 0x3ff;
    return id >= 1020 ? GIC_SPURIOUS : id;
}

void gic_eoi(uint32_t intid)
{
    if (version == 3)
        WRITE_SYSREG(S3_0_C12_C12_1, intid);
    else
        w32(gicc, GICC_EOIR, intid);
}

unsigned gic_version(void)
{
    return version;
}

unsigned gic_num_spis(void)
{
    unsigned lines = (r32(gicd, GICD_TYPER) & 0x1f) + 1;   /* ITLinesNumber: 32 INTIDs each */
    unsigned total = lines * 32 > 1020 ? 1020 : lines * 32;
    return total - 32;
}
