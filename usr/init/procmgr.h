/*
 * procmgr.h — init's process manager: spawn programs by command line,
 * suspend, resume, kill, wait for their end, and list them.
 *
 * PIDs. The manager numbers processes from PROC_FIRST_PID upwards and never
 * hands a number out twice (the counter is 32 bits and stops, with
 * PROC_ERR_TABLE_FULL, rather than wrap), so a PID is never reused while
 * its process or its unreaped status exists. Boot programs keep the kernel's
 * PIDs, which are below PROC_FIRST_PID.
 *
 * Lifetime. A process is made by spawn.h, so all it has is one allocation of
 * init's memory manager. When it ends (it exits, it faults, or it is
 * killed) the manager reclaims that allocation at once, and keeps only its
 * status until proc_wait reaps it. The manager learns of an exit by asking
 * the dispatcher (DISPATCHER_CMD_STATUS) whenever it looks at the process;
 * proc_wait yields the core between looks.
 *
 * Threads: one mutex guards the table; proc_wait does not hold it while it
 * yields.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <minnow/args.h>
#include <minnow/errors.h>

#define PROC_FIRST_PID  100
#define PROC_MAX        64          /* processes and unreaped statuses at once */

enum proc_state {
    PROC_RUNNING,
    PROC_SUSPENDED,
    PROC_EXITED,                    /* ended by exit() or by returning from main */
    PROC_FAULTED,                   /* stopped by a fault it could not handle */
    PROC_KILLED,
};

struct proc_info {
    uint32_t pid;
    char name[ARGS_NAME_MAX];
    enum proc_state state;
    uint32_t core;
    int64_t exit_code;              /* PROC_EXITED only */
    uint64_t ticks;                 /* timer ticks it ran for (while it was alive) */
};

/* Start with init itself (its own pid and name) as the first entry. */
void proc_init(void);

/* Call `fn` (with the table lock held: it must not call back in) whenever a
 * process has ended and its resources are reclaimed. */
void proc_on_reclaim(void (*fn)(uint32_t pid));

/* The environment every child gets from now on (NULL-ended "KEY=VALUE"
 * strings that must stay): termsrv.c announces the terminal service. */
void proc_set_child_env(const char *const *env);

/* Spawn the program the command line names ("hello arg1 arg2"), running.
 * Errors: spawn_load()'s, PROC_ERR_TABLE_FULL. */
errval_t proc_spawn(const char *cmdline, uint32_t *pid);

/* Spawn `name` with its default arguments: the rest of the line that starts
 * with `name` in the boot module "defaults.args" (none if there is none). */
errval_t proc_spawn_default(const char *name, uint32_t *pid);

/* Errors of the four below: PROC_ERR_NO_SUCH_PID (never was, or reaped),
 * PROC_ERR_ENDED (suspend, resume, kill of an ended process),
 * PROC_ERR_IS_CALLER (init itself), PROC_ERR_SUSPENDED (suspend twice),
 * PROC_ERR_NOT_SUSPENDED (resume of a running one). */
errval_t proc_suspend(uint32_t pid);
errval_t proc_resume(uint32_t pid);
errval_t proc_kill(uint32_t pid);

/* Wait until the process has ended, then reap it: its final state and,
 * for PROC_EXITED, its exit code in *info. */
errval_t proc_wait(uint32_t pid, struct proc_info *info);

/* Up to `max` entries, in PID order; returns how many there are in all. */
size_t proc_list(struct proc_info *out, size_t max);

/* Print the list as a table, each line starting with "<prefix>: ". */
void proc_print(const char *prefix);

/* Free memory as the process manager sees it: the memory manager's free
 * bytes plus the zeroed frames paging keeps ready (counted as allocated). */
uint64_t proc_free_memory(void);

const char *proc_state_name(enum proc_state s);
