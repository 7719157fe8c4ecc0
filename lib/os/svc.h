/*
 * svc.h — the services every process can ask its core's init for, and
 * their client side (lib/os/svc.c; servers: usr/init/services.c and its
 * modules; docs/rpc.md#services).
 *
 * One RPC channel to init per process, made on first use (rpc_lmp_connect
 * through TASKCN_SLOT_INITEP, which carries the process's pid as its badge,
 * so init knows who asks). Each service has its own range of message types
 * and its own server module, so that it could move to a process of its own.
 * All calls are thread-safe and end by their deadline (RPC_ERR_TIMEOUT).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <minnow/errors.h>
#include "cap.h"
#include "rpc.h"

enum svc_type {
    /* base (services.c) */
    SVC_PING = 1,               /* -> nothing */
    SVC_ECHO,                   /* bytes -> the same bytes */
    SVC_NOTIFY_ME,              /* -> a SVC_NOTE_REQUESTED notification, then the reply */
    SVC_SINK,                   /* bytes -> nothing (for measuring transfers) */
    /* terminal (termsrv.c) */
    SVC_TERM_WRITE = 16,        /* bytes -> nothing; written in one piece */
    SVC_TERM_GETCHAR,           /* -> one byte (waits for it) */
    SVC_TERM_GETLINE,           /* -> a line with its '\n' (waits for it); a longer line
                                   than the reply buffer comes in pieces without one */
    SVC_TERM_WRITTEN,           /* u32 pid -> u64 bytes it wrote (SVC_TERM_WRITE), kept
                                   for the last SVC_TERM_WRITERS_KEPT writers; 0 if none */
    /* memory (memsrv.c) */
    SVC_MEM_ALLOC = 32,         /* u64 size -> a RAM capability of that size */
    SVC_MEM_USAGE,              /* -> u64 bytes held, u64 limit */
    /* processes (procsrv.c) */
    SVC_PROC_SPAWN = 48,        /* command line -> u32 pid */
    SVC_PROC_KILL,              /* u32 pid -> nothing */
    SVC_PROC_WAIT,              /* u32 pid -> struct svc_proc_status (when it ends) */
    SVC_PROC_LIST,              /* -> struct proc_info[] */
    /* notifications from init */
    SVC_NOTE_HELLO = 64,        /* after connecting: u32 your pid */
    SVC_NOTE_REQUESTED,         /* asked for by SVC_NOTIFY_ME */
};

#define SVC_MEM_LIMIT_DEFAULT (64ull << 20)    /* RAM one process may hold */
#define SVC_TERM_WRITERS_KEPT 16                /* processes SVC_TERM_WRITTEN knows about */

struct svc_proc_status {
    uint32_t state;             /* enum proc_state (usr/init/procmgr.h) */
    uint32_t pad;
    int64_t exit_code;
};

/* The channel to init (connecting on first use). */
errval_t svc_chan(struct rpc_chan **out);

errval_t svc_ping(void);
errval_t svc_notify_me(void);
errval_t svc_echo(const void *data, size_t len, void *back, size_t max, size_t *got);
errval_t svc_sink(const void *data, size_t len);
errval_t svc_term_write(const char *s, size_t len);

/* Route this process's stdin, stdout and stderr through init's terminal
 * service from now on (term.h). Only in a process whose spawner offers one
 * (SVC_ERR_NO_TERMINAL otherwise); stdio falls back to the kernel console
 * whenever a write fails. stdio calls it itself on its first use, so a
 * program calls it only to connect earlier or to learn the outcome. */
errval_t svc_term_attach(void);
errval_t svc_term_getchar(char *c);
/* How many bytes process `pid` has written through the terminal service
 * (for tests: did a program's stdio go through it?). */
errval_t svc_term_written(uint32_t pid, uint64_t *bytes);
errval_t svc_mem_alloc(uint64_t size, struct capref *ram);
errval_t svc_mem_usage(uint64_t *held, uint64_t *limit);
errval_t svc_spawn(const char *cmdline, uint32_t *pid);
errval_t svc_kill(uint32_t pid);
errval_t svc_wait(uint32_t pid, uint64_t timeout_us, struct svc_proc_status *st);
