/*
 * svc.c — the client side of init's services (svc.h): one channel, made on
 * first use, and a small function per call.
 */
#include "svc.h"

#include <string.h>

#include <stdlib.h>

#include "ram.h"
#include "rpc_lmp.h"
#include "term.h"
#include "thread.h"

#define SVC_CONNECT_US (2 * 1000 * 1000)

static struct rpc_chan *chan;
static struct thread_mutex connect_lock = THREAD_MUTEX_INITIALIZER("svc connect");

/* The first call: connect (one thread does, the others wait for it). */
static __attribute__((noinline)) errval_t connect_first(struct rpc_chan **out)
{
    errval_t err = SYS_ERR_OK;
    thread_mutex_lock(&connect_lock);
    struct rpc_chan *made = chan;
    if (made == NULL) {
        err = rpc_lmp_connect(capref_l2(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_INITEP), NULL, SVC_CONNECT_US, &made);
        if (err_is_ok(err))
            __atomic_store_n(&chan, made, __ATOMIC_RELEASE);
    }
    thread_mutex_unlock(&connect_lock);
    *out = chan;
    return err;
}

/* Inline: once connected, no lock and no call on every call's path. */
static inline errval_t chan_get(struct rpc_chan **out)
{
    *out = __atomic_load_n(&chan, __ATOMIC_ACQUIRE);
    return *out != NULL ? SYS_ERR_OK : connect_first(out);
}

errval_t svc_chan(struct rpc_chan **out) { return chan_get(out); }

/* The first call: connect, then call. */
static __attribute__((noinline)) errval_t call_connecting(const struct rpc_call_args *a, struct rpc_result *res)
{
    struct rpc_chan *c;
    errval_t err = connect_first(&c);
    return err_is_ok(err) ? rpc_call(c, a, res) : err;
}

/* One call on the channel to init (made on first use). Once connected, a
 * tail call: the common case needs no stack frame here. */
static inline errval_t call_args(const struct rpc_call_args *a, struct rpc_result *res)
{
    struct rpc_chan *c = __atomic_load_n(&chan, __ATOMIC_ACQUIRE);
    return c != NULL ? rpc_call(c, a, res) : call_connecting(a, res);
}

/* One call with the default timeout. */
static inline errval_t call(uint16_t type, const void *req, size_t len, void *resp, size_t max,
                            struct rpc_result *res)
{
    /* Every field named: a partial initialiser zeroes the struct with a
     * call to memset first, on every call's path. */
    struct rpc_call_args a = { .type = type, .req = req, .req_len = len, .req_cap = NULL, .resp = resp,
                               .resp_max = max, .timeout_us = 0 };
    return call_args(&a, res);
}

/* Calls with nothing to send and nothing back: their arguments are
 * constants, so the call is a tail call with nothing built. */
static const struct rpc_call_args ping_args = { .type = SVC_PING };
static const struct rpc_call_args notify_me_args = { .type = SVC_NOTIFY_ME };

errval_t svc_ping(void)
{
    return call_args(&ping_args, NULL);
}

errval_t svc_notify_me(void)
{
    return call_args(&notify_me_args, NULL);
}

errval_t svc_echo(const void *data, size_t len, void *back, size_t max, size_t *got)
{
    struct rpc_result res = { 0 };
    errval_t err = call(SVC_ECHO, data, len, back, max, &res);
    *got = res.resp_len;
    return err;
}

errval_t svc_sink(const void *data, size_t len)
{
    return call(SVC_SINK, data, len, NULL, 0, NULL);
}

errval_t svc_term_write(const char *s, size_t len)
{
    return call(SVC_TERM_WRITE, s, len, NULL, 0, NULL);
}

errval_t svc_term_getchar(char *c)
{
    struct rpc_call_args a = { .type = SVC_TERM_GETCHAR, .resp = c, .resp_max = 1,
                               .timeout_us = THREAD_NO_DEADLINE };
    return call_args(&a, NULL);
}

errval_t svc_term_written(uint32_t pid, uint64_t *bytes)
{
    *bytes = 0;
    return call(SVC_TERM_WRITTEN, &pid, sizeof pid, bytes, sizeof *bytes, NULL);
}

errval_t svc_mem_alloc(uint64_t size, struct capref *ram)
{
    struct rpc_result res = { 0 };
    errval_t err = call(SVC_MEM_ALLOC, &size, sizeof size, NULL, 0, &res);
    if (err_is_ok(err) && !res.has_cap)
        err = RPC_ERR_WRONG_CAP;
    if (err_is_ok(err))
        *ram = res.cap;
    return err;
}

errval_t svc_mem_usage(uint64_t *held, uint64_t *limit)
{
    uint64_t v[2] = { 0, 0 };
    errval_t err = call(SVC_MEM_USAGE, NULL, 0, v, sizeof v, NULL);
    *held = v[0];
    *limit = v[1];
    return err;
}

errval_t svc_spawn(const char *cmdline, uint32_t *pid)
{
    *pid = 0;
    return call(SVC_PROC_SPAWN, cmdline, strlen(cmdline), pid, sizeof *pid, NULL);
}

errval_t svc_kill(uint32_t pid)
{
    return call(SVC_PROC_KILL, &pid, sizeof pid, NULL, 0, NULL);
}

errval_t svc_wait(uint32_t pid, uint64_t timeout_us, struct svc_proc_status *st)
{
    struct rpc_call_args a = { .type = SVC_PROC_WAIT, .req = &pid, .req_len = sizeof pid, .resp = st,
                               .resp_max = sizeof *st, .timeout_us = timeout_us };
    return call_args(&a, NULL);
}

/* ---- stdio through the terminal service ---- */

static errval_t term_read_line(char *buf, size_t max, size_t *n)
{
    struct rpc_result res = { 0 };
    struct rpc_call_args a = { .type = SVC_TERM_GETLINE, .resp = buf, .resp_max = max,
                               .timeout_us = THREAD_NO_DEADLINE };
    errval_t err = call_args(&a, &res);
    *n = res.resp_len;
    return err;
}

static const struct os_term_remote svc_term = { svc_term_write, term_read_line };

errval_t svc_term_attach(void)
{
    if (getenv(OS_TERM_ENV) == NULL)
        return SVC_ERR_NO_TERMINAL;
    struct rpc_chan *c;
    errval_t err = ram_init_from_memcn();   /* a channel needs slots, slots need RAM */
    if (err_is_ok(err))
        err = svc_chan(&c);
    if (err_is_ok(err))
        os_term_set_remote(&svc_term);
    return err;
}
