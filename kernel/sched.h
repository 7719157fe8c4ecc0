/*
 * sched.h — the per-core run queue: round robin over the boot processes,
 * switched by the timer tick, yield, exit and faults.
 */
#pragma once

#include <minnow/errors.h>
#include "dcb.h"

#define SCHED_MAX_PROCESSES 8

/* A free DCB with the next pid, or NULL when the table is full. */
struct dcb *sched_alloc_dcb(void);
void sched_make_runnable(struct dcb *d);

struct dcb *sched_current(void);

/* Called with the frame of the current process (vectors.S's frame). Each
 * may switch: on return the frame holds whichever process runs next. */
void sched_tick(struct trap_frame *f);
void sched_yield(struct trap_frame *f);
void sched_exit_current(struct trap_frame *f, int64_t code);
void sched_stop_current(struct trap_frame *f, const char *why);

/* Enter the first process; never returns. */
__attribute__((noreturn)) void sched_start(void);
