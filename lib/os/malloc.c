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
 * backed page back (paging_free). A program that has not started paging
 * gets it started by its first malloc, over the RAM of its own
 * (ram_init_from_memcn): there is no static arena, whose zeroed pages
 * every spawn of every program would pay for.
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
#include "ram.h"
#include "thread_internal.h"

#define ARENA_SPAN      (64ull << 30)

static struct heap heap;
static bool heap_ready;
static struct thread_mutex lock = THREAD_MUTEX_INITIALIZER("heap");

/* Guarded by the heap lock (backend calls run with it held). */
static uint64_t arena_base, arena_used;

/* The arena's region, starting paging first if the program has not. */
static errval_t arena_reserve(void)
{
    errval_t err = paging_reserve(ARENA_SPAN, 4096, VREGION_ATTR_RW, &arena_base);
    if (err_no(err) != LIB_ERR_PAGING_INIT)
        return err;
    err = ram_init_from_memcn();
    if (err_is_ok(err))
        err = paging_init();
    return err_is_ok(err) ? paging_reserve(ARENA_SPAN, 4096, VREGION_ATTR_RW, &arena_base) : err;
}

static void *arena_grow(void *arg, size_t bytes)
{
    (void)arg;
    if (arena_base == 0) {
        errval_t err = arena_reserve();
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
