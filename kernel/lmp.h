/*
 * lmp.h — the LMP system calls (lmp.c): SYS_LMP_SEND and SYS_WAIT.
 */
#pragma once

#include "trapframe.h"

#include "dcb.h"

void sys_lmp_send(struct trap_frame *f);

/* d->dispframe has just been set: cache its address and buffer count. */
void lmp_frame_set(struct dcb *d);
void sys_wait(struct trap_frame *f);

/* Send one word from the kernel through an EndPoint it holds a copy of
 * (the checks and errors of SYS_LMP_SEND); *woken is the receiver. */
struct cte;
errval_t lmp_kernel_send(const struct cte *ep, uint64_t word, struct dcb **woken);
