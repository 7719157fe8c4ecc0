/*
 * rpc_wire.h — how an RPC message travels as transport messages (docs/rpc.md).
 *
 * Pure code, no system calls, so the host tests drive it directly.
 *
 * A transport message ("fragment") is up to `max_words` 64-bit words and at
 * most one capability. An RPC message is one or more fragments sent back to
 * back (the channel's send side keeps them together). Word 0 of every
 * fragment is the header:
 *
 *   bits  0..1   kind: call, reply, notification, release
 *   bit   2      MORE: another fragment of this message follows
 *   bit   3      BULK: this fragment's capability is the payload's frame
 *   bit   4      CAP:  this fragment's capability is the message's own
 *   bit   5      SHORT: the whole message is this one fragment (below)
 *   bits  6..7   zero
 *   bits  8..15  SHORT: the payload length in bytes; otherwise zero
 *   bits 16..31  message type (the interface's); in a SHORT reply, the
 *                server's error code
 *   bits 32..63  id: a call's, which its reply repeats; a notification's
 *                own; a RELEASE repeats the released message's
 *
 * A SHORT message (most are: every one whose payload fits the words
 * after the header, up to 56 bytes over LMP) is its header and the
 * payload, packed little-endian from word 1. Any other message's first
 * fragment has in word 1 the payload length (bits 0..31) and, in a reply,
 * the server's error code (bits 32..47); the payload follows, packed
 * little-endian in the remaining words of this and the following
 * fragments. A payload longer than RPC_INLINE_MAX is not sent inline: it
 * lies in a frame whose capability travels with the BULK flag (then no
 * payload words follow). The message's own capability, if any, travels in
 * the first fragment (CAP), or in a second one when the first carries the
 * frame.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <minnow/errors.h>

enum rpc_kind {
    RPC_KIND_CALL = 0,
    RPC_KIND_REPLY = 1,
    RPC_KIND_NOTIFY = 2,
    RPC_KIND_RELEASE = 3,       /* "I copied your bulk frame out; free it" */
};

#define RPC_HDR_MORE    (1ull << 2)
#define RPC_HDR_BULK    (1ull << 3)
#define RPC_HDR_CAP     (1ull << 4)
#define RPC_HDR_SHORT   (1ull << 5)
#define RPC_HDR_RESERVED 0xc0ull        /* always zero */
#define RPC_HDR_LEN_SHIFT 8             /* SHORT: the length, 8 bits */
#define RPC_HDR_LEN     0xff00ull       /* zero unless SHORT */
#define RPC_HDR_TYPE_SHIFT 16

#define RPC_INLINE_MAX  256u            /* larger payloads go through a frame */
#define RPC_MAX_PAYLOAD (64u << 20)     /* 64 MiB */
#define RPC_WIRE_MIN_WORDS 3            /* a transport must carry at least this */
#define RPC_WIRE_MAX_WORDS 8

/* What a message is, apart from its payload bytes. */
struct rpc_wire_head {
    enum rpc_kind kind;
    uint16_t type;
    uint32_t id;
    uint16_t status;            /* replies: an enum err_code */
    uint32_t len;               /* payload bytes */
    bool has_cap;               /* carries a capability of its own */
    bool bulk;                  /* the payload is in a frame */
};

static inline uint64_t rpc_wire_header(enum rpc_kind kind, uint16_t type, uint32_t id)
{
    return (uint64_t)kind | (uint64_t)type << RPC_HDR_TYPE_SHIFT | (uint64_t)id << 32;
}
static inline enum rpc_kind rpc_wire_kind(uint64_t h) { return (enum rpc_kind)(h & 3); }
static inline uint16_t rpc_wire_type(uint64_t h) { return (uint16_t)(h >> RPC_HDR_TYPE_SHIFT); }
static inline uint32_t rpc_wire_id(uint64_t h) { return (uint32_t)(h >> 32); }
/* A SHORT header's payload length, and (a reply's) error code. */
static inline uint32_t rpc_wire_short_len(uint64_t h) { return (uint8_t)(h >> RPC_HDR_LEN_SHIFT); }
static inline uint16_t rpc_wire_short_status(uint64_t h) { return rpc_wire_type(h); }
/* Words a SHORT message of `len` payload bytes takes. */
static inline size_t rpc_wire_short_words(uint32_t len) { return (len + 15) / 8; }   /* 1 + (len + 7) / 8 */

/* ---- sending: cut a message into fragments ---- */

struct rpc_wire_out {
    struct rpc_wire_head head;
    const uint8_t *data;        /* inline payload (NULL when bulk) */
    size_t max_words;           /* of the transport */
    size_t off;                 /* payload bytes already cut */
    unsigned frag;              /* fragments already cut */
    bool done;
};

/* Start cutting `head` with `data` (head->len bytes; ignored when bulk). */
void rpc_wire_out_init(struct rpc_wire_out *o, const struct rpc_wire_head *head, const void *data,
                       size_t max_words);

/* The next fragment into words[] (max_words of them): its word count, and
 * in *cap which capability it carries (0 none, RPC_HDR_CAP the message's,
 * RPC_HDR_BULK the frame). 0 words: the message is all cut. */
size_t rpc_wire_next(struct rpc_wire_out *o, uint64_t *words, uint64_t *cap);

/* How many fragments a message needs. */
size_t rpc_wire_fragments(const struct rpc_wire_head *head, size_t max_words);

/* Write a SHORT message to words[]: `header` (rpc_wire_header, with
 * RPC_HDR_CAP if a capability goes with it), a reply's `status` (0 for
 * any other kind: it takes the type's bits), and `len` payload bytes,
 * which must fit the fragment (rpc_wire_fits_single). Returns its word
 * count. In two parts too: its header word, and its payload. (Inline: it
 * is on every call's path.) */
static inline uint64_t rpc_wire_short_header(uint64_t header, uint16_t status, uint32_t len)
{
    return header | RPC_HDR_SHORT | (uint64_t)len << RPC_HDR_LEN_SHIFT | (uint64_t)status << RPC_HDR_TYPE_SHIFT;
}
/* The payload part: words[1..), and the message's word count. */
static inline size_t rpc_wire_short_payload(const void *data, uint32_t len, uint64_t *words)
{
    size_t n = rpc_wire_short_words(len);
    if (len > 0) {
        words[n - 1] = 0;
        __builtin_memcpy(words + 1, data, len);
    }
    return n;
}
static inline size_t rpc_wire_single_words(uint64_t header, uint16_t status, const void *data,
                                           uint32_t len, uint64_t *words)
{
    words[0] = rpc_wire_short_header(header, status, len);
    return rpc_wire_short_payload(data, len, words);
}

/* Whether a payload of `len` bytes travels as a SHORT message on a
 * transport `max_words` wide (the header first). */
static inline bool rpc_wire_fits_single(size_t len, size_t max_words)
{
    return len <= (max_words - 1) * sizeof(uint64_t);
}

/* ---- receiving: put fragments back together ---- */

struct rpc_wire_in {
    struct rpc_wire_head head;
    size_t got;                 /* payload bytes so far */
    union {
        struct {
            bool active;        /* inside a message (more fragments due) */
            bool discard;       /* inside a malformed message: drop up to its end */
        };
        uint16_t busy;          /* either: one load tests both (rpc_wire_in_idle) */
    };
    bool got_cap, got_bulk;     /* their fragments have arrived */
    uint8_t data[RPC_INLINE_MAX];
};

/* Between messages: neither putting one together nor dropping one. */
static inline bool rpc_wire_in_idle(const struct rpc_wire_in *in) { return in->busy == 0; }

enum rpc_wire_status {
    RPC_WIRE_MORE,              /* wait for the next fragment */
    RPC_WIRE_COMPLETE,          /* in->head and in->data hold a whole message */
};

void rpc_wire_in_init(struct rpc_wire_in *in);

/* The common case in one step: whether words[0..n) (n at most
 * RPC_WIRE_MAX_WORDS, as every transport gives) is a whole, well-formed
 * SHORT message, its capability (the header's CAP) as the transport says
 * (`cap_came`). Its fields are then read straight from the header
 * (rpc_wire_kind/type/id, rpc_wire_short_len/status) and its payload is
 * words + 1, in place. Otherwise give the fragment to rpc_wire_feed
 * (which also reports what is wrong with it). */
static inline bool rpc_wire_single_ok(const uint64_t *words, size_t n, bool cap_came)
{
    uint64_t hdr = words[0];
    uint64_t mask = RPC_HDR_MORE | RPC_HDR_BULK | RPC_HDR_RESERVED | RPC_HDR_SHORT | RPC_HDR_CAP;
    return (hdr & mask) == (RPC_HDR_SHORT | (cap_came ? RPC_HDR_CAP : 0)) &&
           rpc_wire_short_words(rpc_wire_short_len(hdr)) == n;
}

/* Whether words[0..n) (n at most RPC_WIRE_MAX_WORDS) is the whole reply
 * to call `id` as rpc_reply sends it: SHORT, kind REPLY, no MORE or BULK, CAP as the transport says
 * (`cap_came`), and a length that fills the n words. One compare checks
 * the header but for its length and error code. A reply of any other
 * shape is not refused by this: it goes the general way (rpc_wire_feed). */
static inline bool rpc_wire_single_reply(const uint64_t *words, size_t n, bool cap_came, uint32_t id)
{
    uint64_t want = rpc_wire_header(RPC_KIND_REPLY, 0, id) | RPC_HDR_SHORT | (cap_came ? RPC_HDR_CAP : 0);
    uint64_t hdr = words[0];
    return (hdr & ~(RPC_HDR_LEN | 0xffffull << RPC_HDR_TYPE_SHIFT)) == want &&
           rpc_wire_short_words(rpc_wire_short_len(hdr)) == n;
}

/* The head of a message rpc_wire_single_ok accepted. */
static inline void rpc_wire_single_head(const uint64_t *words, bool cap_came, struct rpc_wire_head *h)
{
    uint64_t hdr = words[0];
    bool reply = rpc_wire_kind(hdr) == RPC_KIND_REPLY;
    *h = (struct rpc_wire_head){ .kind = rpc_wire_kind(hdr), .type = reply ? 0 : rpc_wire_type(hdr),
                                 .id = rpc_wire_id(hdr), .status = reply ? rpc_wire_short_status(hdr) : 0,
                                 .len = rpc_wire_short_len(hdr), .has_cap = cap_came };
}

/* Take one fragment; `cap` is RPC_HDR_CAP/RPC_HDR_BULK if the transport
 * delivered a capability with it (its meaning is the header's), 0 if not.
 * A malformed fragment gives RPC_ERR_BAD_MESSAGE (or RPC_ERR_TOO_LARGE)
 * once; the rest of that message is then dropped silently, up to its last
 * fragment. */
errval_t rpc_wire_feed(struct rpc_wire_in *in, const uint64_t *words, size_t n, bool cap_came,
                       enum rpc_wire_status *status);
