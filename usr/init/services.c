/*
 * services.c — init's end of every process's channel (services.h).
 *
 * A thread of its own dispatches the default waitset, so the console (the
 * main thread) and long calls never hold the services up. A process's
 * channel stays until the process manager reclaims the process; then its
 * memory goes back and the channel closes.
 */
#include "services.h"

#include <stdio.h>
#include <stdlib.h>

#include "lmp.h"
#include "os.h"
#include "procmgr.h"
#include "rpc_lmp.h"
#include "slots.h"
#include "svc.h"
#include "thread.h"

#define SVC_CLIENTS_MAX PROC_MAX

static struct svc_client *clients[SVC_CLIENTS_MAX];
static struct thread_mutex clients_lock = THREAD_MUTEX_INITIALIZER("services clients");
static struct waitset_source reaper;     /* drops the clients that have ended */

static void serve(struct rpc_chan *c, const struct rpc_msg *m, rpc_reply_handle *h, void *arg)
{
    struct svc_client *cl = arg;
    if (m->has_cap) {           /* no service takes one: each would cost init a slot */
        cap_delete(m->cap);
        os_slot_free(m->cap);
    }
    if (m->type == SVC_PING || m->type == SVC_SINK) {
        rpc_reply(h, SYS_ERR_OK, NULL, 0, NULL);
        return;
    }
    if (m->type == SVC_NOTIFY_ME) {
        rpc_notify(c, SVC_NOTE_REQUESTED, NULL, 0, NULL);     /* first: it arrives before the reply */
        rpc_reply(h, SYS_ERR_OK, NULL, 0, NULL);
        return;
    }
    if (m->type == SVC_ECHO) {
        rpc_reply(h, SYS_ERR_OK, m->data, m->len, NULL);
        return;
    }
    if (termsrv_serve(cl, m, h) || memsrv_serve(cl, m, h) || procsrv_serve(cl, m, h))
        return;
    rpc_reply_error(h, RPC_ERR_UNKNOWN_TYPE);
}

static void on_accept(struct rpc_chan *c, uint64_t badge, void *arg)
{
    (void)arg;
    struct svc_client *cl = calloc(1, sizeof *cl);
    thread_mutex_lock(&clients_lock);
    size_t i = SVC_CLIENTS_MAX, taken = 0;
    for (size_t k = 0; k < SVC_CLIENTS_MAX; k++) {
        if (clients[k] == NULL)
            i = i < k ? i : k;
        else if (clients[k]->pid == (uint32_t)badge && !clients[k]->gone)
            taken++;
    }
    /* One channel per process: more would only let a process take every
     * receive buffer init has. */
    bool placed = cl != NULL && i < SVC_CLIENTS_MAX && taken == 0;
    if (placed) {
        *cl = (struct svc_client){ .pid = (uint32_t)badge, .chan = c };
        clients[i] = cl;
    }
    thread_mutex_unlock(&clients_lock);
    if (!placed) {
        free(cl);
        rpc_chan_close(c);
        return;
    }
    rpc_chan_serve(c, serve, cl);
    uint32_t pid = cl->pid;
    rpc_notify(c, SVC_NOTE_HELLO, &pid, sizeof pid, NULL);
}

/* The process has ended (procmgr, with its lock held, in any thread):
 * note it, and let the service thread drop the client between two
 * handlers, so that no handler of it is running then. */
static void on_reclaim(uint32_t pid)
{
    thread_mutex_lock(&clients_lock);
    for (size_t i = 0; i < SVC_CLIENTS_MAX; i++)
        if (clients[i] != NULL && clients[i]->pid == pid)
            clients[i]->gone = true;
    thread_mutex_unlock(&clients_lock);
    waitset_trigger(&reaper);
}

static void reap(struct waitset_source *src, void *arg)
{
    (void)src;
    (void)arg;
    for (size_t i = 0; i < SVC_CLIENTS_MAX; i++) {
        thread_mutex_lock(&clients_lock);
        struct svc_client *cl = clients[i] != NULL && clients[i]->gone ? clients[i] : NULL;
        if (cl != NULL)
            clients[i] = NULL;
        thread_mutex_unlock(&clients_lock);
        if (cl == NULL)
            continue;
        memsrv_release(cl);
        termsrv_release(cl);
        rpc_chan_close(cl->chan);
        free(cl);
    }
}

static int dispatch_forever(void *arg)
{
    (void)arg;
    for (;;)
        waitset_dispatch(waitset_default(), 0);
    return 0;
}

errval_t services_start(void)
{
    struct lmp_endpoint *self = lmp_self_endpoint();
    if (self == NULL)
        return LMP_ERR_NO_DISPFRAME;
    errval_t err = rpc_lmp_listen(self, waitset_default(), on_accept, NULL);
    if (err_is_fail(err))
        return err;
    waitset_source_init(&reaper, waitset_default(), reap, NULL);
    proc_on_reclaim(on_reclaim);
    struct thread *t;
    err = thread_create(&t, dispatch_forever, NULL);
    if (err_is_ok(err))
        err = thread_detach(t);
    return err;
}
