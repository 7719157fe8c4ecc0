/*
 * cpio.h — a bounds-checked reader for "newc" cpio archives (magic 070701),
 * the format of minnow's boot modules (the -initrd image).
 *
 * Pure code, shared by the kernel and the host tests. Entries are returned as
 * views into the archive; nothing is copied. The archive ends at the entry
 * named "TRAILER!!!". Headers and names are padded to 4 bytes, as is data.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <minnow/errors.h>

#define CPIO_NEWC_HEADER_SIZE 110

struct cpio_file {
    const char *name;       /* NUL-terminated, inside the archive */
    const void *data;
    size_t size;
    uint32_t mode;          /* st_mode, e.g. 0100755 for a regular file */
};

/* Read the entry at *offset and advance *offset to the next one.
 * Returns CPIO_ERR_END at the trailer (or at *offset == size). */
errval_t cpio_next(const void *archive, size_t size, size_t *offset, struct cpio_file *file);

/* Find a regular file by name ("init"); a leading "./" in archive names is ignored. */
errval_t cpio_find(const void *archive, size_t size, const char *name, struct cpio_file *file);
