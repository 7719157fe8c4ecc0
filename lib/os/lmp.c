/*
 * lmp.c — the user side of kernel LMP (lmp.h): the receive buffers of this
 * process's dispatcher frame, the messages in their rings, sends, and the
 * hook the thread library calls to learn of new messages.
 *
 * The frame is shared with the kernel, which writes `delivered`, the slots
 * and the pending bits; this side writes `consumed` and `recv_slot`, and
 * clears pending bits with an atomic exchange (the kernel only ever sets
 * them, between any two of our instructions). Endpoint state is changed
 * only in the thread library's critical section, where lmp_poll runs too.
 */
#include "lmp.h"

#include <string.h>

#include "os.h"
#include "syscall.h"
#include "thread_internal.h"

static uint64_t no_pending;                             /* what lmp_pending points to without a frame */
volatile uint64_t *lmp_pending = &no_pending;
static struct lmp_frame_hdr *frame;                     /* NULL: no dispatcher frame */
static uint32_t nbuffers;
static struct lmp_endpoint endpoints[LMP_MAX_BUFFERS];  /* by buffer index */

static uint64_t counter_now_ticks(void)
{
    uint64_t v;
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v) :: "memory");
    return v;
}

void lmp_init(void)
{
    struct capinfo ci;
    if (err_is_fail(cap_identify(capref_l2(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_DISPFRAME), &ci)) ||
        ci.type != OBJ_FRAME || ci.size > DISPFRAME_MAX_BYTES)
        return;
    frame = (struct lmp_frame_hdr *)DISPFRAME_VADDR;
    nbuffers = lmp_frame_buffers(ci.size);
    for (uint32_t i = 0; i < nbuffers; i++) {
        endpoints[i].index = i;
        endpoints[i].buf = (struct lmp_buf *)((char *)frame + lmp_buf_offset(i));
        endpoints[i].next = endpoints[i].buf->hdr.consumed;
    }
    if (nbuffers > 0)
        endpoints[0].in_use = true;     /* the self endpoint (TASKCN_SLOT_SELFEP) */
    lmp_pending = &frame->pending;
}

struct lmp_endpoint *lmp_self_endpoint(void)
{
    return nbuffers > 0 ? &endpoints[0] : NULL;
}

errval_t lmp_endpoint_alloc(struct lmp_endpoint **out)
{
    if (frame == NULL)
        return LMP_ERR_NO_DISPFRAME;
    errval_t err = LMP_ERR_NO_BUFFER_FREE;
    thread_critical_enter();
    for (uint32_t i = 1; i < nbuffers; i++) {
        if (!endpoints[i].in_use) {
            endpoints[i].in_use = true;
            *out = &endpoints[i];
            err = SYS_ERR_OK;
            break;
        }
    }
    thread_critical_exit();
    return err;
}

void lmp_endpoint_free(struct lmp_endpoint *ep)
{
    /* EndPoints a former peer still holds to this buffer stop working
     * (LMP_ERR_STALE): its next owner hears only from its own peers. */
    if (ep->index != 0) {
        errval_t err = sys_invoke(CAP_DISPATCHER, DISPATCHER_CMD_BUFFER_RESET, ep->index, 0, 0, 0, 0, 0).err;
        if (err_is_fail(err))
            DEBUG_ERR(err, "lmp: resetting a freed buffer");
    }
    thread_critical_enter();
    ep->on_message = NULL;
    ep->waiter = NULL;
    ep->buf->hdr.recv_slot = LMP_RECV_NONE;
    ep->buf->hdr.consumed = ep->buf->hdr.delivered;    /* what was left is dropped */
    ep->next = ep->buf->hdr.consumed;
    if (ep->index != 0)
        ep->in_use = false;
    thread_critical_exit();
}

errval_t lmp_endpoint_mint(struct lmp_endpoint *ep, uint64_t badge, struct capref dest)
{
    return sys_invoke(CAP_DISPATCHER, DISPATCHER_CMD_ENDPOINT, capref_cnode(dest), capref_index(dest),
                      ep->index, badge, 0, 0).err;
}

void lmp_endpoint_arm(struct lmp_endpoint *ep, struct capref slot)
{
    ep->buf->hdr.recv_slot = capref_addr(slot);
}

uint64_t lmp_endpoint_disarm(struct lmp_endpoint *ep)
{
    uint64_t armed = ep->buf->hdr.recv_slot;
    ep->buf->hdr.recv_slot = LMP_RECV_NONE;
    return armed;
}

void lmp_endpoint_set_handler(struct lmp_endpoint *ep, lmp_handler_fn fn, void *arg)
{
    thread_critical_enter();
    ep->on_message = fn;
    ep->arg = arg;
    thread_critical_exit();
}

errval_t lmp_endpoint_recv_block(struct lmp_endpoint *ep, struct lmp_msg *msg, uint64_t deadline)
{
    errval_t err = SYS_ERR_OK;
    thread_critical_enter();
    while (!lmp_endpoint_recv(ep, msg)) {
        if (deadline != 0 && counter_now_ticks() >= deadline) {
            err = LMP_ERR_WAIT_TIMEOUT;
            break;
        }
        ep->waiter = thread_self();
        thread_block_until(deadline);
        ep->waiter = NULL;
    }
    thread_critical_exit();
    return err;
}

uint64_t lmp_deadline_us(uint64_t us)
{
    uint64_t freq;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(freq));
    return counter_now_ticks() + us * freq / 1000000;
}

/* ---- for the thread library, in its critical section or upcall ---- */

void lmp_poll_pending(void)
{
    uint64_t bits = __atomic_exchange_n(lmp_pending, 0, __ATOMIC_ACQUIRE);
    while (bits != 0) {
        struct lmp_endpoint *ep = &endpoints[__builtin_ctzll(bits)];
        bits &= bits - 1;
        if (!ep->in_use)
            continue;
        if (ep->on_message != NULL)
            ep->on_message(ep, ep->arg);
        if (ep->waiter != NULL)
            thread_wake_blocked(ep->waiter);
    }
}

bool lmp_can_wake(void)
{
    for (uint32_t i = 0; i < nbuffers; i++)
        if (endpoints[i].waiter != NULL || endpoints[i].on_message != NULL)
            return true;
    return false;
}
