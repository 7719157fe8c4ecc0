/*
 * heap.c — the user-space heap (heap.h, which states the design).
 *
 * In order:
 *   - block headers and their seals, and the free-list links;
 *   - the size classes;
 *   - the lock, and corruption found under it;
 *   - the arena: chunks, growth and the tail of a retired chunk;
 *   - small and large blocks: taking and releasing them;
 *   - finding the block behind a pointer, with every check;
 *   - the public functions, and heap_check.
 *
 * Check, then act: a public function finds and checks the block behind
 * its pointer (block_find) before it changes anything, so a bad pointer
 * leaves the heap as it was.
 *
 * Freed blocks are not filled with junk: a freed 128 KiB block would have
 * every page touched. Only the link at the start of a free block is
 * checked, which catches the writes after free that would break the heap.
 */
#include "os/heap.h"

#include <string.h>

/* An invariant the heap relies on, or the backend's side of the contract;
 * when one is broken, two callers could get the same memory: stop. */
#define HEAP_INVARIANT(cond)        \
    do {                            \
        if (!(cond))                \
            __builtin_trap();       \
    } while (0)

#define HDR  HEAP_HDR_SIZE
#define PAGE HEAP_PAGE_SIZE

/* ---- Headers, seals and links. ---- */

/* A header's kind (the low two bits of flags) and state. */
#define KIND_SMALL  0x1u    /* info: the size class */
#define KIND_LARGE  0x2u    /* info: the region's bytes, header included */
#define KIND_OFFSET 0x3u    /* info: bytes from the aligned pointer back to its block's */
#define KIND_MASK   0x3u
#define FLAG_FRESH  0x4u    /* never used: the payload is zero (a free one's but for its link) */
#define FLAG_FREE   0x8u

struct heap_hdr {
    uint64_t info;
    uint32_t flags;
    uint32_t seal;          /* seal_of(): address, info and flags together */
};
_Static_assert(sizeof(struct heap_hdr) == HEAP_HDR_SIZE, "the header is 16 bytes");

/* A free small block starts with its link, twice: the second copy is
 * scrambled with the block's address, so that a write after free shows. */
struct heap_free {
    struct heap_free *next;
    uintptr_t check;
};
_Static_assert(sizeof(struct heap_free) <= 32 - HEAP_HDR_SIZE, "a link fits the smallest block");

/* An arena chunk starts with this record; its blocks follow. */
struct heap_chunk {
    struct heap_chunk *next;
    char *end;
};
_Static_assert(sizeof(struct heap_chunk) == HEAP_HDR_SIZE, "blocks after the record stay aligned");

/* Fixed keys: the seals catch accidents (wild pointers, overruns, double
 * frees), not an attacker, so they need no secret. */
#define SEAL_KEY 0x6d696e6e6f776870ull
#define LINK_KEY 0x5a17c0de5a17c0deull

static uint32_t seal_of(const struct heap_hdr *hd)
{
    uint64_t x = (uint64_t)(uintptr_t)hd ^ SEAL_KEY;
    x ^= hd->info * 0x9e3779b97f4a7c15ull;
    x ^= (uint64_t)hd->flags << 56;
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    return (uint32_t)(x >> 32);
}

static void hdr_set(struct heap_hdr *hd, uint64_t info, uint32_t flags)
{
    hd->info = info;
    hd->flags = flags;
    hd->seal = seal_of(hd);
}

static bool hdr_sealed(const struct heap_hdr *hd)
{
    return hd->seal == seal_of(hd);
}

static uint32_t hdr_kind(const struct heap_hdr *hd)
{
    return hd->flags & KIND_MASK;
}

static struct heap_hdr *hdr_of(const void *p)
{
    return (struct heap_hdr *)((uintptr_t)p - HDR);
}

static uintptr_t link_check(const struct heap_free *f)
{
    return (uintptr_t)f->next ^ (uintptr_t)f ^ LINK_KEY;
}

static size_t round_up(size_t x, size_t to)
{
    return (x + to - 1) & ~(to - 1);
}

/* ---- Size classes (heap.h, 2.). ---- */

#define FINE_CLASSES 7              /* 32 .. 128, 16 apart */
#define FINE_MAX     128
#define FINE_LOG     7              /* log2(FINE_MAX) */
#define SMALL_LOG    17             /* log2(HEAP_SMALL_MAX) */
_Static_assert(HEAP_SMALL_MAX == (size_t)1 << SMALL_LOG, "SMALL_LOG matches");
_Static_assert(HEAP_NCLASSES == FINE_CLASSES + 4 * (SMALL_LOG - FINE_LOG),
               "four classes per power of two from 128 up to HEAP_SMALL_MAX");

/* The block size of class c, header included. */
static size_t class_size(unsigned c)
{
    if (c < FINE_CLASSES)
        return (size_t)(c + 2) * 16;
    unsigned j = c - FINE_CLASSES;
    unsigned k = FINE_LOG + j / 4;
    return ((size_t)1 << k) + (size_t)(j % 4 + 1) * ((size_t)1 << (k - 2));
}

/* The smallest class whose blocks hold `total` bytes (1 .. HEAP_SMALL_MAX).
 * Above 128, total lies in (2^k, 2^(k+1)], cut in four steps of 2^(k-2). */
static unsigned class_of(size_t total)
{
    if (total <= FINE_MAX)
        return total <= 32 ? 0 : (unsigned)((total + 15) / 16 - 2);
    unsigned k = 63 - (unsigned)__builtin_clzll((unsigned long long)(total - 1));
    size_t step = (size_t)1 << (k - 2);
    size_t sub = (total - ((size_t)1 << k) + step - 1) / step;
    return FINE_CLASSES + (k - FINE_LOG) * 4 + (unsigned)sub - 1;
}

/* The largest class whose blocks fit in `bytes` (at least the smallest). */
static unsigned class_floor(size_t bytes)
{
    unsigned c = class_of(bytes);
    return class_size(c) > bytes ? c - 1 : c;
}

/* The memory a block takes: its class or its region. */
static size_t block_bytes(const struct heap_hdr *hd)
{
    return hdr_kind(hd) == KIND_SMALL ? class_size((unsigned)hd->info) : hd->info;
}

/* The memory a new block for `size` bytes would take. */
static size_t bytes_for(size_t size)
{
    size_t total = size + HDR;
    return total <= HEAP_SMALL_MAX ? class_size(class_of(total)) : round_up(total, PAGE);
}

/* ---- The lock, and corruption found under it. ---- */

static void heap_lock(struct heap *h)
{
    if (h->be.lock != NULL)
        h->be.lock(h->be.arg);
}

/* Release the lock, then report what was found under it: the glue's
 * report prints, and printing may allocate. */
static void heap_unlock(struct heap *h)
{
    const void *p = h->bad;
    const char *why = h->bad_why;
    h->bad = NULL;
    h->bad_why = NULL;
    if (h->be.unlock != NULL)
        h->be.unlock(h->be.arg);
    if (why == NULL)
        return;
    if (h->be.corrupt == NULL)
        __builtin_trap();
    h->be.corrupt(h->be.arg, p, why);
}

/* Note a corruption for heap_unlock to report; false, for the caller to
 * return. The first one found in a call is the one reported. */
static bool flag_bad(struct heap *h, const void *p, const char *why)
{
    if (h->bad_why == NULL) {
        h->bad = p;
        h->bad_why = why;
    }
    return false;
}

/* ---- Free lists. ---- */

static void list_push(struct heap *h, unsigned c, struct heap_hdr *hd)
{
    struct heap_free *f = (struct heap_free *)(hd + 1);
    f->next = h->free[c];
    f->check = link_check(f);
    h->free[c] = f;
}

/* A free block of class c, as a list holds it: sealed, free and with its
 * link intact. */
static bool free_block_ok(const struct heap_free *f, unsigned c)
{
    const struct heap_hdr *hd = hdr_of(f);
    return hdr_sealed(hd) && (hd->flags & ~FLAG_FRESH) == (KIND_SMALL | FLAG_FREE) &&
           hd->info == c && f->check == link_check(f);
}

/* Take the head of class c's list, marked live; NULL if the list is empty
 * or broken. A broken one is dropped whole (its blocks leak), as nothing
 * after the break can be trusted. */
static struct heap_hdr *list_pop(struct heap *h, unsigned c)
{
    struct heap_free *f = h->free[c];
    if (f == NULL)
        return NULL;
    if (!free_block_ok(f, c)) {
        h->free[c] = NULL;
        flag_bad(h, f, "heap: free block overwritten (a write after free?)");
        return NULL;
    }
    h->free[c] = f->next;
    struct heap_hdr *hd = hdr_of(f);
    uint32_t fresh = hd->flags & FLAG_FRESH;
    if (fresh != 0)
        *f = (struct heap_free){ NULL, 0 };  /* the link was all that was not zero */
    hdr_set(hd, c, KIND_SMALL | fresh);
    return hd;
}

/* ---- The arena. ---- */

/* Split the rest of the current chunk into free blocks of the largest
 * classes that fit, before the chunk is left behind. They are fresh. What
 * is left is below the smallest class: 16 bytes or nothing. */
static void arena_retire_tail(struct heap *h)
{
    while ((size_t)(h->bump_end - h->bump) >= class_size(0)) {
        unsigned c = class_floor((size_t)(h->bump_end - h->bump));
        struct heap_hdr *hd = (struct heap_hdr *)h->bump;
        hdr_set(hd, c, KIND_SMALL | FLAG_FRESH | FLAG_FREE);
        list_push(h, c, hd);
        h->bump += class_size(c);
    }
}

/* Make room for a block of `block` bytes at the bump pointer. */
static bool arena_grow(struct heap *h, size_t block)
{
    size_t bytes = round_up(block + sizeof(struct heap_chunk), HEAP_ARENA_CHUNK);
    char *mem = h->be.arena_grow(h->be.arg, bytes);
    if (mem == NULL)
        return false;
    HEAP_INVARIANT(((uintptr_t)mem & (HEAP_ALIGN - 1)) == 0);
    h->arena_bytes += bytes;
    if (h->chunks != NULL && mem == h->bump_end) {
        /* Right after the current chunk: it just grows. */
        h->bump_end += bytes;
        h->chunks->end = h->bump_end;
        return true;
    }
    arena_retire_tail(h);
    struct heap_chunk *ch = (struct heap_chunk *)mem;
    ch->next = h->chunks;
    ch->end = mem + bytes;
    h->chunks = ch;
    h->bump = (char *)(ch + 1);
    h->bump_end = ch->end;
    return true;
}

/* A block of class c carved at the bump pointer; arena memory never used
 * is zero, so the block is fresh. */
static struct heap_hdr *arena_carve(struct heap *h, unsigned c)
{
    size_t size = class_size(c);
    if ((size_t)(h->bump_end - h->bump) < size && !arena_grow(h, size))
        return NULL;
    struct heap_hdr *hd = (struct heap_hdr *)h->bump;
    h->bump += size;
    hdr_set(hd, c, KIND_SMALL | FLAG_FRESH);
    return hd;
}

/* ---- Small and large blocks. ---- */

static struct heap_hdr *large_take(struct heap *h, size_t total)
{
    size_t bytes = round_up(total, PAGE);
    struct heap_hdr *hd = h->be.large_alloc(h->be.arg, bytes);
    if (hd == NULL)
        return NULL;
    HEAP_INVARIANT(((uintptr_t)hd & (PAGE - 1)) == 0);
    hdr_set(hd, bytes, KIND_LARGE | FLAG_FRESH);
    h->large_bytes += bytes;
    h->large_blocks++;
    return hd;
}

/* With the lock held: a live block of `size` bytes; *fresh tells whether
 * it is all zero. */
static void *block_take(struct heap *h, size_t size, bool *fresh)
{
    if (size > HEAP_MAX_REQUEST)
        return NULL;
    size_t total = size + HDR;
    struct heap_hdr *hd;
    if (total <= HEAP_SMALL_MAX) {
        unsigned c = class_of(total);
        hd = list_pop(h, c);
        if (hd == NULL)
            hd = arena_carve(h, c);
    } else {
        hd = large_take(h, total);
    }
    if (hd == NULL)
        return NULL;
    h->live_blocks++;
    *fresh = (hd->flags & FLAG_FRESH) != 0;
    return hd + 1;
}

/* With the lock held: free the live small or large block of header hd. A
 * large one is marked free first, so that a second free of a region the
 * backend keeps mapped is still caught. */
static void block_release(struct heap *h, struct heap_hdr *hd)
{
    h->live_blocks--;
    if (hdr_kind(hd) == KIND_SMALL) {
        hdr_set(hd, hd->info, KIND_SMALL | FLAG_FREE);
        list_push(h, (unsigned)hd->info, hd);
        return;
    }
    size_t bytes = hd->info;
    hdr_set(hd, bytes, KIND_LARGE | FLAG_FREE);
    h->large_bytes -= bytes;
    h->large_blocks--;
    h->be.large_free(h->be.arg, hd, bytes);
}

/* ---- The block behind a pointer. ---- */

struct block {
    struct heap_hdr *hd;        /* the small or large block */
    struct heap_hdr *offset;    /* the aligned pointer's header, or NULL */
    size_t usable;              /* bytes usable at the pointer */
};

/* Why hd is not the header of a live block; NULL if it is. */
static const char *hdr_problem(const struct heap_hdr *hd)
{
    if (!hdr_sealed(hd))
        return "heap: not a heap block, or its header was overwritten";
    if ((hd->flags & FLAG_FREE) != 0)
        return "heap: double free, or use of a freed block";
    switch (hdr_kind(hd)) {
    case KIND_SMALL:
        return hd->info < HEAP_NCLASSES ? NULL : "heap: bad size class";
    case KIND_LARGE:
        return hd->info % PAGE == 0 && ((uintptr_t)hd & (PAGE - 1)) == 0 ? NULL
                                                                        : "heap: bad large block";
    case KIND_OFFSET:
        return hd->info != 0 && hd->info % HEAP_ALIGN == 0 ? NULL : "heap: bad aligned block";
    default:
        return "heap: bad block kind";
    }
}

/* With the lock held: check that p is a live block of this heap and
 * describe it; false (and the corruption flagged) if not. */
static bool block_find(struct heap *h, const void *p, struct block *b)
{
    if (((uintptr_t)p & (HEAP_ALIGN - 1)) != 0)
        return flag_bad(h, p, "heap: misaligned pointer, not from the heap");
    struct heap_hdr *hd = hdr_of(p);
    const char *why = hdr_problem(hd);
    if (why != NULL)
        return flag_bad(h, p, why);
    b->offset = NULL;
    size_t skip = 0;
    if (hdr_kind(hd) == KIND_OFFSET) {
        b->offset = hd;
        skip = hd->info;
        hd = hdr_of((const char *)p - skip);
        why = hdr_problem(hd);
        if (why == NULL && hdr_kind(hd) == KIND_OFFSET)
            why = "heap: aligned block inside an aligned block";
        if (why != NULL)
            return flag_bad(h, p, why);
    }
    b->hd = hd;
    b->usable = block_bytes(hd) - HDR - skip;
    return true;
}

/* ---- The public functions. ---- */

void heap_init(struct heap *h, const struct heap_backend *be)
{
    h->be = *be;
    for (unsigned c = 0; c < HEAP_NCLASSES; c++)
        h->free[c] = NULL;
    h->chunks = NULL;
    h->bump = h->bump_end = NULL;
    h->arena_bytes = h->large_bytes = 0;
    h->live_blocks = h->large_blocks = 0;
    h->bad = NULL;
    h->bad_why = NULL;
}

void *heap_alloc(struct heap *h, size_t size)
{
    bool fresh;
    heap_lock(h);
    void *p = block_take(h, size, &fresh);
    heap_unlock(h);
    return p;
}

void *heap_calloc(struct heap *h, size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes))
        return NULL;
    bool fresh = false;
    heap_lock(h);
    void *p = block_take(h, bytes, &fresh);
    heap_unlock(h);
    /* Outside the lock: the block is the caller's now. */
    if (p != NULL && !fresh)
        memset(p, 0, bytes);
    return p;
}

void heap_free(struct heap *h, void *p)
{
    if (p == NULL)
        return;
    struct block b;
    heap_lock(h);
    if (block_find(h, p, &b)) {
        if (b.offset != NULL)
            hdr_set(b.offset, b.offset->info, KIND_OFFSET | FLAG_FREE);
        block_release(h, b.hd);
    }
    heap_unlock(h);
}

void *heap_realloc(struct heap *h, void *p, size_t size)
{
    if (p == NULL)
        return heap_alloc(h, size);
    if (size == 0) {
        heap_free(h, p);
        return NULL;
    }
    struct block b;
    heap_lock(h);
    bool found = block_find(h, p, &b);
    heap_unlock(h);
    if (!found)
        return NULL;
    bool fits = size <= b.usable;
    if (fits && 2 * bytes_for(size) >= block_bytes(b.hd))
        return p;
    void *q = heap_alloc(h, size);
    if (q == NULL)
        return fits ? p : NULL;
    memcpy(q, p, fits ? size : b.usable);
    heap_free(h, p);
    return q;
}

void *heap_aligned_alloc(struct heap *h, size_t align, size_t size)
{
    if (align == 0 || (align & (align - 1)) != 0)
        return NULL;
    if (align <= HEAP_ALIGN)
        return heap_alloc(h, size);
    if (align > HEAP_MAX_REQUEST || size > HEAP_MAX_REQUEST - align)
        return NULL;
    /* The first multiple of align in the block is at most align - 16
     * bytes in, as the block starts at a multiple of 16. */
    char *p = heap_alloc(h, size + align - HEAP_ALIGN);
    if (p == NULL)
        return NULL;
    char *q = (char *)round_up((uintptr_t)p, align);
    /* q is 16 or more bytes in when it is not p: room for its header,
     * inside the caller's block, so the lock is not needed. */
    if (q != p)
        hdr_set(hdr_of(q), (uint64_t)(q - p), KIND_OFFSET);
    return q;
}

size_t heap_usable_size(struct heap *h, const void *p)
{
    if (p == NULL)
        return 0;
    struct block b;
    heap_lock(h);
    bool found = block_find(h, p, &b);
    heap_unlock(h);
    return found ? b.usable : 0;
}

void heap_stats(struct heap *h, struct heap_stats *out)
{
    heap_lock(h);
    out->arena_bytes = h->arena_bytes;
    out->large_bytes = h->large_bytes;
    out->live_blocks = h->live_blocks;
    out->large_blocks = h->large_blocks;
    heap_unlock(h);
}

/* ---- heap_check. ---- */

/* Counts gathered by the walks, compared at the end. */
struct tally {
    size_t live, free_walked, free_listed;
};

/* Whether the free block f, of class c, lies among some chunk's blocks:
 * checked before it is read, so a broken link is reported, not followed. */
static bool in_arena(const struct heap *h, const struct heap_free *f, unsigned c)
{
    const char *start = (const char *)hdr_of(f);
    for (const struct heap_chunk *ch = h->chunks; ch != NULL; ch = ch->next) {
        const char *stop = ch == h->chunks ? h->bump : ch->end;
        if (start >= (const char *)(ch + 1) && start < stop)
            return (size_t)(stop - start) >= class_size(c);
    }
    return false;
}

static bool lists_ok(const struct heap *h, struct tally *t)
{
    size_t bound = h->arena_bytes / class_size(0);  /* more would mean a cycle */
    for (unsigned c = 0; c < HEAP_NCLASSES; c++) {
        for (const struct heap_free *f = h->free[c]; f != NULL; f = f->next) {
            if (++t->free_listed > bound || ((uintptr_t)f & (HEAP_ALIGN - 1)) != 0)
                return false;
            if (!in_arena(h, f, c) || !free_block_ok(f, c))
                return false;
        }
    }
    return true;
}

/* The blocks of one chunk tile it from its record to `stop`: exactly for
 * the current chunk (stop is the bump pointer), and but for a remnant
 * smaller than any block for a retired one. */
static bool chunk_ok(const struct heap_chunk *ch, const char *stop, bool current,
                     struct tally *t)
{
    const char *at = (const char *)(ch + 1);
    while ((size_t)(stop - at) >= class_size(0)) {
        const struct heap_hdr *hd = (const struct heap_hdr *)at;
        if (!hdr_sealed(hd) || hdr_kind(hd) != KIND_SMALL || hd->info >= HEAP_NCLASSES)
            return false;
        size_t size = class_size((unsigned)hd->info);
        if (size > (size_t)(stop - at))
            return false;
        if ((hd->flags & FLAG_FREE) != 0)
            t->free_walked++;
        else
            t->live++;
        at += size;
    }
    return !current || at == stop;
}

static bool chunks_ok(const struct heap *h, struct tally *t)
{
    if (h->chunks == NULL)
        return h->bump == NULL && h->bump_end == NULL && h->arena_bytes == 0;
    if (h->bump_end != h->chunks->end || h->bump > h->bump_end)
        return false;
    size_t bytes = 0;
    for (const struct heap_chunk *ch = h->chunks; ch != NULL; ch = ch->next) {
        bool current = ch == h->chunks;
        if (!chunk_ok(ch, current ? h->bump : ch->end, current, t))
            return false;
        bytes += (size_t)(ch->end - (const char *)ch);
    }
    return bytes == h->arena_bytes;
}

bool heap_check(struct heap *h)
{
    struct tally t = { 0, 0, 0 };
    heap_lock(h);
    bool ok = chunks_ok(h, &t) && lists_ok(h, &t) && t.free_walked == t.free_listed &&
              t.live + h->large_blocks == h->live_blocks;
    heap_unlock(h);
    return ok;
}
