/*
 * fdt.h — a read-only, bounds-checked parser for flattened device trees
 * (the Devicetree Specification v0.4, blob version 17).
 *
 * Pure code: no allocation, no global state, no kernel calls, so the same
 * file runs in the kernel at boot and in the host tests. Every read is
 * checked against the blob's size; a malformed blob yields an FDT_ERR_*
 * code, never an out-of-bounds read. Nodes are named by the byte offset of
 * their FDT_BEGIN_NODE token inside the structure block.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <minnow/errors.h>

#define FDT_MAGIC       0xd00dfeedu
#define FDT_MAX_DEPTH   32  /* deeper trees are rejected with FDT_ERR_TOO_DEEP */

struct fdt {
    const uint8_t *blob;
    uint32_t size;          /* totalsize from the header, checked <= available bytes */
    uint32_t off_struct, size_struct;
    uint32_t off_strings, size_strings;
    uint32_t off_rsvmap;
};

/* Validate the header and block layout. `avail` is how many bytes may be
 * read at `blob`; the header's totalsize must not exceed it. */
errval_t fdt_open(struct fdt *fdt, const void *blob, size_t avail);

/* Offset of the root node. */
int fdt_root(const struct fdt *fdt);

/* Walk all nodes in document order. Start with *node = -1 to get the root.
 * *depth is the depth of the returned node (root = 0). Returns FDT_ERR_NOT_FOUND
 * after the last node. */
errval_t fdt_next_node(const struct fdt *fdt, int *node, int *depth);

/* First child of `node`, then each following sibling. FDT_ERR_NOT_FOUND at the end. */
errval_t fdt_first_child(const struct fdt *fdt, int node, int *child);
errval_t fdt_next_sibling(const struct fdt *fdt, int node, int *sibling);

/* Parent of `node` (O(n) walk from the root). The root has none. */
errval_t fdt_parent(const struct fdt *fdt, int node, int *parent);

/* Node name with its unit address ("memory@40000000"; "" for the root). */
const char *fdt_node_name(const struct fdt *fdt, int node);

/* Find a node by absolute path ("/chosen", "/cpus"). A path component
 * without '@' also matches a node whose name is that component followed by
 * "@unit-address". */
errval_t fdt_path(const struct fdt *fdt, const char *path, int *node);

/* A property's value and length. */
errval_t fdt_prop(const struct fdt *fdt, int node, const char *name,
                  const void **value, uint32_t *len);

/* A property that must be exactly one u32 or one u64 cell. */
errval_t fdt_prop_u32(const struct fdt *fdt, int node, const char *name, uint32_t *out);

/* A property that must be a NUL-terminated string. */
errval_t fdt_prop_string(const struct fdt *fdt, int node, const char *name, const char **out);

/* True if any string in the node's "compatible" list equals `compat`. */
bool fdt_is_compatible(const struct fdt *fdt, int node, const char *compat);

/* Next node after `start` (-1: from the beginning) that is compatible with `compat`. */
errval_t fdt_find_compatible(const struct fdt *fdt, int start, const char *compat, int *node);

/* The idx-th (base, size) pair of the node's "reg", decoded with the
 * #address-cells / #size-cells of its parent (defaults 2 and 1). Cell
 * counts above 2 give FDT_ERR_BAD_VALUE; idx past the end FDT_ERR_NOT_FOUND. */
errval_t fdt_reg(const struct fdt *fdt, int node, unsigned idx, uint64_t *base, uint64_t *size);

/* All (base, size) pairs of the node's "reg" at once (one parent lookup,
 * where fdt_reg pays one per entry): at most `max` go to out, *n says how
 * many the property has. A node without "reg" gives FDT_ERR_NOT_FOUND. */
struct fdt_range {
    uint64_t base, size;
};
errval_t fdt_reg_all(const struct fdt *fdt, int node, struct fdt_range *out, unsigned max, unsigned *n);
/* The same when the caller knows the parent (a walk with fdt_next_node can
 * keep the path): no O(n) parent search. parent -1: node is the root. */
errval_t fdt_reg_all_under(const struct fdt *fdt, int parent, int node, struct fdt_range *out,
                           unsigned max, unsigned *n);

/* Big-endian cell reads from property values (which may be unaligned). */
uint32_t fdt_be32(const void *p);
uint64_t fdt_be64(const void *p);
/* Read `cells` (1 or 2) big-endian cells as one number. */
uint64_t fdt_read_cells(const void *p, unsigned cells);

/* The idx-th entry of the memory reservation block. FDT_ERR_NOT_FOUND at the
 * terminating all-zero entry. */
errval_t fdt_mem_rsv(const struct fdt *fdt, unsigned idx, uint64_t *base, uint64_t *size);
