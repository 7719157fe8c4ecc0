/*
 * thread_stack.c — the memory of a thread: its two stacks, each above an
 * unmapped guard page, in one reserved region (thread_internal.h):
 *
 *     base: guard | exception stack | guard | stack (TLS, struct thread at top)
 *
 * Both stacks are backed when the thread is made (paging_map_new): the
 * fault handler runs on the exception stack, and code holding a lock the
 * handler needs must not fault, so neither may be backed lazily. The guard
 * pages are reserved with no access (attrs 0), so the fault handler never
 * backs them and a touch ends the process with a report naming the guard.
 *
 * Freed memory of default-sized threads is kept (up to CACHE_MAX) and
 * reused, so a create/join loop does not remap stacks every time.
 */
#include "thread_internal.h"

#include "paging.h"

#define GUARD      4096ull
#define CACHE_MAX  16

static struct thread_mem cache[CACHE_MAX];     /* guarded by the critical section */
static unsigned cached;

static uint64_t round_page(uint64_t n) { return (n + 4095) & ~4095ull; }

static bool take_cached(uint64_t stack, struct thread_mem *out)
{
    bool found = false;
    thread_critical_enter();
    if (cached > 0 && cache[cached - 1].stack_hi - cache[cached - 1].stack_lo == stack) {
        *out = cache[--cached];
        found = true;
    }
    thread_critical_exit();
    return found;
}

static bool put_cached(const struct thread_mem *mem)
{
    bool kept = false;
    thread_critical_enter();
    if (cached < CACHE_MAX && mem->stack_hi - mem->stack_lo == THREAD_STACK_DEFAULT) {
        cache[cached++] = *mem;
        kept = true;
    }
    thread_critical_exit();
    return kept;
}

static errval_t map_stacks(const struct thread_mem *m)
{
    uint32_t rw = VREGION_ATTR_READ | VREGION_ATTR_WRITE;
    errval_t err = paging_map_new(m->exc_lo, m->exc_hi - m->exc_lo, rw);
    if (err_is_fail(err))
        return err;
    err = paging_map_new(m->stack_lo, m->stack_hi - m->stack_lo, rw);
    if (err_is_fail(err))
        paging_unmap_free(m->exc_lo, m->exc_hi - m->exc_lo);
    return err;
}

errval_t thread_mem_new(size_t stack_bytes, struct thread_mem *out)
{
    if (stack_bytes > THREAD_STACK_MAX)
        return err_push(VREGION_ERR_BAD_SIZE, THREAD_ERR_STACK);
    uint64_t stack = round_page(stack_bytes < 16384 ? 16384 : stack_bytes);
    if (take_cached(stack, out))
        return SYS_ERR_OK;
    struct thread_mem m;
    m.size = GUARD + THREAD_EXC_STACK + GUARD + stack;
    errval_t err = paging_reserve(m.size, 4096, 0, &m.base);
    if (err_is_fail(err))
        return err_push(err, THREAD_ERR_STACK);
    m.exc_lo = m.base + GUARD;
    m.exc_hi = m.exc_lo + THREAD_EXC_STACK;
    m.stack_lo = m.exc_hi + GUARD;
    m.stack_hi = m.stack_lo + stack;
    err = map_stacks(&m);
    if (err_is_fail(err)) {
        paging_free(m.base, m.size);
        return err_push(err, THREAD_ERR_STACK);
    }
    *out = m;
    return SYS_ERR_OK;
}

errval_t thread_mem_free(const struct thread_mem *mem)
{
    if (put_cached(mem))
        return SYS_ERR_OK;
    errval_t err = paging_unmap_free(mem->stack_lo, mem->stack_hi - mem->stack_lo);
    if (err_is_ok(err))
        err = paging_unmap_free(mem->exc_lo, mem->exc_hi - mem->exc_lo);
    if (err_is_ok(err))
        err = paging_free(mem->base, mem->size);
    return err;
}

const char *thread_mem_guard(const struct thread_mem *mem, uint64_t addr)
{
    if (mem->size == 0)
        return NULL;
    if (addr >= mem->base && addr < mem->exc_lo)
        return "exception stack";
    if (addr >= mem->exc_hi && addr < mem->stack_lo)
        return "stack";
    return NULL;
}
