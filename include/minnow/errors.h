/*
 * errors.h — minnow's one error type.
 *
 * Every fallible function returns errval_t. The codes and their messages live
 * in the single table below (an X-macro), shared by the kernel, user space and
 * host tests. An errval_t holds a chain of up to ERR_CHAIN_DEPTH codes: the
 * newest (outermost) code is in the low 16 bits, and err_push() shifts older
 * codes up, so a caller can add its own context to an error it passes on.
 * The implementation is lib/base/err.c.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef uint64_t errval_t;

#define ERR_CODE_BITS   16
#define ERR_CHAIN_DEPTH 4

/* X(code, message). Group codes by layer; the prefix names the layer. */
#define MINNOW_ERRORS(X)                                                          \
    X(SYS_ERR_OK, "success")                                                      \
    /* system calls (kernel) */                                                   \
    X(SYS_ERR_ILLEGAL_SYSCALL, "unknown system call number")                      \
    X(SYS_ERR_BAD_USER_POINTER, "user buffer is not mapped (or not writable) for the caller")\
    X(SYS_ERR_ARG_TOO_LONG, "argument longer than the system call allows")        \
    X(SYS_ERR_NO_INPUT, "no console input is waiting")                            \
    X(SYS_ERR_CONSOLE_TAKEN, "console input belongs to the user-space terminal driver")\
    X(SYS_ERR_BAD_HANDLER, "upcall entry, stack or save area not in user space")  \
    X(SYS_ERR_NOT_IN_UPCALL, "the call resumes from an upcall, but none is running")\
    /* capabilities (kernel/cap) */                                               \
    X(CAP_ERR_ADDR_OUT_OF_RANGE, "capability address lies beyond the CSpace")     \
    X(CAP_ERR_L1_SLOT_EMPTY, "no L2 CNode at that root CNode slot")               \
    X(CAP_ERR_SLOT_EMPTY, "the capability slot is empty")                         \
    X(CAP_ERR_SLOT_OCCUPIED, "the destination slot is not empty")                 \
    X(CAP_ERR_SLOT_OUT_OF_RANGE, "slot index lies beyond the end of the CNode")   \
    X(CAP_ERR_NOT_A_CNODE, "the capability is not a CNode")                       \
    X(CAP_ERR_WRONG_TYPE, "the capability's type has no such operation")          \
    X(CAP_ERR_UNKNOWN_COMMAND, "unknown invocation command")                      \
    X(CAP_ERR_NO_RIGHTS, "the capability lacks a right the operation needs")      \
    X(CAP_ERR_RIGHTS_INCREASE, "mint may only remove rights")                     \
    X(CAP_ERR_MINT_PARAM, "this capability type takes no mint parameter")         \
    X(CAP_ERR_RETYPE_TYPE, "the source cannot be retyped into that type")         \
    X(CAP_ERR_RETYPE_SIZE, "object size is invalid for that type")                \
    X(CAP_ERR_RETYPE_COUNT, "object count is zero or too large")                  \
    X(CAP_ERR_RETYPE_ALIGN, "retype offset is not page aligned")                  \
    X(CAP_ERR_RETYPE_RANGE, "retyped objects would extend past the source")       \
    X(CAP_ERR_RETYPE_OVERLAP, "retype range overlaps an existing descendant")     \
    X(CAP_ERR_VNODE_ENTRY, "page-table entries lie outside the table")           \
    X(CAP_ERR_VNODE_IN_USE, "a page-table entry in the range is already in use")  \
    X(CAP_ERR_MAP_TYPE, "that capability cannot be mapped in this table")         \
    X(CAP_ERR_MAP_RIGHTS, "the mapping asks for rights the frame lacks")          \
    X(CAP_ERR_MAP_RANGE, "mapped pages lie outside the frame or are misaligned")  \
    X(CAP_ERR_NOT_MAPPED_HERE, "the mapping does not belong to this table")       \
    X(CAP_ERR_RESIZE_NOT_ROOT, "resize applies only to the caller's own root CNode")\
    X(CAP_ERR_RESIZE_TARGET, "the new root CNode is not larger or not empty")     \
    X(CAP_ERR_REVOKE_ENDPOINT, "EndPoints cannot be revoked (all EndPoints to a dispatcher are one object): delete the copy, or reset the buffer")\
    /* kernel boot */                                                             \
    X(KERN_ERR_NO_MEMORY, "kernel boot allocator has no memory left")             \
    X(KERN_ERR_NO_INIT_MODULE, "boot module for the first program not found")     \
    X(KERN_ERR_TOO_MANY_PROCESSES, "boot process table is full")                  \
    X(KERN_ERR_NO_DEVICE, "device not described in the device tree")              \
    X(KERN_ERR_BAD_DEVICE, "device tree entry for a device is unusable")          \
    X(KERN_ERR_MAP_FAILED, "could not create a kernel or user mapping")           \
    X(KERN_ERR_LOAD_PROGRAM, "could not load a boot program")                     \
    X(KERN_ERR_CMDLINE, "malformed kernel command line")                          \
    X(KERN_ERR_NO_ASID, "all address-space identifiers are in use")              \
    /* dispatchers (kernel/cap/dispatcher.c) */                                   \
    X(DISP_ERR_ALREADY_SET_UP, "the dispatcher has been set up already")          \
    X(DISP_ERR_NOT_SET_UP, "the dispatcher has not been set up")                  \
    X(DISP_ERR_NOT_SUSPENDED, "the dispatcher is not suspended")                  \
    X(DISP_ERR_NOT_RUNNABLE, "the dispatcher is not running")                     \
    X(DISP_ERR_IS_CALLER, "a dispatcher cannot suspend itself")                   \
    X(DISP_ERR_BAD_CSPACE, "the CSpace root is not an L1 CNode")                  \
    X(DISP_ERR_BAD_VSPACE, "the VSpace root is not a level-0 VNode")              \
    X(DISP_ERR_BAD_ENTRY, "entry point or stack is not a user address")           \
    X(DISP_ERR_FRAME_SET, "the dispatcher has a dispatcher frame already")        \
    X(DISP_ERR_BAD_FRAME, "not a writable Frame of one buffer up to DISPFRAME_MAX_BYTES")\
    X(DISP_ERR_NO_FRAME, "the dispatcher has no dispatcher frame")                \
    X(DISP_ERR_BAD_BUFFER, "buffer index lies beyond the dispatcher frame")       \
    /* LMP (kernel/lmp.c, lib/os/lmp.c) */                                        \
    X(LMP_ERR_NOT_ENDPOINT, "the capability is not an EndPoint")                  \
    X(LMP_ERR_TOO_MANY_WORDS, "an LMP message has at most 8 words")               \
    X(LMP_ERR_BAD_CONTROL, "unknown flags in the LMP control word")               \
    X(LMP_ERR_BUF_FULL, "receive buffer full: retry later (transient)")           \
    X(LMP_ERR_NO_RECV_SLOT, "receiver has no slot armed for a capability (transient)")\
    X(LMP_ERR_RECV_SLOT_OCCUPIED, "receiver's armed slot is not empty (transient)")\
    X(LMP_ERR_STALE, "the receive buffer was reset since this EndPoint was made (permanent)")\
    X(LMP_ERR_DEAD, "receiver exited, faulted or was destroyed (permanent)")      \
    X(LMP_ERR_WAIT_TIMEOUT, "the deadline passed before a message came")          \
    X(LMP_ERR_NO_BUFFER_FREE, "every buffer of the dispatcher frame is in use")   \
    X(LMP_ERR_NO_DISPFRAME, "this process has no dispatcher frame")               \
    /* interrupts as messages (kernel/cap/irq.c) */                              \
    X(IRQ_ERR_ALREADY_CONNECTED, "the interrupt line is connected already")       \
    X(IRQ_ERR_NOT_CONNECTED, "the interrupt line is not connected")               \
    X(IRQ_ERR_NO_SUCH_LINE, "the interrupt controller has no such line")          \
    /* flattened device tree parser */                                            \
    X(FDT_ERR_TRUNCATED, "device tree blob is shorter than its header says")      \
    X(FDT_ERR_BAD_MAGIC, "device tree blob has a bad magic number")               \
    X(FDT_ERR_BAD_VERSION, "device tree blob version is not supported")           \
    X(FDT_ERR_BAD_LAYOUT, "device tree blocks lie outside the blob or overlap")   \
    X(FDT_ERR_BAD_STRUCTURE, "device tree structure block is malformed")          \
    X(FDT_ERR_BAD_STRING, "device tree string is not terminated in its block")    \
    X(FDT_ERR_NOT_FOUND, "device tree node or property not found")                \
    X(FDT_ERR_BAD_VALUE, "device tree property has the wrong length or value")    \
    X(FDT_ERR_TOO_DEEP, "device tree nesting is deeper than supported")           \
    /* newc cpio archive parser */                                                \
    X(CPIO_ERR_TRUNCATED, "cpio archive ends inside an entry")                    \
    X(CPIO_ERR_BAD_MAGIC, "cpio entry does not start with the newc magic 070701") \
    X(CPIO_ERR_BAD_HEADER, "cpio header field is not hexadecimal")                \
    X(CPIO_ERR_BAD_NAME, "cpio entry name is empty or not NUL-terminated")        \
    X(CPIO_ERR_END, "end of the cpio archive (TRAILER!!!)")                      \
    X(CPIO_ERR_NOT_FOUND, "no file of that name in the cpio archive")             \
    /* ELF64 parser */                                                            \
    X(ELF_ERR_TRUNCATED, "ELF file is shorter than its headers say")              \
    X(ELF_ERR_BAD_MAGIC, "not an ELF file (bad magic)")                           \
    X(ELF_ERR_NOT_64BIT, "ELF file is not 64-bit (ELFCLASS64)")                   \
    X(ELF_ERR_NOT_LITTLE_ENDIAN, "ELF file is not little-endian")                 \
    X(ELF_ERR_BAD_VERSION, "ELF version is not EV_CURRENT")                       \
    X(ELF_ERR_WRONG_MACHINE, "ELF file is not for AArch64")                       \
    X(ELF_ERR_NOT_EXECUTABLE, "ELF file is not an executable (ET_EXEC)")          \
    X(ELF_ERR_BAD_PHDR, "ELF program header table is malformed")                  \
    X(ELF_ERR_NO_SEGMENTS, "ELF file has no loadable segments")                   \
    X(ELF_ERR_SEGMENT_OUTSIDE_FILE, "ELF segment data lies outside the file")     \
    X(ELF_ERR_SEGMENT_SIZES, "ELF segment file size exceeds its memory size")     \
    X(ELF_ERR_SEGMENT_ALIGN, "ELF segment alignment is invalid")                  \
    X(ELF_ERR_SEGMENT_ADDRESS, "ELF segment lies outside the user address range") \
    X(ELF_ERR_SEGMENT_OVERLAP, "ELF segments overlap")                            \
    X(ELF_ERR_ENTRY_OUTSIDE, "ELF entry point is not in an executable segment")   \
    /* physical memory manager (lib/mm) */                                        \
    X(MM_ERR_ZERO_SIZE, "size is zero")                                           \
    X(MM_ERR_BAD_ALIGNMENT, "alignment is not a power of two")                    \
    X(MM_ERR_NOT_PAGE_ALIGNED, "address or size is not a multiple of the page size")\
    X(MM_ERR_BAD_RANGE, "address range is empty or wraps around")                 \
    X(MM_ERR_REGION_OVERLAP, "region overlaps one the manager already has")       \
    X(MM_ERR_OUT_OF_MEMORY, "request is larger than any free block")              \
    X(MM_ERR_NO_FIT, "no free block holds the request at that alignment and in that range")\
    X(MM_ERR_NOT_MANAGED, "address lies in no region the manager was given")      \
    X(MM_ERR_NOT_ALLOCATED, "memory to free is not allocated (never, or freed already)")\
    X(MM_ERR_FREE_CROSSES, "range to free does not lie inside one allocation")    \
    X(MM_ERR_BUSY, "allocation is being changed by another thread")               \
    X(MM_ERR_BAD_COUNT, "batch is empty or larger than MM_BATCH_MAX allocations")  \
    X(MM_ERR_NO_BATCH_OP, "capability operations have no retype_many for a batch") \
    X(MM_ERR_NO_METADATA, "memory manager has no room left for its own records")  \
    X(MM_ERR_RETYPE, "could not create the capability of an allocation")          \
    X(MM_ERR_DESTROY, "could not revoke and delete the capability of an allocation")\
    X(MM_ERR_PARTIAL_FREE, "partial free undone: the allocation stays whole, with a new capability")\
    X(MM_ERR_CAP_LOST, "allocation's capability was lost and not remade, so all of it was freed")\
    /* page-table model (lib/os/pt_model) */                                      \
    X(PT_ERR_BAD_VA, "virtual address is not page aligned or not below 2^48")     \
    X(PT_ERR_BAD_SIZE, "size is zero, not a page multiple, or runs past 2^48")    \
    X(PT_ERR_BAD_OFFSET, "frame offset is not a multiple of the page size")       \
    X(PT_ERR_ALREADY_MAPPED, "a page in the range is already mapped")             \
    X(PT_ERR_NOT_MAPPED, "a page in the range is not mapped")                     \
    X(PT_ERR_NO_TABLE, "no level-3 table covers the page yet")                    \
    X(PT_ERR_SPLITS_RUN, "range starts or ends inside a mapped run (no partial unmap)")\
    X(PT_ERR_NO_RECORDS, "no memory for page-table model records")                \
    X(PT_ERR_NEW_TABLE, "could not create a page table")                          \
    X(PT_ERR_LINK, "could not link a page table into its parent")                 \
    X(PT_ERR_MAP, "could not map a run of pages")                                 \
    X(PT_ERR_UNMAP, "could not delete a mapping capability")                      \
    X(PT_ERR_FREE_TABLE, "could not delete an empty, unlinked page table")        \
    X(PT_ERR_UNDO, "undoing a failed map failed too; the model shows what is left")\
    X(PT_ERR_INVARIANT, "page-table model invariant broken")                      \
    /* virtual regions (lib/os/vregion) */                                        \
    X(VREGION_ERR_BAD_SPACE, "address space bounds are empty, not page aligned or beyond 2^48")\
    X(VREGION_ERR_BAD_SIZE, "size is zero or not a multiple of the page size")    \
    X(VREGION_ERR_MISALIGNED, "address is not page aligned")                      \
    X(VREGION_ERR_BAD_ALIGNMENT, "alignment is not a power of two from 4 KiB to 1 GiB")\
    X(VREGION_ERR_BAD_ATTRS, "region attributes are unknown or contradictory")    \
    X(VREGION_ERR_NOT_CANONICAL, "address is not a canonical user address (below 2^48)")\
    X(VREGION_ERR_OUTSIDE, "range lies outside the managed address space")        \
    X(VREGION_ERR_OVERLAP, "range overlaps a region that is not free")            \
    X(VREGION_ERR_ALREADY_MAPPED, "range overlaps an existing mapping")           \
    X(VREGION_ERR_NOT_MAPPED, "range to unmap was never mapped (or is unmapped already)")\
    X(VREGION_ERR_NOT_ALLOCATED, "range to free is free already (never reserved, or freed twice)")\
    X(VREGION_ERR_CROSSES, "range does not lie inside one region")                \
    X(VREGION_ERR_NO_SPACE, "no free gap is large enough: the address space is exhausted")\
    X(VREGION_ERR_NO_RECORDS, "no memory left for virtual region records")        \
    /* user runtime */                                                            \
    X(LIB_ERR_BAD_ARGS, "malformed argument page")                                \
    /* user runtime: slab and slot allocators */                                  \
    X(LIB_ERR_SLAB_BAD_SIZE, "slab object size is zero or too large")             \
    X(LIB_ERR_SLAB_BAD_BUFFER, "buffer given to a slab cannot hold one object")   \
    X(LIB_ERR_SLAB_EMPTY, "slab allocator has no free object")                    \
    X(LIB_ERR_SLOT_INIT, "slot allocator's initial CNodes or L1 range are invalid")\
    X(LIB_ERR_SLOT_ALLOC_EMPTY, "slot allocator has no free slot")                \
    X(LIB_ERR_SLOT_NOT_MANAGED, "slot to free is not in a CNode the slot allocator manages")\
    X(LIB_ERR_SLOT_NOT_ALLOCATED, "slot to free is already free (freed twice?)")  \
    X(LIB_ERR_SLOT_L1_FULL, "root CNode has no free slot and cannot grow")        \
    X(LIB_ERR_SLOT_REFILL, "slot allocator could not add an L2 CNode")             \
    X(LIB_ERR_SLOT_BAD_RUN, "run of slots is empty or longer than SLOT_RUN_MAX")   \
    /* user runtime: paging beyond the region tree and page tables */             \
    X(LIB_ERR_PAGING_INIT, "paging is not started (paging_init)")                 \
    X(LIB_ERR_PAGING_NOT_FRAME, "no frame of this process is mapped there")       \
    /* user runtime: the event loop and the RPC layer (lib/os/waitset.c, rpc*.c) */\
    X(LIB_ERR_WAITSET_TIMEOUT, "nothing happened on the waitset before the deadline")\
    X(RPC_ERR_TIMEOUT, "the call got no reply before its deadline")              \
    X(RPC_ERR_PEER_DEAD, "the other end of the channel has ended")               \
    X(RPC_ERR_CLOSED, "the channel is closed")                                    \
    X(RPC_ERR_TOO_LARGE, "message payload is larger than RPC_MAX_PAYLOAD")       \
    X(RPC_ERR_UNKNOWN_TYPE, "the server knows no message of this type")          \
    X(RPC_ERR_BAD_MESSAGE, "malformed message (header, fragments or length)")    \
    X(RPC_ERR_REPLY_TOO_LARGE, "the reply is larger than the caller's buffer")   \
    X(RPC_ERR_TOO_MANY_CALLS, "too many calls are outstanding on the channel")   \
    X(RPC_ERR_BACKLOG, "the peer takes no messages: its backlog is full, the channel is closed")\
    X(RPC_ERR_BULK, "could not pass a large payload through a shared frame")     \
    X(RPC_ERR_WRONG_CAP, "the request carries no capability or one of the wrong type")\
    X(RPC_ERR_NO_REPLY, "the server's handler neither answered nor deferred the call")\
    X(SVC_ERR_MEM_LIMIT, "the request would take the process over its memory limit")\
    X(SVC_ERR_NO_TERMINAL, "the spawner offers no terminal service (no MINNOW_TERM in the environment)")\
    X(SVC_ERR_BAD_REQUEST, "the request's arguments are malformed for its type")  \
    X(RPC_ERR_TRANSPORT_FULL, "the transport cannot take the message now (retry)")\
    /* user runtime: spawning programs (lib/os/spawn.c) */                        \
    X(SPAWN_ERR_NO_NAME, "the command line names no program")                     \
    X(SPAWN_ERR_NO_PROGRAM, "no boot module of that name")                        \
    X(SPAWN_ERR_ARGS_TOO_LONG, "command line or environment does not fit the argument page")\
    X(SPAWN_ERR_TOO_MANY_ARGS, "more arguments than a program can receive")       \
    X(SPAWN_ERR_IMAGE_TOO_BIG, "program image is larger than a process may load") \
    X(SPAWN_ERR_LOAD, "could not load the program")                               \
    X(SPAWN_ERR_IMAGE_PLACE, "program segments lie outside the image area (below 512 GiB)")\
    X(SPAWN_ERR_TOO_MANY_TABLES, "the program needs more page tables than a spawn provides")\
    /* user runtime: the process manager (usr/init/procmgr.c) */                  \
    X(PROC_ERR_NO_SUCH_PID, "no process with that pid")                           \
    X(PROC_ERR_ENDED, "the process has already ended")                            \
    X(PROC_ERR_TABLE_FULL, "the process table is full")                           \
    X(PROC_ERR_NOT_SUSPENDED, "the process is not suspended")                     \
    X(PROC_ERR_SUSPENDED, "the process is already suspended")                     \
    X(PROC_ERR_IS_CALLER, "a process cannot suspend or kill itself this way")     \
    /* user runtime: threads */                                                   \
    X(THREAD_ERR_STACK, "could not make a thread's stacks")                       \
    X(THREAD_ERR_JOIN_SELF, "a thread cannot join itself")                        \
    X(THREAD_ERR_DETACHED, "the thread is detached: nobody can join it")          \
    X(THREAD_ERR_JOINED, "another thread is already joining it")                  \
    X(THREAD_ERR_NOT_OWNER, "the mutex is not held by this thread")               \
    X(THREAD_ERR_SEM_OVERFLOW, "the semaphore's count would overflow")

enum err_code {
#define MINNOW_ERR_ENUM(code, msg) code,
    MINNOW_ERRORS(MINNOW_ERR_ENUM)
#undef MINNOW_ERR_ENUM
    ERR_CODE_COUNT
};

_Static_assert(ERR_CODE_COUNT < (1u << ERR_CODE_BITS), "error codes must fit the chain field");

/* The newest (outermost) code of a chain. */
static inline enum err_code err_no(errval_t err)
{
    return (enum err_code)(err & ((1u << ERR_CODE_BITS) - 1));
}

static inline bool err_is_ok(errval_t err) { return err_no(err) == SYS_ERR_OK; }
static inline bool err_is_fail(errval_t err) { return !err_is_ok(err); }

/* Add a layer's own code on top of an error it passes up. */
errval_t err_push(errval_t err, enum err_code code);

/* The code `depth` layers down (0 = newest); SYS_ERR_OK past the end. */
enum err_code err_code_at(errval_t err, unsigned depth);

/* True if `code` appears anywhere in the chain. */
bool err_contains(errval_t err, enum err_code code);

/* Name ("ELF_ERR_TRUNCATED") and message of one code; never NULL. */
const char *err_getcode(enum err_code code);
const char *err_getstring(enum err_code code);

/*
 * Write the chain, newest first, one line per layer, through `out` (so the
 * kernel and user space can each use their own console):
 *   "<where>: <context>\n  ELF_ERR_TRUNCATED: ELF file is shorter ...\n ..."
 */
typedef void (*err_out_fn)(const char *s);
void err_print_chain(err_out_fn out, errval_t err, const char *file, int line,
                     const char *context);
