/*
 * dispatcher.h — the invocations on a Dispatcher capability: set up,
 * name, run, stop, status (include/minnow/captypes.h has the arguments).
 */
#pragma once

#include "cap.h"
#include "trapframe.h"

errval_t dispatcher_invoke(const struct capability *root, struct cte *target, struct trap_frame *f);
