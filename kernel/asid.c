/*
 * asid.c — a bitmap of the 2^16 ASIDs (asid.h), searched from where the
 * last search ended, so that a freed ASID is reused as late as possible.
 */
#include "asid.h"

#include "panic.h"

#define ASID_COUNT 65536u
#define WORD_BITS  64u

static uint64_t used[ASID_COUNT / WORD_BITS] = { 1 };      /* ASID 0: never */
static uint32_t cursor;         /* the word the next search starts at */

static void flush_asid(uint16_t asid)
{
    __asm__ volatile("dsb ishst; tlbi aside1is, %0; dsb ish; isb"
                     :: "r"((uint64_t)asid << 48) : "memory");
}

errval_t asid_alloc(uint16_t *asid)
{
    const uint32_t words = ASID_COUNT / WORD_BITS;
    for (uint32_t n = 0; n < words; n++) {
        uint32_t w = (cursor + n) % words;
        if (used[w] == UINT64_MAX)
            continue;
        unsigned bit = (unsigned)__builtin_ctzll(~used[w]);
        used[w] |= 1ull << bit;
        cursor = w;
        *asid = (uint16_t)(w * WORD_BITS + bit);
        flush_asid(*asid);
        return SYS_ERR_OK;
    }
    return KERN_ERR_NO_ASID;
}

void asid_free(uint16_t asid)
{
    if (asid == 0)
        return;
    kassert(used[asid / WORD_BITS] & (1ull << (asid % WORD_BITS)), "a freed ASID was in use");
    used[asid / WORD_BITS] &= ~(1ull << (asid % WORD_BITS));
}
