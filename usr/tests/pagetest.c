/*
 * pagetest.c — paging in the OS (lib/os/paging.c): lazily backed regions,
 * fixed and anywhere mappings, 2 MiB blocks, one frame mapped many times,
 * unmap with table reclaim, and the bad inputs. Run as init=pagetest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cap.h"
#include "exception.h"
#include "os.h"
#include "ostest.h"
#include "paging.h"
#include "ram.h"
#include "slots.h"

#define KiB 1024ull
#define MiB (1024ull * KiB)
#define TiB (1024ull * 1024 * MiB)

/* Touch every `stride`-th page of a lazily backed region. */
static void test_lazy_region(void)
{
    uint64_t base, before = paging_faults_handled();
    struct os_fault_counts c0 = os_fault_counts();
    expect("reserve 64 MiB anywhere", paging_reserve(64 * MiB, 4096, VREGION_ATTR_RW, &base), SYS_ERR_OK);
    uint64_t m0 = ostest_free_bytes();
    unsigned bad = 0;
    for (uint64_t off = 0; off < 64 * MiB; off += 8 * 4096) {
        volatile uint64_t *p = (volatile uint64_t *)(base + off);
        bad += *p != 0;
        *p = off;
    }
    for (uint64_t off = 0; off < 64 * MiB; off += 8 * 4096)
        bad += *(volatile uint64_t *)(base + off) != off;
    uint64_t m1 = ostest_free_bytes();
    check("2,048 pages at a stride of 8 read zero, then what was written", bad == 0);
    check("exactly the touched pages were backed (one fault each)", paging_faults_handled() - before == 2048);
    struct os_fault_counts c1 = os_fault_counts();
    check("with no mutex held, every fault was fixed in the upcall",
          c1.fixed_in_upcall - c0.fixed_in_upcall == 2048 && c1.fixed_in_thread == c0.fixed_in_thread);
    /* Besides the pages: a few page tables, and CNodes for the 4,096 new
     * capabilities (frame and mapping per page) at 16 KiB per 256. */
    check("memory used: the 2,048 pages, plus page tables and CNodes (under 128 pages)",
          m0 - m1 >= 2048 * 4096 && m0 - m1 < (2048 + 128) * 4096);
}

/* The heap: malloc(256 MiB) is one lazily backed region; touching 2,048
 * pages at a stride of 8 backs exactly those, and free gives them back.
 * Returns the pages given back. */
static uint64_t malloc_touch_free(bool report)
{
    uint64_t faults = paging_faults_handled(), given = paging_pages_given_back();
    uint64_t t0 = os_cycles();
    uint8_t *p = malloc(256 * MiB);
    uint64_t took = os_cycles() - t0;
    if (report)
        check("malloc(256 MiB) succeeds", p != NULL);
    if (p == NULL)
        return 0;
    unsigned bad = 0;
    for (uint64_t off = 0; off < 2048 * 8 * 4096; off += 8 * 4096) {
        bad += p[off + 100] != 0;
        p[off + 100] = (uint8_t)(off >> 15);
    }
    for (uint64_t off = 0; off < 2048 * 8 * 4096; off += 8 * 4096)
        bad += p[off + 100] != (uint8_t)(off >> 15);
    uint64_t backed = paging_faults_handled() - faults;
    free(p);
    if (report) {
        printf("pagetest: malloc(256 MiB) took %llu cycles; %llu pages backed\n", (unsigned long long)took,
               (unsigned long long)backed);
        check("2,048 heap pages at a stride of 8 read zero, then what was written", bad == 0);
        check("exactly those 2,048 pages were backed", backed == 2048);
    }
    return paging_pages_given_back() - given;
}

static void test_malloc_256m(void)
{
    free(malloc(1));                /* the heap's first use */
    uint64_t m0 = ostest_free_bytes();
    uint64_t given = malloc_touch_free(true);
    uint64_t m1 = ostest_free_bytes();
    check("free gives all 2,048 back", given == 2048);
    printf("pagetest: after free: %llu bytes less free memory (slot allocator CNodes)\n",
           (unsigned long long)(m0 - m1));
    check("free memory is back where it was, but for the slot allocator's new CNodes (under 128 pages)",
          m1 <= m0 && m0 - m1 < 128 * 4096);
    given = malloc_touch_free(false);
    uint64_t m2 = ostest_free_bytes();
    check("a second malloc/touch/free cycle gives back every byte it took", given == 2048 && m2 == m1);
}

/* lib/os/memory.c: every length 0-100 at every offset 0-7, and overlapping
 * moves both ways, against a byte-by-byte model. */
static void test_mem_functions(void)
{
    static uint8_t a[256], b[256], model[256];
    unsigned bad = 0;
    for (unsigned off = 0; off < 8; off++)
        for (unsigned len = 0; len <= 100; len++) {
            for (unsigned i = 0; i < 256; i++)
                a[i] = (uint8_t)(i * 7 + 1), b[i] = model[i] = 0;
            memcpy(b + off, a + (7 - off), len);
            for (unsigned i = 0; i < len; i++)
                model[off + i] = a[7 - off + i];
            bad += memcmp(b, model, sizeof b) != 0;
            memset(b + off, 0x5a, len);
            for (unsigned i = 0; i < len; i++)
                model[off + i] = 0x5a;
            bad += memcmp(b, model, sizeof b) != 0;
            memcpy(model, a, sizeof a);
            memmove(a + off + 3, a + off, len);        /* overlapping, forward in memory */
            for (unsigned i = len; i-- > 0;)
                model[off + 3 + i] = model[off + i];
            memmove(a + off, a + off + 5, len);        /* overlapping, backward in memory */
            for (unsigned i = 0; i < len; i++)
                model[off + i] = model[off + 5 + i];
            bad += memcmp(a, model, sizeof a) != 0;
        }
    check("memcpy, memset and overlapping memmove at every length 0-100 and offset 0-7", bad == 0);
}

static volatile size_t huge = SIZE_MAX;    /* volatile: the compiler would refuse the constant */

static void test_malloc_small(void)
{
    enum { N = 4000 };
    static uint8_t *blocks[N];
    unsigned bad = 0;
    for (unsigned i = 0; i < N; i++) {
        size_t size = 1 + (i * 37) % 3000;
        blocks[i] = malloc(size);
        if (blocks[i] == NULL || ((uintptr_t)blocks[i] & 15) != 0)
            bad++;
        else
            memset(blocks[i], (int)(i & 0xff), size);
    }
    for (unsigned i = 0; i < N; i++)
        for (size_t j = 0; blocks[i] != NULL && j < 1 + (i * 37) % 3000; j++)
            bad += blocks[i][j] != (uint8_t)(i & 0xff);
    for (unsigned i = 0; i < N; i++)
        free(blocks[i]);
    check("4,000 blocks of 1-3,000 bytes: 16-byte aligned, contents kept", bad == 0);
    uint8_t *z = calloc(1000, 1000);
    bool zero = z != NULL;
    for (unsigned i = 0; zero && i < 1000 * 1000; i++)
        zero = z[i] == 0;
    check("calloc(1000, 1000) is zero", zero);
    free(z);
    char *r = malloc(10);
    strcpy(r, "minnow");
    r = realloc(r, 100000);
    check("realloc to 100,000 bytes keeps the contents", r != NULL && strcmp(r, "minnow") == 0);
    free(r);
    check("malloc(SIZE_MAX) fails cleanly", malloc(huge) == NULL);
    test_mem_functions();
    check("calloc whose size overflows fails cleanly", calloc(huge / 2, 3) == NULL);
}

static void test_fixed_32tib(void)
{
    volatile uint64_t *p = (volatile uint64_t *)(32 * TiB + 12345 * 8);
    expect("reserve at 32 TiB", paging_reserve_at(32 * TiB, 2 * MiB, VREGION_ATTR_RW), SYS_ERR_OK);
    *p = 42;
    check("a page at 32 TiB is backed on first touch", *p == 42);
    expect("reserve at 32 TiB again", paging_reserve_at(32 * TiB, 4096, VREGION_ATTR_RW), VREGION_ERR_OVERLAP);
}

static void test_big_frame(void)
{
    struct capref frame;
    uint64_t base;
    expect("a 5 MiB frame", ram_new_object(OBJ_FRAME, 5 * MiB, 2 * MiB, &frame, NULL), SYS_ERR_OK);
    expect("map it anywhere", paging_map_frame(frame, 5 * MiB, VREGION_ATTR_RW, &base), SYS_ERR_OK);
    struct pt_lookup_info info;
    check("its first 2 MiB are one block", err_is_ok(pt_lookup(paging_tables(), base, &info)) && info.level == 2);
    bool zero = true;
    for (uint64_t off = 0; off < 5 * MiB; off += 4096)
        zero &= *(volatile uint64_t *)(base + off) == 0;
    check("all of it reads as zero", zero);
    for (uint64_t off = 0; off < 5 * MiB; off += 4096)
        *(volatile uint64_t *)(base + off) = off ^ 0xabcdef;
    bool same = true;
    for (uint64_t off = 0; off < 5 * MiB; off += 4096)
        same &= *(volatile uint64_t *)(base + off) == (off ^ 0xabcdef);
    check("writes read back", same);
    expect("unmap it", paging_unmap(base, 5 * MiB), SYS_ERR_OK);
    expect("unmap it again", paging_unmap(base, 5 * MiB), PT_ERR_NOT_MAPPED);
    expect("map over it again at the same place", paging_map_fixed(base, frame, 5 * MiB, VREGION_ATTR_RW), SYS_ERR_OK);
    check("the data survived in the frame", *(volatile uint64_t *)(base + 4096) == (4096 ^ 0xabcdef));
}

static void test_many_mappings(void)
{
    struct capref frame;
    uint64_t va[17];
    expect("a 4 KiB frame", ram_new_object(OBJ_FRAME, 4096, 4096, &frame, NULL), SYS_ERR_OK);
    bool ok = true;
    for (unsigned i = 0; i < 17; i++)
        ok &= err_is_ok(paging_map_frame(frame, 4096, VREGION_ATTR_RW, &va[i]));
    check("map one frame 17 times", ok);
    *(volatile uint64_t *)va[3] = 0x1717;
    bool seen = true;
    for (unsigned i = 0; i < 17; i++)
        seen &= *(volatile uint64_t *)va[i] == 0x1717;
    check("a write through one mapping is seen in all 17", seen);
    expect("map over an existing mapping", paging_map_fixed(va[0], frame, 4096, VREGION_ATTR_RW), VREGION_ERR_ALREADY_MAPPED);
    expect("a misaligned address", paging_map_fixed(40 * TiB + 100, frame, 4096, VREGION_ATTR_RW), VREGION_ERR_MISALIGNED);
    expect("a non-canonical address", paging_reserve_at(1ull << 48, 4096, VREGION_ATTR_RW), VREGION_ERR_NOT_CANONICAL);
    expect("a misaligned reservation", paging_reserve_at(40 * TiB + 100, 4096, VREGION_ATTR_RW), VREGION_ERR_MISALIGNED);
    struct capref ram;
    ram_alloc(4096, 4096, &ram, NULL);
    uint64_t b;
    expect("a RAM capability is not a frame", paging_map_frame(ram, 4096, VREGION_ATTR_RW, &b), CAP_ERR_MAP_TYPE);
    expect("exhaust the address space", paging_reserve(200 * TiB, 4096, VREGION_ATTR_RW, &b), VREGION_ERR_NO_SPACE);
    uint64_t never;
    paging_reserve(4096, 4096, VREGION_ATTR_RW, &never);
    expect("unmap what was never mapped", paging_unmap(never, 4096), PT_ERR_NOT_MAPPED);
    ok = true;
    for (unsigned i = 0; i < 17; i++)
        ok &= err_is_ok(paging_unmap(va[i], 4096)) && err_is_ok(paging_free(va[i], 4096));
    check("unmap and free all 17", ok && err_is_ok(pt_check(paging_tables())) && vregion_check(paging_regions()));
}

int main(void)
{
    ostest_begin("PAGETEST");
    if (!ostest_start_memory("pagetest"))
        return 1;
    test_lazy_region();
    test_malloc_256m();
    test_malloc_small();
    test_fixed_32tib();
    test_big_frame();
    test_many_mappings();
    return ostest_summary("pagetest");
}
