/*
 * spawn.h — making a process from a boot module: its CSpace, its VSpace
 * with the program loaded, its argument page and its dispatcher.
 *
 * Everything a spawned process is made of lives in ONE allocation of the
 * spawner's memory manager, its *memory*: the dispatcher, the CNodes, the
 * page tables, the frames of its image, argument page and stack, and the
 * RAM it gets for its own use (a RAM capability in its MEMCN, for
 * ram_init_from_memcn). Whatever it makes later it retypes from that RAM,
 * so it descends from the memory too. Reclaiming a process is therefore one
 * ram_free of that allocation: the revoke deletes every capability derived
 * from it (stopping the dispatcher, emptying the CNodes, unmapping), and
 * every byte goes back to the memory manager, exactly.
 *
 * Layout of the new process (docs/processes.md): the image at its linked
 * addresses (below PAGING_LO), the argument page read-only at
 * ARGS_PAGE_VADDR, a USER_STACK_SIZE stack under USER_STACK_TOP with no
 * page below it, its dispatcher frame (LMP buffers, DISPFRAME_CHILD_BYTES)
 * at DISPFRAME_VADDR; its own paging uses the addresses between (paging.h).
 *
 * The spawner mounts the new CNodes in its own root CNode
 * (ROOTCN_SLOT_SPAWN..) while it builds them, so one spawn runs at a time
 * (a mutex). Needs ram_init_from_memcn(); starts paging if it is not.
 */
#pragma once

#include <minnow/args.h>
#include <minnow/errors.h>
#include "cap.h"

/* The largest image span (lowest to highest segment page) a spawn loads. */
#define SPAWN_IMAGE_MAX   (64ull << 20)
/* Boot modules a spawner knows by name (the first ones in the archive). */
#define SPAWN_MODULES_MAX 128
/* RAM a process gets for its own use unless the request says otherwise. */
#define SPAWN_DEFAULT_MEMORY (4ull << 20)

struct spawn_request {
    const char *cmdline;            /* "name arg1 arg2 ...": the boot module, then its arguments */
    const char *const *env;         /* NULL, or "KEY=VALUE" strings ending with a NULL */
    uint32_t pid;                   /* goes to the argument page and the kernel's reports */
    uint64_t memory;                /* RAM for its own use; 0: SPAWN_DEFAULT_MEMORY */
    const struct capref *initep;    /* NULL, or an EndPoint (of the spawner's) the child
                                       gets in its TASKCN_SLOT_INITEP, to send first */
    uint64_t initep_badge;          /* non-zero: the child's copy is minted with this badge
                                       (init gives each child its pid, so it knows who calls) */
};

struct spawn_process {
    struct capref dispatcher;       /* the spawner's copy, for dispatcher.h */
    uint64_t mem_base, mem_size;    /* the one allocation it is made of */
    char name[ARGS_NAME_MAX];
};

/*
 * Build the process the command line names, ready to run but suspended
 * (dispatcher_run starts it). Errors, with nothing kept: SPAWN_ERR_NO_NAME,
 * SPAWN_ERR_NO_PROGRAM, SPAWN_ERR_ARGS_TOO_LONG, SPAWN_ERR_TOO_MANY_ARGS,
 * SPAWN_ERR_IMAGE_TOO_BIG, SPAWN_ERR_IMAGE_PLACE, SPAWN_ERR_TOO_MANY_TABLES;
 * an ELF error pushed with SPAWN_ERR_LOAD; the memory manager's or a
 * capability operation's error.
 */
errval_t spawn_load(const struct spawn_request *req, struct spawn_process *out);

/* The bytes of the boot module `name` (read-only, for as long as the
 * spawner runs). Error: SPAWN_ERR_NO_PROGRAM, or mapping the archive's. */
errval_t spawn_read_module(const char *name, const void **data, size_t *size);

/* End the process in whatever state it is and give everything back. */
errval_t spawn_reclaim(struct spawn_process *p);
