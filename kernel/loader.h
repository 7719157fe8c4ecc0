/*
 * loader.h — creating the boot processes from ELF boot modules.
 */
#pragma once

#include <minnow/errors.h>
#include "dcb.h"
#include "platform.h"

/* Load module `name` from the boot modules, build its address space, stack,
 * argument page and CSpace, and make it runnable. */
errval_t loader_start_process(const struct platform *p, const char *name, struct dcb **out);
