/*
 * pl011.c — a user-space driver for the ARM PL011 UART (pl011.h).
 *
 * Register facts (ARM PrimeCell UART PL011 TRM, DDI 0183): DR at 0x00
 * (a read takes one received byte), FR at 0x18 (RXFE bit 4: receive FIFO
 * empty, TXFF bit 5: transmit FIFO full), IMSC at 0x38 (interrupt mask
 * set/clear: RXIM bit 4, RTIM bit 6 — receive and receive timeout), ICR at
 * 0x44 (write 1 to clear). The kernel has left the UART enabled with FIFOs
 * (kernel/arch/aarch64/pl011.c) and keeps writing its own messages to DR.
 *
 * Order of an interrupt's service: clear, drain, unmask. A byte that
 * arrives after the drain raises the interrupt again, so none waits
 * unseen; one that arrives between the clear and the drain is drained and
 * at worst causes one interrupt that finds the FIFO empty.
 */
#include "pl011.h"

#include "paging.h"
#include "slots.h"
#include "vregion.h"

#define UART_DR   0x00
#define UART_FR   0x18
#define UART_IMSC 0x38
#define UART_ICR  0x44

#define FR_RXFE   (1u << 4)
#define FR_TXFF   (1u << 5)
#define INT_RX    (1u << 4)
#define INT_RT    (1u << 6)

static inline uint32_t rd(const struct pl011 *u, unsigned off) { return u->regs[off / 4]; }
static inline void wr(struct pl011 *u, unsigned off, uint32_t v) { u->regs[off / 4] = v; }

/* The DevFrame that holds physical address `base`, mapped uncached. */
static errval_t map_registers(struct pl011 *u, uint64_t base)
{
    for (uint32_t i = 0; i < 256; i++) {
        struct capref dev = capref_l2(ROOTCN_SLOT_DEVCN, i);
        struct capinfo info;
        if (err_is_fail(cap_identify(dev, &info)) || info.type != OBJ_DEVFRAME ||
            base < info.base || base - info.base >= info.size)
            continue;
        uint64_t va;
        /* paging_map_frame reserves with the mapping's attributes, which a
         * reservation may not have for a device: reserve with none (never
         * backed on touch), then map the registers there. */
        errval_t err = paging_reserve(info.size, OBJSIZE_PAGE, 0, &va);
        if (err_is_ok(err))
            err = paging_map_fixed(va, dev, info.size, VREGION_ATTR_RW | VREGION_ATTR_DEVICE);
        if (err_is_fail(err))
            return err;
        u->regs = (volatile uint32_t *)(va + (base - info.base));
        return SYS_ERR_OK;
    }
    return CAP_ERR_SLOT_EMPTY;
}

/* The kernel keeps its own copy of the EndPoint (kernel/cap/irq.c), so
 * ours goes once the line is connected. */
static errval_t connect_irq(struct pl011 *u)
{
    struct capref ep_cap;
    errval_t err = os_slot_alloc(&ep_cap);
    if (err_is_fail(err))
        return err;
    err = lmp_endpoint_mint(u->ep, 0, ep_cap);
    if (err_is_ok(err)) {
        err = irq_connect(u->irq, ep_cap);
        cap_delete(ep_cap);
    }
    os_slot_free(ep_cap);
    return err;
}

errval_t pl011_start(struct pl011 *u, uint64_t base, struct capref irq,
                     lmp_handler_fn on_irq, void *arg)
{
    u->irq = irq;
    errval_t err = map_registers(u, base);
    if (err_is_ok(err))
        err = lmp_endpoint_alloc(&u->ep);
    if (err_is_fail(err))
        return err;
    lmp_endpoint_set_handler(u->ep, on_irq, arg);
    err = connect_irq(u);
    if (err_is_fail(err)) {
        lmp_endpoint_free(u->ep);
        return err;
    }
    wr(u, UART_ICR, INT_RX | INT_RT);
    wr(u, UART_IMSC, INT_RX | INT_RT);
    return SYS_ERR_OK;
}

errval_t pl011_serve_irq(struct pl011 *u, void (*put)(char c, void *arg), void *arg)
{
    struct lmp_msg m;
    while (lmp_endpoint_recv(u->ep, &m))
        ;                               /* word 0 is our INTID: nothing more to learn */
    wr(u, UART_ICR, INT_RX | INT_RT);
    while (!(rd(u, UART_FR) & FR_RXFE))
        put((char)(rd(u, UART_DR) & 0xff), arg);
    return irq_ack(u->irq);
}

void pl011_write(struct pl011 *u, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        while (rd(u, UART_FR) & FR_TXFF)
            ;
        wr(u, UART_DR, (uint8_t)s[i]);
    }
}
