/*
 * test_err.c — the error chain of include/minnow/errors.h and
 * lib/base/err.c: pushing and reading codes, the code table, and the
 * printed form of a chain.
 */
#include <criterion/criterion.h>

#include <string.h>

#include <minnow/errors.h>

/* err_print_chain writes through a function; collect what it writes. */
static char printed[2048];

static void collect(const char *s)
{
    size_t used = strlen(printed);
    cr_assert_lt(used + strlen(s), sizeof(printed), "printed output too long");
    memcpy(printed + used, s, strlen(s) + 1);
}

static void clear_printed(void)
{
    printed[0] = '\0';
}

TestSuite(err, .init = clear_printed);

/* ---- Building and reading a chain. ---- */

Test(err, ok_is_success_and_anything_else_is_failure)
{
    cr_assert(err_is_ok(SYS_ERR_OK));
    cr_assert_not(err_is_fail(SYS_ERR_OK));
    cr_assert(err_is_fail(FDT_ERR_NOT_FOUND));
    cr_assert_not(err_is_ok(FDT_ERR_NOT_FOUND));
}

Test(err, push_onto_success_gives_the_single_code)
{
    errval_t err = err_push(SYS_ERR_OK, ELF_ERR_TRUNCATED);
    cr_assert_eq(err_no(err), ELF_ERR_TRUNCATED);
    cr_assert_eq(err_code_at(err, 1), SYS_ERR_OK);
}

Test(err, push_puts_the_new_code_on_top)
{
    errval_t err = err_push(ELF_ERR_TRUNCATED, KERN_ERR_LOAD_PROGRAM);
    cr_assert_eq(err_no(err), KERN_ERR_LOAD_PROGRAM);
    cr_assert(err_is_fail(err));
}

Test(err, code_at_reads_the_chain_newest_first)
{
    errval_t err = err_push(err_push(CPIO_ERR_TRUNCATED, KERN_ERR_NO_INIT_MODULE),
                            KERN_ERR_LOAD_PROGRAM);
    cr_assert_eq(err_code_at(err, 0), KERN_ERR_LOAD_PROGRAM);
    cr_assert_eq(err_code_at(err, 1), KERN_ERR_NO_INIT_MODULE);
    cr_assert_eq(err_code_at(err, 2), CPIO_ERR_TRUNCATED);
    cr_assert_eq(err_code_at(err, 3), SYS_ERR_OK);
}

Test(err, code_at_past_the_chain_depth_is_ok)
{
    errval_t err = FDT_ERR_BAD_MAGIC;
    for (int i = 0; i < ERR_CHAIN_DEPTH - 1; i++)
        err = err_push(err, KERN_ERR_BAD_DEVICE);
    cr_assert_eq(err_code_at(err, ERR_CHAIN_DEPTH - 1), FDT_ERR_BAD_MAGIC);
    cr_assert_eq(err_code_at(err, ERR_CHAIN_DEPTH), SYS_ERR_OK);
    cr_assert_eq(err_code_at(err, 1000), SYS_ERR_OK);
}

Test(err, full_chain_drops_the_oldest_code_on_push)
{
    errval_t err = ELF_ERR_BAD_MAGIC;   /* the oldest */
    err = err_push(err, ELF_ERR_BAD_PHDR);
    err = err_push(err, KERN_ERR_LOAD_PROGRAM);
    err = err_push(err, KERN_ERR_NO_INIT_MODULE);   /* the chain is now full */
    err = err_push(err, KERN_ERR_CMDLINE);
    cr_assert_eq(err_code_at(err, 0), KERN_ERR_CMDLINE);
    cr_assert_eq(err_code_at(err, 1), KERN_ERR_NO_INIT_MODULE);
    cr_assert_eq(err_code_at(err, 2), KERN_ERR_LOAD_PROGRAM);
    cr_assert_eq(err_code_at(err, 3), ELF_ERR_BAD_PHDR);
    cr_assert_not(err_contains(err, ELF_ERR_BAD_MAGIC));
}

Test(err, pushing_ok_leaves_the_error_unchanged)
{
    errval_t err = err_push(FDT_ERR_TRUNCATED, KERN_ERR_NO_DEVICE);
    cr_assert_eq(err_push(err, SYS_ERR_OK), err);
    cr_assert(err_is_fail(err_push(err, SYS_ERR_OK)));
}

Test(err, contains_finds_a_code_at_any_depth)
{
    errval_t err = err_push(err_push(CPIO_ERR_BAD_NAME, KERN_ERR_NO_INIT_MODULE),
                            KERN_ERR_LOAD_PROGRAM);
    cr_assert(err_contains(err, CPIO_ERR_BAD_NAME));
    cr_assert(err_contains(err, KERN_ERR_NO_INIT_MODULE));
    cr_assert(err_contains(err, KERN_ERR_LOAD_PROGRAM));
}

Test(err, contains_is_false_for_an_absent_code)
{
    errval_t err = err_push(CPIO_ERR_BAD_NAME, KERN_ERR_NO_INIT_MODULE);
    cr_assert_not(err_contains(err, CPIO_ERR_TRUNCATED));
    cr_assert_not(err_contains(err, ELF_ERR_TRUNCATED));
}

Test(err, contains_ok_only_for_a_success)
{
    cr_assert(err_contains(SYS_ERR_OK, SYS_ERR_OK));
    cr_assert_not(err_contains(FDT_ERR_BAD_MAGIC, SYS_ERR_OK));
    cr_assert_not(err_contains(err_push(FDT_ERR_BAD_MAGIC, KERN_ERR_BAD_DEVICE), SYS_ERR_OK));
}

/* ---- The code table. ---- */

Test(err, every_code_has_a_non_empty_name_and_message)
{
    for (unsigned c = 0; c < ERR_CODE_COUNT; c++) {
        const char *name = err_getcode((enum err_code)c);
        const char *message = err_getstring((enum err_code)c);
        cr_assert_not_null(name, "code %u", c);
        cr_assert_not_null(message, "code %u", c);
        cr_assert_gt(strlen(name), 0, "code %u", c);
        cr_assert_gt(strlen(message), 0, "code %u", c);
        cr_assert_str_neq(name, "UNKNOWN_ERROR", "code %u", c);
    }
}

Test(err, every_code_has_a_distinct_name)
{
    for (unsigned a = 0; a < ERR_CODE_COUNT; a++) {
        for (unsigned b = a + 1; b < ERR_CODE_COUNT; b++)
            cr_assert_str_neq(err_getcode((enum err_code)a), err_getcode((enum err_code)b));
    }
}

Test(err, names_and_messages_come_from_the_table)
{
    cr_assert_str_eq(err_getcode(SYS_ERR_OK), "SYS_ERR_OK");
    cr_assert_str_eq(err_getcode(ELF_ERR_TRUNCATED), "ELF_ERR_TRUNCATED");
    cr_assert_str_eq(err_getstring(ELF_ERR_TRUNCATED), "ELF file is shorter than its headers say");
    cr_assert_str_eq(err_getcode(LIB_ERR_BAD_ARGS), "LIB_ERR_BAD_ARGS");
}

Test(err, unknown_codes_have_a_name_and_message)
{
    cr_assert_str_eq(err_getcode((enum err_code)ERR_CODE_COUNT), "UNKNOWN_ERROR");
    cr_assert_str_eq(err_getcode((enum err_code)0xffff), "UNKNOWN_ERROR");
    cr_assert_not_null(err_getstring((enum err_code)0xffff));
    cr_assert_gt(strlen(err_getstring((enum err_code)0xffff)), 0);
}

/* ---- Printing. ---- */

Test(err, print_gives_the_location_then_one_line_per_code_newest_first)
{
    errval_t err = err_push(err_push(ELF_ERR_TRUNCATED, KERN_ERR_LOAD_PROGRAM),
                            KERN_ERR_NO_INIT_MODULE);
    err_print_chain(collect, err, "kernel/main.c", 42, "starting init");
    cr_assert_str_eq(printed,
                     "kernel/main.c:42: starting init\n"
                     "  KERN_ERR_NO_INIT_MODULE: boot module for the first program not found\n"
                     "  KERN_ERR_LOAD_PROGRAM: could not load a boot program\n"
                     "  ELF_ERR_TRUNCATED: ELF file is shorter than its headers say\n");
}

Test(err, print_of_a_full_chain_gives_four_code_lines)
{
    errval_t err = FDT_ERR_BAD_MAGIC;
    for (int i = 0; i < ERR_CHAIN_DEPTH; i++)
        err = err_push(err, KERN_ERR_BAD_DEVICE);
    err_print_chain(collect, err, "f.c", 1, "ctx");
    cr_assert_str_eq(printed,
                     "f.c:1: ctx\n"
                     "  KERN_ERR_BAD_DEVICE: device tree entry for a device is unusable\n"
                     "  KERN_ERR_BAD_DEVICE: device tree entry for a device is unusable\n"
                     "  KERN_ERR_BAD_DEVICE: device tree entry for a device is unusable\n"
                     "  KERN_ERR_BAD_DEVICE: device tree entry for a device is unusable\n");
}

Test(err, print_shows_an_unknown_code_with_its_number)
{
    errval_t err = err_push(1234, KERN_ERR_BAD_DEVICE);
    err_print_chain(collect, err, "x.c", 7, "probe");
    cr_assert_str_eq(printed,
                     "x.c:7: probe\n"
                     "  KERN_ERR_BAD_DEVICE: device tree entry for a device is unusable\n"
                     "  UNKNOWN_ERROR(1234): unknown error code\n");
}

Test(err, print_of_success_gives_the_ok_line)
{
    err_print_chain(collect, SYS_ERR_OK, "a.c", 0, "nothing wrong");
    cr_assert_str_eq(printed, "a.c:0: nothing wrong\n  SYS_ERR_OK: success\n");
}

Test(err, print_formats_large_and_negative_line_numbers)
{
    err_print_chain(collect, FDT_ERR_TOO_DEEP, "b.c", -2147483647 - 1, "min");
    err_print_chain(collect, FDT_ERR_TOO_DEEP, "b.c", 2147483647, "max");
    cr_assert_str_eq(printed,
                     "b.c:-2147483648: min\n"
                     "  FDT_ERR_TOO_DEEP: device tree nesting is deeper than supported\n"
                     "b.c:2147483647: max\n"
                     "  FDT_ERR_TOO_DEEP: device tree nesting is deeper than supported\n");
}
