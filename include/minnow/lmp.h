/*
 * lmp.h — kernel LMP (local message passing, same core), shared by the
 * kernel (kernel/lmp.c, kernel/cap/endpoint.c) and user space (lib/os/lmp.c).
 * The whole design, with the reasons, is docs/lmp.md.
 *
 * A dispatcher may have one *dispatcher frame* (DISPATCHER_CMD_SET_FRAME).
 * It starts with a frame header (the pending bitmap), then holds receive
 * buffers of LMP_BUF_BYTES each. An EndPoint capability names a dispatcher
 * and one buffer index (DISPATCHER_CMD_ENDPOINT) and carries a badge.
 * SYS_LMP_SEND copies up to LMP_MSG_WORDS words and one capability into the
 * next slot of that buffer's ring and sets the buffer's pending bit.
 *
 * Who writes what (the kernel treats every user-written field as hostile):
 *   pending         kernel sets bits; user clears them (atomic exchange)
 *   delivered       kernel only (messages put into the ring so far)
 *   consumed        user only (messages taken out so far)
 *   recv_slot       user arms it; the kernel sets it to LMP_RECV_NONE once used
 *   slots[]         kernel writes slot delivered % LMP_BUF_SLOTS; user reads
 */
#pragma once

#include <stdint.h>

/* Where user space maps its dispatcher frame: the start of the level-3
 * table the stack and the argument page use (args.h), so the frame costs
 * no page table of its own. It must end below the stack's guard page. */
#define DISPFRAME_VADDR      0x00007fefffe00000ull
#define DISPFRAME_MAX_BYTES  (1024u * 1024u)

/* Sizes the boot loader and spawn give (docs/lmp.md). */
#define DISPFRAME_INIT_BYTES  (128u * 1024u)   /* init: 63 buffers */
#define DISPFRAME_CHILD_BYTES (16u * 1024u)    /* any other process: 7 buffers */

#define LMP_MSG_WORDS     8
#define LMP_SLOT_BYTES    96
#define LMP_BUF_BYTES     2048
#define LMP_BUF_HDR_BYTES 128
#define LMP_BUF_SLOTS     16          /* a power of two: the ring index is a mask */
#define LMP_FRAME_HDR     128         /* the frame header before buffer 0 */
#define LMP_MAX_BUFFERS   64          /* one bit each in the pending word */

/* recv_slot: no slot armed. Capability address 0 is the task CNode's
 * dispatcher slot, never an empty slot, so a zeroed frame has none armed;
 * any value above 32 bits counts as none too. */
#define LMP_RECV_NONE     0ull

/* A slot's header word. */
#define LMP_SLOT_WORDS_MASK  0xffull  /* how many words came (0..8) */
#define LMP_SLOT_HAS_CAP     (1ull << 8) /* a capability came, at slot.cap */
#define LMP_SLOT_IN_REGS     (1ull << 9) /* (x1 after LMP_SEND_RECV) the words are in the registers */

struct lmp_slot {
    uint64_t header;                  /* LMP_SLOT_* */
    uint64_t badge;                   /* of the EndPoint it was sent through */
    uint64_t words[LMP_MSG_WORDS];
    uint64_t cap;                     /* with LMP_SLOT_HAS_CAP: the capaddr the capability was put at */
    uint64_t reserved;
};

struct lmp_buf_hdr {
    uint64_t delivered;               /* kernel-written */
    uint64_t consumed;                /* user-written */
    uint64_t recv_slot;               /* user-written capaddr, or LMP_RECV_NONE */
    uint64_t reserved[13];
};

struct lmp_buf {
    struct lmp_buf_hdr hdr;
    struct lmp_slot slots[LMP_BUF_SLOTS];
    uint8_t unused[LMP_BUF_BYTES - LMP_BUF_HDR_BYTES - LMP_BUF_SLOTS * LMP_SLOT_BYTES];
};

struct lmp_frame_hdr {
    uint64_t pending;                 /* bit i: buffer i got a message */
    uint64_t reserved[15];
};

_Static_assert(sizeof(struct lmp_slot) == LMP_SLOT_BYTES, "LMP slot layout");
_Static_assert(sizeof(struct lmp_buf_hdr) == LMP_BUF_HDR_BYTES, "LMP buffer header layout");
_Static_assert((LMP_BUF_SLOTS & (LMP_BUF_SLOTS - 1)) == 0, "the ring index is delivered % LMP_BUF_SLOTS");
_Static_assert(sizeof(struct lmp_buf) == LMP_BUF_BYTES, "LMP buffer layout");
_Static_assert(sizeof(struct lmp_frame_hdr) == LMP_FRAME_HDR, "LMP frame header layout");

/* An EndPoint capability's `extra` (kernel): the buffer index in bits 0..7
 * and, above, the buffer's epoch when the EndPoint was made. Resetting a
 * buffer (DISPATCHER_CMD_BUFFER_RESET, when its owner closes a channel)
 * moves its epoch on, and every older EndPoint to it gets LMP_ERR_STALE,
 * so a reused buffer never receives from a former peer. */
#define LMP_EP_INDEX_BITS 8
#define LMP_EP_EPOCH_MASK 0xffffffu

/* Buffers in a dispatcher frame of `bytes` bytes. */
static inline uint32_t lmp_frame_buffers(uint64_t bytes)
{
    if (bytes <= LMP_FRAME_HDR)
        return 0;
    uint64_t n = (bytes - LMP_FRAME_HDR) / LMP_BUF_BYTES;
    return n > LMP_MAX_BUFFERS ? LMP_MAX_BUFFERS : (uint32_t)n;
}

static inline uint64_t lmp_buf_offset(uint32_t index)
{
    return LMP_FRAME_HDR + (uint64_t)index * LMP_BUF_BYTES;
}

/*
 * SYS_LMP_SEND: x0 EndPoint capaddr, x1 control, the words in x2..x7, x9,
 * x10 (word i in that order). Control:
 *   bits 0..7    word count, 0..LMP_MSG_WORDS
 *   bit 8        LMP_SEND_CAP: also send (a copy of) the capability whose
 *                capaddr is in bits 32..63
 *   bit 9        LMP_SEND_YIELD: switch to the receiver at once
 *   bits 10..17  LMP_SEND_RECV: 1 + the index of one of the sender's own
 *                buffers, R (0: none). If the send switches to the
 *                receiver, the sender waits *parked* on R: the next
 *                message to R that the fast path delivers while it waits
 *                goes into its registers, not into R's ring. The sender
 *                promises that R's ring is empty (else that message
 *                overtakes the ones in it: its own loss). It stops
 *                waiting parked when it runs again for any reason, or
 *                when a message goes into R's ring.
 *   other bits   zero
 * Returns x0, the error, and x1: 0, or (LMP_SEND_RECV) the header of the
 * message put in the registers, LMP_SLOT_IN_REGS set, its words in x2..x7,
 * x9, x10 and its badge in x11. Every other register comes back unchanged.
 */
#define LMP_CTRL_WORDS_MASK  0xffull
#define LMP_SEND_CAP         (1ull << 8)
#define LMP_SEND_YIELD       (1ull << 9)
#define LMP_SEND_RECV_SHIFT  10
#define LMP_SEND_RECV_MASK   (0xffull << LMP_SEND_RECV_SHIFT)
#define LMP_CTRL_FLAGS       (LMP_SEND_CAP | LMP_SEND_YIELD | LMP_SEND_RECV_MASK)
#define LMP_CTRL_CAP_SHIFT   32

/* LMP_SEND_RECV's field for buffer `index`. */
static inline uint64_t lmp_send_recv(uint32_t index)
{
    return (uint64_t)(index + 1) << LMP_SEND_RECV_SHIFT;
}

static inline uint64_t lmp_control(unsigned words, uint64_t flags, uint32_t cap)
{
    return (uint64_t)words | flags | ((uint64_t)cap << LMP_CTRL_CAP_SHIFT);
}
