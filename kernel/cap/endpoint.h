/*
 * endpoint.h — DISPATCHER_CMD_SET_FRAME and DISPATCHER_CMD_ENDPOINT
 * (endpoint.c), called from dispatcher.c's invocation switch.
 */
#pragma once

#include "cap.h"
#include "dcb.h"
#include "trapframe.h"

errval_t dispatcher_set_frame(const struct capability *root, struct dcb *d, const struct trap_frame *f);
errval_t dispatcher_endpoint(const struct capability *root, const struct cte *disp, struct dcb *d,
                             const struct trap_frame *f);
errval_t dispatcher_buffer_reset(struct dcb *d, const struct trap_frame *f);
