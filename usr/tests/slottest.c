/*
 * slottest.c — the slot allocator refilling itself in a real CSpace.
 *
 * Run as the first program (init=slottest) so it has RAM: it starts the
 * memory manager and slot allocator as init does, then takes SLOTS slots — far more than
 * the two initial CNodes hold, so the allocator must add L2 CNodes and grow
 * the root CNode — and puts a copy of a capability into each (which fails if
 * a slot is handed out twice or is not empty). Then it frees them all and
 * checks double frees and foreign slots are refused with named errors.
 */
#include <stdio.h>

#include "cap.h"
#include "initcaps.h"
#include "ram.h"
#include "os.h"
#include "slots.h"

#define SLOTS 8000
#define SOURCE capref_l2(ROOTCN_SLOT_TASKCN, TASKCN_SLOTS_USER)    /* the capability copied around */

static struct capref taken[SLOTS];
static unsigned failures;

static void fail(const char *what, errval_t err)
{
    failures++;
    printf("slottest: FAILED: %s\n", what);
    DEBUG_ERR(err, what);
}

static bool take_all(void)
{
    for (unsigned i = 0; i < SLOTS; i++) {
        errval_t err = os_slot_alloc(&taken[i]);
        if (err_is_ok(err))
            err = cap_copy(taken[i], SOURCE);
        if (err_is_fail(err)) {
            fail("allocating and filling a slot", err);
            return false;
        }
    }
    return true;
}

static void give_back(void)
{
    for (unsigned i = 0; i < SLOTS; i++) {
        errval_t err = cap_delete(taken[i]);
        if (err_is_ok(err))
            err = os_slot_free(taken[i]);
        if (err_is_fail(err)) {
            fail("emptying and freeing a slot", err);
            return;
        }
    }
}

int main(void)
{
    struct capref ram;
    uint64_t size;
    errval_t err = initcaps_largest_ram(&ram, &size);
    if (err_is_ok(err))
        err = cap_copy(SOURCE, ram);
    if (err_is_ok(err))
        err = ram_init_from_memcn();
    if (err_is_fail(err)) {
        fail("setting up", err);
        return 1;
    }
    size_t before = slot_alloc_freecount(os_slots());
    if (take_all()) {
        struct capinfo root = { 0 };
        cap_identify(capref_l2(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_ROOTCN), &root);
        printf("slottest: %u slots taken and filled; %llu L2 CNodes managed; root CNode has %llu slots\n",
               SLOTS, (unsigned long long)os_slots()->ncnodes, (unsigned long long)(root.size / 64));
        give_back();
    }
    if (err_no(os_slot_free(taken[0])) != LIB_ERR_SLOT_NOT_ALLOCATED)
        fail("double free is refused", SYS_ERR_OK);
    if (err_no(os_slot_free(capref_l2(ROOTCN_SLOT_TASKCN, 3))) != LIB_ERR_SLOT_NOT_MANAGED)
        fail("freeing a slot the allocator does not manage is refused", SYS_ERR_OK);
    size_t after = slot_alloc_freecount(os_slots());
    printf("slottest: free slots %llu before, %llu after (new CNodes add theirs); %u failures\n",
           (unsigned long long)before, (unsigned long long)after, failures);
    return failures != 0;
}
