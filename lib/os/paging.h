/*
 * paging.h — this process's virtual address space: regions (vregion.c),
 * the page tables behind them (pt_model.c) and the page-fault handler that
 * backs reserved regions lazily with zeroed frames from ram.h.
 *
 * User-managed addresses are level-0 entries 1-253 (docs/paging.md); the
 * kernel's boot mappings (code, argument page, stack) lie outside them.
 */
#pragma once

#include <minnow/errors.h>
#include "cap.h"
#include "os/pt_model.h"
#include "os/vregion.h"

#define PAGING_LO (1ull << 39)
#define PAGING_HI (254ull << 39)

/* Start paging over the process's level-0 table and install the fault
 * handler. Needs ram_init_from_memcn() (or another RAM source) first. */
errval_t paging_init(void);

/* A chunk of always-backed memory for the record pools (record_pool.h's
 * source, which ram.c sets); starts paging if it is not. NULL: none. */
void *paging_records_chunk(void);

/* Reserve address space, backed on first touch (attrs: VREGION_ATTR_*). */
errval_t paging_reserve(uint64_t size, uint64_t align, uint32_t attrs, uint64_t *base);
errval_t paging_reserve_at(uint64_t base, uint64_t size, uint32_t attrs);

/* Map `size` bytes of a Frame or DevFrame (from offset 0) anywhere or at a
 * fixed address; 2 MiB blocks are used where alignment allows. */
errval_t paging_map_frame(struct capref frame, uint64_t size, uint32_t attrs, uint64_t *base);
errval_t paging_map_fixed(uint64_t base, struct capref frame, uint64_t size, uint32_t attrs);

/* Back [base, base + size), which must lie in one reserved region and have
 * nothing mapped, with one fresh frame now (not on first touch): memory
 * that must never fault, such as thread stacks. */
errval_t paging_map_new(uint64_t base, uint64_t size, uint32_t attrs);

/* Unmap a mapping made by paging_map_*: its range becomes reserved again. */
errval_t paging_unmap(uint64_t base, uint64_t size);

/* Unmap a whole paging_map_new mapping and give its frame back. */
errval_t paging_unmap_free(uint64_t base, uint64_t size);

/* Give a reserved (not mapped) range back, with every page the fault
 * handler backed in it: their frames return to the memory manager. */
errval_t paging_free(uint64_t base, uint64_t size);

/* All functions here are thread-safe (one lock) and return
 * LIB_ERR_PAGING_INIT before paging_init. */

struct vregion_space *paging_regions(void);
struct pt_model *paging_tables(void);
/* Pages backed by the fault handler so far, and given back by paging_free. */
uint64_t paging_faults_handled(void);
uint64_t paging_pages_given_back(void);
/* Zeroed frames made for the fault handler but not yet used (frame_pool.h):
 * allocated in the memory manager's eyes, free in fact. */
uint64_t paging_frames_idle_bytes(void);

/* Times a thread had to wait for the paging lock. For tests: make the
 * fault handler yield while it holds the lock, so that threads faulting
 * at the same time really do meet in it. */
uint64_t paging_lock_waits(void);
void paging_test_yield_in_fault(bool on);
