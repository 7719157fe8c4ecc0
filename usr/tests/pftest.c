/*
 * pftest.c — page faults delivered to the process and resolved by it.
 *
 * Run as the first program (init=pftest) so it has RAM. It sets up the
 * tables for 2 MiB at 32 TiB, treats the first 1 MiB as a reserved region,
 * and registers a fault handler that backs a faulting page of that region
 * with a fresh frame. Then it touches pages there: each first touch faults,
 * the handler maps a zeroed frame, the touch is retried. fault=<kind> then
 * provokes the faults that must end the process instead:
 *   outside    a read outside the reserved region
 *   readonly   a write to a page mapped read-only
 *   handler    a fault inside the handler itself (the library reports it)
 *   upcall     an upcall entry that is not mapped: the fault happens in the
 *              upcall, and the kernel stops the process
 * mode=resume backs the pages from a fast handler (in the upcall) whose
 * last step is a map that also resumes (VNODE_MAP_RESUME), and checks that
 * bad such maps come back with their error, in the upcall and outside it,
 * having mapped nothing.
 */
#include <stdio.h>
#include <string.h>

#include "cap.h"
#include "exception.h"
#include "os.h"
#include "ram.h"
#include "slots.h"
#include "syscall.h"

#define REGION      0x200000000000ull     /* 32 TiB: level-0 entry 64 */
#define REGION_SIZE (1u << 20)
#define PAGES       (REGION_SIZE / 4096)

static struct capref l3;
static unsigned faults_handled;
static volatile bool fault_in_handler;   /* set by main, read in the handler */
static volatile uintptr_t unmapped_address = 8;   /* volatile: not a provable NULL dereference */

static errval_t new_object(enum objtype type, uint64_t bytes, struct capref *out)
{
    return ram_new_object(type, bytes, 4096, out, NULL);
}

static errval_t link(struct capref parent, unsigned entry, struct capref child)
{
    struct capref mapping;
    errval_t err = os_slot_alloc(&mapping);
    return err_is_ok(err) ? vnode_map(parent, entry, child, 0, 0, 1, mapping) : err;
}

/* L1, L2 and L3 tables under level-0 entry 64: the region's 2 MiB. */
static errval_t build_tables(void)
{
    struct capref l1, l2;
    errval_t err = new_object(OBJ_VNODE_L1, 4096, &l1);
    if (err_is_ok(err)) err = new_object(OBJ_VNODE_L2, 4096, &l2);
    if (err_is_ok(err)) err = new_object(OBJ_VNODE_L3, 4096, &l3);
    if (err_is_ok(err)) err = link(capref_l2(ROOTCN_SLOT_PAGECN, 0), REGION >> 39, l1);
    if (err_is_ok(err)) err = link(l1, 0, l2);
    if (err_is_ok(err)) err = link(l2, 0, l3);
    return err;
}

static errval_t map_page(uint64_t va, uint8_t rights)
{
    struct capref frame, mapping;
    errval_t err = new_object(OBJ_FRAME, 4096, &frame);
    if (err_is_ok(err))
        err = os_slot_alloc(&mapping);
    return err_is_ok(err) ? vnode_map(l3, (va - REGION) >> 12, frame, rights, 0, 1, mapping) : err;
}

static bool on_fault(const struct os_fault *f)
{
    if (fault_in_handler)
        (void)*(volatile int *)unmapped_address;
    if (f->addr < REGION || f->addr >= REGION + REGION_SIZE || !os_fault_is_translation(f->esr))
        return false;
    errval_t err = map_page(f->addr & ~0xfffull, CAPRIGHTS_RW);
    if (err_is_fail(err)) {
        DEBUG_ERR(err, "pftest: backing a page");
        return false;
    }
    faults_handled++;
    return true;
}

/* mode=resume: bad maps that came back with the expected error. */
static unsigned resume_refused;

/* Two bad map-resumes in the upcall must return their error, map nothing
 * and leave the upcall going: rights beyond CAPRIGHTS_ALL, and the entry
 * of the page the last fault backed. */
static void try_bad_resumes(unsigned entry, struct capref frame, struct capref mapping)
{
    resume_refused += vnode_map_resume(l3, entry, frame, 0x10, mapping) == CAP_ERR_MAP_RIGHTS;
    resume_refused += vnode_map_resume(l3, entry - 4, frame, CAPRIGHTS_RW, mapping) == CAP_ERR_VNODE_IN_USE;
}

/* The fast handler of mode=resume: the map that resumes the touch is its
 * last action, so it returns only if that failed. */
static bool on_fault_resume(const struct os_fault *f)
{
    if (f->addr < REGION || f->addr >= REGION + REGION_SIZE || !os_fault_is_translation(f->esr))
        return false;
    struct capref frame, mapping;
    errval_t err = new_object(OBJ_FRAME, 4096, &frame);
    if (err_is_ok(err))
        err = os_slot_alloc(&mapping);
    unsigned entry = (unsigned)((f->addr - REGION) >> 12);
    if (err_is_ok(err) && faults_handled == 1)
        try_bad_resumes(entry, frame, mapping);
    faults_handled++;
    if (err_is_ok(err))
        err = vnode_map_resume(l3, entry, frame, CAPRIGHTS_RW, mapping);
    faults_handled--;
    DEBUG_ERR(err, "pftest: map-resume failed");
    return false;
}

/* Outside an upcall the map-resume is refused before anything is mapped:
 * an ordinary map of the same page into the same slot then succeeds. */
static bool resume_outside_upcall_refused(void)
{
    struct capref frame, mapping;
    errval_t err = new_object(OBJ_FRAME, 4096, &frame);
    if (err_is_ok(err))
        err = os_slot_alloc(&mapping);
    if (err_is_fail(err))
        return false;
    errval_t refused = vnode_map_resume(l3, PAGES - 1, frame, CAPRIGHTS_RW, mapping);
    err = vnode_map(l3, PAGES - 1, frame, CAPRIGHTS_RW, 0, 1, mapping);
    return refused == SYS_ERR_NOT_IN_UPCALL && err_is_ok(err);
}

static int check_resume(void)
{
    unsigned fixed = (unsigned)os_fault_counts().fixed_in_upcall;
    bool outside = resume_outside_upcall_refused();
    printf("pftest: map-resume: %u faults fixed in the upcall, %u bad maps refused there, "
           "outside an upcall %s\n", fixed, resume_refused, outside ? "refused, nothing mapped" : "FAILED");
    return fixed != faults_handled || resume_refused != 2 || !outside;
}

static int touch_pages(void)
{
    unsigned bad = 0, touched = 0;
    for (unsigned i = 0; i < PAGES; i += 4, touched++) {
        volatile uint64_t *p = (volatile uint64_t *)(REGION + i * 4096ull + 8 * (i % 16));
        bad += *p != 0;
        *p = 0x5a5a0000ull + i;
    }
    for (unsigned i = 0; i < PAGES; i += 4)
        bad += *(volatile uint64_t *)(REGION + i * 4096ull + 8 * (i % 16)) != 0x5a5a0000ull + i;
    printf("pftest: touched %u pages, %u faults handled, %u wrong values\n", touched, faults_handled, bad);
    return bad != 0 || faults_handled != touched;
}

int main(void)
{
    char kind[16], mode[16];
    bool resume = os_getarg("mode", mode, sizeof mode) != NULL && strcmp(mode, "resume") == 0;
    errval_t err = ram_init_from_memcn();
    if (err_is_ok(err)) err = build_tables();
    if (err_is_ok(err)) err = resume ? os_exception_set_fast(on_fault_resume) : os_exception_set(on_fault);
    if (err_is_fail(err)) {
        DEBUG_ERR(err, "pftest: setting up");
        return 1;
    }
    if (touch_pages() != 0 || (resume && check_resume() != 0))
        return 1;
    if (os_getarg("fault", kind, sizeof kind) == NULL)
        return 0;
    printf("pftest: now a fault that must end the process (%s)\n", kind);
    if (strcmp(kind, "outside") == 0)
        return (int)*(volatile uint64_t *)(REGION + 2 * REGION_SIZE - 8);
    if (strcmp(kind, "readonly") == 0) {
        map_page(REGION + REGION_SIZE - 4096, CAPRIGHTS_READ);
        *(volatile uint64_t *)(REGION + REGION_SIZE - 4096) = 1;
    }
    if (strcmp(kind, "upcall") == 0) {
        static struct upcall_ctx save;
        static uint8_t stack[4096] __attribute__((aligned(16)));
        err = sys_upcall_set(0x1000, (uint64_t)(stack + sizeof stack), &save);
        if (err_is_fail(err))
            DEBUG_ERR(err, "pftest: setting a bad upcall");
        return (int)*(volatile uint64_t *)(REGION + 2 * REGION_SIZE - 8);
    }
    if (strcmp(kind, "handler") == 0) {
        fault_in_handler = true;
        return (int)*(volatile uint64_t *)(REGION + REGION_SIZE - 8192);
    }
    printf("pftest: FAILED: still running\n");
    return 1;
}
