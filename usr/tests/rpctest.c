/*
 * rpctest.c — the RPC layer (lib/os/rpc.c) over the loopback transport,
 * in one process: a server thread dispatches the server ends' waitset,
 * client threads call. What is checked: payloads of 0 B to 1 MiB arrive
 * intact both ways (large ones through frames, which are all released
 * afterwards), capabilities travel both ways, 8 threads × 10,000 calls
 * each get their own replies, a notification arrives while a long call
 * waits, a deferred reply ends that call, every call ends by its deadline,
 * and each bad input gets its named error while the server keeps serving:
 * unknown types, oversized messages and replies, handlers that forget to
 * answer, malformed fragments, a dead peer, a client that never reads.
 * Last, over real LMP: a server in another process that stops answering
 * (the call times out) and then is killed (RPC_ERR_PEER_DEAD).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os.h"
#include "ostest.h"
#include "paging.h"
#include "ram.h"
#include "rpc.h"
#include "dispatcher.h"
#include "lmp.h"
#include "rpc_lmp.h"
#include "rpc_loopback.h"
#include "spawn.h"
#include "slots.h"
#include "thread.h"

enum {
    T_NULL = 1,     /* empty call, empty reply */
    T_INC,          /* u64 -> u64 + 1 */
    T_ECHO,         /* bytes -> the same bytes */
    T_FRAME_SIZE,   /* a Frame capability -> its size */
    T_GIVE_FRAME,   /* -> a new 4 KiB Frame capability */
    T_WAIT,         /* answered later, by T_POKE */
    T_POKE,         /* notify N_POKED, then answer the waiting T_WAIT */
    T_SILENT,       /* answered only by T_POKE_SILENT, late */
    T_POKE_SILENT,
    T_FORGET,       /* the handler returns without answering */
    T_BIG_REPLY,    /* -> 1,000 bytes */
    T_PAIR,         /* (thread, k) -> (k, thread) */
    T_SPAM,         /* notify the caller's channel 400 times */
    T_UNKNOWN = 99,
};

#define N_POKED 7
#define MiB (1024 * 1024)

static struct waitset server_ws;
static volatile bool server_stop;
static rpc_reply_handle waiting, silent;
static volatile bool have_waiting, have_silent;

/* ---- the server ---- */

static void reply_u64(rpc_reply_handle *h, uint64_t v)
{
    rpc_reply(h, SYS_ERR_OK, &v, sizeof v, NULL);
}

static void serve_frame_size(const struct rpc_msg *req, rpc_reply_handle *h)
{
    struct capinfo info;
    if (!req->has_cap || err_is_fail(cap_identify(req->cap, &info)) || info.type != OBJ_FRAME) {
        rpc_reply_error(h, RPC_ERR_WRONG_CAP);
    } else {
        reply_u64(h, info.size);
    }
    if (req->has_cap) {
        cap_delete(req->cap);
        os_slot_free(req->cap);
    }
}

static void serve_give_frame(rpc_reply_handle *h)
{
    struct capref frame;
    uint64_t base;
    errval_t err = ram_new_object(OBJ_FRAME, 4096, 4096, &frame, &base);
    if (err_is_fail(err)) {
        rpc_reply_error(h, err);
        return;
    }
    rpc_reply(h, SYS_ERR_OK, NULL, 0, &frame);
    ram_free(base, 4096);       /* the client's copy goes with it: it only identifies it first */
}

static void serve(struct rpc_chan *c, const struct rpc_msg *req, rpc_reply_handle *h, void *arg)
{
    (void)arg;
    uint64_t v = 0;
    if (req->len == sizeof v)
        memcpy(&v, req->data, sizeof v);
    switch (req->type) {
    case T_NULL: rpc_reply(h, SYS_ERR_OK, NULL, 0, NULL); break;
    case T_INC: reply_u64(h, v + 1); break;
    case T_ECHO: rpc_reply(h, SYS_ERR_OK, req->data, req->len, NULL); break;
    case T_FRAME_SIZE: serve_frame_size(req, h); break;
    case T_GIVE_FRAME: serve_give_frame(h); break;
    case T_WAIT: waiting = rpc_reply_defer(h); have_waiting = true; break;
    case T_POKE:
        rpc_notify(c, N_POKED, &v, sizeof v, NULL);
        if (have_waiting) {
            have_waiting = false;
            reply_u64(&waiting, v * 2);
        }
        rpc_reply(h, SYS_ERR_OK, NULL, 0, NULL);
        break;
    case T_SILENT: silent = rpc_reply_defer(h); have_silent = true; break;
    case T_POKE_SILENT:
        if (have_silent) {
            have_silent = false;
            rpc_reply(&silent, SYS_ERR_OK, NULL, 0, NULL);
        }
        rpc_reply(h, SYS_ERR_OK, NULL, 0, NULL);
        break;
    case T_FORGET: break;
    case T_BIG_REPLY: {
        static const char big[1000];
        rpc_reply(h, SYS_ERR_OK, big, sizeof big, NULL);
        break;
    }
    case T_PAIR: {
        uint64_t p[2];
        memcpy(p, req->data, sizeof p);
        uint64_t swapped[2] = { p[1], p[0] };
        rpc_reply(h, SYS_ERR_OK, swapped, sizeof swapped, NULL);
        break;
    }
    case T_SPAM:
        for (unsigned i = 0; i < 400 && err_is_ok(rpc_chan_error(c)); i++)
            rpc_notify(c, N_POKED, &i, sizeof i, NULL);
        rpc_reply(h, SYS_ERR_OK, NULL, 0, NULL);
        break;
    default:
        if (req->has_cap) {
            cap_delete(req->cap);
            os_slot_free(req->cap);
        }
        rpc_reply_error(h, RPC_ERR_UNKNOWN_TYPE);
    }
}

static int server_main(void *arg)
{
    (void)arg;
    while (!server_stop)
        waitset_dispatch(&server_ws, thread_deadline_us(20 * 1000));
    return 0;
}

/* ---- helpers ---- */

static struct waitset client_ws;
static struct rpc_chan *cli, *srv;

static errval_t call(struct rpc_chan *c, uint16_t type, const void *req, size_t len, void *resp,
                     size_t max, struct rpc_result *res)
{
    struct rpc_call_args a = { .type = type, .req = req, .req_len = len, .resp = resp, .resp_max = max };
    return rpc_call(c, &a, res);
}

static volatile unsigned notified;
static volatile uint64_t last_note;
static volatile bool note_while_waiting;
static volatile bool wait_outstanding;

static void on_note(struct rpc_chan *c, const struct rpc_msg *m, void *arg)
{
    (void)c;
    (void)arg;
    if (m->type == N_POKED && m->len == sizeof(uint64_t)) {
        uint64_t v;
        memcpy(&v, m->data, sizeof v);
        last_note = v;
        if (wait_outstanding)
            note_while_waiting = true;
    }
    notified++;
}

/* ---- cases ---- */

static void small_calls(void)
{
    struct rpc_result res;
    expect("an empty call", call(cli, T_NULL, NULL, 0, NULL, 0, &res), SYS_ERR_OK);
    check("... has an empty reply", res.resp_len == 0 && !res.has_cap);
    uint64_t n = 41, out = 0;
    expect("a number", call(cli, T_INC, &n, sizeof n, &out, sizeof out, &res), SYS_ERR_OK);
    check("... comes back plus one", out == 42 && res.resp_len == sizeof out);
    expect("an unknown type", call(cli, T_UNKNOWN, NULL, 0, NULL, 0, NULL), RPC_ERR_UNKNOWN_TYPE);
    expect("a handler that forgets to answer", call(cli, T_FORGET, NULL, 0, NULL, 0, NULL), RPC_ERR_NO_REPLY);
    char small[10];
    expect("a reply larger than the buffer", call(cli, T_BIG_REPLY, NULL, 0, small, sizeof small, NULL),
           RPC_ERR_REPLY_TOO_LARGE);
    expect("a request over RPC_MAX_PAYLOAD",
           call(cli, T_ECHO, small, RPC_MAX_PAYLOAD + 1ul, NULL, 0, NULL), RPC_ERR_TOO_LARGE);
    expect("... and the server still serves", call(cli, T_INC, &n, sizeof n, &out, sizeof out, NULL), SYS_ERR_OK);
}

static bool echo(size_t len)
{
    uint8_t *in = malloc(len + 1), *out = malloc(len + 1);
    if (in == NULL || out == NULL)
        return false;
    for (size_t i = 0; i < len; i++)
        in[i] = (uint8_t)(i * 131 + len);
    struct rpc_result res = { 0 };
    errval_t err = call(cli, T_ECHO, in, len, out, len, &res);
    bool ok = err_is_ok(err) && res.resp_len == len && memcmp(in, out, len) == 0;
    if (!ok)
        printf("rpctest: echo of %zu bytes: %s, %zu back\n", len, err_getstring(err_no(err)), res.resp_len);
    free(in);
    free(out);
    return ok;
}

static void payloads(void)
{
    check("1 B echoed intact", echo(1));
    check("49 B (two fragments) echoed intact", echo(49));
    check("256 B (the inline limit) echoed intact", echo(RPC_INLINE_MAX));
    check("257 B (the first bulk size) echoed intact", echo(RPC_INLINE_MAX + 1));
    check("4 KiB echoed intact", echo(4096));
    check("1 MiB echoed intact", echo(MiB));
    struct rpc_chan_stats sc, ss;
    rpc_chan_stats(cli, &sc);
    rpc_chan_stats(srv, &ss);
    check("every bulk frame was released, both ways", sc.bulk_out == 0 && ss.bulk_out == 0);
}

static void capabilities(void)
{
    struct capref frame;
    uint64_t base, size = 0;
    errval_t err = ram_new_object(OBJ_FRAME, 8192, 4096, &frame, &base);
    expect("make a frame to send", err, SYS_ERR_OK);
    struct rpc_call_args a = { .type = T_FRAME_SIZE, .req_cap = &frame, .resp = &size, .resp_max = sizeof size };
    expect("a capability goes to the server", rpc_call(cli, &a, NULL), SYS_ERR_OK);
    check("... which sees an 8 KiB frame", size == 8192);
    struct capinfo info;
    expect("the sender keeps its copy", cap_identify(frame, &info), SYS_ERR_OK);
    ram_free(base, 8192);
    struct capref ram;
    uint64_t rbase;
    expect("make a RAM capability", ram_alloc(4096, 4096, &ram, &rbase), SYS_ERR_OK);
    a.req_cap = &ram;
    expect("a capability of the wrong type", rpc_call(cli, &a, NULL), RPC_ERR_WRONG_CAP);
    ram_free(rbase, 4096);
    struct rpc_result res = { 0 };
    expect("a capability comes back", call(cli, T_GIVE_FRAME, NULL, 0, NULL, 0, &res), SYS_ERR_OK);
    check("... in the result", res.has_cap);
    if (res.has_cap) {
        cap_delete(res.cap);
        os_slot_free(res.cap);
    }
}

/* ---- a long call and a notification ---- */

static volatile errval_t wait_err;
static volatile uint64_t wait_value;

static int long_waiter(void *arg)
{
    (void)arg;
    uint64_t v = 0;
    wait_outstanding = true;
    struct rpc_call_args a = { .type = T_WAIT, .resp = &v, .resp_max = sizeof v,
                               .timeout_us = THREAD_NO_DEADLINE };
    wait_err = rpc_call(cli, &a, NULL);
    wait_outstanding = false;
    wait_value = v;
    return 0;
}

static void long_wait_and_notification(void)
{
    rpc_chan_on_notify(cli, on_note, NULL);
    struct thread *t;
    expect("a thread makes a call that waits", thread_create(&t, long_waiter, NULL), SYS_ERR_OK);
    while (!have_waiting)
        thread_yield();
    uint64_t n = 21;
    expect("meanwhile other calls go through", call(cli, T_INC, &n, sizeof n, &n, sizeof n, NULL), SYS_ERR_OK);
    expect("a poke", call(cli, T_POKE, &n, sizeof n, NULL, 0, NULL), SYS_ERR_OK);
    thread_join(t, NULL);
    check("the server's notification came while the long call waited", note_while_waiting && last_note == 22);
    expect("the long call got its deferred reply", wait_err, SYS_ERR_OK);
    check("... with its value", wait_value == 44);
}

/* ---- timeouts ---- */

static void timeouts(void)
{
    struct rpc_call_args a = { .type = T_SILENT, .timeout_us = 30 * 1000 };
    uint64_t t0 = thread_counter_now(), ticks_30ms = thread_deadline_us(30 * 1000) - t0;
    expect("a call nobody answers ends at its deadline", rpc_call(cli, &a, NULL), RPC_ERR_TIMEOUT);
    uint64_t took = thread_counter_now() - t0;
    check("... 30 ms after it began, not much later", took >= ticks_30ms && took < 10 * ticks_30ms);
    struct rpc_chan_stats before, after;
    rpc_chan_stats(cli, &before);
    expect("its late reply", call(cli, T_POKE_SILENT, NULL, 0, NULL, 0, NULL), SYS_ERR_OK);
    rpc_chan_stats(cli, &after);
    check("... is counted and dropped", after.late_replies == before.late_replies + 1);
    uint64_t n = 1;
    expect("the channel still works", call(cli, T_INC, &n, sizeof n, &n, sizeof n, NULL), SYS_ERR_OK);
}

/* ---- 8 threads × 10,000 calls ---- */

#define CALLERS 8
#define CALLS_EACH 10000

static unsigned mismatched[CALLERS], failed[CALLERS];

static int caller(void *arg)
{
    uint64_t me = (uint64_t)(uintptr_t)arg;
    for (uint64_t k = 0; k < CALLS_EACH; k++) {
        uint64_t req[2] = { me, k }, resp[2] = { 0, 0 };
        errval_t err = call(cli, T_PAIR, req, sizeof req, resp, sizeof resp, NULL);
        if (err_is_fail(err))
            failed[me]++;
        else if (resp[0] != k || resp[1] != me)
            mismatched[me]++;
    }
    return 0;
}

static void many_threads(void)
{
    struct thread *t[CALLERS];
    for (unsigned i = 0; i < CALLERS; i++)
        thread_create(&t[i], caller, (void *)(uintptr_t)i);
    unsigned bad = 0, fails = 0;
    for (unsigned i = 0; i < CALLERS; i++) {
        thread_join(t[i], NULL);
        bad += mismatched[i];
        fails += failed[i];
    }
    printf("rpctest: %u threads x %u calls: %u failed, %u mismatched\n", CALLERS, CALLS_EACH, fails, bad);
    check("8 threads x 10,000 calls: every reply matches its call", bad == 0 && fails == 0);
}

/* ---- bad input from the wire ---- */

static void malformed(void)
{
    struct rpc_chan_stats before, after;
    rpc_chan_stats(srv, &before);
    uint64_t bad[2] = { rpc_wire_header(RPC_KIND_CALL, T_NULL, 0x7777) | 0x400, 0 };
    expect("inject a fragment with reserved bits set", rpc_loopback_inject(cli, bad, 2), SYS_ERR_OK);
    uint64_t n = 5;
    expect("the next call still works", call(cli, T_INC, &n, sizeof n, &n, sizeof n, NULL), SYS_ERR_OK);
    rpc_chan_stats(srv, &after);
    check("the server counted one bad message", after.bad == before.bad + 1);
    rpc_chan_stats(cli, &after);
    check("... and answered it (a reply to no call of ours)", after.late_replies >= 1);
}

/* ---- a client that never reads ---- */

static void stalled_client(void)
{
    struct rpc_chan *lazy_cli, *lazy_srv;
    struct waitset lazy_ws;
    waitset_init(&lazy_ws);
    expect("a second channel", rpc_loopback_pair(&lazy_cli, &lazy_ws, &lazy_srv, &server_ws, 8, 16), SYS_ERR_OK);
    rpc_chan_serve(lazy_srv, serve, NULL);
    /* The client sends its request by hand and never reads again. */
    uint64_t spam[2] = { rpc_wire_header(RPC_KIND_CALL, T_SPAM, 1), 0 };
    expect("it asks for 400 notifications", rpc_loopback_inject(lazy_cli, spam, 2), SYS_ERR_OK);
    uint64_t n = 9;
    for (unsigned i = 0; i < 20; i++)
        call(cli, T_INC, &n, sizeof n, &n, sizeof n, NULL);
    expect("meanwhile the server serves others", call(cli, T_INC, &n, sizeof n, &n, sizeof n, NULL), SYS_ERR_OK);
    expect("the reader that never reads lost its channel", rpc_chan_error(lazy_srv), RPC_ERR_BACKLOG);
    rpc_chan_close(lazy_cli);
    rpc_chan_close(lazy_srv);
}

/* Once the heap, the slab and the thread-stack cache have grown to what
 * the cases need, repeating them must not take another byte: frames,
 * slots and backlog entries all come back. */
static bool round_of_everything(void)
{
    bool ok = echo(MiB) && echo(4096) && echo(300);
    struct rpc_result res = { 0 };
    ok &= err_is_ok(call(cli, T_GIVE_FRAME, NULL, 0, NULL, 0, &res)) && res.has_cap;
    if (res.has_cap) {
        cap_delete(res.cap);
        os_slot_free(res.cap);
    }
    return ok;
}

/* Free memory once every RELEASE in flight has been handled: a plain call
 * behind them (the channel keeps order) makes sure their frames are back. */
static uint64_t settled_free_bytes(bool *ok)
{
    *ok &= err_is_ok(call(cli, T_NULL, NULL, 0, NULL, 0, NULL));
    return ostest_free_bytes();
}

/* A leak of anything per round (a frame, a slot, a record) loses memory in
 * every window of ten rounds. A heap that reaches a new peak once (which
 * depends on how the two threads interleave) loses a page in one window
 * only: so the check passes when some window, of at most five, loses
 * nothing. */
static void steady_state(void)
{
    bool ok = true;
    for (unsigned i = 0; i < 10; i++)
        ok &= round_of_everything();    /* warm-up: let the heap and caches grow */
    uint64_t before = 0, after = 1;
    for (unsigned w = 0; w < 5 && before != after; w++) {
        before = settled_free_bytes(&ok);
        for (unsigned i = 0; i < 10; i++)
            ok &= round_of_everything();
        after = settled_free_bytes(&ok);
        printf("rpctest: free memory %llu before 10 rounds, %llu after\n", (unsigned long long)before,
               (unsigned long long)after);
    }
    check("10 more rounds of bulk echoes and capability replies lose no memory", ok && after == before);
}

static void dead_peer(void)
{
    rpc_chan_close(srv);
    expect("a call to a closed peer", call(cli, T_NULL, NULL, 0, NULL, 0, NULL), RPC_ERR_PEER_DEAD);
    expect("... and after it the channel is dead", rpc_chan_error(cli), RPC_ERR_PEER_DEAD);
    rpc_chan_close(cli);
}

/* ---- a server in another process, over LMP, that dies ---- */

/* "rpctest peer": connect to the spawner and serve T_NULL (answered) and
 * T_SILENT (never answered) until killed. */
static void peer_serve(struct rpc_chan *c, const struct rpc_msg *req, rpc_reply_handle *h, void *arg)
{
    (void)c;
    (void)arg;
    if (req->type == T_NULL)
        rpc_reply(h, SYS_ERR_OK, NULL, 0, NULL);
    else if (req->type == T_SILENT)
        rpc_reply_defer(h);     /* kept forever: the caller must time out */
    else
        rpc_reply_error(h, RPC_ERR_UNKNOWN_TYPE);
}

static int peer_main(void)
{
    if (!ostest_start_memory("rpctest peer"))
        return 1;
    struct rpc_chan *c;
    errval_t err = rpc_lmp_connect(capref_l2(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_INITEP), NULL, 2000000, &c);
    if (err_is_fail(err)) {
        DEBUG_ERR(err, "rpctest peer: connecting");
        return 1;
    }
    rpc_chan_serve(c, peer_serve, NULL);
    for (;;)
        waitset_dispatch(waitset_default(), 0);
}

static struct rpc_chan *volatile peer_chan;

static void on_peer(struct rpc_chan *c, uint64_t badge, void *arg)
{
    (void)arg;
    (void)badge;
    peer_chan = c;
}

/* Take connections until the peer's has come, for at most 2 s. */
static int dispatch_default(void *arg)
{
    (void)arg;
    uint64_t give_up = thread_deadline_us(2 * 1000 * 1000);
    while (peer_chan == NULL && thread_counter_now() < give_up)
        waitset_dispatch(waitset_default(), thread_deadline_us(10 * 1000));
    return 0;
}

static void dead_server_over_lmp(void)
{
    expect("listen on our own endpoint", rpc_lmp_listen(lmp_self_endpoint(), waitset_default(), on_peer, NULL),
           SYS_ERR_OK);
    struct spawn_process sp;
    struct capref self_ep = capref_l2(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_SELFEP);
    struct spawn_request req = { .cmdline = "rpctest peer", .pid = 900, .initep = &self_ep, .initep_badge = 900 };
    errval_t err = spawn_load(&req, &sp);
    if (err_is_ok(err))
        err = dispatcher_run(sp.dispatcher);
    expect("spawn a server that connects to us", err, SYS_ERR_OK);
    if (err_is_fail(err))
        return;
    struct thread *t;
    thread_create(&t, dispatch_default, NULL);
    thread_join(t, NULL);
    struct rpc_chan *c = peer_chan;
    check("it connected", c != NULL);
    if (c == NULL) {
        spawn_reclaim(&sp);
        return;
    }
    struct rpc_call_args a = { .type = T_NULL, .timeout_us = 1000 * 1000 };
    expect("a call to the other process", rpc_call(c, &a, NULL), SYS_ERR_OK);
    a = (struct rpc_call_args){ .type = T_SILENT, .timeout_us = 30 * 1000 };
    expect("a call it never answers times out", rpc_call(c, &a, NULL), RPC_ERR_TIMEOUT);
    expect("the server process is killed", spawn_reclaim(&sp), SYS_ERR_OK);
    a = (struct rpc_call_args){ .type = T_NULL, .timeout_us = 1000 * 1000 };
    expect("a call to the dead server", rpc_call(c, &a, NULL), RPC_ERR_PEER_DEAD);
    expect("... and the channel says so", rpc_chan_error(c), RPC_ERR_PEER_DEAD);
    rpc_chan_close(c);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "peer") == 0)
        return peer_main();
    if (!ostest_start_memory("rpctest"))
        return 1;
    ostest_begin("RPC");
    waitset_init(&server_ws);
    waitset_init(&client_ws);
    expect("a loopback channel", rpc_loopback_pair(&cli, &client_ws, &srv, &server_ws, 8, 16), SYS_ERR_OK);
    rpc_chan_serve(srv, serve, NULL);
    struct thread *server;
    expect("a server thread", thread_create(&server, server_main, NULL), SYS_ERR_OK);

    small_calls();
    payloads();
    capabilities();
    long_wait_and_notification();
    many_threads();
    malformed();
    timeouts();
    stalled_client();
    steady_state();

    server_stop = true;
    thread_join(server, NULL);
    dead_peer();
    dead_server_over_lmp();
    return ostest_summary("rpctest");
}
