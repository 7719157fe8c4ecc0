/*
 * fdt.c — a read-only, bounds-checked flattened device tree parser
 * (Devicetree Specification v0.4, chapter 5: blob versions 16 and 17).
 *
 * fdt_open() checks the whole blob before anyone uses it: the header, the
 * block layout, the memory reservation list and every token of the
 * structure block (names terminated, properties inside the block, nodes
 * balanced, nesting at most FDT_MAX_DEPTH, a final FDT_END). The queries
 * after it still go through read_token(), which checks every read against
 * the block, so a struct fdt that was not opened cannot make them stray.
 * All multi-byte values are big-endian and may be unaligned; they are read
 * a byte at a time. Nodes are the offsets of their FDT_BEGIN_NODE tokens.
 */
#include "fdt.h"
#include "strutil.h"

/* Structure block tokens (specification section 5.4.1). */
#define FDT_BEGIN_NODE 0x1u
#define FDT_END_NODE   0x2u
#define FDT_PROP       0x3u
#define FDT_NOP        0x4u
#define FDT_END        0x9u

/* The header is ten big-endian words; version 16 lacks the last one. */
#define HDR_MAGIC         0
#define HDR_TOTALSIZE     4
#define HDR_OFF_STRUCT    8
#define HDR_OFF_STRINGS   12
#define HDR_OFF_RSVMAP    16
#define HDR_VERSION       20
#define HDR_LAST_COMP     24
#define HDR_SIZE_STRINGS  32
#define HDR_SIZE_STRUCT   36
#define HEADER_SIZE_V16   36u
#define HEADER_SIZE_V17   40u

#define FDT_READ_VERSION  17u   /* the version this parser is written to */
#define FDT_OLDEST        16u   /* oldest version whose layout it reads */
#define RSV_ENTRY_SIZE    16u   /* two big-endian u64: address, size */

/* One decoded token of the structure block. */
struct token {
    uint32_t tag;
    uint32_t next;          /* offset of the token after this one */
    const char *name;       /* node name (BEGIN_NODE) or property name (PROP) */
    const uint8_t *value;   /* property value (PROP) */
    uint32_t len;           /* property length (PROP) */
};

uint32_t fdt_be32(const void *p)
{
    const uint8_t *b = p;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

uint64_t fdt_be64(const void *p)
{
    const uint8_t *b = p;
    return (uint64_t)fdt_be32(b) << 32 | fdt_be32(b + 4);
}

/* Cell counts other than 1 and 2 read as 0, so a #size-cells of 0 gives a
 * size of 0 without touching the value. */
uint64_t fdt_read_cells(const void *p, unsigned cells)
{
    if (cells == 1)
        return fdt_be32(p);
    if (cells == 2)
        return fdt_be64(p);
    return 0;
}

static uint64_t align4(uint64_t x)
{
    return (x + 3) & ~(uint64_t)3;
}

/* ---- Reading tokens: every read is checked against the block. ---- */

static const uint8_t *struct_block(const struct fdt *fdt)
{
    return fdt->blob + fdt->off_struct;
}

/* A string that starts at `off` in the strings block and ends inside it. */
static errval_t string_at(const struct fdt *fdt, uint32_t off, const char **out)
{
    if (off >= fdt->size_strings)
        return FDT_ERR_BAD_STRING;
    const char *s = (const char *)fdt->blob + fdt->off_strings + off;
    uint32_t room = fdt->size_strings - off;
    if (strutil_len_bounded(s, room) == room)
        return FDT_ERR_BAD_STRING;
    *out = s;
    return SYS_ERR_OK;
}

/* The body of FDT_BEGIN_NODE at `off`: a NUL-terminated name padded to 4. */
static errval_t read_node_body(const struct fdt *fdt, uint32_t off, struct token *tok)
{
    const char *name = (const char *)struct_block(fdt) + off;
    uint32_t room = fdt->size_struct - off;
    size_t len = strutil_len_bounded(name, room);
    if (len == room)
        return FDT_ERR_BAD_STRING;
    uint64_t next = align4((uint64_t)off + len + 1);
    if (next > fdt->size_struct)
        return FDT_ERR_BAD_STRUCTURE;
    tok->name = name;
    tok->next = (uint32_t)next;
    return SYS_ERR_OK;
}

/* The body of FDT_PROP at `off`: length, name offset, value padded to 4. */
static errval_t read_prop_body(const struct fdt *fdt, uint32_t off, struct token *tok)
{
    if (fdt->size_struct - off < 8)
        return FDT_ERR_BAD_STRUCTURE;
    const uint8_t *p = struct_block(fdt) + off;
    uint32_t len = fdt_be32(p);
    uint32_t value_off = off + 8;
    if (len > fdt->size_struct - value_off)
        return FDT_ERR_BAD_STRUCTURE;
    uint64_t next = align4((uint64_t)value_off + len);
    if (next > fdt->size_struct)
        return FDT_ERR_BAD_STRUCTURE;
    errval_t err = string_at(fdt, fdt_be32(p + 4), &tok->name);
    if (err_is_fail(err))
        return err;
    tok->value = p + 8;
    tok->len = len;
    tok->next = (uint32_t)next;
    return SYS_ERR_OK;
}

static errval_t read_token(const struct fdt *fdt, uint32_t off, struct token *tok)
{
    if (off % 4 != 0 || off > fdt->size_struct || fdt->size_struct - off < 4)
        return FDT_ERR_BAD_STRUCTURE;
    tok->tag = fdt_be32(struct_block(fdt) + off);
    tok->name = NULL;
    tok->value = NULL;
    tok->len = 0;
    tok->next = off + 4;
    switch (tok->tag) {
    case FDT_BEGIN_NODE:
        return read_node_body(fdt, off + 4, tok);
    case FDT_PROP:
        return read_prop_body(fdt, off + 4, tok);
    case FDT_END_NODE:
    case FDT_NOP:
    case FDT_END:
        return SYS_ERR_OK;
    default:
        return FDT_ERR_BAD_STRUCTURE;
    }
}

/* From `off`, skip NOPs (and properties, if asked) to the next other token. */
static errval_t seek_token(const struct fdt *fdt, uint32_t off, bool skip_props,
                           uint32_t *at, struct token *tok)
{
    for (;;) {
        errval_t err = read_token(fdt, off, tok);
        if (err_is_fail(err))
            return err;
        bool skip = tok->tag == FDT_NOP || (skip_props && tok->tag == FDT_PROP);
        if (!skip) {
            *at = off;
            return SYS_ERR_OK;
        }
        off = tok->next;
    }
}

/* `node` must be the offset of an FDT_BEGIN_NODE token. */
static errval_t read_node(const struct fdt *fdt, int node, struct token *tok)
{
    if (node < 0)
        return FDT_ERR_NOT_FOUND;
    if ((uint32_t)node >= fdt->size_struct || node % 4 != 0)
        return FDT_ERR_NOT_FOUND;
    errval_t err = read_token(fdt, (uint32_t)node, tok);
    if (err_is_fail(err))
        return err;
    return tok->tag == FDT_BEGIN_NODE ? SYS_ERR_OK : FDT_ERR_NOT_FOUND;
}

/* ---- fdt_open: check everything once, before anyone uses the blob. ---- */

static errval_t check_header(const uint8_t *blob, size_t avail, uint32_t *header_size)
{
    if (avail < 4)
        return FDT_ERR_TRUNCATED;
    if (fdt_be32(blob + HDR_MAGIC) != FDT_MAGIC)
        return FDT_ERR_BAD_MAGIC;
    if (avail < HEADER_SIZE_V16)
        return FDT_ERR_TRUNCATED;
    uint32_t version = fdt_be32(blob + HDR_VERSION);
    if (version < FDT_OLDEST || fdt_be32(blob + HDR_LAST_COMP) > FDT_READ_VERSION)
        return FDT_ERR_BAD_VERSION;
    *header_size = version >= 17 ? HEADER_SIZE_V17 : HEADER_SIZE_V16;
    if (avail < *header_size)
        return FDT_ERR_TRUNCATED;
    uint32_t totalsize = fdt_be32(blob + HDR_TOTALSIZE);
    if (totalsize > avail)
        return FDT_ERR_TRUNCATED;
    /* Node offsets are ints in the interface, so the blob must fit in one. */
    if (totalsize < *header_size || totalsize > INT32_MAX)
        return FDT_ERR_BAD_LAYOUT;
    return SYS_ERR_OK;
}

/* Where the block that starts at `start` must end at the latest: at the
 * next block start after it, or at the end of the blob. Used for the
 * blocks whose size the header does not give. */
static uint32_t block_limit(const struct fdt *fdt, uint32_t start)
{
    uint32_t limit = fdt->size;
    uint32_t starts[3] = { fdt->off_struct, fdt->off_strings, fdt->off_rsvmap };
    for (unsigned i = 0; i < 3; i++) {
        if (starts[i] > start && starts[i] < limit)
            limit = starts[i];
    }
    return limit;
}

static bool block_inside(uint32_t off, uint32_t size, uint32_t header_size, uint32_t total)
{
    return off >= header_size && (uint64_t)off + size <= total;
}

static bool blocks_overlap(uint32_t a, uint32_t alen, uint32_t b, uint32_t blen)
{
    return alen != 0 && blen != 0 && (uint64_t)a < (uint64_t)b + blen &&
           (uint64_t)b < (uint64_t)a + alen;
}

/* Fill the block fields of `fdt` from the header and check that the blocks
 * lie inside the blob, after the header, aligned, and apart. */
static errval_t check_layout(struct fdt *fdt, uint32_t header_size)
{
    const uint8_t *h = fdt->blob;
    fdt->size = fdt_be32(h + HDR_TOTALSIZE);
    fdt->off_struct = fdt_be32(h + HDR_OFF_STRUCT);
    fdt->off_strings = fdt_be32(h + HDR_OFF_STRINGS);
    fdt->size_strings = fdt_be32(h + HDR_SIZE_STRINGS);
    fdt->off_rsvmap = fdt_be32(h + HDR_OFF_RSVMAP);
    if (fdt->off_struct % 4 != 0 || fdt->off_rsvmap % 8 != 0)
        return FDT_ERR_BAD_LAYOUT;
    if (fdt->off_struct < header_size || fdt->off_struct > fdt->size)
        return FDT_ERR_BAD_LAYOUT;
    /* Version 16 has no structure size: the block runs to the next one. */
    if (header_size == HEADER_SIZE_V17)
        fdt->size_struct = fdt_be32(h + HDR_SIZE_STRUCT);
    else
        fdt->size_struct = block_limit(fdt, fdt->off_struct) - fdt->off_struct;
    if (!block_inside(fdt->off_struct, fdt->size_struct, header_size, fdt->size) ||
        !block_inside(fdt->off_strings, fdt->size_strings, header_size, fdt->size) ||
        !block_inside(fdt->off_rsvmap, RSV_ENTRY_SIZE, header_size, fdt->size))
        return FDT_ERR_BAD_LAYOUT;
    /* The reservation list's length is only known by walking it; here its
     * first entry must stand clear of the other blocks, and block_limit()
     * keeps the rest from running into the next one. */
    if (blocks_overlap(fdt->off_struct, fdt->size_struct, fdt->off_strings, fdt->size_strings) ||
        blocks_overlap(fdt->off_rsvmap, RSV_ENTRY_SIZE, fdt->off_struct, fdt->size_struct) ||
        blocks_overlap(fdt->off_rsvmap, RSV_ENTRY_SIZE, fdt->off_strings, fdt->size_strings))
        return FDT_ERR_BAD_LAYOUT;
    return SYS_ERR_OK;
}

/*
 * Find reservation entry `idx`, walking from the first so that an index
 * past the terminating all-zero entry gives FDT_ERR_NOT_FOUND rather than
 * whatever bytes follow it. The list may not run into the next block.
 */
static errval_t find_rsv_entry(const struct fdt *fdt, unsigned idx, const uint8_t **entry)
{
    uint32_t limit = block_limit(fdt, fdt->off_rsvmap);
    uint64_t off = fdt->off_rsvmap;
    for (unsigned i = 0;; i++, off += RSV_ENTRY_SIZE) {
        if (off + RSV_ENTRY_SIZE > limit)
            return FDT_ERR_BAD_LAYOUT;
        const uint8_t *e = fdt->blob + off;
        if (fdt_be64(e) == 0 && fdt_be64(e + 8) == 0)
            return FDT_ERR_NOT_FOUND;
        if (i == idx) {
            *entry = e;
            return SYS_ERR_OK;
        }
    }
}

static errval_t check_rsvmap(const struct fdt *fdt)
{
    const uint8_t *entry;
    errval_t err = find_rsv_entry(fdt, ~0u, &entry);
    if (err_no(err) == FDT_ERR_NOT_FOUND)
        return SYS_ERR_OK;  /* reached the terminator inside the block */
    return err_is_fail(err) ? err : FDT_ERR_BAD_LAYOUT;
}

/*
 * Walk the whole structure block once. After this, the block holds exactly
 * one root node (NOPs aside), every node is closed, no property stands
 * outside a node, nesting stays within FDT_MAX_DEPTH, and FDT_END ends it.
 * read_token() has checked every name and property on the way.
 */
static errval_t check_structure(const struct fdt *fdt)
{
    uint32_t off = 0;
    unsigned open_nodes = 0;
    bool seen_root = false;
    struct token tok;

    for (;;) {
        errval_t err = read_token(fdt, off, &tok);
        if (err_is_fail(err))
            return err;
        switch (tok.tag) {
        case FDT_BEGIN_NODE:
            if (open_nodes == 0 && seen_root)
                return FDT_ERR_BAD_STRUCTURE;   /* a second root */
            if (++open_nodes > FDT_MAX_DEPTH)
                return FDT_ERR_TOO_DEEP;
            seen_root = true;
            break;
        case FDT_END_NODE:
            if (open_nodes == 0)
                return FDT_ERR_BAD_STRUCTURE;
            open_nodes--;
            break;
        case FDT_PROP:
            if (open_nodes == 0)
                return FDT_ERR_BAD_STRUCTURE;
            break;
        case FDT_END:
            return open_nodes == 0 && seen_root ? SYS_ERR_OK : FDT_ERR_BAD_STRUCTURE;
        default:
            break;  /* FDT_NOP */
        }
        off = tok.next;
    }
}

errval_t fdt_open(struct fdt *fdt, const void *blob, size_t avail)
{
    struct fdt f = { .blob = blob };
    uint32_t header_size = 0;
    errval_t err;

    if (blob == NULL)
        return FDT_ERR_TRUNCATED;
    err = check_header(f.blob, avail, &header_size);
    if (err_is_ok(err))
        err = check_layout(&f, header_size);
    if (err_is_ok(err))
        err = check_rsvmap(&f);
    if (err_is_ok(err))
        err = check_structure(&f);
    if (err_is_fail(err))
        return err;
    *fdt = f;
    return SYS_ERR_OK;
}

/* ---- Moving around the tree. ---- */

/* -1 if the block does not start (after NOPs) with a node; fdt_open has
 * ruled that out for an opened blob. */
int fdt_root(const struct fdt *fdt)
{
    uint32_t at;
    struct token tok;
    errval_t err = seek_token(fdt, 0, false, &at, &tok);
    if (err_is_fail(err) || tok.tag != FDT_BEGIN_NODE)
        return -1;
    return (int)at;
}

/* The first node after `node` in document order, and how many nodes were
 * closed on the way there (its depth is node's depth + 1 - closed). */
static errval_t step_to_next_node(const struct fdt *fdt, int node, int *next, int *closed)
{
    struct token tok;
    errval_t err = read_node(fdt, node, &tok);
    int ends = 0;

    while (err_is_ok(err)) {
        uint32_t off = tok.next;
        err = read_token(fdt, off, &tok);
        if (err_is_fail(err))
            return err;
        if (tok.tag == FDT_BEGIN_NODE) {
            *next = (int)off;
            *closed = ends;
            return SYS_ERR_OK;
        }
        if (tok.tag == FDT_END)
            return FDT_ERR_NOT_FOUND;
        if (tok.tag == FDT_END_NODE)
            ends++;
    }
    return err;
}

/*
 * The walk cannot know a node's depth without starting at the root, so it
 * trusts the *depth it returned for *node on the previous call; a depth
 * outside 0..FDT_MAX_DEPTH-1 cannot have come from there and is refused.
 */
errval_t fdt_next_node(const struct fdt *fdt, int *node, int *depth)
{
    if (*node < 0) {
        int root = fdt_root(fdt);
        if (root < 0)
            return FDT_ERR_BAD_STRUCTURE;
        *node = root;
        *depth = 0;
        return SYS_ERR_OK;
    }
    if (*depth < 0 || *depth >= FDT_MAX_DEPTH)
        return FDT_ERR_BAD_VALUE;
    int next, closed;
    errval_t err = step_to_next_node(fdt, *node, &next, &closed);
    if (err_is_fail(err))
        return err;
    *node = next;
    *depth = *depth + 1 - closed;
    return SYS_ERR_OK;
}

errval_t fdt_first_child(const struct fdt *fdt, int node, int *child)
{
    struct token tok;
    uint32_t at = 0;
    errval_t err = read_node(fdt, node, &tok);
    if (err_is_ok(err))
        err = seek_token(fdt, tok.next, true, &at, &tok);
    if (err_is_fail(err))
        return err;
    if (tok.tag != FDT_BEGIN_NODE)
        return FDT_ERR_NOT_FOUND;
    *child = (int)at;
    return SYS_ERR_OK;
}

/* The offset just past the FDT_END_NODE that closes `node`. */
static errval_t skip_subtree(const struct fdt *fdt, int node, uint32_t *after)
{
    struct token tok;
    errval_t err = read_node(fdt, node, &tok);
    unsigned open_nodes = 1;

    while (err_is_ok(err)) {
        uint32_t off = tok.next;
        err = read_token(fdt, off, &tok);
        if (err_is_fail(err))
            return err;
        if (tok.tag == FDT_END)
            return FDT_ERR_BAD_STRUCTURE;
        if (tok.tag == FDT_BEGIN_NODE)
            open_nodes++;
        if (tok.tag == FDT_END_NODE && --open_nodes == 0) {
            *after = tok.next;
            return SYS_ERR_OK;
        }
    }
    return err;
}

errval_t fdt_next_sibling(const struct fdt *fdt, int node, int *sibling)
{
    struct token tok;
    uint32_t after = 0, at = 0;
    errval_t err = skip_subtree(fdt, node, &after);
    if (err_is_ok(err))
        err = seek_token(fdt, after, true, &at, &tok);
    if (err_is_fail(err))
        return err;
    if (tok.tag != FDT_BEGIN_NODE)
        return FDT_ERR_NOT_FOUND;
    *sibling = (int)at;
    return SYS_ERR_OK;
}

/* Walk from the root remembering the last node seen at each depth: when
 * `node` turns up at depth d, its parent is the one remembered at d - 1. */
errval_t fdt_parent(const struct fdt *fdt, int node, int *parent)
{
    int ancestors[FDT_MAX_DEPTH];
    int cur = -1, depth = 0;

    for (;;) {
        errval_t err = fdt_next_node(fdt, &cur, &depth);
        if (err_is_fail(err))
            return err;
        /* Only a blob fdt_open has not checked can get here out of range. */
        if (depth < 0 || depth >= FDT_MAX_DEPTH)
            return FDT_ERR_BAD_STRUCTURE;
        ancestors[depth] = cur;
        if (cur != node)
            continue;
        if (depth == 0)
            return FDT_ERR_NOT_FOUND;   /* the root has no parent */
        *parent = ancestors[depth - 1];
        return SYS_ERR_OK;
    }
}

/* "" also for an offset that is not a node, so callers can always print it. */
const char *fdt_node_name(const struct fdt *fdt, int node)
{
    struct token tok;
    if (err_is_fail(read_node(fdt, node, &tok)))
        return "";
    return tok.name;
}

/* Does node name `name` match the path component comp[0..len)? */
static bool component_matches(const char *name, const char *comp, size_t len)
{
    bool comp_has_unit = false;
    for (size_t i = 0; i < len; i++)
        comp_has_unit = comp_has_unit || comp[i] == '@';
    /* The comparison stops at the first difference, so it never reads past
     * the NUL of a name shorter than the component. */
    if (!strutil_equal_n(name, comp, len))
        return false;
    return name[len] == '\0' || (!comp_has_unit && name[len] == '@');
}

static errval_t find_child(const struct fdt *fdt, int node, const char *comp, size_t len,
                           int *child)
{
    int cur;
    errval_t err = fdt_first_child(fdt, node, &cur);
    while (err_is_ok(err)) {
        if (component_matches(fdt_node_name(fdt, cur), comp, len)) {
            *child = cur;
            return SYS_ERR_OK;
        }
        err = fdt_next_sibling(fdt, cur, &cur);
    }
    return err;
}

/* Only absolute paths: aliases are not resolved. Repeated and trailing
 * slashes are ignored. */
errval_t fdt_path(const struct fdt *fdt, const char *path, int *node)
{
    if (path[0] != '/')
        return FDT_ERR_NOT_FOUND;
    int cur = fdt_root(fdt);
    if (cur < 0)
        return FDT_ERR_BAD_STRUCTURE;
    const char *p = path;
    for (;;) {
        while (*p == '/')
            p++;
        if (*p == '\0') {
            *node = cur;
            return SYS_ERR_OK;
        }
        size_t len = 0;
        while (p[len] != '\0' && p[len] != '/')
            len++;
        errval_t err = find_child(fdt, cur, p, len, &cur);
        if (err_is_fail(err))
            return err;
        p += len;
    }
}

/* ---- Properties. ---- */

/* Either output may be NULL when the caller only needs the other. */
errval_t fdt_prop(const struct fdt *fdt, int node, const char *name,
                  const void **value, uint32_t *len)
{
    struct token tok;
    errval_t err = read_node(fdt, node, &tok);
    while (err_is_ok(err)) {
        err = read_token(fdt, tok.next, &tok);
        if (err_is_fail(err))
            return err;
        if (tok.tag == FDT_NOP)
            continue;
        if (tok.tag != FDT_PROP)
            return FDT_ERR_NOT_FOUND;   /* the node's properties have ended */
        if (strutil_equal(tok.name, name))
            break;
    }
    if (err_is_fail(err))
        return err;
    if (value != NULL)
        *value = tok.value;
    if (len != NULL)
        *len = tok.len;
    return SYS_ERR_OK;
}

/* Exactly one cell (4 bytes); anything else is FDT_ERR_BAD_VALUE. */
errval_t fdt_prop_u32(const struct fdt *fdt, int node, const char *name, uint32_t *out)
{
    const void *value;
    uint32_t len;
    errval_t err = fdt_prop(fdt, node, name, &value, &len);
    if (err_is_fail(err))
        return err;
    if (len != 4)
        return FDT_ERR_BAD_VALUE;
    *out = fdt_be32(value);
    return SYS_ERR_OK;
}

/* The value must end in a NUL; for a string list this is the first string. */
errval_t fdt_prop_string(const struct fdt *fdt, int node, const char *name, const char **out)
{
    const void *value;
    uint32_t len;
    errval_t err = fdt_prop(fdt, node, name, &value, &len);
    if (err_is_fail(err))
        return err;
    if (len == 0 || ((const char *)value)[len - 1] != '\0')
        return FDT_ERR_BAD_VALUE;
    *out = value;
    return SYS_ERR_OK;
}

/* An unterminated last string in the list is not compared at all. */
bool fdt_is_compatible(const struct fdt *fdt, int node, const char *compat)
{
    const void *value;
    uint32_t len;
    if (err_is_fail(fdt_prop(fdt, node, "compatible", &value, &len)))
        return false;
    const char *list = value;
    uint32_t pos = 0;
    while (pos < len) {
        size_t n = strutil_len_bounded(list + pos, len - pos);
        if (n == len - pos)
            return false;
        if (strutil_equal(list + pos, compat))
            return true;
        pos += (uint32_t)n + 1;
    }
    return false;
}

errval_t fdt_find_compatible(const struct fdt *fdt, int start, const char *compat, int *node)
{
    int cur = start, closed;
    errval_t err = SYS_ERR_OK;

    if (cur < 0) {
        cur = fdt_root(fdt);
        if (cur < 0)
            return FDT_ERR_BAD_STRUCTURE;
        if (fdt_is_compatible(fdt, cur, compat)) {
            *node = cur;
            return SYS_ERR_OK;
        }
    }
    while (err_is_ok(err)) {
        err = step_to_next_node(fdt, cur, &cur, &closed);
        if (err_is_ok(err) && fdt_is_compatible(fdt, cur, compat)) {
            *node = cur;
            return SYS_ERR_OK;
        }
    }
    return err;
}

/* A #address-cells or #size-cells of `parent`, or `fallback` if absent. */
static errval_t cell_count(const struct fdt *fdt, int parent, const char *name,
                           uint32_t fallback, uint32_t *cells)
{
    errval_t err = SYS_ERR_OK;
    *cells = fallback;
    if (parent >= 0)
        err = fdt_prop_u32(fdt, parent, name, cells);
    if (err_no(err) == FDT_ERR_NOT_FOUND)
        return SYS_ERR_OK;  /* fdt_prop_u32 left the fallback in place */
    if (err_is_fail(err))
        return err;
    return *cells <= 2 ? SYS_ERR_OK : FDT_ERR_BAD_VALUE;
}

/* The root has no parent and decodes its own "reg" with the defaults. An
 * address needs at least one cell; a size may have none (as for CPUs). */
/* The node's "reg" property and the cell counts that decode it. */
struct reg_layout {
    const uint8_t *value;
    uint32_t acells, scells, count;
};

static errval_t reg_layout_under(const struct fdt *fdt, int parent, int node, struct reg_layout *r)
{
    uint32_t len = 0;
    const void *value = NULL;
    errval_t err = cell_count(fdt, parent, "#address-cells", 2, &r->acells);
    if (err_is_ok(err))
        err = cell_count(fdt, parent, "#size-cells", 1, &r->scells);
    if (err_is_ok(err))
        err = fdt_prop(fdt, node, "reg", &value, &len);
    if (err_is_fail(err))
        return err;
    uint32_t stride = (r->acells + r->scells) * 4;
    if (r->acells == 0 || len % stride != 0)
        return FDT_ERR_BAD_VALUE;
    r->value = value;
    r->count = len / stride;
    return SYS_ERR_OK;
}

static errval_t reg_layout(const struct fdt *fdt, int node, struct reg_layout *r)
{
    int parent = -1;
    errval_t err = fdt_parent(fdt, node, &parent);
    if (err_no(err) == FDT_ERR_NOT_FOUND)
        err = SYS_ERR_OK;
    return err_is_ok(err) ? reg_layout_under(fdt, parent, node, r) : err;
}

static struct fdt_range reg_entry(const struct reg_layout *r, unsigned idx)
{
    const uint8_t *entry = r->value + (size_t)idx * (r->acells + r->scells) * 4;
    return (struct fdt_range){ fdt_read_cells(entry, r->acells),
                               fdt_read_cells(entry + r->acells * 4, r->scells) };
}

errval_t fdt_reg(const struct fdt *fdt, int node, unsigned idx, uint64_t *base, uint64_t *size)
{
    struct reg_layout r;
    errval_t err = reg_layout(fdt, node, &r);
    if (err_is_fail(err))
        return err;
    if (idx >= r.count)
        return FDT_ERR_NOT_FOUND;
    struct fdt_range e = reg_entry(&r, idx);
    if (base != NULL)
        *base = e.base;
    if (size != NULL)
        *size = e.size;
    return SYS_ERR_OK;
}

static void copy_entries(const struct reg_layout *r, struct fdt_range *out, unsigned max, unsigned *n)
{
    for (unsigned i = 0; i < r->count && i < max; i++)
        out[i] = reg_entry(r, i);
    *n = r->count;
}

errval_t fdt_reg_all_under(const struct fdt *fdt, int parent, int node, struct fdt_range *out,
                           unsigned max, unsigned *n)
{
    struct reg_layout r;
    errval_t err = reg_layout_under(fdt, parent, node, &r);
    if (err_is_ok(err))
        copy_entries(&r, out, max, n);
    return err;
}

errval_t fdt_reg_all(const struct fdt *fdt, int node, struct fdt_range *out, unsigned max, unsigned *n)
{
    struct reg_layout r;
    errval_t err = reg_layout(fdt, node, &r);
    if (err_is_ok(err))
        copy_entries(&r, out, max, n);
    return err;
}

errval_t fdt_mem_rsv(const struct fdt *fdt, unsigned idx, uint64_t *base, uint64_t *size)
{
    const uint8_t *entry;
    errval_t err = find_rsv_entry(fdt, idx, &entry);
    if (err_is_fail(err))
        return err;
    if (base != NULL)
        *base = fdt_be64(entry);
    if (size != NULL)
        *size = fdt_be64(entry + 8);
    return SYS_ERR_OK;
}
