/*
 * dispatcher.h — what user space can learn about a dispatcher (a process's
 * kernel-side state), shared by the kernel (kernel/dcb.h) and user space.
 *
 * Life of a dispatcher made by retype: DCB_NEW until DISPATCHER_CMD_SETUP
 * gives it a CSpace, a VSpace and its first registers; then DCB_SUSPENDED
 * until DISPATCHER_CMD_RUN. It leaves the run queue by DISPATCHER_CMD_STOP
 * (suspended: RUN resumes it), by exiting (DCB_EXITED, with its exit code)
 * or by a fault it cannot handle (DCB_FAULTED). SYS_WAIT takes it off the
 * run queue (DCB_WAITING) until an LMP message reaches its dispatcher frame
 * or its deadline passes; STOP of a waiting dispatcher suspends it (RUN
 * then returns it from SYS_WAIT). Deleting the last
 * capability to it ends it in any state.
 */
#pragma once

enum dcb_state {
    DCB_NEW = 0,        /* retyped, not yet set up */
    DCB_RUNNABLE,       /* in the run queue (or running) */
    DCB_SUSPENDED,      /* set up, not in the run queue; RUN starts or resumes it */
    DCB_FAULTED,        /* stopped by a fault it could not handle */
    DCB_EXITED,         /* called SYS_EXIT; the exit code is kept */
    DCB_WAITING,        /* in SYS_WAIT: off the run queue until a message or its deadline */
};

/* DISPATCHER_CMD_SET_NAME: the name's bytes in four registers. */
#define DISPATCHER_NAME_MAX 32
