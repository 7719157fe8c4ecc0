/*
 * test_slot_alloc.c — the slot allocator (lib/os/slot_alloc.c) against a
 * fake CSpace: its callbacks record the CNodes created and the root CNode's
 * growth, check the scratch slot they are given, and can be told to fail.
 * Every slot handed out is checked against the set of slots the test holds,
 * so no test can get a slot twice without failing.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "os/slot_alloc.h"

/* Any code will do for a failing callback; this one reads like the memory
 * server running out of RAM. */
#define FAKE_ERR KERN_ERR_NO_MEMORY

#define FAKE_MAX_L1 16384

static struct slot_allocator sa;

static struct {
    uint32_t l1_slots;
    bool cnode_at[FAKE_MAX_L1];         /* an L2 CNode is in this root slot */
    uint8_t held[FAKE_MAX_L1 * L2_CNODE_SLOTS];    /* the test holds this slot */
    size_t nheld;
    uint32_t created[FAKE_MAX_L1];      /* new_cnode's L1 indices, in order */
    size_t ncreated;
    uint32_t grows[32];                 /* grow_l1's sizes, in order */
    size_t ngrows;
    bool fail_new_cnode, fail_grow;
    bool in_callback;
    capaddr_t scratch;                  /* during new_cnode */
    unsigned nested_allocs;             /* slot_alloc calls new_cnode makes */
    unsigned record_refills;
    bool record_refill_allocates;       /* record_refill takes a slot too */
    /* The lock hook's state. */
    bool locked;
    unsigned acquires;
} fake;

static void fake_lock(void *arg)
{
    cr_assert_eq(arg, &fake);
    cr_assert_not(fake.locked, "the allocator never takes its lock twice");
    fake.locked = true;
    fake.acquires++;
}

static void fake_unlock(void *arg)
{
    cr_assert_eq(arg, &fake);
    cr_assert(fake.locked);
    fake.locked = false;
}

/* Take a slot and check it against the fake CSpace and the held set. */
static capaddr_t take(void)
{
    capaddr_t slot;
    errval_t err = slot_alloc(&sa, &slot);
    cr_assert(err_is_ok(err), "slot_alloc failed: %s", err_getcode(err_no(err)));
    cr_assert_lt(capaddr_l1(slot), FAKE_MAX_L1);
    cr_assert(fake.cnode_at[capaddr_l1(slot)], "slot %#x is in no CNode", slot);
    cr_assert_not(fake.held[slot], "slot %#x handed out twice", slot);
    cr_assert(!fake.in_callback || slot != fake.scratch, "the scratch slot was handed out");
    fake.held[slot] = 1;
    fake.nheld++;
    return slot;
}

static void give(capaddr_t slot)
{
    cr_assert(fake.held[slot]);
    cr_assert(err_is_ok(slot_free(&sa, slot)));
    fake.held[slot] = 0;
    fake.nheld--;
}

static errval_t fake_new_cnode(void *arg, uint32_t l1_index, capaddr_t scratch)
{
    cr_assert_eq(arg, &fake);
    cr_assert_not(fake.locked, "new_cnode runs without the lock");
    cr_assert_lt(l1_index, fake.l1_slots, "the L1 index is inside the root CNode");
    cr_assert_geq(l1_index, ROOTCN_SLOTS_USER);
    cr_assert_not(fake.cnode_at[l1_index], "root slot %u is empty", l1_index);
    cr_assert(fake.cnode_at[capaddr_l1(scratch)], "the scratch slot is in a CNode");
    cr_assert_not(fake.held[scratch], "the scratch slot is not held by anyone");
    if (fake.fail_new_cnode)
        return FAKE_ERR;

    fake.in_callback = true;
    fake.scratch = scratch;
    capaddr_t nested[4];
    for (unsigned i = 0; i < fake.nested_allocs; i++)
        nested[i] = take();
    for (unsigned i = 0; i < fake.nested_allocs; i++)
        give(nested[i]);
    fake.in_callback = false;

    fake.cnode_at[l1_index] = true;
    fake.created[fake.ncreated++] = l1_index;
    return SYS_ERR_OK;
}

static errval_t fake_grow_l1(void *arg, uint32_t new_l1_slots)
{
    cr_assert_eq(arg, &fake);
    cr_assert_not(fake.locked, "grow_l1 runs without the lock");
    cr_assert_eq(new_l1_slots, fake.l1_slots * 2, "the root CNode doubles");
    if (fake.fail_grow)
        return FAKE_ERR;
    cr_assert_leq(new_l1_slots, FAKE_MAX_L1);
    fake.l1_slots = new_l1_slots;
    fake.grows[fake.ngrows++] = new_l1_slots;
    return SYS_ERR_OK;
}

/* The OS maps a page for the records; here, an aligned heap block. */
static errval_t fake_record_refill(struct slab_allocator *slab, void *arg)
{
    cr_assert_eq(arg, &fake);
    cr_assert_not(fake.locked, "the record refill runs without the lock");
    fake.record_refills++;
    capaddr_t frame = 0;
    if (fake.record_refill_allocates)
        frame = take();         /* the frame capability of the new page */
    void *page = aligned_alloc(4096, 4096);
    cr_assert_not_null(page);
    if (fake.record_refill_allocates)
        give(frame);
    return slab_grow(slab, page, 4096);
}

static const uint32_t initial_cnodes[] = { ROOTCN_SLOT_SLOT_ALLOC0, ROOTCN_SLOT_SLOT_ALLOC1 };

/* The usual configuration: two initial CNodes, a root CNode of 32 slots. */
static struct slot_alloc_config usual_config(void)
{
    return (struct slot_alloc_config){
        .cnodes = initial_cnodes,
        .ncnodes = 2,
        .l1_slots = L1_CNODE_INITIAL_SLOTS,
        .first_free_l1 = ROOTCN_SLOTS_USER,
        .new_cnode = fake_new_cnode,
        .grow_l1 = fake_grow_l1,
        .arg = &fake,
        .record_refill = fake_record_refill,
        .record_refill_arg = &fake,
    };
}

/* Start the allocator and the fake CSpace with the same configuration. */
static void start(const struct slot_alloc_config *cfg)
{
    fake.l1_slots = cfg->l1_slots;
    for (size_t i = 0; i < cfg->ncnodes; i++)
        fake.cnode_at[cfg->cnodes[i]] = true;
    errval_t err = slot_alloc_init(&sa, cfg);
    cr_assert(err_is_ok(err), "init failed: %s", err_getcode(err_no(err)));
    struct alloc_lock lock = { fake_lock, fake_unlock, &fake };
    slot_alloc_set_lock(&sa, &lock);
}

static void start_usual(void)
{
    struct slot_alloc_config cfg = usual_config();
    start(&cfg);
}

/* Everything a failed call must leave as it was. */
struct snapshot {
    size_t nfree, ncnodes, records_free;
    uint32_t next_l1, l1_slots;
    bool refilling;
};

static struct snapshot snap(void)
{
    return (struct snapshot){
        .nfree = slot_alloc_freecount(&sa),
        .ncnodes = sa.ncnodes,
        .records_free = slab_freecount(&sa.records),
        .next_l1 = sa.next_l1,
        .l1_slots = sa.l1_slots,
        .refilling = sa.refilling,
    };
}

static void assert_unchanged(struct snapshot before)
{
    struct snapshot now = snap();
    cr_assert_eq(now.nfree, before.nfree, "free slots");
    cr_assert_eq(now.ncnodes, before.ncnodes, "CNodes");
    cr_assert_eq(now.records_free, before.records_free, "free records");
    cr_assert_eq(now.next_l1, before.next_l1, "next L1 index");
    cr_assert_eq(now.l1_slots, before.l1_slots, "root CNode size");
    cr_assert_not(now.refilling);
}

/* Free slots the allocator should have: all slots of its CNodes but those
 * the test holds. */
static void assert_freecount_matches_the_model(void)
{
    cr_assert_eq(slot_alloc_freecount(&sa), sa.ncnodes * L2_CNODE_SLOTS - fake.nheld);
}

static void reset(void)
{
    memset(&fake, 0, sizeof fake);
}

TestSuite(slot_alloc, .init = reset);

/* ---- Initialisation. ---- */

Test(slot_alloc, init_refuses_bad_configurations)
{
    struct slot_alloc_config cfg = usual_config();
    cfg.ncnodes = 0;
    cr_assert_eq(slot_alloc_init(&sa, &cfg), LIB_ERR_SLOT_INIT, "no CNode");

    const uint32_t too_many[SLOT_ALLOC_MAX_INITIAL + 1] = { 1, 2, 3, 4, 5 };
    cfg = usual_config();
    cfg.cnodes = too_many;
    cfg.ncnodes = SLOT_ALLOC_MAX_INITIAL + 1;
    cr_assert_eq(slot_alloc_init(&sa, &cfg), LIB_ERR_SLOT_INIT, "too many CNodes");

    const uint32_t twice[] = { 2, 2 };
    cfg = usual_config();
    cfg.cnodes = twice;
    cr_assert_eq(slot_alloc_init(&sa, &cfg), LIB_ERR_SLOT_INIT, "the same CNode twice");

    const uint32_t in_free_range[] = { 2, ROOTCN_SLOTS_USER };
    cfg = usual_config();
    cfg.cnodes = in_free_range;
    cr_assert_eq(slot_alloc_init(&sa, &cfg), LIB_ERR_SLOT_INIT, "a CNode in the free L1 range");

    cfg = usual_config();
    cfg.first_free_l1 = cfg.l1_slots + 1;
    cr_assert_eq(slot_alloc_init(&sa, &cfg), LIB_ERR_SLOT_INIT, "free range past the root CNode");

    cfg = usual_config();
    cfg.l1_slots = SLOT_ALLOC_MAX_L1_SLOTS + 1;
    cr_assert_eq(slot_alloc_init(&sa, &cfg), LIB_ERR_SLOT_INIT, "root CNode too large");
}

Test(slot_alloc, initial_cnodes_give_all_their_slots_and_then_run_out)
{
    struct slot_alloc_config cfg = usual_config();
    cfg.new_cnode = NULL;       /* no refill */
    start(&cfg);
    cr_assert_eq(slot_alloc_freecount(&sa), 2 * L2_CNODE_SLOTS);
    for (unsigned i = 0; i < 2 * L2_CNODE_SLOTS; i++) {
        capaddr_t slot = take();
        uint32_t l1 = capaddr_l1(slot);
        cr_assert(l1 == ROOTCN_SLOT_SLOT_ALLOC0 || l1 == ROOTCN_SLOT_SLOT_ALLOC1);
    }
    capaddr_t slot = 0x1234;
    cr_assert_eq(slot_alloc(&sa, &slot), LIB_ERR_SLOT_ALLOC_EMPTY);
    cr_assert_eq(slot, 0x1234, "no slot written on failure");
    cr_assert_eq(slot_alloc_freecount(&sa), 0);
    /* Every slot of both CNodes, each once (take() checked "once"). */
    cr_assert_eq(fake.nheld, 2 * L2_CNODE_SLOTS);
}

/* ---- Refill. ---- */

Test(slot_alloc, refill_happens_when_fewer_than_the_threshold_are_free)
{
    start_usual();
    unsigned before = 2 * L2_CNODE_SLOTS - SLOT_ALLOC_REFILL_THRESHOLD;
    for (unsigned i = 0; i < before + 1; i++)
        take();
    cr_assert_eq(fake.ncreated, 0, "%d free before the last: not yet", SLOT_ALLOC_REFILL_THRESHOLD);
    take();
    cr_assert_eq(fake.ncreated, 1, "%d free: the allocation refilled first",
                 SLOT_ALLOC_REFILL_THRESHOLD - 1);
    cr_assert_eq(fake.created[0], ROOTCN_SLOTS_USER);
    cr_assert_eq(sa.ncnodes, 3);
    cr_assert_eq(slot_alloc_freecount(&sa), SLOT_ALLOC_REFILL_THRESHOLD - 2 + L2_CNODE_SLOTS);
    assert_freecount_matches_the_model();
}

Test(slot_alloc, refill_adds_cnodes_at_increasing_l1_indices_whose_slots_all_become_available)
{
    start_usual();
    unsigned total = 7 * L2_CNODE_SLOTS;
    unsigned per_l1[FAKE_MAX_L1] = { 0 };
    for (unsigned i = 0; i < total; i++)
        per_l1[capaddr_l1(take())]++;
    cr_assert_eq(fake.ncreated, 5 + 1, "5 CNodes to give them all, and one more below the threshold");
    for (size_t i = 0; i < fake.ncreated; i++)
        cr_assert_eq(fake.created[i], ROOTCN_SLOTS_USER + i);
    for (uint32_t l1 = ROOTCN_SLOTS_USER; l1 < ROOTCN_SLOTS_USER + 5; l1++)
        cr_assert_eq(per_l1[l1], L2_CNODE_SLOTS, "every slot of CNode %u", l1);
    cr_assert_eq(fake.ngrows, 0);
    assert_freecount_matches_the_model();
}

Test(slot_alloc, full_root_cnode_is_doubled_before_the_next_cnode)
{
    struct slot_alloc_config cfg = usual_config();
    cfg.l1_slots = ROOTCN_SLOTS_USER + 2;
    start(&cfg);
    while (fake.ncreated < 3)
        take();
    cr_assert_eq(fake.ngrows, 1);
    cr_assert_eq(fake.grows[0], 2 * (ROOTCN_SLOTS_USER + 2));
    cr_assert_eq(sa.l1_slots, 2 * (ROOTCN_SLOTS_USER + 2));
    cr_assert_eq(fake.created[2], ROOTCN_SLOTS_USER + 2, "the first slot of the new part");
    while (fake.ncreated < 2 * (ROOTCN_SLOTS_USER + 2) - ROOTCN_SLOTS_USER + 1)
        take();
    cr_assert_eq(fake.ngrows, 2, "and doubled again when that is full");
    assert_freecount_matches_the_model();
}

Test(slot_alloc, root_cnode_that_cannot_grow_fails_the_refill_and_changes_nothing)
{
    struct slot_alloc_config cfg = usual_config();
    cfg.l1_slots = ROOTCN_SLOTS_USER + 1;
    cfg.grow_l1 = NULL;
    start(&cfg);
    while (fake.ncreated < 1)
        take();
    while (slot_alloc_freecount(&sa) >= SLOT_ALLOC_REFILL_THRESHOLD)
        take();
    struct snapshot before = snap();
    capaddr_t slot;
    errval_t err = slot_alloc(&sa, &slot);
    cr_assert_eq(err_no(err), LIB_ERR_SLOT_REFILL);
    cr_assert_eq(err_code_at(err, 1), LIB_ERR_SLOT_L1_FULL);
    assert_unchanged(before);
}

Test(slot_alloc, scratch_slot_is_free_during_the_refill_and_free_again_after)
{
    start_usual();
    while (fake.ncreated == 0)
        take();
    /* fake_new_cnode checked that the scratch slot was in a CNode and not
     * held; now it must be free again. */
    cr_assert_eq(slot_free(&sa, fake.scratch), LIB_ERR_SLOT_NOT_ALLOCATED);
    assert_freecount_matches_the_model();
}

Test(slot_alloc, callbacks_may_allocate_and_free_slots_without_starting_another_refill)
{
    start_usual();
    fake.nested_allocs = 4;
    while (fake.ncreated < 3)
        take();
    cr_assert_eq(sa.ncnodes, 2 + 3, "one CNode per refill, none from nested calls");
    cr_assert_not(sa.refilling);
    assert_freecount_matches_the_model();
}

Test(slot_alloc, lock_is_released_for_every_callback)
{
    start_usual();
    fake.record_refill_allocates = true;
    while (fake.ncreated < 30)
        take();
    cr_assert_gt(fake.record_refills, 0);
    cr_assert_not(fake.locked);
    cr_assert_gt(fake.acquires, fake.nheld);
}

/* ---- Failing refills. ---- */

/* Take slots until the next allocation will refill. */
static void drain_to_threshold(void)
{
    while (slot_alloc_freecount(&sa) >= SLOT_ALLOC_REFILL_THRESHOLD)
        take();
}

Test(slot_alloc, failing_new_cnode_leaves_the_allocator_unchanged_and_usable)
{
    start_usual();
    drain_to_threshold();
    fake.fail_new_cnode = true;
    struct snapshot before = snap();
    capaddr_t slot = 0x1234;
    errval_t err = slot_alloc(&sa, &slot);
    cr_assert_eq(err_no(err), LIB_ERR_SLOT_REFILL);
    cr_assert(err_contains(err, FAKE_ERR), "the callback's error is in the chain");
    cr_assert_eq(slot, 0x1234);
    assert_unchanged(before);
    cr_assert_eq(fake.ncreated, 0);

    /* Frees still work, and the next refill goes where the failed one would have. */
    capaddr_t held = 0;
    for (capaddr_t s = 0; s < sizeof fake.held; s++) {
        if (fake.held[s]) {
            held = s;
            break;
        }
    }
    give(held);
    fake.fail_new_cnode = false;
    take();
    take();
    cr_assert_eq(fake.ncreated, 1);
    cr_assert_eq(fake.created[0], ROOTCN_SLOTS_USER);
    assert_freecount_matches_the_model();
}

Test(slot_alloc, failing_grow_l1_leaves_the_allocator_unchanged)
{
    struct slot_alloc_config cfg = usual_config();
    cfg.l1_slots = ROOTCN_SLOTS_USER;
    start(&cfg);
    drain_to_threshold();
    fake.fail_grow = true;
    struct snapshot before = snap();
    capaddr_t slot;
    errval_t err = slot_alloc(&sa, &slot);
    cr_assert_eq(err_no(err), LIB_ERR_SLOT_REFILL);
    cr_assert_eq(err_code_at(err, 1), FAKE_ERR);
    assert_unchanged(before);
    fake.fail_grow = false;
    take();
    cr_assert_eq(fake.ngrows, 1);
    cr_assert_eq(fake.created[0], ROOTCN_SLOTS_USER);
}

Test(slot_alloc, failing_new_cnode_after_the_root_grew_keeps_the_larger_root)
{
    struct slot_alloc_config cfg = usual_config();
    cfg.l1_slots = ROOTCN_SLOTS_USER;
    start(&cfg);
    drain_to_threshold();
    fake.fail_new_cnode = true;
    struct snapshot before = snap();
    capaddr_t slot;
    cr_assert_eq(err_no(slot_alloc(&sa, &slot)), LIB_ERR_SLOT_REFILL);
    /* The root CNode really did grow; all else is as before. */
    before.l1_slots = 2 * ROOTCN_SLOTS_USER;
    assert_unchanged(before);
    fake.fail_new_cnode = false;
    take();
    cr_assert_eq(fake.ngrows, 1, "not grown a second time");
    cr_assert_eq(fake.created[0], ROOTCN_SLOTS_USER);
}

Test(slot_alloc, running_out_of_records_without_a_record_refill_fails_cleanly)
{
    struct slot_alloc_config cfg = usual_config();
    cfg.record_refill = NULL;
    cfg.l1_slots = 1024;
    start(&cfg);
    errval_t err;
    struct snapshot before;
    do {
        before = snap();
        capaddr_t slot;
        err = slot_alloc(&sa, &slot);
        if (err_is_ok(err)) {
            fake.held[slot] = 1;
            fake.nheld++;
        }
    } while (err_is_ok(err));
    cr_assert_eq(err_no(err), LIB_ERR_SLOT_REFILL);
    cr_assert_eq(err_code_at(err, 1), LIB_ERR_SLAB_EMPTY);
    assert_unchanged(before);
    cr_assert_gt(sa.ncnodes, 10, "the inline records served a dozen refills or so");
}

/* ---- Freeing. ---- */

Test(slot_alloc, free_of_a_slot_outside_our_cnodes_fails_and_changes_nothing)
{
    start_usual();
    take();
    struct snapshot before = snap();
    cr_assert_eq(slot_free(&sa, CAP_DISPATCHER), LIB_ERR_SLOT_NOT_MANAGED, "the task CNode");
    cr_assert_eq(slot_free(&sa, capaddr_make(ROOTCN_SLOTS_USER, 0)), LIB_ERR_SLOT_NOT_MANAGED,
                 "an L1 slot we have not filled yet");
    cr_assert_eq(slot_free(&sa, capaddr_make(5000, 7)), LIB_ERR_SLOT_NOT_MANAGED, "beyond the tree");
    cr_assert_eq(slot_free(&sa, 0xffffffffu), LIB_ERR_SLOT_NOT_MANAGED, "the last address");
    assert_unchanged(before);
}

Test(slot_alloc, double_free_fails_and_changes_nothing)
{
    start_usual();
    capaddr_t a = take();
    take();
    give(a);
    struct snapshot before = snap();
    cr_assert_eq(slot_free(&sa, a), LIB_ERR_SLOT_NOT_ALLOCATED);
    assert_unchanged(before);
}

Test(slot_alloc, free_of_a_never_allocated_slot_fails_and_changes_nothing)
{
    start_usual();
    take();
    struct snapshot before = snap();
    cr_assert_eq(slot_free(&sa, capaddr_make(ROOTCN_SLOT_SLOT_ALLOC1, 200)), LIB_ERR_SLOT_NOT_ALLOCATED);
    assert_unchanged(before);
}

Test(slot_alloc, freed_slot_is_handed_out_again)
{
    struct slot_alloc_config cfg = usual_config();
    cfg.new_cnode = NULL;
    start(&cfg);
    for (unsigned i = 0; i < 2 * L2_CNODE_SLOTS; i++)
        take();
    capaddr_t a = capaddr_make(ROOTCN_SLOT_SLOT_ALLOC0, 77);
    give(a);
    cr_assert_eq(take(), a, "the only free slot");
}

Test(slot_alloc, cnodes_at_far_apart_l1_indices_are_all_found)
{
    /* Initial CNodes at 1 and 700, new ones from 4100: the radix tree
     * starts with four levels and grows a fifth. */
    const uint32_t far[] = { 1, 700 };
    struct slot_alloc_config cfg = usual_config();
    cfg.cnodes = far;
    cfg.first_free_l1 = 4100;
    cfg.l1_slots = 4104;
    start(&cfg);
    capaddr_t first[8];
    size_t nfirst = 0;
    while (fake.ncreated < 6) {
        capaddr_t s = take();
        if (capaddr_l2(s) == 3 && nfirst < 8)
            first[nfirst++] = s;
    }
    cr_assert_eq(fake.ngrows, 1);
    cr_assert_eq(fake.created[5], 4105);
    cr_assert_geq(nfirst, 4);
    for (size_t i = 0; i < nfirst; i++)
        give(first[i]);
    cr_assert_eq(slot_free(&sa, capaddr_make(4099, 0)), LIB_ERR_SLOT_NOT_MANAGED);
    cr_assert_eq(slot_free(&sa, capaddr_make(702, 0)), LIB_ERR_SLOT_NOT_MANAGED);
    assert_freecount_matches_the_model();
}

/* ---- Runs of slots (slot_alloc_run). ---- */

/* Take a run and check it: one CNode, consecutive, none held. */
static capaddr_t take_run(uint32_t count)
{
    capaddr_t first;
    errval_t err = slot_alloc_run(&sa, count, &first);
    cr_assert(err_is_ok(err), "slot_alloc_run(%u): %s", count, err_getcode(err_no(err)));
    cr_assert(fake.cnode_at[capaddr_l1(first)]);
    cr_assert_leq(capaddr_l2(first) + count, L2_CNODE_SLOTS, "the run stays in one CNode");
    for (uint32_t i = 0; i < count; i++) {
        cr_assert_not(fake.held[first + i], "slot %#x handed out twice", first + i);
        fake.held[first + i] = 1;
        fake.nheld++;
    }
    return first;
}

Test(slot_alloc, a_run_is_consecutive_free_slots_of_one_cnode_around_ones_in_use)
{
    start_usual();
    for (int i = 0; i < 5; i++)
        take();
    capaddr_t r = take_run(16);
    capaddr_t one = take();
    cr_assert(one < r || one >= r + 16, "a single slot is never inside a run");
    take_run(64);
    cr_assert_eq(capaddr_l2(take_run(64)) % 64, 0, "a run of 64 is a whole bitmap word");
    assert_freecount_matches_the_model();
}

Test(slot_alloc, each_slot_of_a_run_is_freed_on_its_own)
{
    start_usual();
    size_t free0 = slot_alloc_freecount(&sa);
    capaddr_t r = take_run(8);
    cr_assert_eq(slot_alloc_freecount(&sa), free0 - 8);
    for (uint32_t i = 0; i < 8; i++)
        give(r + i);
    cr_assert_eq(slot_alloc_freecount(&sa), free0);
    cr_assert_eq(take_run(8), r, "the same run again");
}

Test(slot_alloc, when_no_cnode_holds_a_run_one_is_added_for_it_if_refills_are_possible)
{
    struct slot_alloc_config cfg = usual_config();
    cfg.new_cnode = NULL;
    start(&cfg);
    /* Every other slot held in both CNodes: 256 free, no run of two. */
    for (unsigned i = 0; i < 2 * L2_CNODE_SLOTS; i++)
        take();
    for (uint32_t i = 0; i < L2_CNODE_SLOTS; i += 2) {
        give(capaddr_make(ROOTCN_SLOT_SLOT_ALLOC0, i));
        give(capaddr_make(ROOTCN_SLOT_SLOT_ALLOC1, i));
    }
    struct snapshot before = snap();
    capaddr_t first;
    cr_assert_eq(slot_alloc_run(&sa, 2, &first), LIB_ERR_SLOT_ALLOC_EMPTY,
                 "without refills there is no run to give");
    assert_unchanged(before);
    sa.new_cnode = fake_new_cnode;      /* refills possible from here */
    capaddr_t r = take_run(2);
    cr_assert_eq(fake.ncreated, 1, "a CNode was added although 256 slots are free");
    cr_assert_eq(capaddr_l1(r), fake.created[0]);
    assert_freecount_matches_the_model();
}

Test(slot_alloc, an_empty_or_too_long_run_is_refused_and_changes_nothing)
{
    start_usual();
    struct snapshot before = snap();
    capaddr_t first;
    cr_assert_eq(slot_alloc_run(&sa, 0, &first), LIB_ERR_SLOT_BAD_RUN);
    cr_assert_eq(slot_alloc_run(&sa, SLOT_RUN_MAX + 1, &first), LIB_ERR_SLOT_BAD_RUN);
    assert_unchanged(before);
}

/* ---- Many slots at once (slot_alloc_many). ---- */

/* Take `count` slots at once and check each: in a CNode, none held. */
static void take_many(size_t count, capaddr_t *slots)
{
    errval_t err = slot_alloc_many(&sa, count, slots);
    cr_assert(err_is_ok(err), "slot_alloc_many(%zu): %s", count, err_getcode(err_no(err)));
    for (size_t i = 0; i < count; i++) {
        cr_assert(fake.cnode_at[capaddr_l1(slots[i])], "slot %#x is in no CNode", slots[i]);
        cr_assert_not(fake.held[slots[i]], "slot %#x handed out twice", slots[i]);
        fake.held[slots[i]] = 1;
        fake.nheld++;
    }
}

/* Both initial CNodes, every slot held, and no refills. */
static void start_full_without_refills(void)
{
    struct slot_alloc_config cfg = usual_config();
    cfg.new_cnode = NULL;
    start(&cfg);
    for (unsigned i = 0; i < 2 * L2_CNODE_SLOTS; i++)
        take();
}

Test(slot_alloc, many_slots_fill_the_holes_that_single_frees_leave)
{
    start_full_without_refills();
    for (uint32_t i = 0; i < 16; i++)
        give(capaddr_make(ROOTCN_SLOT_SLOT_ALLOC0, 2 * i));
    capaddr_t got[16];
    take_many(16, got);
    cr_assert_eq(slot_alloc_freecount(&sa), 0, "the 16 scattered slots, no CNode added");
    assert_freecount_matches_the_model();
}

Test(slot_alloc, many_slots_span_cnodes_and_words)
{
    start_full_without_refills();
    /* Free: slots 60-67 of one CNode (two bitmap words), 3 of the other. */
    for (uint32_t i = 60; i < 68; i++)
        give(capaddr_make(ROOTCN_SLOT_SLOT_ALLOC0, i));
    for (uint32_t i = 0; i < 3; i++)
        give(capaddr_make(ROOTCN_SLOT_SLOT_ALLOC1, 100 + 50 * i));
    capaddr_t got[11];
    take_many(11, got);
    cr_assert_eq(slot_alloc_freecount(&sa), 0);
    capaddr_t none;
    cr_assert_eq(slot_alloc(&sa, &none), LIB_ERR_SLOT_ALLOC_EMPTY, "the counts agree with the bitmaps");
    give(got[4]);
    cr_assert_eq(take(), got[4], "a slot of a batch is freed and taken again like any other");
}

Test(slot_alloc, many_slots_refill_first_when_they_would_go_below_the_threshold)
{
    start_usual();
    unsigned keep = SLOT_ALLOC_REFILL_THRESHOLD + 10;
    for (unsigned i = 0; i < 2 * L2_CNODE_SLOTS - keep; i++)
        take();
    cr_assert_eq(fake.ncreated, 0);
    capaddr_t got[SLOT_MANY_MAX];
    take_many(20, got);
    cr_assert_eq(fake.ncreated, 1, "%u free, 20 wanted: a refill first", keep);
    assert_freecount_matches_the_model();
    for (size_t i = 0; i < 20; i++)
        give(got[i]);
    assert_freecount_matches_the_model();
}

Test(slot_alloc, many_slots_are_all_or_none)
{
    struct slot_alloc_config cfg = usual_config();
    cfg.new_cnode = NULL;
    start(&cfg);
    for (unsigned i = 0; i < 2 * L2_CNODE_SLOTS - 5; i++)
        take();
    struct snapshot before = snap();
    capaddr_t got[8];
    cr_assert_eq(slot_alloc_many(&sa, 8, got), LIB_ERR_SLOT_ALLOC_EMPTY, "5 free, 8 wanted");
    assert_unchanged(before);
    cr_assert_eq(slot_alloc_many(&sa, 0, got), LIB_ERR_SLOT_BAD_RUN);
    cr_assert_eq(slot_alloc_many(&sa, SLOT_MANY_MAX + 1, got), LIB_ERR_SLOT_BAD_RUN);
    assert_unchanged(before);
    take_many(5, got);
    cr_assert_eq(slot_alloc_freecount(&sa), 0);
}

/* ---- A long random run against a set model. ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

#define RAND_MAX_HELD 40000

static capaddr_t held_list[RAND_MAX_HELD];
static size_t nheld_list;

static void random_free(void)
{
    size_t i = rng() % nheld_list;
    give(held_list[i]);
    held_list[i] = held_list[--nheld_list];
}

/* An allocation that the fake CSpace may refuse to refill: then nothing may
 * change. */
static void random_alloc(void)
{
    fake.fail_new_cnode = rng() % 8 == 0;
    struct snapshot before = snap();
    capaddr_t slot;
    errval_t err = slot_alloc(&sa, &slot);
    if (err_is_fail(err)) {
        cr_assert(fake.fail_new_cnode, "only an injected failure may fail");
        cr_assert_eq(err_no(err), LIB_ERR_SLOT_REFILL);
        cr_assert(err_contains(err, FAKE_ERR));
        if (sa.l1_slots != before.l1_slots) {
            /* slot_alloc.h: a root CNode that grow_l1 doubled stays doubled */
            cr_assert_eq(sa.l1_slots, 2 * before.l1_slots);
            before.l1_slots = sa.l1_slots;
        }
        assert_unchanged(before);
        return;
    }
    cr_assert_not(fake.held[slot], "slot %#x handed out twice", slot);
    cr_assert(fake.cnode_at[capaddr_l1(slot)]);
    fake.held[slot] = 1;
    fake.nheld++;
    held_list[nheld_list++] = slot;
}

static void random_bad_free(void)
{
    capaddr_t slot = (capaddr_t)rng() & ((FAKE_MAX_L1 * L2_CNODE_SLOTS) - 1);
    if (fake.held[slot])
        return;
    struct snapshot before = snap();
    errval_t err = slot_free(&sa, slot);
    if (fake.cnode_at[capaddr_l1(slot)])
        cr_assert_eq(err, LIB_ERR_SLOT_NOT_ALLOCATED, "slot %#x", slot);
    else
        cr_assert_eq(err, LIB_ERR_SLOT_NOT_MANAGED, "slot %#x", slot);
    assert_unchanged(before);
}

Test(slot_alloc, random_alloc_and_free_match_a_set_model)
{
    start_usual();
    fake.record_refill_allocates = true;
    rng_state = 0x2545f4914f6cdd1dull;
    for (unsigned op = 0; op < 200000; op++) {
        uint64_t r = rng() % 100;
        /* Phases of growth and shrinkage, so that refills happen again
         * and again and CNodes fill up and empty. */
        bool growing = (op / 20000) % 2 == 0;
        if (r < 2)
            random_bad_free();
        else if (nheld_list == 0 || (nheld_list < RAND_MAX_HELD && r < (growing ? 70 : 30)))
            random_alloc();
        else
            random_free();
        assert_freecount_matches_the_model();
    }
    cr_assert_gt(fake.ncreated, 25, "refills happened again and again (%zu)", fake.ncreated);
    cr_assert_gt(fake.ngrows, 0, "the root CNode grew");
    while (nheld_list > 0)
        random_free();
    cr_assert_eq(slot_alloc_freecount(&sa), sa.ncnodes * L2_CNODE_SLOTS);
}
