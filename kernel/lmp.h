/*
 * lmp.h — the LMP system calls (lmp.c): SYS_LMP_SEND and SYS_WAIT.
 */
#pragma once

#include "trapframe.h"

void sys_lmp_send(struct trap_frame *f);
void sys_wait(struct trap_frame *f);
