/*
 * main.c — the CPU driver's boot, in order. head.S has turned the MMU on
 * with only the kernel image mapped; everything else is learnt from the
 * device tree and set up here, one step per line.
 */
#include <stdint.h>

#include <minnow/args.h>
#include "base/cmdline.h"
#include "base/fdt.h"
#include "cap/bootstrap.h"
#include "gic.h"
#include "loader.h"
#include "memlayout.h"
#include "mmu.h"
#include "panic.h"
#include "physmem.h"
#include "pl011.h"
#include "cap/irq.h"
#include "platform.h"
#include "printk.h"
#include "sched.h"
#include "string.h"
#include "sysreg.h"
#include "timer.h"

void kernel_main(uint64_t dtb_pa, uint64_t image_pa);

extern char _kernel_start[], _kernel_end[];

static struct platform platform;

/* Stop with a report when boot cannot go on; the console may not exist yet,
 * in which case the panic is silent but the core still halts. */
static void check(errval_t err, const char *what)
{
    if (err_is_fail(err)) {
        printk("kernel: %s failed\n", what);
        err_print_chain(printk_puts, err, __FILE__, __LINE__, what);
        panic("boot cannot continue");
    }
}

/* Map the device tree into the direct map and open it. */
static errval_t open_devtree(uint64_t dtb_pa, struct fdt *fdt)
{
    errval_t err = mmu_map_direct(dtb_pa, PAGE_SIZE, false);
    if (err_is_fail(err))
        return err;
    const uint8_t *hdr = phys_to_virt(dtb_pa);
    uint32_t size = fdt_be32(hdr + 4);
    if (size > 2 * BLOCK_2M)        /* the boot protocol limits the DTB to 2 MiB */
        return FDT_ERR_TRUNCATED;
    err = mmu_map_direct(dtb_pa, size, false);
    return err_is_ok(err) ? fdt_open(fdt, hdr, size) : err;
}

static void console_init(void)
{
    check(mmu_map_direct(platform.uart.base, platform.uart.size, true), "mapping the UART");
    pl011_init(phys_to_virt(platform.uart.base));
    printk_set_console(pl011_putc);
}

static void map_ram(void)
{
    for (unsigned i = 0; i < platform.nram; i++)
        check(mmu_map_direct(platform.ram[i].base, platform.ram[i].size, false), "mapping RAM");
}

static void print_banner(void)
{
    printk("\nminnow %s: CPU driver on core %lu (EL%lu), %lu MiB RAM, cores found: %u, GICv%u\n",
           MINNOW_VERSION, READ_SYSREG(mpidr_el1) & 0xff, (READ_SYSREG(CurrentEL) >> 2) & 3,
           platform.ram_total >> 20, platform.ncores, platform.gic_version);
    printk("kernel: command line \"%s\"\n", platform.cmdline);
}

/* The cycle counter, running since head.S, is readable from EL0 for benchmarks. */
static void pmu_allow_user(void)
{
    WRITE_SYSREG(pmuserenr_el0, (1ul << 0) | (1ul << 2));  /* EN, CR */
    isb();
}

/* kernel.selftest=panic: fault on purpose so tests can check the report;
 * kernel.selftest=write-text: the kernel's code must be read-only. */
static __attribute__((noinline)) void selftest_panic(void)
{
    volatile uint64_t *bad = (volatile uint64_t *)0xffff8000dead0000ul;
    printk("kernel: self-test: reading unmapped kernel address %p\n", (void *)bad);
    (void)*bad;
}

static __attribute__((noinline)) void selftest_write_text(void)
{
    volatile uint32_t *code = (volatile uint32_t *)(uintptr_t)kernel_main;
    printk("kernel: self-test: writing to kernel code at %p\n", (void *)code);
    *code = 0xd503201f;     /* nop */
}

/* Returns the first program, which becomes init. */
static struct dcb *start_boot_processes(void)
{
    char name[ARGS_NAME_MAX], list[256];
    struct dcb *init, *other;
    if (!cmdline_get(platform.cmdline, "init", name, sizeof name))
        memcpy(name, "init", 5);
    check(loader_start_process(&platform, name, &init), "starting the first program");
    if (!cmdline_get(platform.cmdline, "also", list, sizeof list))
        return init;
    const char *pos = list;
    while (cmdline_next_item(&pos, name, sizeof name))
        check(loader_start_process(&platform, name, &other), "starting a boot program");
    return init;
}

/* Everything the boot programs did not take goes to init as capabilities. */
static void grant_init(struct dcb *init)
{
    struct init_grant g;
    check(bootstrap_init_resources(init, &platform, gic_num_spis(), &g), "giving init its capabilities");
    printk("kernel: init gets %u RAM capabilities, %lu bytes (%lu MiB) of free memory, "
           "%u device frames, %u boot-module frames, %u IRQ capabilities\n",
           g.ram_caps, g.ram_bytes, g.ram_bytes >> 20, g.dev_frames, g.module_frames, g.irq_caps);
}

void kernel_main(uint64_t dtb_pa, uint64_t image_pa)
{
    struct fdt fdt;
    struct phys_range image = { image_pa, (uint64_t)(_kernel_end - _kernel_start) };

    mmu_init(image_pa);                                     /* learn where we are */
    check(open_devtree(dtb_pa, &fdt), "opening the device tree");
    check(platform_read(&fdt, &platform), "reading the device tree");
    console_init();                                         /* printk works from here */
    print_banner();
    map_ram();                                              /* the direct map */
    physmem_init(&platform, image, (struct phys_range){ dtb_pa, fdt.size });
    check(gic_init(&platform), "starting the interrupt controller");
    irq_init(platform.uart_intid);                          /* interrupts as messages */
    timer_init(platform.timer_intid);                       /* the periodic tick */
    pmu_allow_user();
    char test[16];
    if (cmdline_get(platform.cmdline, "kernel.selftest", test, sizeof test)) {
        if (strcmp(test, "panic") == 0)
            selftest_panic();
        if (strcmp(test, "write-text") == 0)
            selftest_write_text();
    }
    cap_mdb_init();                                         /* capabilities from here */
    grant_init(start_boot_processes());
    sched_start();
}
