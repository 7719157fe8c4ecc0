/*
 * heap.h — the user-space heap: malloc, free, calloc, realloc and
 * aligned_alloc as heap_* functions over a backend given as callbacks.
 * The C library's names are thin wrappers elsewhere; this module makes no
 * system calls, so the host tests run it over host memory.
 *
 * Why not picolibc's malloc: it clears every block it returns, so
 * malloc(256 MiB) over lazily backed memory touches every page. This heap
 * knows which memory is still as the backend handed it out (zero) and
 * clears only recycled blocks in heap_calloc().
 *
 * Design, simple over clever:
 *
 *  1. Every block has a 16-byte header right before it (struct heap_hdr
 *     in heap.c): what kind of block it is, its size class or region size,
 *     and a seal computed from the header's address and contents. heap_free
 *     and the others check the seal, so a wild pointer, an overwritten
 *     header or a double free is reported through backend->corrupt instead
 *     of silently breaking the heap.
 *
 *  2. Small blocks, header included at most HEAP_SMALL_MAX (128 KiB), come
 *     in HEAP_NCLASSES size classes: 32, 48, ..., 128 bytes (16 apart),
 *     then four classes per power of two (160, 192, 224, 256, 320, ...,
 *     96 Ki, 112 Ki, 128 Ki). A block is at most 16 bytes or a quarter
 *     larger than its request plus header, whichever is more (see
 *     waste_bound() in the tests), which bounds internal waste at 25 %.
 *
 *  3. A freed small block goes on its class's free list: singly linked
 *     through the block itself, last in first out. A list is right here
 *     because the heap only ever pushes and pops at the head, both O(1),
 *     and needs no search: any block of the class fits. So alloc and free
 *     of small blocks are O(1). The link is stored twice (plain and
 *     scrambled) so that a write after free is caught before the heap
 *     follows it.
 *
 *  4. A small block with an empty list is carved from the current arena
 *     chunk by bumping a pointer. A chunk too short for it is retired and a
 *     new one of max(HEAP_ARENA_CHUNK, needed) bytes is taken from
 *     arena_grow; when the new memory directly follows the old chunk, the
 *     chunk just grows. The tail of a retired chunk is split into free
 *     blocks of the largest classes that fit, so at most 16 bytes per
 *     chunk are lost. Arena memory is never given back.
 *
 *  5. Larger blocks each get their own region from large_alloc, the
 *     request plus header rounded up to pages, and go back to the system
 *     through large_free as soon as they are freed.
 *
 *  6. A block knows whether it is fresh: carved from arena memory never
 *     used before, or a new large region. Both are zero, so heap_calloc
 *     writes nothing into them; it clears only recycled blocks.
 *
 *  7. heap_aligned_alloc asks for size + align - 16 bytes and returns the
 *     first aligned address in them. When that is not the block's own
 *     start, a second header right before it points back to the block, so
 *     heap_free, heap_realloc and heap_usable_size take every pointer the
 *     heap hands out. An alignment beyond a page goes the same way, and so
 *     through the large path once the block is big enough.
 *
 * Threads: every public function takes backend->lock around its use of the
 * heap's state and calls arena_grow, large_alloc and large_free with it
 * held, so those need no lock of their own but must never call into the
 * heap. backend->corrupt is called with the lock released (it may print,
 * and printing may allocate). Clearing and copying (calloc, realloc) run
 * without the lock.
 *
 * Implementation: heap.c. Tests: tests/host/test_heap.c.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every block is aligned to this: alignof(max_align_t) on AArch64. */
#define HEAP_ALIGN 16

/* The header before every block. */
#define HEAP_HDR_SIZE 16

/* arena_grow is asked for multiples of this. */
#define HEAP_ARENA_CHUNK ((size_t)64 * 1024)

/* The largest small block, header included; anything larger is large. */
#define HEAP_SMALL_MAX ((size_t)128 * 1024)

/* Large regions are multiples of this. */
#define HEAP_PAGE_SIZE ((size_t)4096)

/* The number of small size classes (see 2. above). */
#define HEAP_NCLASSES 47

/* The largest request served; anything larger fails at once, so that
 * adding a header, an alignment or page rounding never overflows. */
#define HEAP_MAX_REQUEST ((size_t)PTRDIFF_MAX - HEAP_ARENA_CHUNK)

struct heap_backend {
    /* Grow the small-block arena: return `bytes` (a multiple of
     * HEAP_ARENA_CHUNK) of zeroed memory, 16-byte aligned, contiguous with
     * the previous call's memory or not, or NULL when out of memory. Never
     * given back. */
    void *(*arena_grow)(void *arg, size_t bytes);
    /* A large block: `bytes` (a multiple of HEAP_PAGE_SIZE) of zeroed,
     * page-aligned memory in its own region, lazily backed; NULL when out
     * of memory. */
    void *(*large_alloc)(void *arg, size_t bytes);
    /* Give a large block's region back to the system. */
    void (*large_free)(void *arg, void *p, size_t bytes);
    /* Both may be NULL: one thread only. */
    void (*lock)(void *arg);
    void (*unlock)(void *arg);
    /* A pointer handed to the heap is not a live block of it (`why` says
     * what is wrong). The OS glue prints and aborts; when it returns, the
     * call that found it does nothing and fails (NULL, or 0). NULL: trap. */
    void (*corrupt)(void *arg, const void *p, const char *why);
    void *arg;
};

struct heap_free;
struct heap_chunk;

/* Statically allocatable; heap_init() sets every field. */
struct heap {
    /* Copied by heap_init(); read-only afterwards. */
    struct heap_backend be;

    /* Guarded by be.lock. */
    struct heap_free *free[HEAP_NCLASSES];  /* per-class LIFO lists */
    struct heap_chunk *chunks;  /* arena chunks, newest (the current one) first */
    char *bump, *bump_end;      /* the unused rest of the current chunk */
    size_t arena_bytes;         /* everything arena_grow returned */
    size_t large_bytes;         /* live large regions, in bytes */
    size_t live_blocks;         /* blocks handed out and not freed */
    size_t large_blocks;        /* of which large */
    const void *bad;            /* a corruption found under the lock, */
    const char *bad_why;        /* reported once it is released */
};

struct heap_stats {
    size_t arena_bytes;         /* taken from arena_grow, ever */
    size_t large_bytes;         /* in live large regions */
    size_t live_blocks;         /* allocated and not freed, small and large */
    size_t large_blocks;        /* of which large */
};

/* Start an empty heap over `be` (copied). Takes no memory yet. */
void heap_init(struct heap *h, const struct heap_backend *be);

/* `size` bytes, 16-byte aligned, contents unspecified. Size 0 gives a
 * unique pointer. NULL when size exceeds HEAP_MAX_REQUEST or the backend
 * is out of memory. */
void *heap_alloc(struct heap *h, size_t size);

/* n * size zeroed bytes; NULL when the product overflows or as heap_alloc.
 * Memory fresh from the backend is not written. */
void *heap_calloc(struct heap *h, size_t n, size_t size);

/*
 * Resize the block p to `size` bytes, keeping its contents up to the
 * smaller size. p NULL: heap_alloc(size). size 0: free p, return NULL.
 * The block stays where it is when `size` fits in it, unless a block for
 * `size` would take less than half the memory: then the contents move, so
 * that shrinking a big block gives memory back. Returns NULL, p untouched,
 * when growing fails; shrinking never fails. An aligned block that moves
 * keeps only the alignment of heap_alloc.
 */
void *heap_realloc(struct heap *h, void *p, size_t size);

/* `size` bytes at a multiple of `align`, which must be a power of two
 * (alignments up to 16 are those of heap_alloc); NULL otherwise, or when
 * size + align exceeds HEAP_MAX_REQUEST, or as heap_alloc. */
void *heap_aligned_alloc(struct heap *h, size_t align, size_t size);

/* Free p, any pointer the heap returned; NULL does nothing. */
void heap_free(struct heap *h, void *p);

/* The bytes usable at p (at least what was asked for); 0 for NULL. */
size_t heap_usable_size(struct heap *h, const void *p);

/* The counts, from one consistent moment. */
void heap_stats(struct heap *h, struct heap_stats *out);

/*
 * For tests: walk every arena chunk and every free list and check that
 * each header's seal holds, the blocks tile the chunks, every free block
 * is on the list of its class (and no other block is), the links are
 * intact and the counts match. O(blocks + free blocks x chunks).
 */
bool heap_check(struct heap *h);
