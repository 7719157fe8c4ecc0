/*
 * fdt_builder.h — a tiny writer of flattened device tree blobs for the
 * host tests of lib/base/fdt.c.
 *
 * A test describes a tree with fdtb_begin_node / fdtb_prop / fdtb_end_node
 * and gets a blob from fdtb_finish. Nothing is checked on the way, so the
 * same calls, plus raw words and bytes and header patches, also make the
 * malformed blobs the parser must reject. Blobs are malloc'd at exactly
 * their size, so AddressSanitizer catches any read past the end.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define FDTB_MAX_STRUCT  16384
#define FDTB_MAX_STRINGS 4096
#define FDTB_MAX_RSV     8

/* Structure block tokens, for writing raw ones. */
#define FDTB_BEGIN_NODE 0x1u
#define FDTB_END_NODE   0x2u
#define FDTB_PROP       0x3u
#define FDTB_NOP        0x4u
#define FDTB_END        0x9u

/* Byte offsets of the header words, for fdtb_patch_header(). */
enum fdtb_header_field {
    FDTB_HDR_MAGIC = 0,
    FDTB_HDR_TOTALSIZE = 4,
    FDTB_HDR_OFF_STRUCT = 8,
    FDTB_HDR_OFF_STRINGS = 12,
    FDTB_HDR_OFF_RSVMAP = 16,
    FDTB_HDR_VERSION = 20,
    FDTB_HDR_LAST_COMP = 24,
    FDTB_HDR_BOOT_CPU = 28,
    FDTB_HDR_SIZE_STRINGS = 32,
    FDTB_HDR_SIZE_STRUCT = 36,
};

#define FDTB_HEADER_SIZE 40u

struct fdtb {
    uint8_t structure[FDTB_MAX_STRUCT];
    size_t struct_len;
    char strings[FDTB_MAX_STRINGS];
    size_t strings_len;
    uint64_t rsv[FDTB_MAX_RSV][2];  /* (address, size) */
    unsigned nrsv;
};

/* A finished blob; release it with fdtb_free(). */
struct fdtb_blob {
    uint8_t *data;
    size_t size;
};

void fdtb_init(struct fdtb *b);

void fdtb_begin_node(struct fdtb *b, const char *name);
void fdtb_end_node(struct fdtb *b);
void fdtb_prop(struct fdtb *b, const char *name, const void *value, uint32_t len);
void fdtb_prop_u32(struct fdtb *b, const char *name, uint32_t value);
void fdtb_prop_cells(struct fdtb *b, const char *name, const uint32_t *cells, unsigned n);
void fdtb_prop_string(struct fdtb *b, const char *name, const char *value);
void fdtb_nop(struct fdtb *b);
void fdtb_reserve(struct fdtb *b, uint64_t address, uint64_t size);

/* Offset of `name` in the strings block, adding it if it is new. */
uint32_t fdtb_string(struct fdtb *b, const char *name);

/* For malformed blobs: one big-endian word, or bytes without padding. */
void fdtb_word(struct fdtb *b, uint32_t word);
void fdtb_bytes(struct fdtb *b, const void *bytes, size_t n);

/* Lay out header, reservation list, structure block and strings block.
 * fdtb_finish appends FDT_END first; fdtb_finish_raw does not. */
struct fdtb_blob fdtb_finish(struct fdtb *b);
struct fdtb_blob fdtb_finish_raw(struct fdtb *b);

uint32_t fdtb_header(const struct fdtb_blob *blob, enum fdtb_header_field field);
void fdtb_patch_header(struct fdtb_blob *blob, enum fdtb_header_field field, uint32_t value);
void fdtb_free(struct fdtb_blob *blob);
