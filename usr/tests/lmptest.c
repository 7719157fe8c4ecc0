/*
 * lmptest.c — kernel LMP from inside the OS (docs/lmp.md): sends to our own
 * buffers (words, badges, capabilities, a full buffer, the bad inputs, each
 * changing nothing), SYS_WAIT's deadline, and a spawned peer (this program
 * run as "lmptest peer") for what needs two processes: a waiting receiver
 * woken, LMP_SEND_YIELD, an answer in the registers (LMP_SEND_RECV), 10,000
 * messages in a row, stop/run/kill of a waiting process and a dead
 * receiver. Run as init=lmptest.
 */
#include <stdio.h>
#include <string.h>

#include <minnow/lmp.h>
#include "dispatcher.h"
#include "lmp.h"
#include "os.h"
#include "ostest.h"
#include "paging.h"
#include "ram.h"
#include "slots.h"
#include "spawn.h"
#include "syscall.h"
#include "thread.h"

/* The peer's commands: words[0] of a message to it. */
enum { OP_ECHO = 1, OP_EXIT, OP_SEQ, OP_SEQ_DONE, OP_PING };

#define PEER_BADGE  0x5eedull   /* the badge of the EndPoint the peer sends to us with */
#define STREAM      10000
#define SECOND_US   1000000

/* ---- the peer ---- */

static struct capref peer_slot(uint32_t i) { return capref_l2(ROOTCN_SLOT_TASKCN, TASKCN_SLOTS_USER + 1 + i); }

static void peer_reply(uint64_t w0, uint64_t w1, uint64_t w2)
{
    struct lmp_msg m = { .nwords = 3, .words = { w0, w1, w2 } };
    errval_t err;
    while (err_no(err = lmp_send(capref_l2(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_INITEP), &m, 0)) == LMP_ERR_BUF_FULL)
        sys_yield();
}

/* Say hello with an EndPoint to our buffer 0, then serve until OP_EXIT. */
static int peer(void)
{
    struct lmp_endpoint *self = lmp_self_endpoint();
    struct capref ep = peer_slot(0);
    if (self == NULL || err_is_fail(lmp_endpoint_mint(self, 0, ep)))
        return 2;
    struct lmp_msg m = { .nwords = 1, .words = { OP_PING }, .has_cap = true, .cap = ep };
    if (err_is_fail(lmp_send(capref_l2(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_INITEP), &m, 0)))
        return 3;
    uint64_t expected = 0, bad = 0;
    for (;;) {
        if (err_is_fail(lmp_endpoint_recv_wait(self, &m, 0)))
            return 4;
        switch (m.words[0]) {
        case OP_ECHO: peer_reply(OP_ECHO, m.words[1], m.nwords); break;
        case OP_EXIT: return (int)m.words[1];
        case OP_SEQ: bad += m.words[1] != expected++; break;
        case OP_SEQ_DONE: peer_reply(OP_SEQ_DONE, expected, bad); expected = bad = 0; break;
        default: peer_reply(0, 0, 0); break;
        }
    }
}

/* ---- sends to ourselves ---- */

static struct lmp_endpoint *mine;       /* a buffer of ours, for the local tests */
static struct capref mine_ep;           /* an EndPoint to it, badge 7 */

static struct capref new_slot(void)
{
    struct capref s;
    if (err_is_fail(os_slot_alloc(&s)))
        printf("lmptest: out of slots\n");
    return s;
}

static bool same_words(const struct lmp_msg *a, const struct lmp_msg *b)
{
    return a->nwords == b->nwords && memcmp(a->words, b->words, a->nwords * sizeof a->words[0]) == 0;
}

static void test_words(void)
{
    bool all = true;
    for (uint32_t n = 0; n <= LMP_MSG_WORDS; n++) {
        struct lmp_msg out = { .nwords = n }, in;
        for (uint32_t i = 0; i < n; i++)
            out.words[i] = 0x1111111111111111ull * (i + 1) + n;
        errval_t err = lmp_send(mine_ep, &out, 0);
        all &= err_is_ok(err) && lmp_endpoint_recv(mine, &in) && same_words(&out, &in) && in.badge == 7 &&
               !in.has_cap;
    }
    check("0..8 words arrive intact, with the EndPoint's badge", all);
    struct lmp_msg in;
    check("  ... and nothing more is in the buffer", !lmp_endpoint_recv(mine, &in));
    struct capref other = new_slot();
    struct lmp_msg m = { .nwords = 1, .words = { 42 } };
    expect("mint the EndPoint with badge 99", cap_mint(other, mine_ep, CAPRIGHTS_ALL, 99), SYS_ERR_OK);
    expect("send through it", lmp_send(other, &m, 0), SYS_ERR_OK);
    check("the message carries badge 99", lmp_endpoint_recv(mine, &in) && in.badge == 99 && in.words[0] == 42);
    struct capinfo ci;
    expect("identify the EndPoint", cap_identify(other, &ci), SYS_ERR_OK);
    check("  ... type EndPoint, the dispatcher's base and size",
          ci.type == OBJ_ENDPOINT && ci.size == OBJSIZE_DISPATCHER);
    cap_delete(other);
}

static void test_cap(void)
{
    struct capref frame, recv = new_slot();
    uint64_t base;
    expect("a 4 KiB frame to send", ram_new_object(OBJ_FRAME, 4096, 4096, &frame, &base), SYS_ERR_OK);
    struct lmp_msg m = { .nwords = 2, .words = { 5, 6 }, .has_cap = true, .cap = frame }, in;
    expect("a capability with no receive slot armed: LMP_ERR_NO_RECV_SLOT", lmp_send(mine_ep, &m, 0),
           LMP_ERR_NO_RECV_SLOT);
    check("  ... and nothing arrived", !lmp_endpoint_recv(mine, &in));
    lmp_endpoint_arm(mine, frame);
    expect("a capability into an occupied slot: LMP_ERR_RECV_SLOT_OCCUPIED", lmp_send(mine_ep, &m, 0),
           LMP_ERR_RECV_SLOT_OCCUPIED);
    check("  ... and nothing arrived", !lmp_endpoint_recv(mine, &in));
    lmp_endpoint_arm(mine, recv);
    expect("send a frame capability", lmp_send(mine_ep, &m, 0), SYS_ERR_OK);
    check("it arrived with its words, at the armed slot",
          lmp_endpoint_recv(mine, &in) && in.has_cap && in.nwords == 2 && in.words[1] == 6 &&
          capref_addr(in.cap) == capref_addr(recv));
    struct capinfo ci;
    expect("identify the received capability", cap_identify(recv, &ci), SYS_ERR_OK);
    check("  ... it is the frame (type, base, size)", ci.type == OBJ_FRAME && ci.base == base && ci.size == 4096);
    struct capinfo orig;
    check("the sender keeps its copy", err_is_ok(cap_identify(frame, &orig)) && orig.base == base);
    expect("the slot was disarmed: a second capability fails", lmp_send(mine_ep, &m, 0), LMP_ERR_NO_RECV_SLOT);
    struct capref ungrantable = new_slot();
    expect("a copy of the frame without GRANT", cap_mint(ungrantable, frame, CAPRIGHTS_RW, 0), SYS_ERR_OK);
    struct capref recv2 = new_slot();
    lmp_endpoint_arm(mine, recv2);
    m.cap = ungrantable;
    expect("a capability without GRANT cannot be sent", lmp_send(mine_ep, &m, 0), CAP_ERR_NO_RIGHTS);
    check("  ... and the armed slot stays empty and armed",
          err_no(cap_identify(recv2, &ci)) == CAP_ERR_SLOT_EMPTY && mine->buf->hdr.recv_slot == capref_addr(recv2));
    lmp_endpoint_disarm(mine);
    cap_delete(ungrantable);
    cap_delete(recv);
}

static void test_full(void)
{
    struct lmp_msg m = { .nwords = 1 }, in;
    bool ok = true;
    for (uint64_t i = 0; i < LMP_BUF_SLOTS; i++) {
        m.words[0] = i;
        ok &= err_is_ok(lmp_send(mine_ep, &m, 0));
    }
    check("LMP_BUF_SLOTS (16) messages fill a buffer", ok);
    expect("the 16th: LMP_ERR_BUF_FULL", lmp_send(mine_ep, &m, 0), LMP_ERR_BUF_FULL);
    check("taking one makes room", lmp_endpoint_recv(mine, &in) && in.words[0] == 0);
    m.words[0] = 100;
    expect("  ... and the retry succeeds", lmp_send(mine_ep, &m, 0), SYS_ERR_OK);
    bool order = true;
    for (uint64_t i = 1; i < LMP_BUF_SLOTS; i++)
        order &= lmp_endpoint_recv(mine, &in) && in.words[0] == i;
    check("the buffer drains in order", order && lmp_endpoint_recv(mine, &in) && in.words[0] == 100 &&
          !lmp_endpoint_recv(mine, &in));
}

/* lmp_endpoint_next reads in place: a slot stays the receiver's, and
 * counts against the sender, until the next call hands it back. */
static void test_in_place(void)
{
    struct lmp_buf_hdr *h = &mine->buf->hdr;
    uint64_t start = h->consumed;
    struct lmp_msg m = { .nwords = 2, .words = { 11, 12 } };
    bool ok = err_is_ok(lmp_send(mine_ep, &m, 0));
    m.words[0] = 21;
    ok &= err_is_ok(lmp_send(mine_ep, &m, 0));
    const struct lmp_slot *s = lmp_endpoint_next(mine);
    check("read in place: the first message's count, words and badge",
          ok && s != NULL && (s->header & LMP_SLOT_WORDS_MASK) == 2 && s->words[0] == 11 &&
          s->words[1] == 12 && s->badge == 7);
    check("  ... and its slot is still held (consumed has not moved)", h->consumed == start);
    m.words[0] = 0;
    for (unsigned i = 2; i < LMP_BUF_SLOTS; i++)
        ok &= err_is_ok(lmp_send(mine_ep, &m, 0));
    check("  ... the held slot counts: 16 in the ring with it", ok);
    expect("  ... and the next send finds the buffer full", lmp_send(mine_ep, &m, 0), LMP_ERR_BUF_FULL);
    s = lmp_endpoint_next(mine);
    check("the next read hands the first slot back and reads the second",
          s != NULL && s->words[0] == 21 && h->consumed == start + 1);
    unsigned rest = 0;
    while (lmp_endpoint_next(mine) != NULL)
        rest++;
    check("  ... the rest drain, and the last read leaves nothing held",
          rest == LMP_BUF_SLOTS - 2 && h->consumed == h->delivered && mine->next == h->consumed);
}

static void test_bad_input(void)
{
    struct lmp_msg m = { .nwords = 1, .words = { 1 } }, in;
    uint64_t before = mine->buf->hdr.delivered;
    expect("send through a Frame capability: LMP_ERR_NOT_ENDPOINT",
           lmp_send(capref_l2(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_DISPFRAME), &m, 0), LMP_ERR_NOT_ENDPOINT);
    expect("send through an empty slot", lmp_send(capref_l2(ROOTCN_SLOT_TASKCN, TASKCN_SLOTS_USER + 200), &m, 0),
           CAP_ERR_SLOT_EMPTY);
    expect("9 words: LMP_ERR_TOO_MANY_WORDS",
           sys_lmp_send(capref_addr(mine_ep), lmp_control(9, 0, 0), m.words), LMP_ERR_TOO_MANY_WORDS);
    expect("unknown control flags: LMP_ERR_BAD_CONTROL",
           sys_lmp_send(capref_addr(mine_ep), lmp_control(1, 1ull << 20, 0), m.words), LMP_ERR_BAD_CONTROL);
    struct capref ro = new_slot();
    cap_mint(ro, mine_ep, CAPRIGHTS_READ, 7);
    expect("an EndPoint without WRITE cannot send", lmp_send(ro, &m, 0), CAP_ERR_NO_RIGHTS);
    cap_delete(ro);
    check("none of them delivered anything",
          mine->buf->hdr.delivered == before && !lmp_endpoint_recv(mine, &in));
    struct capref ep = new_slot();
    expect("an EndPoint to a buffer beyond the frame: DISP_ERR_BAD_BUFFER",
           sys_invoke(CAP_DISPATCHER, DISPATCHER_CMD_ENDPOINT, capref_cnode(ep), capref_index(ep), LMP_MAX_BUFFERS, 0,
                      0, 0).err, DISP_ERR_BAD_BUFFER);
    expect("a second dispatcher frame: DISP_ERR_FRAME_SET",
           sys_invoke(CAP_DISPATCHER, DISPATCHER_CMD_SET_FRAME, CAP_DISPFRAME, 0, 0, 0, 0, 0).err, DISP_ERR_FRAME_SET);
    /* Corrupt our own ring counters: the kernel must stay in the frame. */
    mine->buf->hdr.consumed = mine->buf->hdr.delivered + 1000;
    expect("a corrupt consumed count reads as a full buffer", lmp_send(mine_ep, &m, 0), LMP_ERR_BUF_FULL);
    mine->buf->hdr.consumed = mine->buf->hdr.delivered;
    mine->buf->hdr.recv_slot = 0xdeadbeefcafeull;
    m.has_cap = true;
    m.cap = capref_l2(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_DISPFRAME);
    expect("a recv_slot beyond 32 bits counts as none", lmp_send(mine_ep, &m, 0), LMP_ERR_NO_RECV_SLOT);
    mine->buf->hdr.recv_slot = capaddr_make(4000, 3);
    expect("a recv_slot outside the CSpace counts as none", lmp_send(mine_ep, &m, 0), LMP_ERR_NO_RECV_SLOT);
    lmp_endpoint_disarm(mine);
    check("  ... and still nothing was delivered", !lmp_endpoint_recv(mine, &in));
}

static uint64_t counter_freq(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v));
    return v;
}

/* A freed buffer is reset: EndPoints made to it before stop working, so
 * its next owner never hears from a former peer. */
static void test_reset(void)
{
    struct lmp_endpoint *ep, *again;
    struct capref old = new_slot(), fresh = new_slot(), bad = new_slot();
    struct lmp_msg m = { .nwords = 1, .words = { 5 } }, in;
    expect("a buffer", lmp_endpoint_alloc(&ep), SYS_ERR_OK);
    expect("an EndPoint to it", lmp_endpoint_mint(ep, 3, old), SYS_ERR_OK);
    expect("a badged copy of that EndPoint", cap_mint(bad, old, CAPRIGHTS_ALL, 4), SYS_ERR_OK);
    expect("send through it", lmp_send(old, &m, 0), SYS_ERR_OK);
    uint32_t index = ep->index;
    lmp_endpoint_free(ep);
    expect("the freed buffer is given out again", lmp_endpoint_alloc(&again), SYS_ERR_OK);
    check("... the same one", again->index == index);
    check("... empty: the old message went with the reset", !lmp_endpoint_recv(again, &in));
    expect("the old EndPoint: LMP_ERR_STALE", lmp_send(old, &m, 0), LMP_ERR_STALE);
    expect("its badged copy too", lmp_send(bad, &m, 0), LMP_ERR_STALE);
    check("... and nothing arrived", !lmp_endpoint_recv(again, &in));
    expect("an EndPoint made now", lmp_endpoint_mint(again, 3, fresh), SYS_ERR_OK);
    expect("works", lmp_send(fresh, &m, 0), SYS_ERR_OK);
    check("... its message arrives", lmp_endpoint_recv(again, &in) && in.words[0] == 5);
    expect("revoking an EndPoint is refused (it would delete every EndPoint to us)", cap_revoke(fresh),
           CAP_ERR_REVOKE_ENDPOINT);
    expect("... and the EndPoint still works", lmp_send(fresh, &m, 0), SYS_ERR_OK);
    check("... its message arrives", lmp_endpoint_recv(again, &in));
    expect("resetting a buffer beyond the frame: DISP_ERR_BAD_BUFFER",
           sys_invoke(CAP_DISPATCHER, DISPATCHER_CMD_BUFFER_RESET, 999, 0, 0, 0, 0, 0).err, DISP_ERR_BAD_BUFFER);
    lmp_endpoint_free(again);
    cap_delete(old);
    cap_delete(fresh);
    cap_delete(bad);
}

static void test_wait_deadline(void)
{
    lmp_poll();     /* the earlier tests' pending bits: SYS_WAIT would return at once */
    uint64_t t0 = lmp_deadline_us(0);
    errval_t err = sys_wait(lmp_deadline_us(30000));
    uint64_t waited_us = (lmp_deadline_us(0) - t0) * 1000000 / counter_freq();
    expect("SYS_WAIT with nothing pending times out at its deadline", err, LMP_ERR_WAIT_TIMEOUT);
    check("  ... after about 30 ms (at least 30, under 100)", waited_us >= 30000 && waited_us < 100000);
    expect("a deadline in the past returns at once", sys_wait(1), LMP_ERR_WAIT_TIMEOUT);
    struct lmp_msg m = { .nwords = 0 }, in;
    lmp_send(mine_ep, &m, 0);
    expect("with a message pending, SYS_WAIT returns at once", sys_wait(lmp_deadline_us(SECOND_US)), SYS_ERR_OK);
    lmp_endpoint_recv(mine, &in);
    expect("recv_wait on an empty buffer times out", lmp_endpoint_recv_wait(mine, &in, lmp_deadline_us(20000)),
           LMP_ERR_WAIT_TIMEOUT);
}

static errval_t endpoint_to(struct capref disp, uint32_t index, struct capref dest)
{
    return sys_invoke(capref_addr(disp), DISPATCHER_CMD_ENDPOINT, capref_cnode(dest), capref_index(dest), index, 3,
                      0, 0).err;
}

/* A dispatcher of our own making whose last capability we delete while an
 * EndPoint to it lives on. */
static void test_destroyed(void)
{
    enum { FRAME = 16384 };
    struct capref ram, disp = new_slot(), frame = new_slot(), ep = new_slot(), probe = new_slot();
    uint64_t base;
    expect("RAM for a dispatcher and its frame", ram_alloc(4096 + FRAME, 4096, &ram, &base), SYS_ERR_OK);
    expect("retype a dispatcher", cap_retype(disp, ram, OBJ_DISPATCHER, 0, 0, 1), SYS_ERR_OK);
    expect("retype a 16 KiB frame", cap_retype(frame, ram, OBJ_FRAME, 4096, FRAME, 1), SYS_ERR_OK);
    expect("an EndPoint before the frame: DISP_ERR_NO_FRAME", endpoint_to(disp, 0, ep), DISP_ERR_NO_FRAME);
    expect("RAM as the frame: DISP_ERR_BAD_FRAME",
           sys_invoke(capref_addr(disp), DISPATCHER_CMD_SET_FRAME, capref_addr(ram), 0, 0, 0, 0, 0).err,
           DISP_ERR_BAD_FRAME);
    expect("set the frame", sys_invoke(capref_addr(disp), DISPATCHER_CMD_SET_FRAME, capref_addr(frame), 0, 0, 0, 0, 0).err,
           SYS_ERR_OK);
    expect("an EndPoint to buffer 6 (of 7)", endpoint_to(disp, 6, ep), SYS_ERR_OK);
    expect("  ... buffer 7 is beyond: DISP_ERR_BAD_BUFFER", endpoint_to(disp, 7, probe), DISP_ERR_BAD_BUFFER);
    struct lmp_msg m = { .nwords = 1 };
    expect("a send to the set-up-less dispatcher is delivered", lmp_send(ep, &m, 0), SYS_ERR_OK);
    expect("delete the last Dispatcher capability", cap_delete(disp), SYS_ERR_OK);
    expect("a send through the surviving EndPoint: LMP_ERR_DEAD", lmp_send(ep, &m, 0), LMP_ERR_DEAD);
    expect("the EndPoint keeps the DCB's memory from being retyped",
           cap_retype(probe, ram, OBJ_FRAME, 0, 4096, 1), CAP_ERR_RETYPE_OVERLAP);
    expect("delete the EndPoint", cap_delete(ep), SYS_ERR_OK);
    expect("  ... now the memory can be retyped", cap_retype(probe, ram, OBJ_FRAME, 0, 4096, 1), SYS_ERR_OK);
    cap_delete(probe);
    expect("free it all", ram_free(base, 4096 + FRAME), SYS_ERR_OK);
}

/* ---- with a peer ---- */

struct peer {
    struct spawn_process sp;
    bool reclaimed;                 /* by the test itself */
    struct lmp_endpoint *from;      /* where it sends to us */
    struct capref to;               /* its EndPoint, from its first message */
};

static errval_t peer_start(struct peer *p, uint32_t pid)
{
    struct capref ours = new_slot();
    errval_t err = lmp_endpoint_alloc(&p->from);
    if (err_is_ok(err))
        err = lmp_endpoint_mint(p->from, PEER_BADGE, ours);
    struct spawn_request req = { .cmdline = "lmptest peer", .pid = pid, .initep = &ours };
    if (err_is_ok(err))
        err = spawn_load(&req, &p->sp);
    cap_delete(ours);
    os_slot_free(ours);
    if (err_is_fail(err))
        return err;
    p->to = new_slot();
    lmp_endpoint_arm(p->from, p->to);
    err = dispatcher_run(p->sp.dispatcher);
    struct lmp_msg m;
    if (err_is_ok(err))
        err = lmp_endpoint_recv_wait(p->from, &m, lmp_deadline_us(SECOND_US));
    if (err_is_ok(err) && !(m.has_cap && m.words[0] == OP_PING && m.badge == PEER_BADGE))
        err = LMP_ERR_NOT_ENDPOINT;
    return err;
}

static enum dcb_state peer_state(struct peer *p)
{
    struct dispatcher_status st;
    return err_is_ok(dispatcher_status(p->sp.dispatcher, &st)) ? st.state : DCB_NEW;
}

/* Give the core away until the peer is in `state`. */
static bool peer_reaches(struct peer *p, enum dcb_state state)
{
    for (int i = 0; i < 1000 && peer_state(p) != state; i++)
        sys_yield();
    return peer_state(p) == state;
}

static errval_t send_op(struct peer *p, uint64_t op, uint64_t arg, unsigned flags)
{
    struct lmp_msg m = { .nwords = 2, .words = { op, arg } };
    errval_t err;
    while (err_no(err = lmp_send(p->to, &m, flags)) == LMP_ERR_BUF_FULL)
        sys_yield();
    return err;
}

static void test_wake_and_yield(struct peer *p)
{
    check("the peer, blocked in recv, waits in the kernel (DCB_WAITING)", peer_reaches(p, DCB_WAITING));
    struct lmp_msg in;
    expect("a message to the waiting peer", send_op(p, OP_ECHO, 11, 0), SYS_ERR_OK);
    expect("wakes it: its echo comes back", lmp_endpoint_recv_wait(p->from, &in, lmp_deadline_us(SECOND_US)),
           SYS_ERR_OK);
    check("  ... with our word and badge", in.words[0] == OP_ECHO && in.words[1] == 11 && in.badge == PEER_BADGE);
    check("the peer waits again", peer_reaches(p, DCB_WAITING));
    /* Five times: a timer tick during the peer's turn may hand the core
     * back before it answers (the tests run in real time), once. */
    enum { TRIES = 5 };
    unsigned at_once = 0, echoed = 0;
    bool sent = true;
    for (uint64_t i = 0; i < TRIES; i++) {
        sent &= peer_reaches(p, DCB_WAITING) && err_is_ok(send_op(p, OP_ECHO, 12 + i, LMP_SEND_YIELD));
        bool here = lmp_endpoint_recv(p->from, &in);
        at_once += here;
        if (here || err_is_ok(lmp_endpoint_recv_wait(p->from, &in, lmp_deadline_us(SECOND_US))))
            echoed += in.words[1] == 12 + i;
    }
    check("send with LMP_SEND_YIELD, five times: each echoed", sent && echoed == TRIES);
    check("  ... the peer ran at once: its echo is here when the send returns (at least 4 of 5)",
          at_once >= TRIES - 1);
}

/* LMP_SEND_RECV: the sender waits parked on its buffer, and the answer
 * comes back in its registers, not through the ring. */
static void test_send_recv(struct peer *p)
{
    uint64_t w[LMP_MSG_WORDS] = { 1, 2 }, header = 99;
    uint64_t park_mine = lmp_send_recv(mine->index);
    errval_t err = sys_lmp_send_recv(capref_addr(mine_ep), lmp_control(1, LMP_SEND_YIELD, 0) | park_mine, w, &header);
    struct lmp_msg in;
    check("LMP_SEND_RECV to ourselves: no switch, so no parking (x1 0)", err_is_ok(err) && header == 0);
    check("  ... and the message is in the ring", lmp_endpoint_recv(mine, &in) && in.words[0] == 1);
    enum { TRIES = 5 };         /* a timer tick may run us before the answer, once */
    unsigned in_regs = 0, echoed = 0;
    bool ring_empty = true;
    for (uint64_t i = 0; i < TRIES; i++) {
        if (!peer_reaches(p, DCB_WAITING) || !lmp_endpoint_drained(p->from))
            break;
        uint64_t v[LMP_MSG_WORDS] = { OP_ECHO, 31 + i };
        uint64_t control = lmp_control(2, LMP_SEND_YIELD, 0) | lmp_send_recv(p->from->index);
        if (err_is_fail(sys_lmp_send_recv(capref_addr(p->to), control, v, &header)))
            break;
        if (header != 0) {
            in_regs += header == (3 | LMP_SLOT_IN_REGS) && v[0] == OP_ECHO && v[1] == 31 + i && v[2] == 2;
            ring_empty &= !lmp_endpoint_recv(p->from, &in);
            echoed++;
        } else if (err_is_ok(lmp_endpoint_recv_wait(p->from, &in, lmp_deadline_us(SECOND_US)))) {
            echoed += in.words[1] == 31 + i;
        }
    }
    check("a call with LMP_SEND_RECV, five times: each answered", echoed == TRIES);
    check("  ... the answer in the registers, words and count intact (at least 4 of 5)", in_regs >= TRIES - 1);
    check("  ... and not in the ring as well", ring_empty);
}

static void test_stream(struct peer *p)
{
    bool sent = true;
    for (uint64_t i = 0; i < STREAM; i++)
        sent &= err_is_ok(send_op(p, OP_SEQ, i, 0));
    check("10,000 messages sent (retrying while the buffer is full)", sent);
    struct lmp_msg in;
    send_op(p, OP_SEQ_DONE, 0, 0);
    errval_t err = lmp_endpoint_recv_wait(p->from, &in, lmp_deadline_us(5 * SECOND_US));
    expect("the peer's count comes back", err, SYS_ERR_OK);
    check("  ... all 10,000 arrived, in order, none lost or duplicated",
          in.words[0] == OP_SEQ_DONE && in.words[1] == STREAM && in.words[2] == 0);
}

static void test_stop_run_kill(struct peer *p)
{
    check("the peer waits", peer_reaches(p, DCB_WAITING));
    expect("stop the waiting peer", dispatcher_stop(p->sp.dispatcher), SYS_ERR_OK);
    check("  ... it is suspended", peer_state(p) == DCB_SUSPENDED);
    expect("a message to the suspended peer is still delivered", send_op(p, OP_ECHO, 21, 0), SYS_ERR_OK);
    struct lmp_msg in;
    expect("  ... but not answered while it is stopped",
           lmp_endpoint_recv_wait(p->from, &in, lmp_deadline_us(30000)), LMP_ERR_WAIT_TIMEOUT);
    expect("run it again", dispatcher_run(p->sp.dispatcher), SYS_ERR_OK);
    expect("  ... it answers", lmp_endpoint_recv_wait(p->from, &in, lmp_deadline_us(SECOND_US)), SYS_ERR_OK);
    check("  ... with the word sent while it was stopped", in.words[1] == 21);
    check("it waits again", peer_reaches(p, DCB_WAITING));
    uint64_t before = ostest_free_bytes();
    expect("kill the waiting peer (reclaim its memory)", spawn_reclaim(&p->sp), SYS_ERR_OK);
    p->reclaimed = true;
    struct lmp_msg m = { .nwords = 1 };
    expect("  ... its EndPoint went with it", lmp_send(p->to, &m, 0), CAP_ERR_SLOT_EMPTY);
    check("  ... and its memory came back", ostest_free_bytes() > before);
}

static void test_dead(struct peer *p)
{
    expect("tell the peer to exit", send_op(p, OP_EXIT, 0, 0), SYS_ERR_OK);
    check("  ... it exits", peer_reaches(p, DCB_EXITED));
    struct lmp_msg m = { .nwords = 1 };
    expect("a send to an exited receiver: LMP_ERR_DEAD", lmp_send(p->to, &m, 0), LMP_ERR_DEAD);
    expect("  ... and again (permanent)", lmp_send(p->to, &m, 0), LMP_ERR_DEAD);
}

static void with_peer(uint32_t pid, void (*test)(struct peer *))
{
    struct peer p = { 0 };
    errval_t err = peer_start(&p, pid);
    expect("start a peer and get its EndPoint", err, SYS_ERR_OK);
    if (err_is_fail(err))
        return;
    test(&p);
    if (!p.reclaimed)
        expect("reclaim the peer", spawn_reclaim(&p.sp), SYS_ERR_OK);
    cap_delete(p.to);
    os_slot_free(p.to);
    lmp_endpoint_free(p.from);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "peer") == 0)
        return peer();
    ostest_begin("LMPTEST");
    errval_t err = ram_init_from_memcn();
    if (err_is_ok(err))
        err = paging_init();
    if (err_is_ok(err))
        err = lmp_endpoint_alloc(&mine);
    mine_ep = new_slot();
    if (err_is_ok(err))
        err = lmp_endpoint_mint(mine, 7, mine_ep);
    if (err_is_fail(err)) {
        DEBUG_ERR(err, "lmptest: starting");
        return 1;
    }
    test_words();
    test_cap();
    test_full();
    test_in_place();
    test_bad_input();
    test_reset();
    test_wait_deadline();
    test_destroyed();
    with_peer(101, test_wake_and_yield);
    with_peer(105, test_send_recv);
    with_peer(102, test_stream);
    with_peer(103, test_stop_run_kill);
    with_peer(104, test_dead);
    return ostest_summary("lmptest");
}
