/*
 * test_cpio.c — lib/base/cpio.c on newc archives written by the tests.
 *
 * put_entry() writes one entry as `cpio -H newc` would: the 110-byte
 * header, the name padded so header and name end on a 4-byte boundary, the
 * data padded to 4. Malformed archives are made by overwriting header
 * fields afterwards. Archives are copied into buffers of exactly their
 * size before parsing, so ASan sees any read past the end.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <base/cpio.h>

#define MODE_FILE    0100644u
#define MODE_EXEC    0100755u
#define MODE_DIR     0040755u
#define MODE_SYMLINK 0120777u

/* Field indices in the header, after the 6-byte magic. */
#define FIELD_MODE     1
#define FIELD_FILESIZE 6
#define FIELD_NAMESIZE 11

struct archive {
    uint8_t bytes[8192];
    size_t len;
    size_t starts[16];  /* where each entry begins */
    unsigned entries;
};

static struct archive ar;
static uint8_t *exact;  /* the archive in a buffer of exactly its size */

static void teardown(void)
{
    free(exact);
}

TestSuite(cpio, .fini = teardown);

static void pad4(struct archive *a)
{
    while (a->len % 4 != 0)
        a->bytes[a->len++] = 0;
}

static void put_entry(struct archive *a, const char *name, uint32_t mode, const void *data,
                      size_t size)
{
    char header[CPIO_NEWC_HEADER_SIZE + 1];
    size_t namesize = strlen(name) + 1;
    cr_assert_lt(a->len + sizeof(header) + namesize + size + 8, sizeof(a->bytes));
    cr_assert_lt(a->entries, 16);
    a->starts[a->entries++] = a->len;
    snprintf(header, sizeof(header),
             "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
             (unsigned)a->entries, (unsigned)mode, 0u, 0u, 1u, 0u, (unsigned)size,
             0u, 0u, 0u, 0u, (unsigned)namesize, 0u);
    memcpy(a->bytes + a->len, header, CPIO_NEWC_HEADER_SIZE);
    a->len += CPIO_NEWC_HEADER_SIZE;
    memcpy(a->bytes + a->len, name, namesize);
    a->len += namesize;
    pad4(a);
    if (size > 0)
        memcpy(a->bytes + a->len, data, size);
    a->len += size;
    pad4(a);
}

static void put_file(const char *name, const char *text)
{
    put_entry(&ar, name, MODE_FILE, text, strlen(text));
}

static void put_trailer(void)
{
    put_entry(&ar, "TRAILER!!!", 0, NULL, 0);
}

/* Overwrite header field `field` of entry `entry` with raw text. */
static void set_field_text(unsigned entry, unsigned field, const char text[8])
{
    memcpy(ar.bytes + ar.starts[entry] + 6 + field * 8, text, 8);
}

static void set_field(unsigned entry, unsigned field, uint32_t value)
{
    char text[9];
    snprintf(text, sizeof(text), "%08X", (unsigned)value);
    set_field_text(entry, field, text);
}

static const uint8_t *exact_copy(size_t len)
{
    free(exact);
    exact = malloc(len > 0 ? len : 1);
    cr_assert_not_null(exact);
    memcpy(exact, ar.bytes, len);
    return exact;
}

static errval_t find(const char *name, struct cpio_file *file)
{
    return cpio_find(exact_copy(ar.len), ar.len, name, file);
}

static errval_t next_at(size_t offset, struct cpio_file *file)
{
    return cpio_next(exact_copy(ar.len), ar.len, &offset, file);
}

static void build_three_files(void)
{
    put_file("init", "first program");
    put_file("hello", "hi");
    put_file("bench", "0123456789abcdef");
    put_trailer();
}

/* ---- Finding files. ---- */

Test(cpio, find_returns_the_files_data_size_and_mode)
{
    struct cpio_file f;
    build_three_files();
    cr_assert(err_is_ok(find("init", &f)));
    cr_assert_eq(f.size, strlen("first program"));
    cr_assert_eq(memcmp(f.data, "first program", f.size), 0);
    cr_assert_eq(f.mode, MODE_FILE);
    cr_assert_str_eq(f.name, "init");
}

Test(cpio, find_finds_every_file_of_the_archive)
{
    struct cpio_file f;
    build_three_files();
    cr_assert(err_is_ok(find("hello", &f)));
    cr_assert_eq(memcmp(f.data, "hi", 2), 0);
    cr_assert(err_is_ok(find("bench", &f)));
    cr_assert_eq(f.size, 16);
    cr_assert_eq(memcmp(f.data, "0123456789abcdef", 16), 0);
}

Test(cpio, data_of_every_file_starts_on_a_four_byte_boundary)
{
    struct cpio_file f;
    build_three_files();
    const uint8_t *base = exact_copy(ar.len);
    size_t off = 0;
    while (err_is_ok(cpio_next(base, ar.len, &off, &f)))
        cr_assert_eq(((const uint8_t *)f.data - base) % 4, 0, "%s", f.name);
}

Test(cpio, find_returns_an_empty_file)
{
    struct cpio_file f;
    put_file("empty", "");
    put_file("after", "x");
    put_trailer();
    cr_assert(err_is_ok(find("empty", &f)));
    cr_assert_eq(f.size, 0);
    cr_assert(err_is_ok(find("after", &f)));
    cr_assert_eq(memcmp(f.data, "x", 1), 0);
}

Test(cpio, find_ignores_a_leading_dot_slash_in_archive_names)
{
    struct cpio_file f;
    put_entry(&ar, ".", MODE_DIR, NULL, 0);
    put_file("./init", "program");
    put_trailer();
    cr_assert(err_is_ok(find("init", &f)));
    cr_assert_str_eq(f.name, "./init");
    cr_assert_eq(memcmp(f.data, "program", 7), 0);
}

Test(cpio, find_matches_nested_names_whole)
{
    struct cpio_file f;
    put_file("./bin/init", "nested");
    put_trailer();
    cr_assert(err_is_ok(find("bin/init", &f)));
    cr_assert_eq(err_no(find("init", &f)), CPIO_ERR_NOT_FOUND);
}

Test(cpio, find_skips_a_directory_of_the_same_name)
{
    struct cpio_file f;
    put_entry(&ar, "init", MODE_DIR, NULL, 0);
    put_file("init", "the file");
    put_trailer();
    cr_assert(err_is_ok(find("init", &f)));
    cr_assert_eq(f.mode, MODE_FILE);
    cr_assert_eq(memcmp(f.data, "the file", 8), 0);
}

Test(cpio, find_does_not_return_a_symlink)
{
    struct cpio_file f;
    put_entry(&ar, "link", MODE_SYMLINK, "init", 4);
    put_file("init", "x");
    put_trailer();
    cr_assert_eq(err_no(find("link", &f)), CPIO_ERR_NOT_FOUND);
}

Test(cpio, find_does_not_return_a_directory)
{
    struct cpio_file f;
    put_entry(&ar, "bin", MODE_DIR, NULL, 0);
    put_trailer();
    cr_assert_eq(err_no(find("bin", &f)), CPIO_ERR_NOT_FOUND);
}

Test(cpio, find_accepts_an_executable_regular_file)
{
    struct cpio_file f;
    put_entry(&ar, "init", MODE_EXEC, "\x7f" "ELF", 4);
    put_trailer();
    cr_assert(err_is_ok(find("init", &f)));
    cr_assert_eq(f.mode, MODE_EXEC);
}

Test(cpio, find_of_an_absent_name_is_not_found)
{
    struct cpio_file f;
    build_three_files();
    cr_assert_eq(err_no(find("missing", &f)), CPIO_ERR_NOT_FOUND);
    cr_assert_eq(err_no(find("ini", &f)), CPIO_ERR_NOT_FOUND);
    cr_assert_eq(err_no(find("init2", &f)), CPIO_ERR_NOT_FOUND);
}

Test(cpio, find_stops_at_the_trailer)
{
    struct cpio_file f;
    put_file("before", "a");
    put_trailer();
    put_file("after", "b");
    cr_assert(err_is_ok(find("before", &f)));
    cr_assert_eq(err_no(find("after", &f)), CPIO_ERR_NOT_FOUND);
}

Test(cpio, find_reports_a_damaged_archive_rather_than_not_found)
{
    struct cpio_file f;
    build_three_files();
    set_field_text(1, FIELD_MODE, "0000XYZ0");
    cr_assert_eq(err_no(find("bench", &f)), CPIO_ERR_BAD_HEADER);
}

Test(cpio, find_in_an_empty_buffer_is_not_found)
{
    struct cpio_file f;
    uint8_t none = 0;
    cr_assert_eq(err_no(cpio_find(&none, 0, "init", &f)), CPIO_ERR_NOT_FOUND);
}

/* ---- Walking entries. ---- */

Test(cpio, next_returns_entries_in_order_then_end_at_the_trailer)
{
    static const char *const names[] = { "init", "hello", "bench" };
    struct cpio_file f;
    build_three_files();
    const uint8_t *base = exact_copy(ar.len);
    size_t off = 0;
    for (unsigned i = 0; i < 3; i++) {
        cr_assert(err_is_ok(cpio_next(base, ar.len, &off, &f)));
        cr_assert_str_eq(f.name, names[i]);
        cr_assert_eq(off, ar.starts[i + 1]);
    }
    cr_assert_eq(err_no(cpio_next(base, ar.len, &off, &f)), CPIO_ERR_END);
    cr_assert_eq(off, ar.starts[3], "the trailer does not advance the offset");
}

Test(cpio, next_at_the_end_of_an_archive_without_trailer_is_end)
{
    struct cpio_file f;
    put_file("only", "x");
    const uint8_t *base = exact_copy(ar.len);
    size_t off = 0;
    cr_assert(err_is_ok(cpio_next(base, ar.len, &off, &f)));
    cr_assert_eq(off, ar.len);
    cr_assert_eq(err_no(cpio_next(base, ar.len, &off, &f)), CPIO_ERR_END);
}

Test(cpio, next_reports_non_regular_entries_with_their_mode)
{
    struct cpio_file f;
    put_entry(&ar, "dir", MODE_DIR, NULL, 0);
    put_trailer();
    cr_assert(err_is_ok(next_at(0, &f)));
    cr_assert_eq(f.mode, MODE_DIR);
    cr_assert_str_eq(f.name, "dir");
}

Test(cpio, next_accepts_lower_and_upper_case_hex)
{
    struct cpio_file f;
    put_entry(&ar, "file", MODE_FILE, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", 0x1a);
    put_trailer();
    set_field_text(0, FIELD_FILESIZE, "0000001a");
    cr_assert(err_is_ok(next_at(0, &f)));
    cr_assert_eq(f.size, 0x1a);
    set_field_text(0, FIELD_FILESIZE, "0000001A");
    cr_assert(err_is_ok(next_at(0, &f)));
    cr_assert_eq(f.size, 0x1a);
}

Test(cpio, next_leaves_the_offset_unchanged_on_error)
{
    struct cpio_file f;
    build_three_files();
    set_field_text(1, FIELD_FILESIZE, "zzzzzzzz");
    const uint8_t *base = exact_copy(ar.len);
    size_t off = ar.starts[1];
    cr_assert_eq(err_no(cpio_next(base, ar.len, &off, &f)), CPIO_ERR_BAD_HEADER);
    cr_assert_eq(off, ar.starts[1]);
}

Test(cpio, next_rejects_an_offset_past_the_end)
{
    struct cpio_file f;
    build_three_files();
    cr_assert_eq(err_no(next_at(ar.len + 1, &f)), CPIO_ERR_TRUNCATED);
}

/* ---- Malformed entries. ---- */

Test(cpio, next_rejects_a_bad_magic)
{
    struct cpio_file f;
    build_three_files();
    memcpy(ar.bytes, "070707", 6);  /* the old portable format */
    cr_assert_eq(err_no(next_at(0, &f)), CPIO_ERR_BAD_MAGIC);
}

Test(cpio, next_rejects_the_crc_variant_of_newc)
{
    struct cpio_file f;
    build_three_files();
    memcpy(ar.bytes, "070702", 6);
    cr_assert_eq(err_no(next_at(0, &f)), CPIO_ERR_BAD_MAGIC);
}

Test(cpio, next_rejects_a_short_buffer_that_is_not_cpio_as_bad_magic)
{
    struct cpio_file f;
    size_t off = 0;
    cr_assert_eq(err_no(cpio_next("ELF", 3, &off, &f)), CPIO_ERR_BAD_MAGIC);
}

Test(cpio, next_rejects_a_non_hex_header_field)
{
    struct cpio_file f;
    build_three_files();
    set_field_text(0, FIELD_FILESIZE, "0000000g");
    cr_assert_eq(err_no(next_at(0, &f)), CPIO_ERR_BAD_HEADER);
}

Test(cpio, next_rejects_a_field_with_a_sign_or_space)
{
    struct cpio_file f;
    build_three_files();
    set_field_text(0, FIELD_NAMESIZE, " 0000005");
    cr_assert_eq(err_no(next_at(0, &f)), CPIO_ERR_BAD_HEADER);
    set_field_text(0, FIELD_NAMESIZE, "-0000005");
    cr_assert_eq(err_no(next_at(0, &f)), CPIO_ERR_BAD_HEADER);
}

Test(cpio, next_rejects_name_size_zero)
{
    struct cpio_file f;
    build_three_files();
    set_field(0, FIELD_NAMESIZE, 0);
    cr_assert_eq(err_no(next_at(0, &f)), CPIO_ERR_BAD_NAME);
}

Test(cpio, next_rejects_an_empty_name)
{
    struct cpio_file f;
    put_entry(&ar, "", MODE_FILE, NULL, 0);
    put_trailer();
    cr_assert_eq(err_no(next_at(0, &f)), CPIO_ERR_BAD_NAME);
}

Test(cpio, next_rejects_a_name_not_terminated_by_its_size)
{
    struct cpio_file f;
    build_three_files();
    set_field(0, FIELD_NAMESIZE, 4);  /* "init" without its NUL */
    cr_assert_eq(err_no(next_at(0, &f)), CPIO_ERR_BAD_NAME);
}

Test(cpio, next_rejects_a_name_with_a_nul_before_its_end)
{
    struct cpio_file f;
    put_entry(&ar, "initrd", MODE_FILE, "x", 1);
    put_trailer();
    ar.bytes[CPIO_NEWC_HEADER_SIZE + 4] = '\0';   /* "init\0d\0" */
    cr_assert_eq(err_no(next_at(0, &f)), CPIO_ERR_BAD_NAME);
}

Test(cpio, next_rejects_a_name_running_past_the_archive)
{
    struct cpio_file f;
    build_three_files();
    set_field(3, FIELD_NAMESIZE, 0x1000);
    cr_assert_eq(err_no(next_at(ar.starts[3], &f)), CPIO_ERR_TRUNCATED);
}

Test(cpio, next_rejects_a_file_size_beyond_the_archive)
{
    struct cpio_file f;
    build_three_files();
    set_field(2, FIELD_FILESIZE, (uint32_t)ar.len);
    cr_assert_eq(err_no(next_at(ar.starts[2], &f)), CPIO_ERR_TRUNCATED);
}

Test(cpio, next_rejects_the_largest_file_size)
{
    struct cpio_file f;
    build_three_files();
    set_field(0, FIELD_FILESIZE, 0xffffffffu);
    cr_assert_eq(err_no(next_at(0, &f)), CPIO_ERR_TRUNCATED);
}

Test(cpio, next_rejects_data_whose_padding_is_cut_off)
{
    struct cpio_file f;
    put_file("odd", "abc");     /* 3 bytes of data and 1 of padding */
    const uint8_t *base = exact_copy(ar.len - 1);
    size_t off = 0;
    cr_assert_eq(err_no(cpio_next(base, ar.len - 1, &off, &f)), CPIO_ERR_TRUNCATED);
}

/* Expected outcome of walking the archive cut to `len` bytes: a cut at
 * an entry boundary, or after the trailer's name, ends cleanly; any other
 * cut is inside an entry. */
static enum err_code expected_walk_end(size_t len)
{
    size_t trailer = ar.starts[ar.entries - 1];
    if (len >= trailer + CPIO_NEWC_HEADER_SIZE + sizeof("TRAILER!!!"))
        return CPIO_ERR_END;
    for (unsigned i = 0; i < ar.entries; i++) {
        if (ar.starts[i] == len)
            return CPIO_ERR_END;
    }
    return CPIO_ERR_TRUNCATED;
}

Test(cpio, walk_of_an_archive_cut_at_every_length_ends_with_a_named_error)
{
    build_three_files();
    for (size_t len = 0; len <= ar.len; len++) {
        const uint8_t *base = exact_copy(len);
        struct cpio_file f;
        size_t off = 0;
        errval_t err;
        while (err_is_ok(err = cpio_next(base, len, &off, &f))) {
            cr_assert_leq(off, len);
            cr_assert_leq((const uint8_t *)f.data + f.size, base + len);
        }
        cr_assert_eq(err_no(err), expected_walk_end(len), "length %zu: %s", len,
                     err_getcode(err_no(err)));
    }
}

Test(cpio, find_in_an_archive_cut_at_every_length_fails_cleanly_until_the_file_is_whole)
{
    build_three_files();
    size_t whole = ar.starts[3];    /* the last file ends where the trailer starts */
    for (size_t len = 0; len <= ar.len; len++) {
        struct cpio_file f;
        errval_t err = cpio_find(exact_copy(len), len, "bench", &f);
        if (len >= whole) {
            cr_assert(err_is_ok(err), "length %zu", len);
        } else {
            enum err_code code = err_no(err);
            cr_assert(code == CPIO_ERR_TRUNCATED || code == CPIO_ERR_NOT_FOUND,
                      "length %zu: %s", len, err_getcode(code));
        }
    }
}
