/*
 * svctest.c — init's services over real LMP, from a process init spawned
 * (run it from init's console: "run svctest"). What is checked: a number
 * and strings of 1 B, 4 KiB and 1 MiB come back intact; printing by
 * characters and by lines; ten RAM capabilities and the memory limit;
 * spawning, waiting for and killing programs through RPC; 8 threads ×
 * 10,000 calls each with every reply matched; a notification from init
 * arriving while a long wait is outstanding; and each bad request's named
 * error, after which init still serves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../init/procmgr.h"
#include "os.h"
#include "ostest.h"
#include "paging.h"
#include "ram.h"
#include "rpc.h"
#include "rpc_lmp.h"
#include "slots.h"
#include "svc.h"
#include "thread.h"

#define MiB (1024 * 1024)

/* ---- payloads ---- */

static bool echo(size_t len)
{
    uint8_t *in = malloc(len + 1), *out = malloc(len + 1);
    if (in == NULL || out == NULL)
        return false;
    for (size_t i = 0; i < len; i++)
        in[i] = (uint8_t)(i * 13 + len);
    size_t got = 0;
    errval_t err = svc_echo(in, len, out, len, &got);
    bool ok = err_is_ok(err) && got == len && memcmp(in, out, len) == 0;
    free(in);
    free(out);
    return ok;
}

static void payloads(void)
{
    expect("connect and ping init", svc_ping(), SYS_ERR_OK);
    uint64_t n = 0x1234567887654321ull, back = 0;
    size_t got;
    expect("a number", svc_echo(&n, sizeof n, &back, sizeof back, &got), SYS_ERR_OK);
    check("... comes back", back == n && got == sizeof n);
    uint64_t seven[7] = { 1, 2, 3, 4, 5, 6, 7 }, seven_back[7] = { 0 };
    expect("56 B (a whole SHORT reply)", svc_echo(seven, sizeof seven, seven_back, sizeof seven_back, &got),
           SYS_ERR_OK);
    check("... comes back intact", got == sizeof seven && memcmp(seven, seven_back, sizeof seven) == 0);
    uint8_t odd[57], odd_back[57] = { 0 };
    for (size_t i = 0; i < sizeof odd; i++)
        odd[i] = (uint8_t)(i * 13 + 1);
    expect("57 B (one byte past SHORT: two fragments)", svc_echo(odd, sizeof odd, odd_back, sizeof odd_back, &got),
           SYS_ERR_OK);
    check("... comes back intact", got == sizeof odd && memcmp(odd, odd_back, sizeof odd) == 0);
    uint32_t small = 0;
    expect("a reply larger than the buffer", svc_echo(&n, sizeof n, &small, sizeof small, &got),
           RPC_ERR_REPLY_TOO_LARGE);
    check("... writes nothing there, and says so", small == 0 && got == 0);
    expect("... and init still answers", svc_ping(), SYS_ERR_OK);
    check("a 1 B string comes back intact", echo(1));
    check("a 4 KiB string comes back intact", echo(4096));
    check("a 1 MiB string comes back intact", echo(MiB));
}

/* ---- the terminal ---- */

static void printing(void)
{
    const char *by_char = "svctest: printed one character at a time\n";
    bool ok = true;
    for (const char *p = by_char; *p != '\0'; p++)
        ok &= err_is_ok(svc_term_write(p, 1));
    check("print character by character", ok);
    const char *lines = "svctest: line one\nsvctest: line two\n";
    expect("print by lines", svc_term_write(lines, strlen(lines)), SYS_ERR_OK);
}

/* ---- stdio of every program ---- */

/* What hello prints for "hello a b" (its formats, usr/hello/hello.c). */
static size_t hello_a_b_bytes(uint32_t pid)
{
    return (size_t)snprintf(NULL, 0, "hello: pid %u, 2 arguments\n", pid) +
           strlen("hello: argv[0] = \"hello\"\n") + 2 * strlen("hello: argv[1] = \"a\"\n");
}

/* hello never asks for the terminal: its printf must reach init's
 * terminal service by itself, every byte (termsrv.c counts them per pid),
 * and a program that prints nothing sends nothing there. */
static void plain_stdio(void)
{
    uint32_t pid = 0, quiet = 0;
    uint64_t bytes = 0, none = 1, mine = 0;
    struct svc_proc_status st;
    expect("spawn hello a b", svc_spawn("hello a b", &pid), SYS_ERR_OK);
    expect("wait for it", svc_wait(pid, 0, &st), SYS_ERR_OK);
    expect("ask the terminal how much hello wrote", svc_term_written(pid, &bytes), SYS_ERR_OK);
    check("all of a plain program's printf came through the terminal service", bytes == hello_a_b_bytes(pid));
    expect("spawn hello -q", svc_spawn("hello -q", &quiet), SYS_ERR_OK);
    expect("wait for it", svc_wait(quiet, 0, &st), SYS_ERR_OK);
    expect("ask about hello -q", svc_term_written(quiet, &none), SYS_ERR_OK);
    check("a program that prints nothing wrote nothing there", none == 0);
    expect("ask about ourselves", svc_term_written(os_args()->pid, &mine), SYS_ERR_OK);
    check("our own printf went there too, without svc_term_attach", mine > 0);
}

/* ---- memory ---- */

static void memory(void)
{
    bool ok = true;
    for (unsigned i = 0; i < 10; i++) {
        struct capref ram;
        struct capinfo info = { 0 };
        ok &= err_is_ok(svc_mem_alloc(64 * 1024, &ram)) && err_is_ok(cap_identify(ram, &info)) &&
              info.type == OBJ_RAM && info.size == 64 * 1024;
    }
    check("ten RAM capabilities of 64 KiB", ok);
    uint64_t held, limit;
    expect("usage", svc_mem_usage(&held, &limit), SYS_ERR_OK);
    check("... counts 640 KiB against the limit", held == 640 * 1024 && limit == SVC_MEM_LIMIT_DEFAULT);
    struct capref ram;
    expect("more than the limit", svc_mem_alloc(SVC_MEM_LIMIT_DEFAULT, &ram), SVC_ERR_MEM_LIMIT);
    expect("a size that is not pages", svc_mem_alloc(1000, &ram), SVC_ERR_BAD_REQUEST);
    expect("zero bytes", svc_mem_alloc(0, &ram), SVC_ERR_BAD_REQUEST);
    expect("usage after the refusals", svc_mem_usage(&held, &limit), SYS_ERR_OK);
    check("... is unchanged", held == 640 * 1024);
}

/* ---- processes ---- */

static volatile bool long_wait_done, note_during_wait;
static volatile errval_t long_wait_err;
static struct svc_proc_status long_wait_status;
static volatile unsigned notes;

static int long_waiter(void *arg)
{
    long_wait_err = svc_wait((uint32_t)(uintptr_t)arg, THREAD_NO_DEADLINE, &long_wait_status);
    long_wait_done = true;
    return 0;
}

static void on_note(struct rpc_chan *c, const struct rpc_msg *m, void *arg)
{
    (void)c;
    (void)arg;
    (void)m;
    notes++;
    if (!long_wait_done)
        note_during_wait = true;
}

static void processes(void)
{
    uint32_t pid;
    struct svc_proc_status st;
    expect("spawn hello through init", svc_spawn("hello -q exit=7", &pid), SYS_ERR_OK);
    expect("wait for it", svc_wait(pid, 0, &st), SYS_ERR_OK);
    check("... it exited with code 7", st.state == PROC_EXITED && st.exit_code == 7);
    expect("spawn a program that is not there", svc_spawn("nosuch", &pid), SPAWN_ERR_NO_PROGRAM);
    expect("kill a pid that never was", svc_kill(99999), PROC_ERR_NO_SUCH_PID);
    expect("wait for a pid that never was", svc_wait(99999, 0, &st), PROC_ERR_NO_SUCH_PID);

    /* A long wait (for a spinner) while init sends a notification. */
    struct rpc_chan *c;
    svc_chan(&c);
    rpc_chan_on_notify(c, on_note, NULL);
    uint32_t spinner;
    expect("spawn a spinner", svc_spawn("spinner", &spinner), SYS_ERR_OK);
    struct thread *t;
    thread_create(&t, long_waiter, (void *)(uintptr_t)spinner);
    thread_sleep_us(20 * 1000);
    check("the wait is outstanding", !long_wait_done);
    unsigned before = notes;
    expect("ask init for a notification", svc_notify_me(), SYS_ERR_OK);
    check("it arrived while the long wait was outstanding", notes == before + 1 && note_during_wait);
    expect("kill the spinner", svc_kill(spinner), SYS_ERR_OK);
    thread_join(t, NULL);
    expect("the long wait ends", long_wait_err, SYS_ERR_OK);
    check("... with the spinner killed", long_wait_status.state == PROC_KILLED);
}

/* ---- many threads ---- */

#define CALLERS 8
#define CALLS_EACH 10000

static unsigned bad[CALLERS];

static int caller(void *arg)
{
    uint64_t me = (uint64_t)(uintptr_t)arg;
    for (uint64_t k = 0; k < CALLS_EACH; k++) {
        uint64_t req[2] = { me, k }, resp[2] = { 0, 0 };
        size_t got = 0;
        if (err_is_fail(svc_echo(req, sizeof req, resp, sizeof resp, &got)) || got != sizeof resp ||
            resp[0] != me || resp[1] != k)
            bad[me]++;
    }
    return 0;
}

static void many_threads(void)
{
    struct rpc_chan *c;
    svc_chan(&c);
    struct rpc_chan_stats before, after;
    rpc_chan_stats(c, &before);
    struct thread *t[CALLERS];
    for (unsigned i = 0; i < CALLERS; i++)
        thread_create(&t[i], caller, (void *)(uintptr_t)i);
    unsigned wrong = 0;
    for (unsigned i = 0; i < CALLERS; i++) {
        thread_join(t[i], NULL);
        wrong += bad[i];
    }
    rpc_chan_stats(c, &after);  /* before the printf below: it is a call too (the terminal's) */
    printf("svctest: %u threads x %u calls to init: %u failed or mismatched\n", CALLERS, CALLS_EACH, wrong);
    check("8 threads x 10,000 calls: every reply matches its call", wrong == 0);
    /* Most of them went out on the quiet path (no send lock), the rest
     * under the lock: both count. */
    check("... and each was counted once as a call sent", after.calls - before.calls == CALLERS * CALLS_EACH &&
          after.notifies == before.notifies && after.bad == before.bad);
}

static void bad_requests(void)
{
    struct rpc_chan *c;
    svc_chan(&c);
    struct rpc_call_args a = { .type = 999 };
    expect("an unknown message type", rpc_call(c, &a, NULL), RPC_ERR_UNKNOWN_TYPE);
    a = (struct rpc_call_args){ .type = SVC_PROC_KILL, .req = "x", .req_len = 1 };
    expect("a kill without a pid", rpc_call(c, &a, NULL), SVC_ERR_BAD_REQUEST);
    a = (struct rpc_call_args){ .type = SVC_PROC_SPAWN, .req = "a\0b", .req_len = 3 };
    expect("a command line with a NUL in it", rpc_call(c, &a, NULL), SVC_ERR_BAD_REQUEST);
    /* A Frame sent with a ping: init must delete its copy. While any copy
     * of it lives, retyping its RAM again fails (CAP_ERR_RETYPE_OVERLAP). */
    struct capref ram, frame, again;
    expect("RAM for a capability the server does not want", svc_mem_alloc(4096, &ram), SYS_ERR_OK);
    os_slot_alloc(&frame);
    os_slot_alloc(&again);
    expect("  ... a Frame of it", cap_retype(frame, ram, OBJ_FRAME, 0, 4096, 1), SYS_ERR_OK);
    a = (struct rpc_call_args){ .type = SVC_PING, .req_cap = &frame };
    expect("a ping that carries it still works", rpc_call(c, &a, NULL), SYS_ERR_OK);
    cap_delete(frame);
    expect("  ... and init dropped its copy: the RAM retypes again", cap_retype(again, ram, OBJ_FRAME, 0, 4096, 1),
           SYS_ERR_OK);
    cap_delete(again);
    os_slot_free(again);
    os_slot_free(frame);
    a = (struct rpc_call_args){ .type = SVC_TERM_WRITTEN, .req = "x", .req_len = 1 };
    expect("a SVC_TERM_WRITTEN without a pid", rpc_call(c, &a, NULL), SVC_ERR_BAD_REQUEST);
    expect("init still serves", svc_ping(), SYS_ERR_OK);

    /* One channel per process: a second one is closed at once (so a
     * process cannot take every receive buffer init has). */
    struct rpc_chan *second;
    errval_t err = rpc_lmp_connect(capref_l2(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_INITEP), NULL, 1000 * 1000, &second);
    expect("a second connection is answered", err, SYS_ERR_OK);
    if (err_is_ok(err)) {
        a = (struct rpc_call_args){ .type = SVC_PING };
        errval_t e2 = rpc_call(second, &a, NULL);
        check("... but init closed it: calls on it fail for good",
              err_no(e2) == RPC_ERR_PEER_DEAD && err_contains(e2, LMP_ERR_STALE));
        rpc_chan_close(second);
    }
    expect("the first channel still works", svc_ping(), SYS_ERR_OK);

    /* Connecting and closing gives back every slot: the EndPoints, and
     * the receive slot the channel keeps armed for capabilities. */
    size_t before = slot_alloc_freecount(os_slots());
    bool ok = true;
    for (int i = 0; i < 5 && ok; i++) {
        ok = err_is_ok(rpc_lmp_connect(capref_l2(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_INITEP), NULL, 1000 * 1000,
                                       &second));
        if (ok)
            rpc_chan_close(second);
    }
    size_t after = slot_alloc_freecount(os_slots());
    printf("svctest: free slots %zu before 5 connections opened and closed, %zu after\n", before, after);
    check("5 connections opened and closed leave every slot free", ok && after == before);
}

int main(void)
{
    if (!ostest_start_memory("svctest"))
        return 1;
    ostest_begin("SVC");
    payloads();
    printing();
    plain_stdio();
    memory();
    processes();
    many_threads();
    bad_requests();
    return ostest_summary("svctest");
}
