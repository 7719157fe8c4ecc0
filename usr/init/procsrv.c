/*
 * procsrv.c — the process service (svc.h: SVC_PROC_*) over init's process
 * manager (procmgr.h). A wait answers when the process ends, from a thread
 * of its own (rpc_reply_defer), so other calls go on meanwhile.
 */
#include "services.h"

#include <stdlib.h>
#include <string.h>

#include "procmgr.h"
#include "svc.h"
#include "thread.h"

#define CMDLINE_MAX 1024

static void spawn(const struct rpc_msg *m, rpc_reply_handle *h)
{
    char cmdline[CMDLINE_MAX + 1];
    if (m->len == 0 || m->len > CMDLINE_MAX || memchr(m->data, '\0', m->len) != NULL) {
        rpc_reply_error(h, SVC_ERR_BAD_REQUEST);
        return;
    }
    memcpy(cmdline, m->data, m->len);
    cmdline[m->len] = '\0';
    uint32_t pid;
    errval_t err = proc_spawn(cmdline, &pid);
    if (err_is_ok(err))
        rpc_reply(h, SYS_ERR_OK, &pid, sizeof pid, NULL);
    else
        rpc_reply_error(h, err);
}

struct wait_req {
    rpc_reply_handle h;
    uint32_t pid;
};

static int waiter(void *arg)
{
    struct wait_req *w = arg;
    struct proc_info info;
    errval_t err = proc_wait(w->pid, &info);
    struct svc_proc_status st = { .state = info.state, .exit_code = info.exit_code };
    if (err_is_ok(err))
        rpc_reply(&w->h, SYS_ERR_OK, &st, sizeof st, NULL);
    else
        rpc_reply_error(&w->h, err);
    free(w);
    return 0;
}

static void wait_later(uint32_t pid, rpc_reply_handle *h)
{
    struct wait_req *w = malloc(sizeof *w);
    struct thread *t;
    if (w == NULL) {
        rpc_reply_error(h, LIB_ERR_SLAB_EMPTY);
        return;
    }
    w->pid = pid;
    w->h = rpc_reply_defer(h);
    errval_t err = thread_create(&t, waiter, w);
    if (err_is_ok(err))
        err = thread_detach(t);
    if (err_is_fail(err)) {
        rpc_reply_error(&w->h, err);
        free(w);
    }
}

static void list(rpc_reply_handle *h)
{
    struct proc_info *all = malloc(PROC_MAX * sizeof *all);
    if (all == NULL) {
        rpc_reply_error(h, LIB_ERR_SLAB_EMPTY);
        return;
    }
    size_t n = proc_list(all, PROC_MAX);
    rpc_reply(h, SYS_ERR_OK, all, (n < PROC_MAX ? n : PROC_MAX) * sizeof *all, NULL);
    free(all);
}

bool procsrv_serve(struct svc_client *cl, const struct rpc_msg *m, rpc_reply_handle *h)
{
    (void)cl;
    uint32_t pid = 0;
    bool has_pid = m->len == sizeof pid;
    if (has_pid)
        memcpy(&pid, m->data, sizeof pid);
    switch (m->type) {
    case SVC_PROC_SPAWN: spawn(m, h); return true;
    case SVC_PROC_LIST: list(h); return true;
    case SVC_PROC_KILL:
    case SVC_PROC_WAIT:
        if (!has_pid)
            rpc_reply_error(h, SVC_ERR_BAD_REQUEST);
        else if (m->type == SVC_PROC_KILL)
            rpc_reply_error(h, proc_kill(pid));
        else
            wait_later(pid, h);
        return true;
    default:
        return false;
    }
}
