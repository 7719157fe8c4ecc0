/*
 * slab.c — the slab allocator of slab.h.
 *
 * Free objects form a singly linked list through their first word, so
 * alloc and free are a pop and a push under the lock. A new buffer is not
 * split into objects up front: it becomes the *fresh* part, from which
 * objects are cut one after the other once the free list is empty, so
 * growing costs the same for a page as for one object. The refill callback
 * runs with the lock released, so the lock is only ever held for a few
 * instructions and never across a call out.
 *
 * Junk (SLAB_DEBUG): a freed object is filled with SLAB_JUNK_FREED (like
 * xv6's kfree) so that a dangling read sees nonsense; allocation checks
 * that the junk is still there, so that a write after free stops the
 * program, and fills the new object with SLAB_JUNK_ALLOCATED, so that
 * reading it before writing it is visible too. That costs a pass over the
 * object at every alloc and free and one over every new buffer, a large
 * part of the allocator's work, so it is on in the host tests (HOST_TEST)
 * and in builds that ask for it (make SLAB_DEBUG=1), and off otherwise.
 * Uses no libc.
 */
#include "slab.h"

#ifndef SLAB_DEBUG
#ifdef HOST_TEST
#define SLAB_DEBUG 1
#else
#define SLAB_DEBUG 0
#endif
#endif

#define SLAB_JUNK_FREED     0x6b
#define SLAB_JUNK_ALLOCATED 0xa5

/* An invariant the slab relies on; when one is broken, memory is already
 * corrupt, so stop at once rather than hand out overlapping objects. */
#define SLAB_INVARIANT(cond)        \
    do {                            \
        if (!(cond))                \
            __builtin_trap();       \
    } while (0)

_Static_assert(sizeof(struct slab_free_obj) <= SLAB_ALIGN,
               "a free object must have room for its link");
_Static_assert((SLAB_ALIGN & (SLAB_ALIGN - 1)) == 0, "SLAB_ALIGN is a power of two");

static void slab_lock(const struct slab_allocator *slab)
{
    alloc_lock_acquire(&slab->lock);
}

static void slab_unlock(const struct slab_allocator *slab)
{
    alloc_lock_release(&slab->lock);
}

/* Objects are SLAB_ALIGN-aligned multiples of SLAB_ALIGN bytes, so the
 * junk is written and checked a word at a time. */
#define JUNK_WORD(byte) (0x0101010101010101ull * (byte))

static void fill_words(void *p, uint64_t value, size_t n)
{
    uint64_t *w = p;
    for (size_t i = 0; i < n / sizeof *w; i++)
        w[i] = value;
}

/* The junk of a freed object lies after its link word. */
static void junk_freed(const struct slab_allocator *slab, void *obj)
{
    if (SLAB_DEBUG)
        fill_words((uint8_t *)obj + sizeof(struct slab_free_obj), JUNK_WORD(SLAB_JUNK_FREED),
                   slab->objsize - sizeof(struct slab_free_obj));
}

/* Check that nobody wrote to a free object, then mark it newly allocated. */
static void junk_allocated(const struct slab_allocator *slab, void *obj)
{
    if (!SLAB_DEBUG)
        return;
    const uint64_t *w = obj;
    for (size_t i = 1; i < slab->objsize / sizeof *w; i++)
        SLAB_INVARIANT(w[i] == JUNK_WORD(SLAB_JUNK_FREED));    /* written after free */
    fill_words(obj, JUNK_WORD(SLAB_JUNK_ALLOCATED), slab->objsize);
}

errval_t slab_init(struct slab_allocator *slab, size_t objsize,
                   slab_refill_fn refill, void *refill_arg)
{
    if (objsize == 0 || objsize > SIZE_MAX - (SLAB_ALIGN - 1))
        return LIB_ERR_SLAB_BAD_SIZE;
    *slab = (struct slab_allocator){
        .objsize = (objsize + SLAB_ALIGN - 1) & ~(size_t)(SLAB_ALIGN - 1),
        .watermark = SLAB_DEFAULT_WATERMARK,
        .refill = refill,
        .refill_arg = refill_arg,
        .refill_err = SYS_ERR_OK,
    };
    return SYS_ERR_OK;
}

void slab_set_watermark(struct slab_allocator *slab, size_t watermark)
{
    slab->watermark = watermark;
}

void slab_set_refill(struct slab_allocator *slab, slab_refill_fn refill, void *refill_arg)
{
    slab->refill = refill;
    slab->refill_arg = refill_arg;
}

void slab_set_lock(struct slab_allocator *slab, const struct alloc_lock *lock)
{
    /* Half a lock would acquire without releasing, or the reverse. */
    SLAB_INVARIANT((lock->acquire == NULL) == (lock->release == NULL));
    slab->lock = *lock;
}

/* Link `count` objects from `first` into a chain, lowest address first;
 * returns the last. The objects are private to the caller. */
static struct slab_free_obj *chain(const struct slab_allocator *slab, uint8_t *first, size_t count)
{
    struct slab_free_obj *obj = (struct slab_free_obj *)first;
    for (size_t i = 1; i < count; i++) {
        obj->next = (struct slab_free_obj *)((uint8_t *)obj + slab->objsize);
        obj = obj->next;
    }
    obj->next = NULL;
    return obj;
}

/*
 * The buffer becomes the fresh part. What was left of the old fresh part
 * moves to the free list; it is unlinked under the lock and chained after
 * it (nobody else can reach it meanwhile), so the lock is held only for a
 * few instructions. Its objects are not counted free in between, which at
 * worst makes another thread's allocation refill a little early.
 */
errval_t slab_grow(struct slab_allocator *slab, void *buf, size_t bytes)
{
    if (buf == NULL)
        return LIB_ERR_SLAB_BAD_BUFFER;
    size_t pad = (size_t)(-(uintptr_t)buf & (SLAB_ALIGN - 1));
    if (bytes < pad || (bytes - pad) / slab->objsize == 0)
        return LIB_ERR_SLAB_BAD_BUFFER;
    size_t count = (bytes - pad) / slab->objsize;
    uint8_t *first = (uint8_t *)buf + pad;
    if (SLAB_DEBUG)
        fill_words(first, JUNK_WORD(SLAB_JUNK_FREED), count * slab->objsize);

    slab_lock(slab);
    uint8_t *old = slab->fresh;
    size_t nold = slab->nfresh;
    slab->fresh = first;
    slab->nfresh = count;
    slab->nfree = slab->nfree - nold + count;
    slab->ntotal += count;
    slab_unlock(slab);

    if (nold > 0) {
        struct slab_free_obj *last = chain(slab, old, nold);
        slab_lock(slab);
        last->next = slab->free;
        slab->free = (struct slab_free_obj *)old;
        slab->nfree += nold;
        slab_unlock(slab);
    }
    return SYS_ERR_OK;
}

/* With the lock held: should an allocation of n objects refill first? */
static bool slab_should_refill(const struct slab_allocator *slab, size_t n)
{
    return slab->refill != NULL && !slab->refilling && slab->nfree < slab->watermark + n;
}

/* With the lock held: the most recently freed object, else the next fresh
 * one, else NULL. */
static void *slab_take(struct slab_allocator *slab)
{
    struct slab_free_obj *obj = slab->free;
    if (obj != NULL) {
        slab->free = obj->next;
    } else if (slab->nfresh > 0) {
        obj = (struct slab_free_obj *)slab->fresh;
        slab->fresh += slab->objsize;
        slab->nfresh--;
    } else {
        SLAB_INVARIANT(slab->nfree == 0);
        return NULL;
    }
    slab->nfree--;
    return obj;
}

/*
 * With the lock held, which this may drop and take again: run the refill
 * if n objects are wanted and the slab is low. The refilling flag, set and
 * cleared under the lock, makes this thread the only one running the
 * callback. The callback runs unlocked, so it may allocate from this slab:
 * that nested call sees the flag, skips the refill and takes one of the
 * objects the watermark kept back. Other threads do the same meanwhile
 * instead of waiting.
 */
static void slab_refill_if_low(struct slab_allocator *slab, size_t n)
{
    if (!slab_should_refill(slab, n))
        return;
    slab->refilling = true;
    slab_unlock(slab);
    errval_t err = slab->refill(slab, slab->refill_arg);
    slab_lock(slab);
    slab->refilling = false;
    slab->refill_err = err;
}

void *slab_alloc(struct slab_allocator *slab)
{
    slab_lock(slab);
    slab_refill_if_low(slab, 1);
    void *obj = slab_take(slab);
    slab_unlock(slab);

    if (obj != NULL)
        junk_allocated(slab, obj);
    return obj;
}

size_t slab_alloc_many(struct slab_allocator *slab, void **objs, size_t n)
{
    size_t got = 0;
    slab_lock(slab);
    slab_refill_if_low(slab, n);
    for (; got < n && slab->free != NULL; got++)
        objs[got] = slab_take(slab);
    size_t fresh = n - got < slab->nfresh ? n - got : slab->nfresh;
    for (size_t i = 0; i < fresh; i++)          /* the free list is empty now */
        objs[got++] = slab->fresh + i * slab->objsize;
    slab->fresh += fresh * slab->objsize;
    slab->nfresh -= fresh;
    slab->nfree -= fresh;
    slab_unlock(slab);

    for (size_t i = 0; i < got; i++)
        junk_allocated(slab, objs[i]);
    return got;
}

void slab_free(struct slab_allocator *slab, void *obj)
{
    if (obj == NULL)
        return;
    /* Every object starts at a multiple of SLAB_ALIGN; anything else did
     * not come from a slab. */
    SLAB_INVARIANT(((uintptr_t)obj & (SLAB_ALIGN - 1)) == 0);
    junk_freed(slab, obj);

    struct slab_free_obj *f = obj;
    slab_lock(slab);
    /* More free objects than were ever carved means a double free. */
    SLAB_INVARIANT(slab->nfree < slab->ntotal);
    f->next = slab->free;
    slab->free = f;
    slab->nfree++;
    slab_unlock(slab);
}

size_t slab_freecount(const struct slab_allocator *slab)
{
    slab_lock(slab);
    size_t n = slab->nfree;
    slab_unlock(slab);
    return n;
}
