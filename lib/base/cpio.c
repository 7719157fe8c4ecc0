/*
 * cpio.c — a bounds-checked reader for "newc" cpio archives, the format
 * of minnow's boot modules.
 *
 * An entry is a 110-byte ASCII header (the magic "070701" and thirteen
 * 8-digit hexadecimal fields), the NUL-terminated name padded so that
 * header and name end on a 4-byte boundary, then the file data padded to 4.
 * The archive ends with an entry named "TRAILER!!!". Padding is counted
 * from the start of the archive. Every entry is checked whole before it is
 * returned, and nothing is copied: names and data point into the archive.
 */
#include "cpio.h"
#include "strutil.h"

#include <stdbool.h>

#define NEWC_MAGIC      "070701"
#define NEWC_MAGIC_LEN  6
#define FIELD_DIGITS    8
#define FIELD_COUNT     13
#define TRAILER_NAME    "TRAILER!!!"

_Static_assert(NEWC_MAGIC_LEN + FIELD_COUNT * FIELD_DIGITS == CPIO_NEWC_HEADER_SIZE,
               "the newc header is the magic and thirteen 8-digit fields");

/* The header fields, in their order in the header. */
enum newc_field {
    FIELD_INO, FIELD_MODE, FIELD_UID, FIELD_GID, FIELD_NLINK, FIELD_MTIME,
    FIELD_FILESIZE, FIELD_DEVMAJOR, FIELD_DEVMINOR, FIELD_RDEVMAJOR,
    FIELD_RDEVMINOR, FIELD_NAMESIZE, FIELD_CHECK,
};

#define MODE_TYPE_MASK  0170000u
#define MODE_REGULAR    0100000u

static size_t align4(size_t x)
{
    return (x + 3) & ~(size_t)3;
}

static int hex_digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool parse_field(const char *p, uint32_t *out)
{
    uint32_t value = 0;
    for (unsigned i = 0; i < FIELD_DIGITS; i++) {
        int digit = hex_digit_value(p[i]);
        if (digit < 0)
            return false;
        value = value << 4 | (uint32_t)digit;
    }
    *out = value;
    return true;
}

/* Check the magic and decode the fields of the header at `h`, of which
 * `room` bytes are in the archive. A short header whose bytes so far
 * disagree with the magic is reported as a bad magic, not as truncated. */
static errval_t parse_header(const char *h, size_t room, uint32_t fields[FIELD_COUNT])
{
    size_t magic_room = room < NEWC_MAGIC_LEN ? room : NEWC_MAGIC_LEN;
    if (!strutil_equal_n(h, NEWC_MAGIC, magic_room))
        return CPIO_ERR_BAD_MAGIC;
    if (room < CPIO_NEWC_HEADER_SIZE)
        return CPIO_ERR_TRUNCATED;
    for (unsigned i = 0; i < FIELD_COUNT; i++) {
        if (!parse_field(h + NEWC_MAGIC_LEN + i * FIELD_DIGITS, &fields[i]))
            return CPIO_ERR_BAD_HEADER;
    }
    return SYS_ERR_OK;
}

/* The name at `name_off` must lie in the archive, be non-empty, and have
 * its only NUL as its last byte (namesize counts the NUL). */
static errval_t check_name(const char *archive, size_t size, size_t name_off, uint32_t namesize)
{
    if (namesize < 2)
        return CPIO_ERR_BAD_NAME;
    if (namesize > size - name_off)
        return CPIO_ERR_TRUNCATED;
    if (strutil_len_bounded(archive + name_off, namesize) != namesize - 1)
        return CPIO_ERR_BAD_NAME;
    return SYS_ERR_OK;
}

/* A failed call, and the trailer, leave *offset where it was, so a caller
 * that keeps calling keeps getting the same answer. */
errval_t cpio_next(const void *archive, size_t size, size_t *offset, struct cpio_file *file)
{
    const char *a = archive;
    size_t off = *offset;
    uint32_t fields[FIELD_COUNT];

    if (off == size)
        return CPIO_ERR_END;
    if (off > size)
        return CPIO_ERR_TRUNCATED;
    errval_t err = parse_header(a + off, size - off, fields);
    if (err_is_fail(err))
        return err;
    size_t name_off = off + CPIO_NEWC_HEADER_SIZE;
    err = check_name(a, size, name_off, fields[FIELD_NAMESIZE]);
    if (err_is_fail(err))
        return err;
    if (strutil_equal(a + name_off, TRAILER_NAME))
        return CPIO_ERR_END;
    size_t data_off = align4(name_off + fields[FIELD_NAMESIZE]);
    if (data_off > size || fields[FIELD_FILESIZE] > size - data_off)
        return CPIO_ERR_TRUNCATED;
    size_t next = align4(data_off + fields[FIELD_FILESIZE]);
    if (next > size)
        return CPIO_ERR_TRUNCATED;     /* the data's padding is missing */
    file->name = a + name_off;
    file->data = a + data_off;
    file->size = fields[FIELD_FILESIZE];
    file->mode = fields[FIELD_MODE];
    *offset = next;
    return SYS_ERR_OK;
}

static const char *skip_dot_slash(const char *name)
{
    return name[0] == '.' && name[1] == '/' ? name + 2 : name;
}

/* The entry found is returned as cpio_next() gave it, name still with any
 * "./" prefix. A damaged archive gives its own error, not NOT_FOUND. */
errval_t cpio_find(const void *archive, size_t size, const char *name, struct cpio_file *file)
{
    size_t off = 0;
    struct cpio_file entry;

    for (;;) {
        errval_t err = cpio_next(archive, size, &off, &entry);
        if (err_no(err) == CPIO_ERR_END)
            return CPIO_ERR_NOT_FOUND;
        if (err_is_fail(err))
            return err;
        bool regular = (entry.mode & MODE_TYPE_MASK) == MODE_REGULAR;
        if (regular && strutil_equal(skip_dot_slash(entry.name), name)) {
            *file = entry;
            return SYS_ERR_OK;
        }
    }
}
