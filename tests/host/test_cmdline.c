/*
 * test_cmdline.c — the kernel command line's "key=value" words and comma
 * lists (lib/base/cmdline.c).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "base/cmdline.h"

Test(cmdline, finds_a_value_among_other_words)
{
    char v[16];
    cr_assert(cmdline_get("a=1 init=bench b=2", "init", v, sizeof v));
    cr_assert_str_eq(v, "bench");
}

Test(cmdline, last_occurrence_wins)
{
    char v[16];
    cr_assert(cmdline_get("init=one init=two", "init", v, sizeof v));
    cr_assert_str_eq(v, "two");
}

Test(cmdline, absent_key_is_not_found)
{
    char v[16] = "unchanged";
    cr_assert_not(cmdline_get("alpha=1 beta", "gamma", v, sizeof v));
}

Test(cmdline, key_must_match_a_whole_word_prefix_up_to_equals)
{
    char v[16];
    cr_assert_not(cmdline_get("initrd=x", "init", v, sizeof v));
    cr_assert_not(cmdline_get("xinit=x", "init", v, sizeof v));
    cr_assert_not(cmdline_get("init", "init", v, sizeof v));
}

Test(cmdline, empty_value_and_extra_spaces)
{
    char v[16];
    cr_assert(cmdline_get("   init=   other=1", "init", v, sizeof v));
    cr_assert_str_eq(v, "");
}

Test(cmdline, value_that_does_not_fit_is_refused)
{
    char v[4];
    cr_assert_not(cmdline_get("init=toolong", "init", v, sizeof v));
    cr_assert(cmdline_get("init=abc", "init", v, sizeof v));
    cr_assert_str_eq(v, "abc");
}

Test(cmdline, empty_command_line)
{
    char v[4];
    cr_assert_not(cmdline_get("", "init", v, sizeof v));
}

Test(cmdline, comma_list_items_in_order_skipping_empty_ones)
{
    const char *pos = "faulter,,regcheck,";
    char item[16];
    cr_assert(cmdline_next_item(&pos, item, sizeof item));
    cr_assert_str_eq(item, "faulter");
    cr_assert(cmdline_next_item(&pos, item, sizeof item));
    cr_assert_str_eq(item, "regcheck");
    cr_assert_not(cmdline_next_item(&pos, item, sizeof item));
}

Test(cmdline, comma_list_item_too_long_stops_the_walk)
{
    const char *pos = "averyveryverylongname,b";
    char item[8];
    cr_assert_not(cmdline_next_item(&pos, item, sizeof item));
}
