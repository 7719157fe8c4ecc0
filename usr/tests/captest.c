/*
 * captest.c — the capability system tested from inside, case by case.
 *
 * Run as the first program (init=captest), it holds init's capabilities and
 * exercises every invocation with valid and invalid arguments; each case
 * prints "CAPTESTnnnn <description>: ok" or "... FAILED (...)". Run beside
 * it (also=captest), it has no memory capabilities and checks that it can
 * reach nothing it was not given. Scratch space: the slot-allocator CNodes
 * (which nothing else uses yet) and free root slots.
 */
#include <stdio.h>
#include <string.h>

#include "cap.h"
#include "initcaps.h"
#include "os.h"
#include "ostest.h"
#include "syscall.h"

#define SCRATCH   ROOTCN_SLOT_SLOT_ALLOC0
#define SCRATCH2  ROOTCN_SLOT_SLOT_ALLOC1
#define NEW_L2    20                        /* free root slots used by the tests */
#define NEW_L2B   21
#define MiB       (1024ull * 1024)

static struct capref s(uint32_t slot) { return capref_l2(SCRATCH, slot); }

static bool is(struct capref c, enum objtype type, uint64_t size)
{
    struct capinfo ci;
    return err_is_ok(cap_identify(c, &ci)) && ci.type == type && (size == 0 || ci.size == size);
}

static bool empty(struct capref c)
{
    struct capinfo ci;
    return err_no(cap_identify(c, &ci)) == CAP_ERR_SLOT_EMPTY;
}

static uint64_t base_of(struct capref c)
{
    struct capinfo ci;
    return err_is_ok(cap_identify(c, &ci)) ? ci.base : 0;
}

static void test_addressing(struct capref ram)
{
    struct capinfo ci;
    expect("identify a RAM capability", cap_identify(ram, &ci), SYS_ERR_OK);
    check("identify reports type RAM, all rights, page-aligned size",
          ci.type == OBJ_RAM && ci.rights == CAPRIGHTS_ALL && ci.size % 4096 == 0 && ci.size > 0);
    expect("identify an empty slot", cap_identify(s(200), &ci), CAP_ERR_SLOT_EMPTY);
    expect("address beyond the root CNode", cap_identify(capref_l2(1000, 0), &ci), CAP_ERR_ADDR_OUT_OF_RANGE);
    expect("root slot without an L2 CNode", cap_identify(capref_l2(30, 0), &ci), CAP_ERR_L1_SLOT_EMPTY);
    expect("address with junk in the high bits",
           sys_invoke(0x500000000ull, CAP_CMD_IDENTIFY, 0, 0, 0, 0, 0, 0).err, CAP_ERR_ADDR_OUT_OF_RANGE);
    expect("level-1 address of a root slot", cap_identify(capref_root_slot(SCRATCH), &ci), SYS_ERR_OK);
    check("a root slot holds an L2 CNode of 16 KiB", ci.type == OBJ_L2CNODE && ci.size == 16384);
    expect("unknown command", sys_invoke(capref_addr(ram), 999, 0, 0, 0, 0, 0, 0).err, CAP_ERR_UNKNOWN_COMMAND);
}

static void test_retype(struct capref ram)
{
    expect("retype 1 MiB of RAM into smaller RAM", cap_retype(s(0), ram, OBJ_RAM, 0, MiB, 1), SYS_ERR_OK);
    check("the new RAM capability has 1 MiB", is(s(0), OBJ_RAM, MiB));
    expect("retype four 4 KiB frames at once", cap_retype(s(1), s(0), OBJ_FRAME, 0, 4096, 4), SYS_ERR_OK);
    check("the frames are consecutive", base_of(s(4)) == base_of(s(1)) + 3 * 4096 && base_of(s(1)) == base_of(s(0)));
    expect("retype overlapping an existing frame", cap_retype(s(5), s(0), OBJ_FRAME, 8192, 4096, 1), CAP_ERR_RETYPE_OVERLAP);
    check("a refused retype creates nothing", empty(s(5)));
    expect("a second, disjoint retype from the same RAM", cap_retype(s(5), s(0), OBJ_FRAME, 65536, 8192, 1), SYS_ERR_OK);
    expect("misaligned offset", cap_retype(s(6), s(0), OBJ_FRAME, 100, 4096, 1), CAP_ERR_RETYPE_ALIGN);
    expect("offset at the end of the source", cap_retype(s(6), s(0), OBJ_FRAME, MiB, 4096, 1), CAP_ERR_RETYPE_RANGE);
    expect("objects running past the source", cap_retype(s(6), s(0), OBJ_FRAME, MiB - 4096, 8192, 1), CAP_ERR_RETYPE_RANGE);
    expect("object larger than the source", cap_retype(s(6), s(0), OBJ_FRAME, 0, 2 * MiB, 1), CAP_ERR_RETYPE_RANGE);
    expect("count of zero", cap_retype(s(6), s(0), OBJ_FRAME, 0, 4096, 0), CAP_ERR_RETYPE_COUNT);
    expect("count larger than a CNode", cap_retype(s(6), s(0), OBJ_FRAME, 0, 4096, 257), CAP_ERR_RETYPE_COUNT);
    expect("frame size not a page multiple", cap_retype(s(6), s(0), OBJ_FRAME, 131072, 5000, 1), CAP_ERR_RETYPE_SIZE);
    expect("VNode of the wrong size", cap_retype(s(6), s(0), OBJ_VNODE_L3, 131072, 8192, 1), CAP_ERR_RETYPE_SIZE);
    expect("L1 CNode below the minimum size", cap_retype(s(6), s(0), OBJ_L1CNODE, 131072, 16 * 64, 1), CAP_ERR_RETYPE_SIZE);
    expect("RAM into a Kernel capability", cap_retype(s(6), s(0), OBJ_KERNEL, 131072, 4096, 1), CAP_ERR_RETYPE_TYPE);
    expect("type number out of range", cap_retype(s(6), s(0), (enum objtype)99, 131072, 4096, 1), CAP_ERR_RETYPE_TYPE);
    expect("retype from a Frame", cap_retype(s(6), s(1), OBJ_FRAME, 0, 4096, 1), CAP_ERR_WRONG_TYPE);
    expect("retype from an empty slot", cap_retype(s(6), s(199), OBJ_FRAME, 0, 4096, 1), CAP_ERR_SLOT_EMPTY);
    expect("destination slot occupied (second of two)", cap_retype(s(4), s(0), OBJ_FRAME, 131072, 4096, 2), CAP_ERR_SLOT_OCCUPIED);
    expect("destination slots past the CNode's end", cap_retype(s(255), s(0), OBJ_FRAME, 131072, 4096, 2), CAP_ERR_SLOT_OUT_OF_RANGE);
    expect("destination is not a CNode",
           sys_invoke(capref_addr(s(0)), RAM_CMD_RETYPE, OBJ_FRAME, 131072, 4096, 1, capref_addr(s(1)), 0).err,
           CAP_ERR_NOT_A_CNODE);
    expect("retype a VNode (L3)", cap_retype(s(6), s(0), OBJ_VNODE_L3, 131072, 0, 1), SYS_ERR_OK);
    check("the VNode is 4 KiB", is(s(6), OBJ_VNODE_L3, 4096));
    expect("retype a Dispatcher", cap_retype(s(7), s(0), OBJ_DISPATCHER, 135168, 0, 1), SYS_ERR_OK);
    expect("retype an L1 CNode of 64 slots", cap_retype(s(8), s(0), OBJ_L1CNODE, 139264, 64 * 64, 1), SYS_ERR_OK);
}

static void test_copy_mint(void)
{
    struct capinfo ci;
    expect("copy a frame", cap_copy(s(10), s(1)), SYS_ERR_OK);
    check("the copy names the same frame", base_of(s(10)) == base_of(s(1)) && is(s(10), OBJ_FRAME, 4096));
    expect("copy into an occupied slot", cap_copy(s(10), s(2)), CAP_ERR_SLOT_OCCUPIED);
    expect("copy from an empty slot", cap_copy(s(11), s(198)), CAP_ERR_SLOT_EMPTY);
    expect("mint with fewer rights", cap_mint(s(11), s(1), CAPRIGHTS_READ | CAPRIGHTS_GRANT, 0), SYS_ERR_OK);
    check("the minted copy has only read and grant",
          err_is_ok(cap_identify(s(11), &ci)) && ci.rights == (CAPRIGHTS_READ | CAPRIGHTS_GRANT));
    expect("mint adding a right", cap_mint(s(12), s(11), CAPRIGHTS_ALL, 0), CAP_ERR_RIGHTS_INCREASE);
    expect("mint with a parameter on a frame", cap_mint(s(12), s(1), CAPRIGHTS_ALL, 7), CAP_ERR_MINT_PARAM);
    expect("mint without grant", cap_mint(s(12), s(1), CAPRIGHTS_READ, 0), SYS_ERR_OK);
    expect("copy of a capability without grant", cap_copy(s(13), s(12)), CAP_ERR_NO_RIGHTS);
    expect("mint RAM without write", cap_mint(s(13), s(0), CAPRIGHTS_READ | CAPRIGHTS_GRANT, 0), SYS_ERR_OK);
    expect("retype from RAM without write", cap_retype(s(14), s(13), OBJ_FRAME, 262144, 4096, 1), CAP_ERR_NO_RIGHTS);
    expect("CNode command on a frame",
           sys_invoke(capref_addr(s(1)), CNODE_CMD_COPY, 0, capref_addr(s(2)), 0, 0, 0, 0).err, CAP_ERR_WRONG_TYPE);
    expect("CNode slot index past the end",
           sys_invoke(capaddr_level1(SCRATCH), CNODE_CMD_DELETE, 256, 0, 0, 0, 0, 0).err, CAP_ERR_SLOT_OUT_OF_RANGE);
    expect("mint a CNode capability without write", cap_mint(s(14), capref_root_slot(SCRATCH2), CAPRIGHTS_READ | CAPRIGHTS_GRANT, 0), SYS_ERR_OK);
    expect("retype into a CNode without write",
           sys_invoke(capref_addr(s(0)), RAM_CMD_RETYPE, OBJ_FRAME, 262144, 4096, 1, capref_addr(s(14)), 0).err,
           CAP_ERR_NO_RIGHTS);
    check("that refused retype left the CNode empty", empty(capref_l2(SCRATCH2, 0)));
}

static void test_delete_revoke(void)
{
    expect("delete an empty slot", cap_delete(s(197)), CAP_ERR_SLOT_EMPTY);
    expect("delete a copy", cap_delete(s(10)), SYS_ERR_OK);
    check("the original survives its copy", is(s(1), OBJ_FRAME, 4096) && empty(s(10)));
    expect("delete the original while minted copies remain", cap_delete(s(1)), SYS_ERR_OK);
    expect("the frame lives on in its copies: no retype", cap_retype(s(1), s(0), OBJ_FRAME, 0, 4096, 1), CAP_ERR_RETYPE_OVERLAP);
    expect("delete one minted copy", cap_delete(s(11)), SYS_ERR_OK);
    expect("delete the last copy of the frame", cap_delete(s(12)), SYS_ERR_OK);
    expect("retype the freed range again", cap_retype(s(1), s(0), OBJ_FRAME, 0, 4096, 1), SYS_ERR_OK);
    expect("revoke RAM with many descendants", cap_revoke(s(0)), SYS_ERR_OK);
    check("every descendant is gone (use after revoke)", empty(s(1)) && empty(s(4)) && empty(s(5)) && empty(s(6)) && empty(s(8)));
    check("the revoked capability itself remains", is(s(0), OBJ_RAM, MiB));
    check("its copies with fewer rights are gone too", empty(s(13)));
    struct capinfo ci;
    expect("use of a revoked frame", cap_identify(s(2), &ci), CAP_ERR_SLOT_EMPTY);
    expect("retype after revoke", cap_retype(s(1), s(0), OBJ_FRAME, 0, 4096, 4), SYS_ERR_OK);
}

static void test_cnodes(struct capref ram)
{
    expect("retype RAM for a new CNode", cap_retype(s(20), ram, OBJ_RAM, 16 * MiB, 2 * MiB, 1), SYS_ERR_OK);
    expect("retype an L2 CNode into a root slot",
           cap_retype(capref_root_slot(NEW_L2), s(20), OBJ_L2CNODE, 0, 0, 1), SYS_ERR_OK);
    expect("copy into the new CNode", cap_copy(capref_l2(NEW_L2, 5), s(0)), SYS_ERR_OK);
    check("the new CNode's slot is reachable by address", is(capref_l2(NEW_L2, 5), OBJ_RAM, MiB));
    expect("fill the whole new CNode (256 frames)", cap_retype(capref_l2(NEW_L2, 0), s(20), OBJ_FRAME, 16384, 4096, 5), SYS_ERR_OK);
    cap_retype(capref_l2(NEW_L2, 6), s(20), OBJ_FRAME, 65536, 4096, 250);
    expect("CNode full: no slot left for a copy", cap_copy(capref_l2(NEW_L2, 255), s(0)), CAP_ERR_SLOT_OCCUPIED);
    expect("revoke the RAM under a CNode full of capabilities", cap_revoke(s(20)), SYS_ERR_OK);
    struct capinfo ci;
    expect("the CNode went with it", cap_identify(capref_l2(NEW_L2, 5), &ci), CAP_ERR_L1_SLOT_EMPTY);
    check("the RAM copy it held is gone, the original stays", is(s(0), OBJ_RAM, MiB));
    expect("reuse the root slot after the revoke",
           cap_retype(capref_root_slot(NEW_L2B), s(20), OBJ_L2CNODE, 0, 0, 1), SYS_ERR_OK);
    expect("delete the last copy of a CNode", cap_delete(capref_root_slot(NEW_L2B)), SYS_ERR_OK);
    expect("its memory is retypeable again", cap_retype(capref_l2(SCRATCH2, 1), s(20), OBJ_FRAME, 0, 16384, 1), SYS_ERR_OK);
}

#define MAP_VA 0x200000000000ull     /* 32 TiB: level-0 entry 64, nothing else there */

static void build_tables(void)
{
    expect("retype a level-1 table", cap_retype(s(30), s(0), OBJ_VNODE_L1, 512 * 1024, 0, 1), SYS_ERR_OK);
    expect("retype a level-2 and a level-3 table", cap_retype(s(31), s(0), OBJ_VNODE_L2, 516 * 1024, 0, 1), SYS_ERR_OK);
    cap_retype(s(32), s(0), OBJ_VNODE_L3, 520 * 1024, 0, 1);
    expect("retype a frame to map", cap_retype(s(33), s(0), OBJ_FRAME, 524 * 1024, 4096, 1), SYS_ERR_OK);
    expect("map the level-1 table into the process's own level-0 table",
           vnode_map(capref_l2(ROOTCN_SLOT_PAGECN, 0), MAP_VA >> 39, s(30), 0, 0, 1, s(40)), SYS_ERR_OK);
    expect("map level 2 into level 1", vnode_map(s(30), 0, s(31), 0, 0, 1, s(41)), SYS_ERR_OK);
    expect("map level 3 into level 2", vnode_map(s(31), 0, s(32), 0, 0, 1, s(42)), SYS_ERR_OK);
    check("a table mapping is a VNodeMapping capability", is(s(40), OBJ_VNODE_MAPPING, 4096));
}

static void test_map_frames(void)
{
    volatile uint64_t *rw = (volatile uint64_t *)MAP_VA, *ro = (volatile uint64_t *)(MAP_VA + 4096);
    expect("map a frame read-write at 32 TiB", vnode_map(s(32), 0, s(33), CAPRIGHTS_RW, 0, 1, s(43)), SYS_ERR_OK);
    check("a new frame reads as zero", *rw == 0);
    *rw = 0x6d696e6e6f77ull;
    check("a write through the mapping reads back", *rw == 0x6d696e6e6f77ull);
    expect("map the same frame again, read-only", vnode_map(s(32), 1, s(33), CAPRIGHTS_READ, 0, 1, s(44)), SYS_ERR_OK);
    check("the write is seen through the second mapping", *ro == 0x6d696e6e6f77ull);
    check("a frame mapping is a FrameMapping capability", is(s(43), OBJ_FRAME_MAPPING, 4096));
    expect("map over an existing mapping", vnode_map(s(32), 0, s(33), CAPRIGHTS_READ, 0, 1, s(45)), CAP_ERR_VNODE_IN_USE);
    check("the refused map created no capability", empty(s(45)));
    expect("entries past the end of the table", vnode_map(s(32), 511, s(33), CAPRIGHTS_READ, 0, 2, s(45)), CAP_ERR_VNODE_ENTRY);
    expect("zero entries", vnode_map(s(32), 5, s(33), CAPRIGHTS_READ, 0, 0, s(45)), CAP_ERR_VNODE_ENTRY);
    expect("pages past the end of the frame", vnode_map(s(32), 5, s(33), CAPRIGHTS_READ, 4096, 1, s(45)), CAP_ERR_MAP_RANGE);
    expect("a mapping without read", vnode_map(s(32), 5, s(33), CAPRIGHTS_WRITE, 0, 1, s(45)), CAP_ERR_MAP_RIGHTS);
    cap_mint(s(34), s(33), CAPRIGHTS_READ | CAPRIGHTS_GRANT, 0);
    expect("a writable mapping of a read-only frame", vnode_map(s(32), 5, s(34), CAPRIGHTS_RW, 0, 1, s(45)), CAP_ERR_MAP_RIGHTS);
    expect("map RAM", vnode_map(s(32), 5, s(0), CAPRIGHTS_READ, 0, 1, s(45)), CAP_ERR_MAP_TYPE);
    expect("map a level-3 table into level 0",
           vnode_map(capref_l2(ROOTCN_SLOT_PAGECN, 0), 65, s(32), 0, 0, 1, s(45)), CAP_ERR_MAP_TYPE);
    expect("map a frame into level 0", vnode_map(capref_l2(ROOTCN_SLOT_PAGECN, 0), 65, s(33), CAPRIGHTS_READ, 0, 1, s(45)), CAP_ERR_MAP_TYPE);
    expect("map on a frame instead of a table", vnode_map(s(33), 0, s(33), CAPRIGHTS_READ, 0, 1, s(45)), CAP_ERR_WRONG_TYPE);
    expect("map into an occupied capability slot", vnode_map(s(32), 5, s(33), CAPRIGHTS_READ, 0, 1, s(44)), CAP_ERR_SLOT_OCCUPIED);
    expect("copy a mapping capability", cap_copy(s(45), s(43)), CAP_ERR_WRONG_TYPE);
    expect("unmap through the wrong table", vnode_unmap(s(31), s(44)), CAP_ERR_NOT_MAPPED_HERE);
    expect("unmap something that is not a mapping", vnode_unmap(s(32), s(33)), CAP_ERR_WRONG_TYPE);
    expect("delete a copy of a mapped frame", cap_delete(s(34)), SYS_ERR_OK);
    check("the mapping still works", *ro == 0x6d696e6e6f77ull);
    expect("revoke a mapping capability: nothing derives from it", cap_revoke(s(44)), SYS_ERR_OK);
    check("the revoked mapping stays", is(s(44), OBJ_FRAME_MAPPING, 4096));
    expect("unmap the read-only mapping", vnode_unmap(s(32), s(44)), SYS_ERR_OK);
    expect("delete the read-write mapping (unmaps)", cap_delete(s(43)), SYS_ERR_OK);
    check("the frame stays when its mappings go", is(s(33), OBJ_FRAME, 4096));
    expect("an unmapped frame's memory is still the frame's",
           cap_retype(s(34), s(0), OBJ_FRAME, 524 * 1024, 4096, 1), CAP_ERR_RETYPE_OVERLAP);
    cap_delete(s(33));
    expect("the frame's memory is free again", cap_retype(s(33), s(0), OBJ_FRAME, 524 * 1024, 4096, 1), SYS_ERR_OK);
    expect("the entries are free again", vnode_map(s(32), 0, s(33), CAPRIGHTS_RW, 0, 1, s(43)), SYS_ERR_OK);
    check("the new frame is zero where the old one had data", *rw == 0);
    expect("revoke the frame: its mappings go", cap_revoke(s(33)), SYS_ERR_OK);
    check("the mapping capability is gone", empty(s(43)));
    expect("and its entry is free", vnode_map(s(32), 0, s(33), CAPRIGHTS_RW, 0, 1, s(43)), SYS_ERR_OK);
}

static volatile uint64_t *entry_va(uint64_t entry)
{
    return (volatile uint64_t *)(MAP_VA + entry * 4096);
}

/* FrameMappings live as long as some copy of their frame (they hang off a
 * frame CTE, not in the derivation database): deleting a copy hands them
 * to another, deleting the last copy or revoking removes them. */
static void test_mapping_lifetime(void)
{
    expect("a RAM child with a frame in it", cap_retype(s(80), s(0), OBJ_RAM, 576 * 1024, 16384, 1), SYS_ERR_OK);
    cap_retype(s(81), s(80), OBJ_FRAME, 0, 4096, 1);
    expect("map the frame", vnode_map(s(32), 10, s(81), CAPRIGHTS_RW, 0, 1, s(82)), SYS_ERR_OK);
    *entry_va(10) = 10;
    expect("revoke the RAM the frame came from", cap_revoke(s(80)), SYS_ERR_OK);
    check("revoking the frame's RAM ancestor removes the frame and its mapping", empty(s(81)) && empty(s(82)));
    expect("the entry is free again", vnode_map(s(32), 10, s(33), CAPRIGHTS_READ, 0, 1, s(82)), SYS_ERR_OK);
    cap_delete(s(82));

    expect("a frame and a copy", cap_retype(s(83), s(0), OBJ_FRAME, 548 * 1024, 4096, 1), SYS_ERR_OK);
    cap_copy(s(84), s(83));
    expect("map through the first", vnode_map(s(32), 11, s(83), CAPRIGHTS_RW, 0, 1, s(85)), SYS_ERR_OK);
    expect("map through the copy", vnode_map(s(32), 12, s(84), CAPRIGHTS_RW, 0, 1, s(86)), SYS_ERR_OK);
    *entry_va(11) = 0x1111;
    expect("delete the first, through which one mapping was made", cap_delete(s(83)), SYS_ERR_OK);
    check("both mappings stay while a copy of the frame exists",
          is(s(85), OBJ_FRAME_MAPPING, 4096) && is(s(86), OBJ_FRAME_MAPPING, 4096));
    check("and both still reach the frame", *entry_va(11) == 0x1111 && *entry_va(12) == 0x1111);
    expect("the frame's memory is still in use", cap_retype(s(83), s(0), OBJ_FRAME, 548 * 1024, 4096, 1),
           CAP_ERR_RETYPE_OVERLAP);
    expect("delete the frame's last copy", cap_delete(s(84)), SYS_ERR_OK);
    check("deleting the last copy removes every mapping", empty(s(85)) && empty(s(86)));
    expect("the memory is free", cap_retype(s(83), s(0), OBJ_FRAME, 548 * 1024, 4096, 1), SYS_ERR_OK);
    expect("and the entries too", err_is_ok(vnode_map(s(32), 11, s(83), CAPRIGHTS_RW, 0, 1, s(85)))
                                      ? vnode_map(s(32), 12, s(83), CAPRIGHTS_RW, 0, 1, s(86)) : CAP_ERR_SLOT_EMPTY,
           SYS_ERR_OK);
    check("the new frame is zero", *entry_va(11) == 0 && *entry_va(12) == 0);
    cap_delete(s(85));
    cap_delete(s(86));

    cap_copy(s(84), s(83));
    expect("map through a copy, then revoke the other", vnode_map(s(32), 13, s(84), CAPRIGHTS_RW, 0, 1, s(86)), SYS_ERR_OK);
    expect("revoke the first frame capability", cap_revoke(s(83)), SYS_ERR_OK);
    check("revoke removes the copy and the mapping made through it",
          empty(s(84)) && empty(s(86)) && is(s(83), OBJ_FRAME, 4096));
    expect("the entry is free after the revoke", vnode_map(s(32), 13, s(83), CAPRIGHTS_RW, 0, 1, s(86)), SYS_ERR_OK);
    expect("delete a mapped frame's only capability", cap_delete(s(83)), SYS_ERR_OK);
    check("its mapping goes with it", empty(s(86)));
}

static void test_resize(void)
{
    struct capref root = capref_l2(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_ROOTCN);
    struct capinfo ci;
    expect("retype a 64-slot L1 CNode", cap_retype(s(50), s(0), OBJ_L1CNODE, 600 * 1024, 64 * 64, 1), SYS_ERR_OK);
    expect("resize a CNode that is not the caller's root", cnode_resize_root(s(50), s(50)), CAP_ERR_RESIZE_NOT_ROOT);
    expect("resize to a root that is not larger", cnode_resize_root(root, root), CAP_ERR_RESIZE_TARGET);
    expect("resize to an empty slot", cnode_resize_root(root, s(51)), CAP_ERR_SLOT_EMPTY);
    expect("address beyond the 32-slot root", cap_identify(capref_l2(40, 0), &ci), CAP_ERR_ADDR_OUT_OF_RANGE);
    expect("keep a capability to the old root", cap_copy(s(52), root), SYS_ERR_OK);
    expect("grow the root CNode to 64 slots", cnode_resize_root(root, s(50)), SYS_ERR_OK);
    check("CAP_ROOTCN names the new root", is(root, OBJ_L1CNODE, 64 * 64));
    check("old addresses still work after the move", is(s(0), OBJ_RAM, MiB) && is(capref_l2(ROOTCN_SLOT_MEMCN, 0), OBJ_RAM, 0));
    expect("root slot 40 now exists (empty)", cap_identify(capref_l2(40, 0), &ci), CAP_ERR_L1_SLOT_EMPTY);
    expect("put an L2 CNode in root slot 40", cap_retype(capref_root_slot(40), s(0), OBJ_L2CNODE, 640 * 1024, 0, 1), SYS_ERR_OK);
    expect("use a slot in it", cap_copy(capref_l2(40, 1), s(0)), SYS_ERR_OK);
    expect("the old root object no longer is the root", cnode_resize_root(s(52), s(50)), CAP_ERR_RESIZE_NOT_ROOT);
    /* Both capabilities in root slots, so they move during the resize. */
    expect("retype a 128-slot L1 CNode into a root slot",
           cap_retype(capref_root_slot(41), s(0), OBJ_L1CNODE, 656 * 1024, 128 * 64, 1), SYS_ERR_OK);
    expect("copy the root capability into a root slot", cap_copy(capref_root_slot(42), root), SYS_ERR_OK);
    expect("a frame in a root slot", cap_retype(capref_root_slot(45), s(0), OBJ_FRAME, 556 * 1024, 4096, 1), SYS_ERR_OK);
    expect("two mappings of it in root slots",
           err_is_ok(vnode_map(s(32), 14, capref_root_slot(45), CAPRIGHTS_RW, 0, 1, capref_root_slot(46)))
               ? vnode_map(s(32), 15, capref_root_slot(45), CAPRIGHTS_RW, 0, 1, capref_root_slot(47))
               : CAP_ERR_SLOT_EMPTY, SYS_ERR_OK);
    expect("resize when old and new roots sit in root slots that move",
           sys_invoke(capaddr_level1(42), CNODE_CMD_RESIZE, capaddr_level1(41), 0, 0, 0, 0, 0).err, SYS_ERR_OK);
    check("every root slot moved", is(s(0), OBJ_RAM, MiB) && is(capref_l2(40, 1), OBJ_RAM, MiB) &&
                                   is(capref_root_slot(41), OBJ_L1CNODE, 128 * 64));
    expect("point CAP_ROOTCN at the new root", err_is_ok(cap_delete(root)) ? cap_copy(root, capref_root_slot(41))
                                                                           : CAP_ERR_SLOT_EMPTY, SYS_ERR_OK);
    *entry_va(14) = 0x4545;
    check("moved mappings still work", is(capref_root_slot(46), OBJ_FRAME_MAPPING, 4096) && *entry_va(15) == 0x4545);
    expect("delete the moved frame", cap_delete(capref_root_slot(45)), SYS_ERR_OK);
    check("its moved mappings went with it", empty(capref_root_slot(46)) && empty(capref_root_slot(47)));
}

/* MODULECN: the archive's Frame, then one page-aligned Frame per module,
 * each inside the archive and after the one before. */
static void test_module_frames(void)
{
    struct capinfo archive, prev = { 0 }, ci;
    expect("the boot-module archive is a Frame", cap_identify(capref_l2(ROOTCN_SLOT_MODULECN, 0), &archive), SYS_ERR_OK);
    check("the archive Frame is read-only", archive.type == OBJ_FRAME && !(archive.rights & CAPRIGHTS_WRITE));
    unsigned n = 0;
    bool ok = true;
    for (uint32_t i = 1; err_is_ok(cap_identify(capref_l2(ROOTCN_SLOT_MODULECN, i), &ci)); i++, n++) {
        ok &= ci.type == OBJ_FRAME && ci.base % 4096 == 0 && ci.base >= archive.base &&
              ci.base + ci.size <= archive.base + archive.size && ci.base >= prev.base + prev.size;
        prev = ci;
    }
    check("one Frame per boot module, page aligned, disjoint, inside the archive", ok && n >= 7);
    expect("a module Frame is not writable", vnode_map(s(32), 7, capref_l2(ROOTCN_SLOT_MODULECN, 1), CAPRIGHTS_RW, 0, 1, s(45)), CAP_ERR_MAP_RIGHTS);
    struct capinfo first;
    cap_identify(capref_l2(ROOTCN_SLOT_MODULECN, 1), &first);
    expect("a module Frame maps readable and executable (spawn shares code)",
           vnode_map(s(32), 7, capref_l2(ROOTCN_SLOT_MODULECN, 1), CAPRIGHTS_READ | CAPRIGHTS_EXECUTE, 0, 1, s(45)),
           SYS_ERR_OK);
    expect("so does the archive's, at the module's page",
           vnode_map(s(32), 8, capref_l2(ROOTCN_SLOT_MODULECN, 0), CAPRIGHTS_READ | CAPRIGHTS_EXECUTE,
                     first.base - archive.base, 1, s(46)), SYS_ERR_OK);
    check("both mappings show the module's bytes",
          memcmp((const void *)(MAP_VA + 7 * 4096), (const void *)(MAP_VA + 8 * 4096), 4096) == 0 &&
          *(volatile uint64_t *)(MAP_VA + 7 * 4096) != 0);
    cap_delete(s(45));
    cap_delete(s(46));
}

static bool overlaps_ram(struct capinfo d)
{
    for (uint32_t i = 0; i < L2_CNODE_SLOTS; i++) {
        struct capinfo r;
        if (err_is_ok(cap_identify(capref_l2(ROOTCN_SLOT_MEMCN, i), &r)) &&
            d.base < r.base + r.size && r.base < d.base + d.size)
            return true;
    }
    return false;
}

static void test_device_frames(void)
{
    struct capinfo prev = { 0 }, ci;
    unsigned n = 0;
    bool ok = true;
    for (uint32_t i = 0; err_is_ok(cap_identify(capref_l2(ROOTCN_SLOT_DEVCN, i), &ci)); i++, n++) {
        ok &= ci.type == OBJ_DEVFRAME && ci.base % 4096 == 0 && ci.size % 4096 == 0 &&
              ci.base >= prev.base + prev.size && !overlaps_ram(ci);
        prev = ci;
    }
    check("device frames: page aligned, sorted, disjoint, none in RAM", ok && n > 0);
    expect("a device frame cannot be retyped", cap_retype(s(45), capref_l2(ROOTCN_SLOT_DEVCN, 0), OBJ_FRAME, 0, 4096, 1), CAP_ERR_WRONG_TYPE);
    expect("a device frame cannot be mapped executable",
           vnode_map(s(32), 7, capref_l2(ROOTCN_SLOT_DEVCN, 0), CAPRIGHTS_READ | CAPRIGHTS_EXECUTE, 0, 1, s(45)), CAP_ERR_MAP_RIGHTS);
}

/* Two CNodes holding each other's last capability: unreachable by address,
 * but a revoke of the RAM under them must still reclaim both. */
static void test_cnode_cycle(void)
{
    struct capref r = s(60);
    expect("retype RAM for two CNodes", cap_retype(r, s(0), OBJ_RAM, 704 * 1024, 32 * 1024, 1), SYS_ERR_OK);
    expect("two L2 CNodes in root slots 43 and 44", cap_retype(capref_root_slot(43), r, OBJ_L2CNODE, 0, 0, 2), SYS_ERR_OK);
    expect("each holds the other's capability",
           err_is_ok(cap_copy(capref_l2(43, 0), capref_root_slot(44))) ? cap_copy(capref_l2(44, 0), capref_root_slot(43))
                                                                      : CAP_ERR_SLOT_EMPTY, SYS_ERR_OK);
    cap_delete(capref_root_slot(43));
    cap_delete(capref_root_slot(44));
    expect("the cycle's memory is still in use", cap_retype(s(61), r, OBJ_FRAME, 0, 4096, 1), CAP_ERR_RETYPE_OVERLAP);
    expect("revoke the RAM under the cycle", cap_revoke(r), SYS_ERR_OK);
    expect("the cycle's memory is free again", cap_retype(s(61), r, OBJ_FRAME, 0, 32 * 1024, 1), SYS_ERR_OK);
}

/* RAM retyped into RAM of the same range: a descendant one generation
 * deeper (so a memory manager can hand out a whole region), at most 7 deep. */
static void test_ram_generations(void)
{
    expect("carve 64 KiB of RAM", cap_retype(s(70), s(0), OBJ_RAM, 960 * 1024, 64 * 1024, 1), SYS_ERR_OK);
    bool ok = true;
    for (uint32_t i = 0; i < 7; i++)
        ok &= err_is_ok(cap_retype(s(71 + i), s(70 + i), OBJ_RAM, 0, 64 * 1024, 1)) && is(s(71 + i), OBJ_RAM, 64 * 1024);
    check("RAM into RAM of the same size, seven generations deep", ok);
    expect("an eighth generation", cap_retype(s(78), s(77), OBJ_RAM, 0, 64 * 1024, 1), CAP_ERR_RETYPE_SIZE);
    expect("the parent cannot make a second child of the same range",
           cap_retype(s(78), s(76), OBJ_RAM, 0, 64 * 1024, 1), CAP_ERR_RETYPE_OVERLAP);
    expect("a frame from the deepest generation", cap_retype(s(78), s(77), OBJ_FRAME, 0, 4096, 1), SYS_ERR_OK);
    expect("revoke the first generation", cap_revoke(s(71)), SYS_ERR_OK);
    check("its descendants are gone, it and its parent stay", empty(s(72)) && empty(s(78)) &&
                                                              is(s(71), OBJ_RAM, 0) && is(s(70), OBJ_RAM, 0));
    expect("delete the same-range child", cap_delete(s(71)), SYS_ERR_OK);
    expect("the range is retypeable from the parent", cap_retype(s(71), s(70), OBJ_FRAME, 0, 64 * 1024, 1), SYS_ERR_OK);
}

static void test_kernel_cap(void)
{
    uint64_t core = 99;
    expect("Kernel capability: core id", kernel_core_id(capref_l2(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_KERNELCAP), &core), SYS_ERR_OK);
    check("the core id is 0", core == 0);
    expect("Kernel command on a RAM capability", kernel_core_id(s(0), &core), CAP_ERR_WRONG_TYPE);
}

/* IRQ capabilities: bad inputs change nothing; while the console's line
 * is connected the kernel leaves its input alone. Nothing makes the UART
 * interrupt here (its interrupts are off), so no message comes. */
static void test_irq(void)
{
    struct capref self_ep = capref_l2(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_SELFEP);
    struct capref line = capref_l2(ROOTCN_SLOT_IRQCN, 10);             /* INTID 42: nothing there */
    struct capref console = capref_l2(ROOTCN_SLOT_IRQCN, os_args()->console_intid - 32);
    char c;
    check("the argument page names the console's interrupt (an SPI)", os_args()->console_intid >= 32);
    expect("IRQ connect on a RAM capability", irq_connect(s(0), self_ep), CAP_ERR_WRONG_TYPE);
    expect("IRQ connect to a RAM capability", irq_connect(line, s(0)), LMP_ERR_NOT_ENDPOINT);
    expect("IRQ connect to an empty slot", irq_connect(line, s(200)), CAP_ERR_SLOT_EMPTY);
    expect("IRQ ack without connect", irq_ack(line), IRQ_ERR_NOT_CONNECTED);
    expect("IRQ disconnect without connect", irq_disconnect(line), IRQ_ERR_NOT_CONNECTED);
    expect("mint an EndPoint without WRITE", cap_mint(s(200), self_ep, CAPRIGHTS_READ | CAPRIGHTS_GRANT, 0), SYS_ERR_OK);
    expect("IRQ connect to it", irq_connect(line, s(200)), CAP_ERR_NO_RIGHTS);
    expect("... still not connected", irq_ack(line), IRQ_ERR_NOT_CONNECTED);
    expect("mint an IRQ capability without WRITE", cap_mint(s(201), line, CAPRIGHTS_READ | CAPRIGHTS_GRANT, 0), SYS_ERR_OK);
    expect("IRQ connect through it", irq_connect(s(201), self_ep), CAP_ERR_NO_RIGHTS);
    expect("unknown command on an IRQ capability", sys_invoke(capref_addr(line), CAP_CMD_COUNT, 0, 0, 0, 0, 0, 0).err,
           CAP_ERR_UNKNOWN_COMMAND);
    expect("kernel console input before the connect", sys_debug_getchar(&c), SYS_ERR_NO_INPUT);
    expect("IRQ connect the console's line", irq_connect(console, self_ep), SYS_ERR_OK);
    expect("connect it twice", irq_connect(console, self_ep), IRQ_ERR_ALREADY_CONNECTED);
    expect("the kernel leaves a connected console's input alone", sys_debug_getchar(&c), SYS_ERR_CONSOLE_TAKEN);
    expect("IRQ ack", irq_ack(console), SYS_ERR_OK);
    expect("delete our EndPoint copy", cap_delete(s(200)), SYS_ERR_OK);
    expect("IRQ disconnect", irq_disconnect(console), SYS_ERR_OK);
    expect("... the kernel reads its console again", sys_debug_getchar(&c), SYS_ERR_NO_INPUT);
    expect("IRQ ack after disconnect", irq_ack(console), IRQ_ERR_NOT_CONNECTED);
    expect("IRQ disconnect twice", irq_disconnect(console), IRQ_ERR_NOT_CONNECTED);
    expect("connect again after a disconnect", irq_connect(console, self_ep), SYS_ERR_OK);
    expect("... and disconnect", irq_disconnect(console), SYS_ERR_OK);
    cap_delete(s(201));
}

/* Without init's capabilities: everything not given must be out of reach. */
static int spy(void)
{
    struct capinfo ci;
    uint64_t core;
    expect("no RAM capabilities are reachable", cap_identify(capref_l2(ROOTCN_SLOT_MEMCN, 0), &ci), CAP_ERR_L1_SLOT_EMPTY);
    expect("no device frames are reachable", cap_identify(capref_l2(ROOTCN_SLOT_DEVCN, 0), &ci), CAP_ERR_L1_SLOT_EMPTY);
    expect("no Kernel capability", kernel_core_id(capref_l2(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_KERNELCAP), &core), CAP_ERR_SLOT_EMPTY);
    expect("no retype without RAM", cap_retype(s(0), capref_l2(ROOTCN_SLOT_MEMCN, 0), OBJ_FRAME, 0, 4096, 1), CAP_ERR_L1_SLOT_EMPTY);
    expect("its own dispatcher is there", cap_identify(capref_l2(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_DISPATCHER), &ci), SYS_ERR_OK);
    printf("captest (pid %u, no resources): %u cases, %u failed\n", os_args()->pid, ostest_cases(),
           ostest_failures());
    return ostest_failures() != 0;
}

int main(void)
{
    ostest_begin("CAPTEST");
    struct capref ram;
    uint64_t size;
    if (err_is_fail(initcaps_largest_ram(&ram, &size)))
        return spy();
    test_addressing(ram);
    test_retype(ram);
    test_copy_mint();
    test_delete_revoke();
    test_cnodes(ram);
    build_tables();
    test_map_frames();
    test_mapping_lifetime();
    test_resize();
    test_module_frames();
    test_device_frames();
    test_cnode_cycle();
    test_ram_generations();
    test_kernel_cap();
    test_irq();
    return ostest_summary("captest");
}
