/*
 * ostest.h — numbered cases for the in-OS test programs (captest, mmtest,
 * pagetest): each case prints "<PREFIX><nnnn> <description>: ok" or
 * "... FAILED (<why>)", and the program ends with a summary line that the
 * boot scenarios match.
 */
#pragma once

#include <stdbool.h>

#include <minnow/errors.h>

/* Name the cases ("CAPTEST" -> CAPTEST0001, ...). */
void ostest_begin(const char *prefix);

/* One case: `err` must be exactly the error `want`. */
void expect(const char *desc, errval_t err, enum err_code want);

/* One case: a condition on the state earlier calls left. */
void check(const char *desc, bool ok);

/* Print "<program>: N cases, M failed"; returns the exit code (0 if none failed). */
int ostest_summary(const char *program);

unsigned ostest_failures(void);

/* Start the memory manager (from the process's MEMCN) and paging, as every
 * test program that allocates must; false (with the error printed, naming
 * `program`) if either fails. */
bool ostest_start_memory(const char *program);
unsigned ostest_cases(void);

/* Free memory as a leak check sees it: the memory manager's free bytes
 * plus the zeroed frames paging keeps ready for faults (which the manager
 * counts as allocated). */
uint64_t ostest_free_bytes(void);
