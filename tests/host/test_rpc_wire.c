/*
 * test_rpc_wire.c — cutting RPC messages into transport fragments and
 * putting them back together (lib/os/rpc_wire.c): every length, every
 * transport width, with and without capabilities, and the malformed cases
 * a hostile peer could send.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "os/rpc_wire.h"

#define MAX_FRAGS 128

struct frag {
    uint64_t w[RPC_WIRE_MAX_WORDS];
    size_t n;
    uint64_t cap;
};

static size_t cut(const struct rpc_wire_head *h, const void *data, size_t max_words, struct frag *f)
{
    struct rpc_wire_out o;
    rpc_wire_out_init(&o, h, data, max_words);
    size_t k = 0;
    for (;;) {
        cr_assert_lt(k, MAX_FRAGS);
        f[k].n = rpc_wire_next(&o, f[k].w, &f[k].cap);
        if (f[k].n == 0)
            return k;
        cr_assert_leq(f[k].n, max_words, "fragment %zu has %zu words > %zu", k, f[k].n, max_words);
        k++;
    }
}

/* Feed fragments; return the status of the last and the first error. */
static errval_t feed_all(struct rpc_wire_in *in, const struct frag *f, size_t k,
                         enum rpc_wire_status *last)
{
    errval_t first_err = SYS_ERR_OK;
    for (size_t i = 0; i < k; i++) {
        errval_t err = rpc_wire_feed(in, f[i].w, f[i].n, f[i].cap != 0, last);
        if (err_is_fail(err) && err_is_ok(first_err))
            first_err = err;
        if (i + 1 < k && err_is_ok(err))
            cr_assert_eq(*last, RPC_WIRE_MORE, "fragment %zu of %zu completed early", i, k);
    }
    return first_err;
}

/* A call carries a type, a reply an error code (replies have no type). */
static void roundtrip(enum rpc_kind kind, size_t len, size_t max_words, bool has_cap)
{
    uint8_t data[RPC_INLINE_MAX];
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 7 + len);
    bool reply = kind == RPC_KIND_REPLY;
    struct rpc_wire_head h = { .kind = kind, .type = reply ? 0 : 0xbeef, .id = 0x12345678,
                               .status = reply ? 42 : 0, .len = (uint32_t)len, .has_cap = has_cap };
    struct frag f[MAX_FRAGS];
    size_t k = cut(&h, data, max_words, f);
    cr_assert_eq(k, rpc_wire_fragments(&h, max_words), "len %zu width %zu: %zu fragments, predicted %zu",
                 len, max_words, k, rpc_wire_fragments(&h, max_words));
    struct rpc_wire_in in;
    rpc_wire_in_init(&in);
    enum rpc_wire_status st;
    cr_assert(err_is_ok(feed_all(&in, f, k, &st)), "len %zu width %zu", len, max_words);
    cr_assert_eq(st, RPC_WIRE_COMPLETE);
    cr_assert_eq(in.head.kind, kind);
    cr_assert_eq(in.head.type, h.type);
    cr_assert_eq(in.head.id, 0x12345678);
    cr_assert_eq(in.head.status, h.status);
    cr_assert_eq(in.head.len, len);
    cr_assert_eq(in.head.has_cap, has_cap);
    cr_assert_eq(in.got, len);
    cr_assert(len == 0 || memcmp(in.data, data, len) == 0, "payload of %zu bytes differs", len);
    cr_assert_eq(f[0].cap, has_cap ? RPC_HDR_CAP : 0, "the cap rides in the first fragment");
    for (size_t i = 1; i < k; i++)
        cr_assert_eq(f[i].cap, 0);
}

Test(rpc_wire, every_length_every_width)
{
    for (size_t w = RPC_WIRE_MIN_WORDS; w <= RPC_WIRE_MAX_WORDS; w++)
        for (size_t len = 0; len <= RPC_INLINE_MAX; len++)
            for (int cap = 0; cap < 2; cap++) {
                roundtrip(RPC_KIND_CALL, len, w, cap);
                roundtrip(RPC_KIND_REPLY, len, w, cap);
            }
}

Test(rpc_wire, empty_message_is_one_word)
{
    struct rpc_wire_head h = { .kind = RPC_KIND_CALL, .type = 1, .id = 9 };
    struct frag f[MAX_FRAGS];
    cr_assert_eq(cut(&h, NULL, 8, f), 1);
    cr_assert_eq(f[0].n, 1);
    cr_assert_eq(f[0].w[0], rpc_wire_header(RPC_KIND_CALL, 1, 9) | RPC_HDR_SHORT);
}

Test(rpc_wire, seven_words_fit_one_lmp_message)
{
    uint8_t data[64] = { 1 };
    struct rpc_wire_head h = { .kind = RPC_KIND_CALL, .type = 1, .id = 9, .len = 56 };
    struct frag f[MAX_FRAGS];
    cr_assert_eq(cut(&h, data, 8, f), 1);
    cr_assert_eq(f[0].n, 8);
    h.len = 57;
    cr_assert_eq(cut(&h, data, 8, f), 2);
    cr_assert_eq(f[0].w[0] & RPC_HDR_SHORT, 0, "a message of two fragments is not SHORT");
    cr_assert_eq(f[0].w[1], 57, "its first fragment's word 1 holds the length");
}

static void bulk(bool has_cap)
{
    struct rpc_wire_head h = { .kind = RPC_KIND_CALL, .type = 3, .id = 77, .len = 1u << 20,
                               .bulk = true, .has_cap = has_cap };
    struct frag f[MAX_FRAGS];
    size_t k = cut(&h, NULL, 8, f);
    cr_assert_eq(k, has_cap ? 2 : 1);
    cr_assert_eq(f[0].cap, RPC_HDR_BULK);
    cr_assert_eq(f[0].n, 2);
    cr_assert_eq(f[0].w[0] & RPC_HDR_SHORT, 0, "a bulk message is never SHORT");
    if (has_cap)
        cr_assert_eq(f[1].cap, RPC_HDR_CAP);
    struct rpc_wire_in in;
    rpc_wire_in_init(&in);
    enum rpc_wire_status st;
    cr_assert(err_is_ok(feed_all(&in, f, k, &st)));
    cr_assert_eq(st, RPC_WIRE_COMPLETE);
    cr_assert(in.head.bulk);
    cr_assert_eq(in.head.has_cap, has_cap);
    cr_assert_eq(in.head.len, 1u << 20);
}

Test(rpc_wire, bulk_alone) { bulk(false); }
Test(rpc_wire, bulk_with_cap) { bulk(true); }

static errval_t feed1(struct rpc_wire_in *in, uint64_t w0, uint64_t w1, size_t n, bool cap)
{
    uint64_t w[RPC_WIRE_MAX_WORDS] = { w0, w1 };
    enum rpc_wire_status st;
    return rpc_wire_feed(in, w, n, cap, &st);
}

Test(rpc_wire, malformed_fragments)
{
    struct rpc_wire_in in;
    rpc_wire_in_init(&in);
    uint64_t h = rpc_wire_header(RPC_KIND_CALL, 1, 1);
    cr_assert_eq(err_no(feed1(&in, h, 0, 1, false)), RPC_ERR_BAD_MESSAGE, "no length word");
    cr_assert_eq(err_no(feed1(&in, h | 0x100, 0, 2, false)), RPC_ERR_BAD_MESSAGE, "reserved bits");
    cr_assert_eq(err_no(feed1(&in, h | RPC_HDR_CAP, 0, 2, false)), RPC_ERR_BAD_MESSAGE,
                 "announces a cap that did not come");
    cr_assert_eq(err_no(feed1(&in, h, 0, 2, true)), RPC_ERR_BAD_MESSAGE, "a cap nobody announced");
    cr_assert_eq(err_no(feed1(&in, h | RPC_HDR_CAP | RPC_HDR_BULK, 0, 2, true)), RPC_ERR_BAD_MESSAGE);
    cr_assert_eq(err_no(feed1(&in, h, RPC_MAX_PAYLOAD + 1ull, 2, false)), RPC_ERR_TOO_LARGE);
    cr_assert_eq(err_no(feed1(&in, h, RPC_INLINE_MAX + 1, 2, false)), RPC_ERR_BAD_MESSAGE,
                 "too long to be inline but not bulk");
    cr_assert_eq(err_no(feed1(&in, h | RPC_HDR_BULK, 100, 2, true)), RPC_ERR_BAD_MESSAGE,
                 "short enough to be inline but bulk");
    cr_assert_eq(err_no(feed1(&in, h, 16, 2, false)), RPC_ERR_BAD_MESSAGE, "ends short");
    cr_assert_eq(err_no(feed1(&in, h, 0, 4, false)), RPC_ERR_BAD_MESSAGE, "words beyond the length");
    cr_assert_eq(err_no(rpc_wire_feed(&in, (uint64_t[1]){ h }, 0, false, &(enum rpc_wire_status){ 0 })),
                 RPC_ERR_BAD_MESSAGE, "an empty fragment");
    /* after all that, a good message still goes through */
    cr_assert(err_is_ok(feed1(&in, h, 0, 2, false)));
}

static uint64_t short_hdr(uint32_t len) { return rpc_wire_header(RPC_KIND_CALL, 1, 1) | RPC_HDR_SHORT | (uint64_t)len << 8; }

Test(rpc_wire, malformed_short_fragments)
{
    struct rpc_wire_in in;
    rpc_wire_in_init(&in);
    enum rpc_wire_status st;
    cr_assert_eq(err_no(feed1(&in, short_hdr(8), 0, 1, false)), RPC_ERR_BAD_MESSAGE, "ends short");
    cr_assert_eq(err_no(feed1(&in, short_hdr(0), 0, 2, false)), RPC_ERR_BAD_MESSAGE, "words beyond the length");
    cr_assert_eq(err_no(feed1(&in, short_hdr(9), 0, 2, false)), RPC_ERR_BAD_MESSAGE, "a length past its words");
    cr_assert_eq(err_no(feed1(&in, short_hdr(0) | RPC_HDR_MORE, 0, 1, false)), RPC_ERR_BAD_MESSAGE,
                 "SHORT, yet more follows");
    cr_assert(err_is_ok(rpc_wire_feed(&in, (uint64_t[1]){ rpc_wire_header(RPC_KIND_CALL, 1, 1) }, 1, false, &st)),
              "(the MORE of that one is dropped)");
    cr_assert_eq(err_no(feed1(&in, short_hdr(0) | RPC_HDR_BULK, 0, 1, true)), RPC_ERR_BAD_MESSAGE, "SHORT and bulk");
    cr_assert_eq(err_no(feed1(&in, short_hdr(0) | 0x40, 0, 1, false)), RPC_ERR_BAD_MESSAGE, "reserved bits");
    cr_assert_eq(err_no(feed1(&in, short_hdr(0) | RPC_HDR_CAP, 0, 1, false)), RPC_ERR_BAD_MESSAGE,
                 "announces a cap that did not come");
    /* a SHORT fragment inside a message of several */
    uint64_t first[8] = { rpc_wire_header(RPC_KIND_CALL, 1, 1) | RPC_HDR_MORE, 100 };
    cr_assert(err_is_ok(rpc_wire_feed(&in, first, 8, false, &st)));
    cr_assert_eq(err_no(feed1(&in, short_hdr(0), 0, 1, false)), RPC_ERR_BAD_MESSAGE, "SHORT inside another");
    cr_assert(err_is_ok(rpc_wire_feed(&in, (uint64_t[1]){ short_hdr(0) }, 1, false, &st)));
    cr_assert_eq(st, RPC_WIRE_COMPLETE, "after all that, a good SHORT message goes through");
    cr_assert_eq(in.head.type, 1);
}

Test(rpc_wire, a_malformed_message_is_dropped_to_its_end)
{
    struct rpc_wire_in in;
    rpc_wire_in_init(&in);
    uint64_t h = rpc_wire_header(RPC_KIND_CALL, 1, 1);
    enum rpc_wire_status st;
    cr_assert_eq(err_no(feed1(&in, h | RPC_HDR_MORE | 0x200, 100, 8, false)), RPC_ERR_BAD_MESSAGE);
    /* its continuation fragments are swallowed without another error */
    cr_assert(err_is_ok(rpc_wire_feed(&in, (uint64_t[8]){ h | RPC_HDR_MORE }, 8, false, &st)));
    cr_assert_eq(st, RPC_WIRE_MORE);
    cr_assert(err_is_ok(rpc_wire_feed(&in, (uint64_t[8]){ h }, 8, false, &st)));
    cr_assert_eq(st, RPC_WIRE_MORE, "the last dropped fragment completes nothing");
    cr_assert(err_is_ok(feed1(&in, h, 0, 2, false)));
}

Test(rpc_wire, continuation_of_another_message)
{
    uint8_t data[100] = { 0 };
    struct rpc_wire_head h = { .kind = RPC_KIND_CALL, .type = 5, .id = 1, .len = 100 };
    struct frag f[MAX_FRAGS];
    size_t k = cut(&h, data, 8, f);
    cr_assert_geq(k, 2);
    struct rpc_wire_in in;
    rpc_wire_in_init(&in);
    enum rpc_wire_status st;
    cr_assert(err_is_ok(rpc_wire_feed(&in, f[0].w, f[0].n, false, &st)));
    f[1].w[0] = (f[1].w[0] & ~(0xffffffffull << 32)) | (2ull << 32);   /* another call id */
    cr_assert_eq(err_no(rpc_wire_feed(&in, f[1].w, f[1].n, false, &st)), RPC_ERR_BAD_MESSAGE);
}

/* The one-step paths agree with the general ones, both ways. */
static void single_agrees(const uint8_t *data, size_t w, size_t len, bool cap, bool reply)
{
    struct rpc_wire_head h = { .kind = reply ? RPC_KIND_REPLY : RPC_KIND_CALL,
                               .type = reply ? 0 : 7, .id = 99, .status = reply ? 3 : 0,
                               .len = (uint32_t)len, .has_cap = cap };
    uint64_t one[RPC_WIRE_MAX_WORDS];
    struct frag f[MAX_FRAGS];
    size_t k = cut(&h, data, w, f);
    cr_assert_eq(rpc_wire_fits_single(len, w), k == 1, "len %zu width %zu: %zu fragments", len, w, k);
    if (k != 1)
        return;
    uint64_t header = rpc_wire_header(h.kind, h.type, h.id) | (cap ? RPC_HDR_CAP : 0);
    size_t n = rpc_wire_single_words(header, h.status, data, (uint32_t)len, one);
    cr_assert_eq(n, f[0].n, "len %zu width %zu", len, w);
    cr_assert(memcmp(one, f[0].w, n * 8) == 0, "len %zu width %zu: words differ", len, w);
    struct rpc_wire_head back;
    cr_assert(rpc_wire_single_ok(one, n, cap));
    rpc_wire_single_head(one, cap, &back);
    cr_assert_eq(back.kind, h.kind);
    cr_assert_eq(back.type, h.type);
    cr_assert_eq(back.len, len);
    cr_assert_eq(back.has_cap, cap);
    cr_assert_eq(back.id, 99);
    cr_assert_eq(back.status, h.status);
    cr_assert(len == 0 || memcmp(one + 1, data, len) == 0);
    cr_assert(!rpc_wire_single_ok(one, n, !cap), "cap mismatch refused");
    cr_assert(!rpc_wire_single_ok(one, n + 1, cap), "extra word refused");
    cr_assert(!rpc_wire_single_ok(one, n - 1, cap), "missing word refused");
}

Test(rpc_wire, single_fragment_paths_agree)
{
    uint8_t data[64];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i + 1);
    for (size_t w = RPC_WIRE_MIN_WORDS; w <= RPC_WIRE_MAX_WORDS; w++)
        for (size_t len = 0; len <= 64; len++)
            for (int cap = 0; cap < 2; cap++)
                for (int reply = 0; reply < 2; reply++)
                    single_agrees(data, w, len, cap, reply);
}

Test(rpc_wire, single_ok_leaves_the_rest_to_feed)
{
    uint64_t more[2] = { rpc_wire_header(RPC_KIND_CALL, 1, 1) | RPC_HDR_MORE, 0 };
    cr_assert(!rpc_wire_single_ok(more, 2, false));
    uint64_t bulk[2] = { rpc_wire_header(RPC_KIND_CALL, 1, 1) | RPC_HDR_BULK, 1u << 20 };
    cr_assert(!rpc_wire_single_ok(bulk, 2, true));
    uint64_t reserved[2] = { rpc_wire_header(RPC_KIND_CALL, 1, 1) | RPC_HDR_SHORT | 0x80, 0 };
    cr_assert(!rpc_wire_single_ok(reserved, 1, false));
    uint64_t whole_long[2] = { rpc_wire_header(RPC_KIND_CALL, 1, 1), 0 };
    cr_assert(!rpc_wire_single_ok(whole_long, 2, false), "one fragment, but not SHORT: feed takes it");
    enum rpc_wire_status st;
    struct rpc_wire_in in;
    rpc_wire_in_init(&in);
    cr_assert(err_is_ok(rpc_wire_feed(&in, whole_long, 2, false, &st)));
    cr_assert_eq(st, RPC_WIRE_COMPLETE);
}

/* The common call's one-compare check of its reply. */
Test(rpc_wire, single_reply_is_recognised_by_its_header)
{
    uint8_t data[16] = { 1, 2, 3 };
    for (int cap = 0; cap < 2; cap++) {
        uint64_t w[RPC_WIRE_MAX_WORDS];
        uint64_t header = rpc_wire_header(RPC_KIND_REPLY, 0, 77) | (cap ? RPC_HDR_CAP : 0);
        size_t n = rpc_wire_single_words(header, 5, data, sizeof data, w);
        cr_assert(rpc_wire_single_reply(w, n, cap, 77));
        cr_assert_eq(rpc_wire_short_status(w[0]), 5);
        cr_assert_eq(rpc_wire_short_len(w[0]), sizeof data);
        cr_assert(!rpc_wire_single_reply(w, n, cap, 78), "another call's reply");
        cr_assert(!rpc_wire_single_reply(w, n, !cap, 77), "a capability the header does not announce");
        cr_assert(!rpc_wire_single_reply(w, n - 1, cap, 77), "fewer words than the length");
        cr_assert(!rpc_wire_single_reply(w, n + 1, cap, 77), "more words than the length");
        cr_assert(!rpc_wire_single_reply(w, 1, cap, 77), "the header alone");
        cr_assert(!rpc_wire_single_reply(w, 0, cap, 77), "nothing");
        w[0] |= RPC_HDR_MORE;
        cr_assert(!rpc_wire_single_reply(w, n, cap, 77), "the first of several fragments");
        w[0] &= ~RPC_HDR_MORE;
        cr_assert(rpc_wire_single_reply(w, n, cap, 77));
        w[0] &= ~RPC_HDR_SHORT;
        cr_assert(!rpc_wire_single_reply(w, n, cap, 77), "not SHORT");
        w[0] |= RPC_HDR_SHORT | RPC_HDR_BULK;
        cr_assert(!rpc_wire_single_reply(w, n, cap, 77), "bulk");
        w[0] = rpc_wire_header(RPC_KIND_CALL, 0, 77) | RPC_HDR_SHORT | (cap ? RPC_HDR_CAP : 0) | 16 << 8;
        cr_assert(!rpc_wire_single_reply(w, n, cap, 77), "a call, not a reply");
    }
}
