/*
 * pl011.c — polled PL011 driver. The register block's address comes from the
 * device tree (main.c maps it); the baud rate is left as the firmware set it.
 */
#include "pl011.h"

#define UART_DR   0x00
#define UART_FR   0x18
#define UART_LCRH 0x2c
#define UART_CR   0x30
#define UART_IMSC 0x38

#define FR_RXFE   (1u << 4)
#define FR_TXFF   (1u << 5)
#define LCRH_FEN  (1u << 4)
#define LCRH_WLEN8 (3u << 5)
#define CR_UARTEN (1u << 0)
#define CR_TXE    (1u << 8)
#define CR_RXE    (1u << 9)

static volatile uint32_t *uart;

static inline uint32_t rd(unsigned off) { return uart[off / 4]; }
static inline void wr(unsigned off, uint32_t v) { uart[off / 4] = v; }

void pl011_init(volatile void *regs)
{
    uart = regs;
    wr(UART_IMSC, 0);                       /* polled: no interrupts */
    wr(UART_LCRH, LCRH_FEN | LCRH_WLEN8);
    wr(UART_CR, CR_UARTEN | CR_TXE | CR_RXE);
}

void pl011_putc(char c)
{
    if (uart == 0)
        return;
    while (rd(UART_FR) & FR_TXFF)
        ;
    wr(UART_DR, (uint8_t)c);
}

bool pl011_getc(char *c)
{
    if (uart == 0 || (rd(UART_FR) & FR_RXFE))
        return false;
    *c = (char)(rd(UART_DR) & 0xff);
    return true;
}
