/*
 * fdt_builder.c — writes flattened device tree blobs for the fdt tests
 * (layout from the Devicetree Specification v0.4, chapter 5).
 *
 * The blob is laid out as dtc does: the 40-byte header, the reservation
 * list at offset 40, the structure block, then the strings block. The
 * builder checks nothing about the tree, only its own buffer sizes: a test
 * that overflows them is a broken test, so it aborts.
 */
#include "fdt_builder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

static void need_room(size_t used, size_t more, size_t cap)
{
    if (more > cap - used) {
        fprintf(stderr, "fdt_builder: buffer too small for this test\n");
        abort();
    }
}

void fdtb_init(struct fdtb *b)
{
    memset(b, 0, sizeof(*b));
}

void fdtb_bytes(struct fdtb *b, const void *bytes, size_t n)
{
    if (n == 0)
        return;     /* memcpy must not see a NULL source, even for 0 bytes */
    need_room(b->struct_len, n, sizeof(b->structure));
    memcpy(b->structure + b->struct_len, bytes, n);
    b->struct_len += n;
}

void fdtb_word(struct fdtb *b, uint32_t word)
{
    uint8_t bytes[4];
    put_be32(bytes, word);
    fdtb_bytes(b, bytes, sizeof(bytes));
}

/* Zero bytes up to the next 4-byte boundary, as tokens require. */
static void pad_to_word(struct fdtb *b)
{
    static const uint8_t zeros[3];
    fdtb_bytes(b, zeros, (4 - b->struct_len % 4) % 4);
}

uint32_t fdtb_string(struct fdtb *b, const char *name)
{
    size_t off = 0;
    while (off < b->strings_len) {
        if (strcmp(b->strings + off, name) == 0)
            return (uint32_t)off;
        off += strlen(b->strings + off) + 1;
    }
    size_t n = strlen(name) + 1;
    need_room(b->strings_len, n, sizeof(b->strings));
    memcpy(b->strings + b->strings_len, name, n);
    b->strings_len += n;
    return (uint32_t)off;
}

void fdtb_begin_node(struct fdtb *b, const char *name)
{
    fdtb_word(b, FDTB_BEGIN_NODE);
    fdtb_bytes(b, name, strlen(name) + 1);
    pad_to_word(b);
}

void fdtb_end_node(struct fdtb *b)
{
    fdtb_word(b, FDTB_END_NODE);
}

void fdtb_prop(struct fdtb *b, const char *name, const void *value, uint32_t len)
{
    fdtb_word(b, FDTB_PROP);
    fdtb_word(b, len);
    fdtb_word(b, fdtb_string(b, name));
    fdtb_bytes(b, value, len);
    pad_to_word(b);
}

void fdtb_prop_u32(struct fdtb *b, const char *name, uint32_t value)
{
    fdtb_prop_cells(b, name, &value, 1);
}

void fdtb_prop_cells(struct fdtb *b, const char *name, const uint32_t *cells, unsigned n)
{
    uint8_t bytes[64];
    need_room(0, (size_t)n * 4, sizeof(bytes));
    for (unsigned i = 0; i < n; i++)
        put_be32(bytes + i * 4, cells[i]);
    fdtb_prop(b, name, bytes, n * 4);
}

void fdtb_prop_string(struct fdtb *b, const char *name, const char *value)
{
    fdtb_prop(b, name, value, (uint32_t)strlen(value) + 1);
}

void fdtb_nop(struct fdtb *b)
{
    fdtb_word(b, FDTB_NOP);
}

void fdtb_reserve(struct fdtb *b, uint64_t address, uint64_t size)
{
    need_room(b->nrsv, 1, FDTB_MAX_RSV);
    b->rsv[b->nrsv][0] = address;
    b->rsv[b->nrsv][1] = size;
    b->nrsv++;
}

struct fdtb_blob fdtb_finish_raw(struct fdtb *b)
{
    size_t off_rsvmap = FDTB_HEADER_SIZE;
    size_t off_struct = off_rsvmap + (b->nrsv + 1) * 16;
    size_t off_strings = off_struct + b->struct_len;
    size_t total = off_strings + b->strings_len;
    struct fdtb_blob blob = { .data = calloc(1, total), .size = total };
    if (blob.data == NULL)
        abort();

    uint8_t *h = blob.data;
    put_be32(h + FDTB_HDR_MAGIC, 0xd00dfeedu);
    put_be32(h + FDTB_HDR_TOTALSIZE, (uint32_t)total);
    put_be32(h + FDTB_HDR_OFF_STRUCT, (uint32_t)off_struct);
    put_be32(h + FDTB_HDR_OFF_STRINGS, (uint32_t)off_strings);
    put_be32(h + FDTB_HDR_OFF_RSVMAP, (uint32_t)off_rsvmap);
    put_be32(h + FDTB_HDR_VERSION, 17);
    put_be32(h + FDTB_HDR_LAST_COMP, 16);
    put_be32(h + FDTB_HDR_BOOT_CPU, 0);
    put_be32(h + FDTB_HDR_SIZE_STRINGS, (uint32_t)b->strings_len);
    put_be32(h + FDTB_HDR_SIZE_STRUCT, (uint32_t)b->struct_len);
    /* The list ends with an all-zero entry, which calloc has written. */
    for (unsigned i = 0; i < b->nrsv; i++) {
        put_be64(h + off_rsvmap + i * 16, b->rsv[i][0]);
        put_be64(h + off_rsvmap + i * 16 + 8, b->rsv[i][1]);
    }
    memcpy(h + off_struct, b->structure, b->struct_len);
    memcpy(h + off_strings, b->strings, b->strings_len);
    return blob;
}

struct fdtb_blob fdtb_finish(struct fdtb *b)
{
    fdtb_word(b, FDTB_END);
    return fdtb_finish_raw(b);
}

uint32_t fdtb_header(const struct fdtb_blob *blob, enum fdtb_header_field field)
{
    const uint8_t *p = blob->data + field;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void fdtb_patch_header(struct fdtb_blob *blob, enum fdtb_header_field field, uint32_t value)
{
    put_be32(blob->data + field, value);
}

void fdtb_free(struct fdtb_blob *blob)
{
    free(blob->data);
    blob->data = NULL;
    blob->size = 0;
}
