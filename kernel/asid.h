/*
 * asid.h — address-space identifiers. Every dispatcher's VSpace has its own
 * 16-bit ASID (TCR_EL1.AS), which tags its TLB entries, so a switch needs no
 * TLB flush. ASID 0 is never handed out. Core-local.
 */
#pragma once

#include <stdint.h>
#include <minnow/errors.h>

/* A free ASID. Its old TLB entries (from a dispatcher that had it before)
 * are flushed here, when no TTBR0 can hold it. KERN_ERR_NO_ASID if all
 * 65,535 are in use. */
errval_t asid_alloc(uint16_t *asid);

/* Give back an ASID (0 is ignored). */
void asid_free(uint16_t asid);
