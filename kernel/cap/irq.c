/*
 * irq.c — interrupts as messages: the invocations on an IRQ capability
 * (CONNECT, ACK, DISCONNECT) and the kernel's half of a connected line.
 *
 * A connected line has an EndPoint the kernel keeps a copy of, in a CTE of
 * its own (like a DCB's dispframe): revoking the receiving dispatcher (or
 * its RAM) deletes that copy through the derivation database, and a
 * destroyed receiver makes the send fail with LMP_ERR_DEAD, after which the
 * kernel drops the copy. On each interrupt the line is masked at the GIC
 * and one LMP message (word 0 = the INTID) goes out through kernel/lmp.c's
 * checks; the driver serves the device and unmasks with IRQ_CMD_ACK, so a
 * level-triggered device never floods the receiver's buffer.
 *
 * The console UART's line is special only in one way: while it is
 * connected, SYS_DEBUG_GETCHAR leaves the RX FIFO to the user-space driver
 * (irq_console_taken). Design: docs/terminal.md; ABI: docs/capabilities.md.
 */
#include "irq.h"

#include "cap.h"
#include "cspace.h"
#include "gic.h"
#include "lmp.h"
#include "ops.h"
#include "printk.h"

#define IRQ_SPI_FIRST 32u
#define IRQ_SPI_MAX   256u      /* bootstrap.c gives at most one L2 CNode of IRQ caps */

/* One per shared line; core-local (the kernel is not preemptible, and the
 * interrupt path runs only between system calls or in the idle loop).
 * ep empty: not connected. */
static struct cte connections[IRQ_SPI_MAX];
static unsigned console_intid;

void irq_init(unsigned uart_intid)
{
    console_intid = uart_intid;
}

static struct cte *connection(unsigned intid)
{
    if (intid < IRQ_SPI_FIRST || intid - IRQ_SPI_FIRST >= IRQ_SPI_MAX)
        return NULL;
    return &connections[intid - IRQ_SPI_FIRST];
}

bool irq_console_taken(void)
{
    struct cte *c = connection(console_intid);
    return c != NULL && !cte_is_empty(c);
}

/* The INTID an IRQ capability names, if the GIC has that line. */
static errval_t line_of(const struct cte *target, unsigned *intid)
{
    uint64_t id = target->cap.base - CAP_TAG_IRQ;
    if (id < IRQ_SPI_FIRST || id - IRQ_SPI_FIRST >= IRQ_SPI_MAX ||
        id - IRQ_SPI_FIRST >= gic_num_spis())
        return IRQ_ERR_NO_SUCH_LINE;
    *intid = (unsigned)id;
    return SYS_ERR_OK;
}

/* x2 the EndPoint. Needs WRITE on it (the kernel will send through it);
 * GRANT is not needed: the copy never leaves the kernel. */
static errval_t irq_connect(const struct capability *root, unsigned intid, uint64_t ep_addr)
{
    struct cte *ep, *conn = connection(intid);
    errval_t err = cspace_lookup(root, ep_addr, &ep);
    if (err_is_fail(err))
        return err;
    if (cte_is_empty(ep))
        return CAP_ERR_SLOT_EMPTY;
    if (ep->cap.type != OBJ_ENDPOINT)
        return LMP_ERR_NOT_ENDPOINT;
    if (!(ep->cap.rights & CAPRIGHTS_WRITE))
        return CAP_ERR_NO_RIGHTS;
    if (!cte_is_empty(conn))
        return IRQ_ERR_ALREADY_CONNECTED;
    struct capability copy = ep->cap;
    cap_insert(conn, &copy);
    gic_enable_spi(intid);
    return SYS_ERR_OK;
}

static errval_t irq_disconnect(unsigned intid)
{
    struct cte *conn = connection(intid);
    if (cte_is_empty(conn))
        return IRQ_ERR_NOT_CONNECTED;
    gic_mask(intid);
    return cap_delete(conn);
}

errval_t irq_invoke(const struct capability *root, struct cte *target, const struct trap_frame *f)
{
    unsigned intid;
    if (target->cap.type != OBJ_IRQ)
        return CAP_ERR_WRONG_TYPE;
    if (!(target->cap.rights & CAPRIGHTS_WRITE))
        return CAP_ERR_NO_RIGHTS;
    errval_t err = line_of(target, &intid);
    if (err_is_fail(err))
        return err;
    switch (f->x[1]) {
    case IRQ_CMD_CONNECT:
        return irq_connect(root, intid, f->x[2]);
    case IRQ_CMD_ACK:
        if (cte_is_empty(connection(intid)))
            return IRQ_ERR_NOT_CONNECTED;
        gic_unmask(intid);
        return SYS_ERR_OK;
    case IRQ_CMD_DISCONNECT:
        return irq_disconnect(intid);
    default:
        return CAP_ERR_UNKNOWN_COMMAND;
    }
}

/*
 * From the interrupt handler (exceptions.c), for an INTID that is not the
 * kernel's own. The line stays masked until the driver acknowledges; if the
 * message cannot go (the receiver's buffer is full: a driver that did not
 * ACK what it got) it is dropped and the line stays masked. A dead receiver,
 * or a buffer reset since, loses the connection. *woken is the receiver if it was sent to.
 */
bool irq_deliver(unsigned intid, struct dcb **woken)
{
    struct cte *conn = connection(intid);
    *woken = NULL;
    if (conn == NULL)
        return false;
    gic_mask(intid);
    if (cte_is_empty(conn))
        return false;           /* connected once, its EndPoint revoked since */
    errval_t err = lmp_kernel_send(conn, intid, woken);
    if (err_no(err) == LMP_ERR_DEAD || err_no(err) == LMP_ERR_STALE)
        cap_delete(conn);       /* both permanent (lmp.md): connecting again is allowed */
    return true;
}
