/*
 * timer.h — the ARM generic timer (EL1 virtual timer) as the periodic tick.
 */
#pragma once

#include <stdint.h>

#include <minnow/errors.h>

#define TIMER_TICK_HZ 100

void timer_init(unsigned intid);
void timer_rearm(void);
uint64_t timer_ticks(void);     /* ticks since boot */
unsigned timer_intid(void);
uint64_t timer_freq(void);
