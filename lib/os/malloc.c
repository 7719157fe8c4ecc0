/*
 * malloc.c — the C library's allocation functions (malloc, free, calloc,
 * realloc, aligned_alloc, ...) over the heap of lib/os/heap.c; they take
 * the place of picolibc's, which clear every block (heap.h says why).
 *
 * Memory. Small blocks come from the arena: one reserved region of
 * ARENA_SPAN bytes, backed page by page on first touch by the fault
 * handler (paging.c), handed to the heap in chunks as it asks. Each large
 * block is a reserved region of its own, so malloc(256 MiB) costs one
 * region record, only touched pages get frames, and free gives every
 * backed page back (paging_free). A program without paging (no
 * paging_init: it has no RAM of its own) gets the small static
 * BOOTSTRAP_BYTES arena instead, and no large blocks.
 *
 * Threads: the heap lock is a thread mutex. Code holding it may fault on
 * fresh arena pages; that is safe because the fault path (paging, ram.c,
 * slots) never allocates from the heap.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heap.h"
#include "os.h"
#include "paging.h"
#include "thread_internal.h"

#define ARENA_SPAN      (64ull << 30)
#define BOOTSTRAP_BYTES (64 * 1024)

static struct heap heap;
static bool heap_ready;
static struct thread_mutex lock = THREAD_MUTEX_INITIALIZER("heap");

/* Guarded by the heap lock (backend calls run with it held). */
static uint64_t arena_base, arena_used;
static size_t bootstrap_used;
static uint8_t bootstrap[BOOTSTRAP_BYTES] __attribute__((aligned(16)));

static void *bootstrap_grow(size_t bytes)
{
    if (bytes > BOOTSTRAP_BYTES - bootstrap_used)
        return NULL;
    void *p = bootstrap + bootstrap_used;
    bootstrap_used += bytes;
    return p;
}

static void *arena_grow(void *arg, size_t bytes)
{
    (void)arg;
    if (arena_base == 0) {
        errval_t err = paging_reserve(ARENA_SPAN, 4096, VREGION_ATTR_RW, &arena_base);
        if (err_no(err) == LIB_ERR_PAGING_INIT)
            return bootstrap_grow(bytes);
        if (err_is_fail(err)) {
            DEBUG_ERR(err, "malloc: reserving the heap arena");
            return NULL;
        }
    }
    if (bytes > ARENA_SPAN - arena_used)
        return NULL;
    void *p = (void *)(arena_base + arena_used);
    arena_used += bytes;
    return p;
}

static void *large_alloc(void *arg, size_t bytes)
{
    (void)arg;
    uint64_t base;
    errval_t err = paging_reserve(bytes, 4096, VREGION_ATTR_RW, &base);
    return err_is_ok(err) ? (void *)base : NULL;
}

static void large_free(void *arg, void *p, size_t bytes)
{
    (void)arg;
    errval_t err = paging_free((uint64_t)p, bytes);
    if (err_is_fail(err))
        DEBUG_ERR(err, "free: giving a large block back");
}

static void lock_heap(void *arg) { thread_mutex_lock(arg); }
static void unlock_heap(void *arg) { thread_mutex_unlock(arg); }

static void corrupt(void *arg, const void *p, const char *why)
{
    (void)arg;
    thread_fatal("heap: %s (pointer %p)", why, p);
}

static struct heap *the_heap(void)
{
    if (!heap_ready) {
        static const struct heap_backend be = { arena_grow, large_alloc, large_free,
                                                lock_heap, unlock_heap, corrupt, &lock };
        heap_init(&heap, &be);
        heap_ready = true;
    }
    return &heap;
}

static void *set_errno(void *p)
{
    if (p == NULL)
        errno = ENOMEM;
    return p;
}

void *malloc(size_t size) { return set_errno(heap_alloc(the_heap(), size)); }
void free(void *p) { heap_free(the_heap(), p); }
void *calloc(size_t n, size_t size) { return set_errno(heap_calloc(the_heap(), n, size)); }
void *realloc(void *p, size_t size) { return set_errno(heap_realloc(the_heap(), p, size)); }
size_t malloc_usable_size(void *p) { return heap_usable_size(the_heap(), p); }

void *aligned_alloc(size_t align, size_t size)
{
    return set_errno(heap_aligned_alloc(the_heap(), align, size));
}

void *memalign(size_t align, size_t size) { return aligned_alloc(align, size); }
void *valloc(size_t size) { return aligned_alloc(4096, size); }
void *pvalloc(size_t size) { return aligned_alloc(4096, (size + 4095) & ~(size_t)4095); }

int posix_memalign(void **out, size_t align, size_t size);  /* POSIX, not in <stdlib.h> by default */
int posix_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    void *p = heap_aligned_alloc(the_heap(), align, size);
    if (p == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}

void os_heap_stats(struct heap_stats *out)
{
    heap_stats(the_heap(), out);
}
