/*
 * timer.c — a periodic tick from the EL1 virtual timer (CNTV_*). The
 * interrupt number comes from the device tree; the frequency from CNTFRQ_EL0.
 */
#include "timer.h"

#include "gic.h"
#include "sysreg.h"

static uint64_t interval;
static uint64_t ticks;
static unsigned tick_intid;

void timer_init(unsigned intid)
{
    tick_intid = intid;
    interval = READ_SYSREG(cntfrq_el0) / TIMER_TICK_HZ;
    WRITE_SYSREG(cntv_tval_el0, interval);
    WRITE_SYSREG(cntv_ctl_el0, 1);          /* ENABLE, interrupt not masked */
    WRITE_SYSREG(cntkctl_el1, 1ul << 1);    /* EL0 may read the virtual count, not the timers */
    gic_enable_ppi(intid);
}

void timer_rearm(void)
{
    ticks++;
    WRITE_SYSREG(cntv_tval_el0, interval);
}

uint64_t timer_ticks(void) { return ticks; }
unsigned timer_intid(void) { return tick_intid; }
uint64_t timer_freq(void) { return READ_SYSREG(cntfrq_el0); }
