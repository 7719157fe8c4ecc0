/*
 * ostest.c — numbered test cases for in-OS test programs (ostest.h).
 */
#include "ostest.h"

#include "os.h"
#include "paging.h"
#include "ram.h"

#include <stdio.h>

static const char *prefix = "TEST";
static unsigned cases, failures;

void ostest_begin(const char *p)
{
    prefix = p;
}

static void report(const char *desc, bool ok, const char *detail)
{
    cases++;
    failures += !ok;
    if (ok)
        printf("%s%04u %s: ok\n", prefix, cases, desc);
    else
        printf("%s%04u %s: FAILED (%s)\n", prefix, cases, desc, detail);
}

void expect(const char *desc, errval_t err, enum err_code want)
{
    char detail[96];
    snprintf(detail, sizeof detail, "got %s, want %s", err_getcode(err_no(err)), err_getcode(want));
    report(desc, err_no(err) == want, detail);
}

void check(const char *desc, bool ok)
{
    report(desc, ok, "state differs");
}

int ostest_summary(const char *program)
{
    printf("%s: %u cases, %u failed\n", program, cases, failures);
    return failures != 0;
}

unsigned ostest_failures(void) { return failures; }
unsigned ostest_cases(void) { return cases; }

uint64_t ostest_free_bytes(void)
{
    struct mm_stats st;
    mm_stats(ram_mm(), &st);
    return st.free + paging_frames_idle_bytes();
}

bool ostest_start_memory(const char *program)
{
    errval_t err = ram_init_from_memcn();
    if (err_is_ok(err))
        err = paging_init();
    if (err_is_fail(err)) {
        printf("%s: ", program);
        DEBUG_ERR(err, "starting the memory manager and paging");
        return false;
    }
    return true;
}
