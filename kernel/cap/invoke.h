/*
 * invoke.h — the capability invocation system call (SYS_INVOKE).
 */
#pragma once

#include "trapframe.h"

void sys_invoke(struct trap_frame *f);
