/*
 * bench.c — in-OS benchmarks, run by `make bench` as the first program
 * (init=bench) on one core under QEMU -icount shift=0,sleep=off, where the
 * cycle counter counts guest instructions exactly.
 *
 * Each benchmark warms up, then takes SAMPLES samples of a batch of
 * operations and reports the median instructions per operation:
 *   BENCH <name> instructions=<n> samples=<s> batch=<b> min=<n> max=<n>
 * tools/bench.py collects these lines into build/bench.json.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cap.h"
#include "mm/firstfit.h"
#include "mm/mm.h"
#include "os.h"
#include "dispatcher.h"
#include "frame_pool.h"
#include "lmp.h"
#include "paging.h"
#include "ram.h"
#include "record_pool.h"
#include "slots.h"
#include "spawn.h"
#include "syscall.h"
#include "thread.h"
#include "../init/procmgr.h"
#include "../init/services.h"
#include "svc.h"

#define SAMPLES 31
#define WARMUP  1000

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void report(const char *name, uint64_t *samples, unsigned n, unsigned batch)
{
    qsort(samples, n, sizeof samples[0], cmp_u64);
    printf("BENCH %s instructions=%llu samples=%u batch=%u min=%llu max=%llu\n", name,
           (unsigned long long)samples[n / 2], n, batch,
           (unsigned long long)samples[0], (unsigned long long)samples[n - 1]);
}

/* Ten calls per loop turn, so the loop's own two instructions add 0.2 per call. */
static void null_syscall_x10(void)
{
    for (int i = 0; i < 10; i++)
        sys_nop();
}

static void bench_null_syscall(void)
{
    enum { BATCH = 100 };   /* turns of ten calls */
    uint64_t s[SAMPLES];
    for (int i = 0; i < WARMUP; i++)
        sys_nop();
    for (unsigned k = 0; k < SAMPLES; k++) {
        uint64_t t0 = os_cycles();
        for (int i = 0; i < BATCH; i++)
            null_syscall_x10();
        s[k] = (os_cycles() - t0) / (BATCH * 10);
    }
    report("null_syscall", s, SAMPLES, BATCH * 10);
}

/* From the kernel's first instruction to this program's first, measured once
 * by crt0.S (the counter was reset in the kernel's first instructions). */
static void bench_boot_to_init(void)
{
    uint64_t s[1] = { os_start_cycles };
    report("boot_to_init", s, 1, 1);
}

/* Scratch slots for the capability benchmarks: a task-CNode slot the
 * runtime does not use. */
static struct capref bench_slot(uint32_t i) { return capref_l2(ROOTCN_SLOT_TASKCN, TASKCN_SLOTS_USER + i); }

/* A benchmark that cannot run says so; tools/bench.py fails on FAILED. */
static void must(errval_t err, const char *what)
{
    if (err_is_ok(err))
        return;
    printf("bench: FAILED: %s\n", what);
    DEBUG_ERR(err, what);
    exit(1);
}

/* A private 1 MiB RAM capability from init's memory manager, so retypes
 * have a small source. */
static struct capref bench_ram(void)
{
    struct capref ram;
    must(ram_init_from_memcn(), "starting the memory manager");
    must(ram_alloc(1 << 20, 4096, &ram, NULL), "allocating 1 MiB of RAM");
    return ram;
}

/* A copy of a RAM capability into an empty slot, then its deletion. */
static void bench_cap_copy_delete(struct capref ram)
{
    uint64_t s[SAMPLES];
    for (unsigned k = 0; k < SAMPLES + 10; k++) {
        uint64_t t0 = os_cycles();
        cap_copy(bench_slot(1), ram);
        cap_delete(bench_slot(1));
        if (k >= 10)
            s[k - 10] = os_cycles() - t0;
    }
    report("cap_copy_delete", s, SAMPLES, 1);
}

/* Retype of one 4 KiB frame (zeroing included); the delete is not counted. */
static void bench_cap_retype_frame(struct capref ram)
{
    uint64_t s[SAMPLES];
    for (unsigned k = 0; k < SAMPLES + 10; k++) {
        uint64_t t0 = os_cycles();
        cap_retype(bench_slot(1), ram, OBJ_FRAME, 0, 4096, 1);
        uint64_t t1 = os_cycles();
        cap_delete(bench_slot(1));
        if (k >= 10)
            s[k - 10] = t1 - t0;
    }
    report("cap_retype_frame", s, SAMPLES, 1);
}

/* Revoke of a RAM capability with 100 frame descendants. */
static void bench_cap_revoke_100(struct capref ram)
{
    enum { REVOKE_SAMPLES = 11 };
    uint64_t s[REVOKE_SAMPLES];
    for (unsigned k = 0; k < REVOKE_SAMPLES + 2; k++) {
        must(cap_retype(bench_slot(1), ram, OBJ_FRAME, 0, 4096, 100), "retyping 100 frames");
        uint64_t t0 = os_cycles();
        cap_revoke(ram);
        if (k >= 2)
            s[k - 2] = os_cycles() - t0;
    }
    report("cap_revoke_100", s, REVOKE_SAMPLES, 1);
}

/*
 * Memory manager benchmarks. The manager under test has no capability
 * operations (pure bookkeeping, as the issue asks); its region is a made-up
 * 4 GiB range, so nothing is really handed out. L live 4 KiB allocations
 * are made first (one after another, as a program's pages would be); then
 * one 4 KiB alloc+free pair is timed with the L live around it.
 */
#define MM_BENCH_BASE   0x100000000ull
#define MM_BENCH_SIZE   0x100000000ull
RECORD_POOL(mm_pool, 3u << 20, MM_ERR_NO_METADATA);

struct mm_bench_ops {
    errval_t (*alloc)(void *m, struct mm_block *b);
    errval_t (*free)(void *m, uint64_t base, uint64_t size);
};

static errval_t tree_alloc(void *m, struct mm_block *b) { return mm_alloc(m, 4096, 4096, b); }
static errval_t tree_free(void *m, uint64_t base, uint64_t size) { return mm_free(m, base, size); }
static errval_t ff_alloc(void *m, struct mm_block *b) { return firstfit_alloc(m, 4096, 4096, b); }
static errval_t ff_free(void *m, uint64_t base, uint64_t size) { return firstfit_free(m, base, size); }

static void make_live(const struct mm_bench_ops *ops, void *m, unsigned live)
{
    struct mm_block b;
    for (unsigned i = 0; i < live; i++)
        ops->alloc(m, &b);
}

/* The harder case: L live allocations with L one-page holes between them,
 * and pairs freed out of order (alloc A, alloc B, free A, free B), so no
 * free is of the most recent allocation and every free searches the tree. */
static void make_live_with_holes(const struct mm_bench_ops *ops, void *m, unsigned live)
{
    static uint64_t bases[20000];
    struct mm_block b;
    for (unsigned i = 0; i < 2 * live; i++) {
        ops->alloc(m, &b);
        bases[i] = b.base;
    }
    for (unsigned i = 0; i < 2 * live; i += 2)
        ops->free(m, bases[i], 4096);
}

static void time_crossed_pairs(const char *name, const struct mm_bench_ops *ops, void *m)
{
    uint64_t s[SAMPLES];
    struct mm_block a, b;
    for (unsigned k = 0; k < SAMPLES + 10; k++) {
        uint64_t t0 = os_cycles();
        must(ops->alloc(m, &a), name);
        must(ops->alloc(m, &b), name);
        must(ops->free(m, a.base, a.size), name);
        must(ops->free(m, b.base, b.size), name);
        if (k >= 10)
            s[k - 10] = (os_cycles() - t0) / 2;
    }
    report(name, s, SAMPLES, 2);
}

static void time_pairs(const char *name, const struct mm_bench_ops *ops, void *m)
{
    uint64_t s[SAMPLES];
    struct mm_block b;
    for (unsigned k = 0; k < SAMPLES + 10; k++) {
        uint64_t t0 = os_cycles();
        must(ops->alloc(m, &b), name);
        must(ops->free(m, b.base, b.size), name);
        if (k >= 10)
            s[k - 10] = os_cycles() - t0;
    }
    report(name, s, SAMPLES, 1);
}

/* The manager on a fresh made-up region; `holes` picks the harder case. */
static void bench_mm(unsigned live, bool holes)
{
    static struct mm tree;
    static const struct mm_bench_ops ops = { tree_alloc, tree_free };
    char name[64];
    mm_pool.used = 0;
    mm_init(&tree, NULL, NULL, record_pool_refill, &mm_pool);
    mm_add(&tree, MM_CAP_NONE, MM_BENCH_BASE, MM_BENCH_SIZE);
    snprintf(name, sizeof name, "mm_alloc_free_4k_%slive%u", holes ? "holes_" : "", live);
    if (holes) {
        make_live_with_holes(&ops, &tree, live);
        time_crossed_pairs(name, &ops, &tree);
    } else {
        make_live(&ops, &tree, live);
        time_pairs(name, &ops, &tree);
    }
}

static void bench_firstfit(unsigned live)
{
    static struct firstfit ff;
    static const struct mm_bench_ops ops = { ff_alloc, ff_free };
    char name[48];
    mm_pool.used = 0;
    firstfit_init(&ff, false, record_pool_refill, &mm_pool);
    firstfit_add(&ff, MM_BENCH_BASE, MM_BENCH_SIZE);
    make_live(&ops, &ff, live);
    snprintf(name, sizeof name, "mm_firstfit_alloc_free_4k_live%u", live);
    time_pairs(name, &ops, &ff);
}

/* The same pair with capabilities: init's real manager, retype of a RAM
 * capability into a fresh slot, and revoke + delete on free. */
static void bench_mm_caps(void)
{
    static const struct mm_bench_ops ops = { tree_alloc, tree_free };
    time_pairs("mm_alloc_free_4k_with_caps", &ops, ram_mm());
}

/* A first touch of a heap page not yet backed: the fault, the upcall, the
 * handler (region lookup, a zeroed frame, the page mapped) and the resume,
 * until the touching code continues. Frames are made FRAME_POOL_BATCH at a
 * time (frame_pool.h), so a sample is FRAME_POOL_BATCH first touches of
 * consecutive pages, divided by their number: each sample pays for exactly
 * one batch (memory manager allocation, retype, zeroing), which a sample of
 * one touch would pay for only one time in FRAME_POOL_BATCH. The heap block
 * is a large one (its own lazily backed region); its first page holds the
 * heap's header. */
static void bench_page_fault_4k(void)
{
    enum { BATCH = FRAME_POOL_BATCH, WARM = 2 * FRAME_POOL_BATCH };
    uint64_t s[SAMPLES];
    uint8_t *heap = malloc((SAMPLES * BATCH + WARM + 1) * 4096ull);
    if (heap == NULL)
        must(LIB_ERR_PAGING_INIT, "malloc for page_fault_4k");
    uint8_t *page = (uint8_t *)(((uintptr_t)heap + 4095) & ~4095ull);
    for (unsigned k = 0; k < WARM; k++)
        *(volatile uint64_t *)(page + k * 4096ull) = k;
    page += WARM * 4096ull;
    for (unsigned k = 0; k < SAMPLES; k++) {
        uint64_t t0 = os_cycles();
        for (unsigned i = 0; i < BATCH; i++)
            *(volatile uint64_t *)(page + (k * BATCH + i) * 4096ull) = i;
        s[k] = (os_cycles() - t0) / BATCH;
    }
    report("page_fault_4k", s, SAMPLES, BATCH);
    free(heap);
}

/* Two threads yielding to each other: one switch is half a round. */
static volatile bool switching;

static int yielder(void *arg)
{
    (void)arg;
    while (switching)
        thread_yield();
    return 0;
}

static void bench_thread_switch(void)
{
    enum { BATCH = 1000 };
    struct thread *t;
    uint64_t s[SAMPLES];
    switching = true;
    must(thread_create(&t, yielder, NULL), "a thread");
    for (int i = 0; i < WARMUP; i++)
        thread_yield();
    for (unsigned k = 0; k < SAMPLES; k++) {
        uint64_t t0 = os_cycles();
        for (int i = 0; i < BATCH; i++)
            thread_yield();
        s[k] = (os_cycles() - t0) / (2 * BATCH);
    }
    switching = false;
    must(thread_join(t, NULL), "join");
    report("thread_switch", s, SAMPLES, 2 * BATCH);
}

static int nothing(void *arg)
{
    (void)arg;
    return 0;
}

/* Create a thread and join it (stacks from the thread library's cache). */
static void bench_thread_create_join(void)
{
    struct thread *t;
    uint64_t s[SAMPLES];
    for (unsigned k = 0; k < SAMPLES + 10; k++) {
        uint64_t t0 = os_cycles();
        must(thread_create(&t, nothing, NULL), "a thread");
        must(thread_join(t, NULL), "join");
        if (k >= 10)
            s[k - 10] = os_cycles() - t0;
    }
    report("thread_create_join", s, SAMPLES, 1);
}

/* malloc and free of a 64-byte block. */
static void bench_malloc_free_64(void)
{
    enum { BATCH = 1000 };
    uint64_t s[SAMPLES];
    for (unsigned k = 0; k < SAMPLES; k++) {
        uint64_t t0 = os_cycles();
        for (int i = 0; i < BATCH; i++) {
            void *volatile p = malloc(64);     /* volatile: keep the pair */
            free(p);
        }
        s[k] = (os_cycles() - t0) / BATCH;
    }
    report("malloc_free_64", s, SAMPLES, BATCH);
}

/* malloc(256 MiB) and free of it untouched: a region reserved and freed. */
static void bench_malloc_free_256m(void)
{
    uint64_t s[SAMPLES];
    for (unsigned k = 0; k < SAMPLES; k++) {
        uint64_t t0 = os_cycles();
        void *p = malloc(256ull << 20);
        free(p);
        s[k] = os_cycles() - t0;
        if (p == NULL)
            must(LIB_ERR_PAGING_INIT, "malloc(256 MiB)");
    }
    report("malloc_free_256m", s, SAMPLES, 1);
}

/* Map a 4 KiB frame anywhere, then unmap it and give the range back. */
static void bench_map_unmap_4k(void)
{
    struct capref frame;
    uint64_t s[SAMPLES], va;
    must(ram_new_object(OBJ_FRAME, 4096, 4096, &frame, NULL), "a frame");
    for (unsigned k = 0; k < SAMPLES + 10; k++) {
        uint64_t t0 = os_cycles();
        must(paging_map_frame(frame, 4096, VREGION_ATTR_RW, &va), "map");
        must(paging_unmap(va, 4096), "unmap");
        must(paging_free(va, 4096), "free");
        if (k >= 10)
            s[k - 10] = os_cycles() - t0;
    }
    report("map_unmap_4k", s, SAMPLES, 1);
}

/* Spawn hello (no output) through the process manager, wait for its exit
 * and reap it: building the process, running it, reclaiming everything. */
static void bench_spawn_exit_wait(void)
{
    uint64_t s[SAMPLES];
    proc_init();
    for (unsigned k = 0; k < SAMPLES + 3; k++) {
        uint32_t pid;
        struct proc_info info;
        uint64_t t0 = os_cycles();
        must(proc_spawn("hello -q", &pid), "spawn");
        must(proc_wait(pid, &info), "wait");
        if (k >= 3)
            s[k - 3] = os_cycles() - t0;
        if (info.state != PROC_EXITED || info.exit_code != 0)
            must(SPAWN_ERR_LOAD, "hello exits with 0");
    }
    report("spawn_exit_wait", s, SAMPLES, 1);
}

/* ---- LMP ---- */

#define LMP_PEER_QUIT 0xdeadull

/* "bench lmp-peer": send our EndPoint to the spawner, then echo every
 * message back with LMP_SEND_YIELD until told to quit. */
static int lmp_peer(void)
{
    struct capref initep = capref_l2(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_INITEP);
    struct lmp_endpoint *self = lmp_self_endpoint();
    struct lmp_msg m = { .nwords = 0, .has_cap = true, .cap = capref_l2(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_SELFEP) };
    if (self == NULL || err_is_fail(lmp_send(initep, &m, 0)))
        return 1;
    for (;;) {
        if (err_is_fail(lmp_endpoint_recv_wait(self, &m, 0)))
            return 2;
        if (m.nwords > 0 && m.words[0] == LMP_PEER_QUIT)
            return 0;
        m.has_cap = false;
        if (err_is_fail(lmp_send(initep, &m, LMP_SEND_YIELD)))
            return 3;
    }
}

/* One message one way between two processes on this core: a ping-pong of
 * one-word messages, each sent with LMP_SEND_YIELD to a peer that is in
 * lmp_endpoint_recv_wait, reported as the round trip / 2. A one-way trip is
 * the send system call (checks, copy, the receiver made runnable, the
 * switch to it) and the receiver's return to its thread and taking the
 * message from its ring. */
static void bench_lmp_send_recv(void)
{
    enum { BATCH = 1000 };
    struct lmp_endpoint *from;
    struct capref ours, peer_ep;
    struct spawn_process sp;
    must(lmp_endpoint_alloc(&from), "an LMP buffer");
    must(os_slot_alloc(&ours), "a slot");
    must(os_slot_alloc(&peer_ep), "a slot");
    must(lmp_endpoint_mint(from, 1, ours), "an EndPoint");
    struct spawn_request req = { .cmdline = "bench lmp-peer", .pid = 900, .initep = &ours };
    must(spawn_load(&req, &sp), "spawn the LMP peer");
    lmp_endpoint_arm(from, peer_ep);
    must(dispatcher_run(sp.dispatcher), "run the LMP peer");
    struct lmp_msg m, in;
    must(lmp_endpoint_recv_wait(from, &in, 0), "the peer's EndPoint");
    m = (struct lmp_msg){ .nwords = 1, .words = { 1 } };
    uint64_t s[SAMPLES];
    for (unsigned k = 0; k < SAMPLES + 1; k++) {
        uint64_t t0 = os_cycles();
        for (int i = 0; i < BATCH; i++) {
            must(lmp_send(peer_ep, &m, LMP_SEND_YIELD), "send");
            must(lmp_endpoint_recv_wait(from, &in, 0), "receive");
        }
        if (k >= 1)
            s[k - 1] = (os_cycles() - t0) / (2 * BATCH);
    }
    report("lmp_send_recv", s, SAMPLES, 2 * BATCH);
    m.words[0] = LMP_PEER_QUIT;
    must(lmp_send(peer_ep, &m, 0), "quit");
    must(spawn_reclaim(&sp), "reclaim the LMP peer");
}

/* ---- RPC ---- */

/* "bench rpc-client": a process the bench spawned calls the bench, which
 * runs init's services (usr/init/services.c) exactly as init does, with
 * its main thread asleep as init's console is. */
static int rpc_client(void)
{
    enum { BATCH = 1000, BULK_BATCH = 4 };
    must(ram_init_from_memcn(), "ram");
    must(paging_init(), "paging");
    for (int i = 0; i < 100; i++)
        must(svc_ping(), "warm-up ping");
    uint64_t s[SAMPLES];
    for (unsigned k = 0; k < SAMPLES + 1; k++) {
        uint64_t t0 = os_cycles();
        for (int i = 0; i < BATCH; i++)
            svc_ping();
        if (k >= 1)
            s[k - 1] = (os_cycles() - t0) / BATCH;
    }
    report("rpc_null_roundtrip", s, SAMPLES, BATCH);

    size_t len = 1u << 20;
    uint8_t *buf = malloc(len);
    if (buf == NULL)
        must(LIB_ERR_SLAB_EMPTY, "a 1 MiB buffer");
    memset(buf, 0x5a, len);
    must(svc_sink(buf, len), "warm-up 1 MiB");
    for (unsigned k = 0; k < SAMPLES + 1; k++) {
        uint64_t t0 = os_cycles();
        for (int i = 0; i < BULK_BATCH; i++)
            must(svc_sink(buf, len), "1 MiB call");
        if (k >= 1)
            s[k - 1] = (os_cycles() - t0) / BULK_BATCH;
    }
    report("rpc_bulk_1mib", s, SAMPLES, BULK_BATCH);
    free(buf);
    return 0;
}

static void bench_rpc(void)
{
    must(services_start(), "the services");
    uint32_t pid;
    must(proc_spawn("bench rpc-client", &pid), "spawn the RPC client");
    struct proc_info info[PROC_MAX];
    for (;;) {
        thread_sleep_us(20 * 1000);
        size_t n = proc_list(info, PROC_MAX);
        bool running = false;
        for (size_t i = 0; i < n && i < PROC_MAX; i++)
            running |= info[i].pid == pid && (info[i].state == PROC_RUNNING || info[i].state == PROC_SUSPENDED);
        if (!running)
            break;
    }
    struct proc_info end;
    must(proc_wait(pid, &end), "wait for the RPC client");
    if (end.state != PROC_EXITED || end.exit_code != 0)
        must(SPAWN_ERR_LOAD, "the RPC client exits with 0");
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "lmp-peer") == 0)
        return lmp_peer();
    if (argc > 1 && strcmp(argv[1], "rpc-client") == 0)
        return rpc_client();
    if (argc > 2 && strcmp(argv[2], "rpc-only") == 0) {     /* "init=bench rpc-only": for instruction traces */
        must(ram_init_from_memcn(), "ram");
        must(paging_init(), "paging");
        proc_init();
        bench_rpc();
        printf("BENCH-DONE\n");
        return 0;
    }
    if (argc > 2 && strcmp(argv[2], "lmp-only") == 0) {     /* "init=bench lmp-only": for instruction traces */
        must(ram_init_from_memcn(), "ram");
        must(paging_init(), "paging");
        bench_lmp_send_recv();
        printf("BENCH-DONE\n");
        return 0;
    }
    bench_boot_to_init();
    bench_null_syscall();
    struct capref ram = bench_ram();
    bench_cap_copy_delete(ram);
    bench_cap_retype_frame(ram);
    bench_cap_revoke_100(ram);
    static const unsigned lives[] = { 1, 1000, 10000 };
    for (unsigned i = 0; i < 3; i++)
        bench_mm(lives[i], false);
    for (unsigned i = 0; i < 3; i++)
        bench_mm(lives[i], true);
    for (unsigned i = 0; i < 3; i++)
        bench_firstfit(lives[i]);
    bench_mm_caps();
    must(paging_init(), "starting paging");
    bench_page_fault_4k();
    bench_map_unmap_4k();
    bench_thread_switch();
    bench_thread_create_join();
    bench_malloc_free_64();
    bench_malloc_free_256m();
    bench_spawn_exit_wait();
    bench_lmp_send_recv();
    bench_rpc();
    printf("BENCH-DONE\n");
    return 0;
}
