/*
 * rpc_wire.c — cutting RPC messages into transport fragments and putting
 * them back together (rpc_wire.h has the format).
 */
#include "rpc_wire.h"

#include <string.h>

/* Payload bytes that fit in `words` words. */
static size_t bytes_in(size_t words) { return words * sizeof(uint64_t); }

/* Does the message's own capability need a fragment of its own? */
static bool cap_alone(const struct rpc_wire_head *h) { return h->has_cap && h->bulk; }

/* Does the message travel SHORT, in one fragment? */
static bool is_short(const struct rpc_wire_head *h, size_t max_words)
{
    return !h->bulk && rpc_wire_fits_single(h->len, max_words);
}

size_t rpc_wire_fragments(const struct rpc_wire_head *h, size_t max_words)
{
    if (is_short(h, max_words))
        return 1;
    size_t n = 1;
    if (cap_alone(h))
        n++;
    if (h->bulk)
        return n;
    size_t first = bytes_in(max_words - 2), rest = bytes_in(max_words - 1);
    if (h->len > first)
        n += (h->len - first + rest - 1) / rest;
    return n;
}

void rpc_wire_out_init(struct rpc_wire_out *o, const struct rpc_wire_head *head, const void *data,
                       size_t max_words)
{
    *o = (struct rpc_wire_out){ .head = *head, .data = head->bulk ? NULL : data,
                                .max_words = max_words };
}

/* Copy up to `room` payload bytes into words (the last word zero-padded). */
static size_t pack(struct rpc_wire_out *o, uint64_t *words, size_t room)
{
    size_t left = o->head.bulk ? 0 : o->head.len - o->off;
    size_t take = left < room ? left : room;
    size_t nwords = (take + 7) / 8;
    if (nwords > 0) {
        words[nwords - 1] = 0;
        memcpy(words, o->data + o->off, take);
    }
    o->off += take;
    return nwords;
}

static bool payload_left(const struct rpc_wire_out *o)
{
    return !o->head.bulk && o->off < o->head.len;
}

/* A message that fits one fragment, SHORT. */
static size_t next_short(struct rpc_wire_out *o, uint64_t *words, uint64_t *cap)
{
    const struct rpc_wire_head *h = &o->head;
    bool reply = h->kind == RPC_KIND_REPLY;
    *cap = h->has_cap ? RPC_HDR_CAP : 0;
    o->frag = 1;
    o->done = true;
    return rpc_wire_single_words(rpc_wire_header(h->kind, reply ? 0 : h->type, h->id) | *cap,
                                 reply ? h->status : 0, o->data, h->len, words);
}

size_t rpc_wire_next(struct rpc_wire_out *o, uint64_t *words, uint64_t *cap)
{
    if (o->done)
        return 0;
    const struct rpc_wire_head *h = &o->head;
    if (o->frag == 0 && is_short(h, o->max_words))
        return next_short(o, words, cap);
    uint64_t hdr = rpc_wire_header(h->kind, h->type, h->id);
    size_t n;
    *cap = 0;
    if (o->frag == 0) {
        words[1] = h->len | (uint64_t)h->status << 32;
        n = 2 + pack(o, words + 2, bytes_in(o->max_words - 2));
        if (h->bulk)
            *cap = RPC_HDR_BULK;
        else if (h->has_cap)
            *cap = RPC_HDR_CAP;
    } else if (o->frag == 1 && cap_alone(h)) {
        n = 1;
        *cap = RPC_HDR_CAP;
    } else {
        n = 1 + pack(o, words + 1, bytes_in(o->max_words - 1));
    }
    o->frag++;
    bool more = payload_left(o) || (o->frag == 1 && cap_alone(h));
    o->done = !more;
    words[0] = hdr | *cap | (more ? RPC_HDR_MORE : 0);
    return n;
}

void rpc_wire_in_init(struct rpc_wire_in *in)
{
    in->active = in->discard = false;
    in->got = 0;
}

/* Unpack `nwords` words of payload. */
static errval_t unpack(struct rpc_wire_in *in, const uint64_t *words, size_t nwords)
{
    size_t left = in->head.bulk ? 0 : in->head.len - in->got;
    size_t bytes = bytes_in(nwords);
    if (bytes > left + 7 || (bytes == 0 && nwords != 0))
        return RPC_ERR_BAD_MESSAGE;     /* more words than the length says */
    size_t take = bytes < left ? bytes : left;
    memcpy(in->data + in->got, words, take);
    in->got += take;
    return SYS_ERR_OK;
}

static errval_t start(struct rpc_wire_in *in, const uint64_t *words, size_t n, uint64_t capbits)
{
    if (n < 2)
        return RPC_ERR_BAD_MESSAGE;
    uint64_t hdr = words[0];
    uint32_t len = (uint32_t)words[1];
    if (len > RPC_MAX_PAYLOAD)
        return RPC_ERR_TOO_LARGE;
    in->head = (struct rpc_wire_head){
        .kind = rpc_wire_kind(hdr), .type = rpc_wire_type(hdr), .id = rpc_wire_id(hdr),
        .status = (uint16_t)(words[1] >> 32), .len = len,
        .bulk = (capbits & RPC_HDR_BULK) != 0,
        /* a bulk message announces its own cap by MORE + a CAP fragment */
        .has_cap = (capbits & RPC_HDR_CAP) != 0,
    };
    if (!in->head.bulk && len > RPC_INLINE_MAX)
        return RPC_ERR_BAD_MESSAGE;
    if (in->head.bulk && (len <= RPC_INLINE_MAX || n != 2))
        return RPC_ERR_BAD_MESSAGE;
    in->got = 0;
    in->got_bulk = in->head.bulk;
    in->got_cap = in->head.has_cap;
    return unpack(in, words + 2, n - 2);
}

/* The first fragment of a SHORT message: all of it. */
static errval_t start_short(struct rpc_wire_in *in, const uint64_t *words, size_t n, uint64_t capbits)
{
    uint64_t hdr = words[0];
    uint32_t len = rpc_wire_short_len(hdr);
    if ((hdr & (RPC_HDR_MORE | RPC_HDR_BULK)) != 0 || rpc_wire_short_words(len) != n)
        return RPC_ERR_BAD_MESSAGE;
    bool reply = rpc_wire_kind(hdr) == RPC_KIND_REPLY;
    in->head = (struct rpc_wire_head){
        .kind = rpc_wire_kind(hdr), .type = reply ? 0 : rpc_wire_type(hdr), .id = rpc_wire_id(hdr),
        .status = reply ? rpc_wire_short_status(hdr) : 0, .len = len,
        .has_cap = (capbits & RPC_HDR_CAP) != 0,
    };
    in->got = 0;
    in->got_bulk = false;
    in->got_cap = in->head.has_cap;
    return unpack(in, words + 1, n - 1);
}

static errval_t carry_on(struct rpc_wire_in *in, const uint64_t *words, size_t n, uint64_t capbits)
{
    uint64_t hdr = words[0];
    if (rpc_wire_kind(hdr) != in->head.kind || rpc_wire_type(hdr) != in->head.type ||
        rpc_wire_id(hdr) != in->head.id || (capbits & RPC_HDR_BULK) != 0)
        return RPC_ERR_BAD_MESSAGE;
    if (capbits & RPC_HDR_CAP) {
        /* only a bulk message's second fragment carries the cap alone */
        if (!in->head.bulk || in->got_cap || n != 1)
            return RPC_ERR_BAD_MESSAGE;
        in->got_cap = in->head.has_cap = true;
        return SYS_ERR_OK;
    }
    return unpack(in, words + 1, n - 1);
}

/* What the header says about the capability, checked against the transport. */
static errval_t cap_bits(const uint64_t *words, bool cap_came, uint64_t *capbits)
{
    uint64_t bits = words[0] & (RPC_HDR_CAP | RPC_HDR_BULK);
    if (bits == (RPC_HDR_CAP | RPC_HDR_BULK) || (bits != 0) != cap_came)
        return RPC_ERR_BAD_MESSAGE;
    *capbits = bits;
    return SYS_ERR_OK;
}

errval_t rpc_wire_feed(struct rpc_wire_in *in, const uint64_t *words, size_t n, bool cap_came,
                       enum rpc_wire_status *status)
{
    *status = RPC_WIRE_MORE;
    if (n == 0 || n > RPC_WIRE_MAX_WORDS)
        return RPC_ERR_BAD_MESSAGE;
    bool more = (words[0] & RPC_HDR_MORE) != 0;
    if (in->discard) {          /* the rest of a malformed message */
        in->discard = more;
        return SYS_ERR_OK;
    }
    uint64_t hdr = words[0], capbits = 0;
    bool shrt = (hdr & RPC_HDR_SHORT) != 0;
    bool reserved = (hdr & RPC_HDR_RESERVED) != 0 || (!shrt && (hdr & RPC_HDR_LEN) != 0);
    errval_t err = reserved ? RPC_ERR_BAD_MESSAGE : cap_bits(words, cap_came, &capbits);
    if (err_is_ok(err) && in->active)
        err = shrt ? RPC_ERR_BAD_MESSAGE : carry_on(in, words, n, capbits);
    else if (err_is_ok(err))
        err = shrt ? start_short(in, words, n, capbits) : start(in, words, n, capbits);
    if (err_is_ok(err) && !more && !in->head.bulk && in->got != in->head.len)
        err = RPC_ERR_BAD_MESSAGE;      /* ended short */
    if (err_is_fail(err)) {
        in->active = false;
        in->discard = more;     /* drop its remaining fragments */
        return err;
    }
    in->active = more;
    if (!more)
        *status = RPC_WIRE_COMPLETE;
    return SYS_ERR_OK;
}
