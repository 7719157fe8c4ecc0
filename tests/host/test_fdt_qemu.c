/*
 * test_fdt_qemu.c — lib/base/fdt.c on the device tree QEMU really passes:
 * tests/host/data/qemu-virt-4cpu-1g.dtb, dumped from
 *   qemu-system-aarch64 -M virt,gic-version=3 -cpu cortex-a72 -smp 4 -m 1G
 *       -machine dumpdtb=...
 * and packed with dtc -I dtb -O dtb. The expected values (62 nodes, 32
 * virtio-mmio devices, pl011 at 0x9000000) were read off `dtc -O dts`.
 * The file is opened relative to the repository root, where make runs.
 * Synthetic and malformed blobs are in test_fdt.c.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <base/fdt.h>

#define QEMU_DTB "tests/host/data/qemu-virt-4cpu-1g.dtb"
#define HEADER_SIZE 40u     /* a version 17 header: ten big-endian words */
#define HDR_TOTALSIZE    4
#define HDR_SIZE_STRINGS 32
#define HDR_SIZE_STRUCT  36

/* The blob in a buffer of exactly its size, so ASan sees any over-read. */
static uint8_t *load_qemu_dtb(size_t *size)
{
    FILE *f = fopen(QEMU_DTB, "rb");
    cr_assert_not_null(f, "cannot open %s (run from the repository root)", QEMU_DTB);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    cr_assert_gt(len, 0);
    rewind(f);
    uint8_t *data = malloc((size_t)len);
    cr_assert_not_null(data);
    cr_assert_eq(fread(data, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *size = (size_t)len;
    return data;
}

static uint8_t *qemu_blob;
static size_t qemu_size;
static struct fdt qemu;

static void open_qemu(void)
{
    qemu_blob = load_qemu_dtb(&qemu_size);
    errval_t err = fdt_open(&qemu, qemu_blob, qemu_size);
    cr_assert(err_is_ok(err), "fdt_open: %s", err_getcode(err_no(err)));
}

static void close_qemu(void)
{
    free(qemu_blob);
}

static int path_node(const char *path)
{
    int node = -1;
    errval_t err = fdt_path(&qemu, path, &node);
    cr_assert(err_is_ok(err), "fdt_path(%s): %s", path, err_getcode(err_no(err)));
    return node;
}

TestSuite(fdt_qemu, .init = open_qemu, .fini = close_qemu);

Test(fdt_qemu, open_records_the_header_sizes)
{
    cr_assert_eq(qemu.size, qemu_size);
    cr_assert_eq(qemu.off_struct % 4, 0);
    cr_assert_gt(qemu.size_struct, 0);
    cr_assert_gt(qemu.size_strings, 0);
}

Test(fdt_qemu, cpus_has_four_cpu_nodes)
{
    int cpus = path_node("/cpus"), child, count = 0;
    errval_t err = fdt_first_child(&qemu, cpus, &child);
    while (err_is_ok(err)) {
        const char *type;
        if (err_is_ok(fdt_prop_string(&qemu, child, "device_type", &type)) &&
            strcmp(type, "cpu") == 0)
            count++;
        err = fdt_next_sibling(&qemu, child, &child);
    }
    cr_assert_eq(err_no(err), FDT_ERR_NOT_FOUND);
    cr_assert_eq(count, 4);
}

Test(fdt_qemu, memory_reg_is_one_gib_at_0x40000000)
{
    uint64_t base = 0, size = 0;
    errval_t err = fdt_reg(&qemu, path_node("/memory"), 0, &base, &size);
    cr_assert(err_is_ok(err));
    cr_assert_eq(base, 0x40000000ull);
    cr_assert_eq(size, 1ull << 30);
}

Test(fdt_qemu, memory_has_a_single_reg_entry)
{
    uint64_t base, size;
    errval_t err = fdt_reg(&qemu, path_node("/memory"), 1, &base, &size);
    cr_assert_eq(err_no(err), FDT_ERR_NOT_FOUND);
}

Test(fdt_qemu, pl011_is_found_by_compatible_with_its_reg)
{
    int uart = -1;
    uint64_t base = 0, size = 0;
    cr_assert(err_is_ok(fdt_find_compatible(&qemu, -1, "arm,pl011", &uart)));
    cr_assert_str_eq(fdt_node_name(&qemu, uart), "pl011@9000000");
    cr_assert(err_is_ok(fdt_reg(&qemu, uart, 0, &base, &size)));
    cr_assert_eq(base, 0x9000000ull);
    cr_assert_eq(size, 0x1000ull);
}

Test(fdt_qemu, compatible_matches_any_string_of_the_list)
{
    int uart = path_node("/pl011@9000000");
    cr_assert(fdt_is_compatible(&qemu, uart, "arm,pl011"));
    cr_assert(fdt_is_compatible(&qemu, uart, "arm,primecell"));
    cr_assert_not(fdt_is_compatible(&qemu, uart, "arm,pl01"));
    cr_assert_not(fdt_is_compatible(&qemu, uart, "arm,pl061"));
}

Test(fdt_qemu, find_compatible_continues_after_start)
{
    int node = -1, count = 0;
    errval_t err = fdt_find_compatible(&qemu, -1, "virtio,mmio", &node);
    while (err_is_ok(err)) {
        count++;
        err = fdt_find_compatible(&qemu, node, "virtio,mmio", &node);
    }
    cr_assert_eq(err_no(err), FDT_ERR_NOT_FOUND);
    cr_assert_eq(count, 32);
}

Test(fdt_qemu, find_compatible_of_absent_device_is_not_found)
{
    int node = 1234;
    errval_t err = fdt_find_compatible(&qemu, -1, "no,such-device", &node);
    cr_assert_eq(err_no(err), FDT_ERR_NOT_FOUND);
    cr_assert_eq(node, 1234);
}

Test(fdt_qemu, chosen_exists_and_names_the_console)
{
    const char *stdout_path = NULL;
    int chosen = path_node("/chosen");
    cr_assert_str_eq(fdt_node_name(&qemu, chosen), "chosen");
    cr_assert(err_is_ok(fdt_prop_string(&qemu, chosen, "stdout-path", &stdout_path)));
    cr_assert_str_eq(stdout_path, "/pl011@9000000");
}

Test(fdt_qemu, path_with_unit_address_finds_the_node)
{
    cr_assert_str_eq(fdt_node_name(&qemu, path_node("/memory@40000000")), "memory@40000000");
}

Test(fdt_qemu, path_without_unit_address_matches_name_with_one)
{
    cr_assert_eq(path_node("/memory"), path_node("/memory@40000000"));
}

Test(fdt_qemu, path_with_wrong_unit_address_is_not_found)
{
    int node;
    cr_assert_eq(err_no(fdt_path(&qemu, "/memory@50000000", &node)), FDT_ERR_NOT_FOUND);
}

Test(fdt_qemu, path_does_not_match_a_prefix_of_a_name)
{
    int node;
    cr_assert_eq(err_no(fdt_path(&qemu, "/mem", &node)), FDT_ERR_NOT_FOUND);
}

Test(fdt_qemu, path_finds_nested_nodes)
{
    int node = path_node("/cpus/cpu-map/socket0/cluster0/core2");
    cr_assert_str_eq(fdt_node_name(&qemu, node), "core2");
    cr_assert_str_eq(fdt_node_name(&qemu, path_node("/cpus/cpu@3")), "cpu@3");
}

Test(fdt_qemu, path_slash_is_the_root)
{
    cr_assert_eq(path_node("/"), fdt_root(&qemu));
    cr_assert_str_eq(fdt_node_name(&qemu, fdt_root(&qemu)), "");
}

Test(fdt_qemu, path_ignores_repeated_and_trailing_slashes)
{
    cr_assert_eq(path_node("//cpus///cpu@1/"), path_node("/cpus/cpu@1"));
}

Test(fdt_qemu, relative_path_is_not_found)
{
    int node;
    cr_assert_eq(err_no(fdt_path(&qemu, "cpus", &node)), FDT_ERR_NOT_FOUND);
}

Test(fdt_qemu, parent_of_a_cpu_is_cpus)
{
    int parent = -1;
    cr_assert(err_is_ok(fdt_parent(&qemu, path_node("/cpus/cpu@2"), &parent)));
    cr_assert_eq(parent, path_node("/cpus"));
}

Test(fdt_qemu, parent_of_a_top_level_node_is_the_root)
{
    int parent = -1;
    cr_assert(err_is_ok(fdt_parent(&qemu, path_node("/chosen"), &parent)));
    cr_assert_eq(parent, fdt_root(&qemu));
}

Test(fdt_qemu, root_has_no_parent)
{
    int parent = 77;
    cr_assert_eq(err_no(fdt_parent(&qemu, fdt_root(&qemu), &parent)), FDT_ERR_NOT_FOUND);
    cr_assert_eq(parent, 77);
}

Test(fdt_qemu, reg_reads_two_address_and_two_size_cells_as_64_bit)
{
    uint64_t base = 0, size = 0;
    cr_assert(err_is_ok(fdt_reg(&qemu, path_node("/pcie"), 0, &base, &size)));
    cr_assert_eq(base, 0x4010000000ull);
    cr_assert_eq(size, 0x10000000ull);
}

Test(fdt_qemu, reg_reads_later_entries_by_index)
{
    uint64_t base = 0, size = 0;
    int flash = path_node("/flash@0");
    cr_assert(err_is_ok(fdt_reg(&qemu, flash, 1, &base, &size)));
    cr_assert_eq(base, 0x4000000ull);
    cr_assert_eq(size, 0x4000000ull);
    cr_assert_eq(err_no(fdt_reg(&qemu, flash, 2, &base, &size)), FDT_ERR_NOT_FOUND);
}

Test(fdt_qemu, reg_of_cpu_uses_one_address_cell_and_no_size)
{
    uint64_t base = 0, size = 99;
    cr_assert(err_is_ok(fdt_reg(&qemu, path_node("/cpus/cpu@2"), 0, &base, &size)));
    cr_assert_eq(base, 2);
    cr_assert_eq(size, 0);
}

Test(fdt_qemu, reg_of_node_without_reg_is_not_found)
{
    uint64_t base, size;
    cr_assert_eq(err_no(fdt_reg(&qemu, path_node("/chosen"), 0, &base, &size)),
                 FDT_ERR_NOT_FOUND);
}

Test(fdt_qemu, root_cells_are_read_as_u32)
{
    uint32_t cells = 0;
    cr_assert(err_is_ok(fdt_prop_u32(&qemu, fdt_root(&qemu), "#address-cells", &cells)));
    cr_assert_eq(cells, 2);
}

Test(fdt_qemu, string_property_is_read)
{
    const char *model = NULL;
    cr_assert(err_is_ok(fdt_prop_string(&qemu, fdt_root(&qemu), "model", &model)));
    cr_assert_str_eq(model, "linux,dummy-virt");
}

Test(fdt_qemu, empty_property_has_length_zero)
{
    const void *value = NULL;
    uint32_t len = 99;
    int gpio = path_node("/pl061@9030000");
    cr_assert(err_is_ok(fdt_prop(&qemu, gpio, "gpio-controller", &value, &len)));
    cr_assert_eq(len, 0);
}

Test(fdt_qemu, next_node_visits_all_62_nodes_in_document_order)
{
    int node = -1, depth = -1, count = 0, max_depth = 0, last = -1;
    errval_t err = fdt_next_node(&qemu, &node, &depth);
    while (err_is_ok(err)) {
        cr_assert_gt(node, last, "offsets must increase in document order");
        last = node;
        count++;
        max_depth = depth > max_depth ? depth : max_depth;
        err = fdt_next_node(&qemu, &node, &depth);
    }
    cr_assert_eq(err_no(err), FDT_ERR_NOT_FOUND);
    cr_assert_eq(count, 62);
    cr_assert_eq(max_depth, 5);   /* /cpus/cpu-map/socket0/cluster0/coreN */
}

Test(fdt_qemu, next_node_depth_is_one_more_than_the_parents)
{
    int nodes[64], depths[64], n = 0;
    int node = -1, depth = 0;
    while (n < 64 && err_is_ok(fdt_next_node(&qemu, &node, &depth))) {
        nodes[n] = node;
        depths[n++] = depth;
    }
    cr_assert_eq(n, 62);
    for (int i = 1; i < n; i++) {
        int parent = -1, j = 0;
        cr_assert(err_is_ok(fdt_parent(&qemu, nodes[i], &parent)));
        while (j < n && nodes[j] != parent)
            j++;
        cr_assert_lt(j, n);
        cr_assert_eq(depths[i], depths[j] + 1, "node %s", fdt_node_name(&qemu, nodes[i]));
    }
}

Test(fdt_qemu, children_of_root_are_the_48_top_level_nodes)
{
    int child, count = 0;
    errval_t err = fdt_first_child(&qemu, fdt_root(&qemu), &child);
    cr_assert_str_eq(fdt_node_name(&qemu, child), "psci");
    while (err_is_ok(err)) {
        count++;
        err = fdt_next_sibling(&qemu, child, &child);
    }
    cr_assert_eq(err_no(err), FDT_ERR_NOT_FOUND);
    cr_assert_eq(count, 48);
}

Test(fdt_qemu, has_no_memory_reservations)
{
    uint64_t base, size;
    cr_assert_eq(err_no(fdt_mem_rsv(&qemu, 0, &base, &size)), FDT_ERR_NOT_FOUND);
}

/* ---- Damaged copies of the real blob. ---- */

static uint8_t *copy_prefix(size_t len)
{
    uint8_t *copy = malloc(len > 0 ? len : 1);
    cr_assert_not_null(copy);
    memcpy(copy, qemu_blob, len);
    return copy;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Every query on every node; only the absence of crashes and of stray
 * reads (ASan) is at stake, so results are merely required to be codes. */
static void exercise_every_query(const struct fdt *fdt)
{
    int node = -1, depth = 0, other;
    uint64_t base, size;
    const char *s;
    while (err_is_ok(fdt_next_node(fdt, &node, &depth))) {
        (void)fdt_node_name(fdt, node);
        (void)fdt_parent(fdt, node, &other);
        (void)fdt_first_child(fdt, node, &other);
        (void)fdt_next_sibling(fdt, node, &other);
        (void)fdt_reg(fdt, node, 0, &base, &size);
        (void)fdt_prop_string(fdt, node, "compatible", &s);
        (void)fdt_is_compatible(fdt, node, "arm,pl011");
    }
    (void)fdt_path(fdt, "/cpus/cpu@3", &other);
    (void)fdt_find_compatible(fdt, -1, "arm,pl011", &other);
    (void)fdt_mem_rsv(fdt, 0, &base, &size);
}

Test(fdt_qemu, open_reports_truncation_for_every_shorter_length)
{
    for (size_t len = 0; len < qemu_size; len++) {
        uint8_t *copy = copy_prefix(len);
        struct fdt fdt;
        errval_t err = fdt_open(&fdt, copy, len);
        cr_assert_eq(err_no(err), FDT_ERR_TRUNCATED, "length %zu: %s", len,
                     err_getcode(err_no(err)));
        free(copy);
    }
}

Test(fdt_qemu, open_rejects_every_cut_whose_totalsize_was_rewritten)
{
    for (size_t len = HEADER_SIZE; len < qemu_size; len++) {
        uint8_t *copy = copy_prefix(len);
        put_be32(copy + HDR_TOTALSIZE, (uint32_t)len);
        struct fdt fdt;
        errval_t err = fdt_open(&fdt, copy, len);
        /* The strings block ends the blob, so any cut leaves it outside. */
        cr_assert_eq(err_no(err), FDT_ERR_BAD_LAYOUT, "length %zu", len);
        free(copy);
    }
}

Test(fdt_qemu, open_rejects_every_shorter_structure_block)
{
    for (uint32_t len = 0; len < qemu.size_struct; len++) {
        uint8_t *copy = copy_prefix(qemu_size);
        put_be32(copy + HDR_SIZE_STRUCT, len);
        struct fdt fdt;
        enum err_code code = err_no(fdt_open(&fdt, copy, qemu_size));
        cr_assert(code == FDT_ERR_BAD_STRUCTURE || code == FDT_ERR_BAD_STRING,
                  "structure size %u: %s", len, err_getcode(code));
        free(copy);
    }
}

Test(fdt_qemu, open_rejects_every_shorter_strings_block)
{
    for (uint32_t len = 0; len < qemu.size_strings; len++) {
        uint8_t *copy = copy_prefix(qemu_size);
        put_be32(copy + HDR_SIZE_STRINGS, len);
        struct fdt fdt;
        errval_t err = fdt_open(&fdt, copy, qemu_size);
        cr_assert_eq(err_no(err), FDT_ERR_BAD_STRING, "strings size %u", len);
        free(copy);
    }
}

/*
 * A struct fdt that fdt_open never saw: the strings block first, then the
 * first `struct_len` bytes of the structure block, ending the buffer, so
 * that ASan reports any read past the end of the shrunk block.
 */
static uint8_t *strings_then_structure(uint32_t struct_len, struct fdt *out)
{
    uint32_t off_struct = (qemu.size_strings + 3) & ~3u;
    uint8_t *buf = malloc(off_struct + struct_len);
    cr_assert_not_null(buf);
    memset(buf, 0, off_struct);
    memcpy(buf, qemu_blob + qemu.off_strings, qemu.size_strings);
    memcpy(buf + off_struct, qemu_blob + qemu.off_struct, struct_len);
    *out = (struct fdt){
        .blob = buf, .size = off_struct + struct_len,
        .off_struct = off_struct, .size_struct = struct_len,
        .off_strings = 0, .size_strings = qemu.size_strings, .off_rsvmap = 0,
    };
    return buf;
}

/* fdt_open has checked the blob, but the queries must not rely on that:
 * shrinking the block behind their back must give errors, not stray reads. */
Test(fdt_qemu, queries_stay_inside_a_structure_block_shrunk_after_open)
{
    for (uint32_t len = 0; len <= qemu.size_struct; len++) {
        struct fdt shrunk;
        uint8_t *buf = strings_then_structure(len, &shrunk);
        exercise_every_query(&shrunk);
        free(buf);
    }
}

Test(fdt_qemu, queries_on_the_relocated_whole_block_still_work)
{
    struct fdt moved;
    uint8_t *buf = strings_then_structure(qemu.size_struct, &moved);
    int uart = -1;
    cr_assert(err_is_ok(fdt_find_compatible(&moved, -1, "arm,pl011", &uart)));
    cr_assert_str_eq(fdt_node_name(&moved, uart), "pl011@9000000");
    free(buf);
}

Test(fdt_qemu, queries_on_a_shrunk_block_report_errors)
{
    struct fdt shrunk = qemu;
    int node = -1;
    shrunk.size_struct = 8;     /* the root's BEGIN_NODE and nothing more */
    cr_assert_eq(fdt_root(&shrunk), 0);
    cr_assert_eq(err_no(fdt_first_child(&shrunk, 0, &node)), FDT_ERR_BAD_STRUCTURE);
    cr_assert_eq(err_no(fdt_path(&shrunk, "/chosen", &node)), FDT_ERR_BAD_STRUCTURE);
}

Test(fdt_qemu, reg_all_decodes_every_entry_like_fdt_reg)
{
    int node;
    cr_assert(err_is_ok(fdt_find_compatible(&qemu, -1, "arm,gic-v3", &node)));
    struct fdt_range r[4];
    unsigned n = 0;
    cr_assert(err_is_ok(fdt_reg_all(&qemu, node, r, 4, &n)));
    cr_assert_geq(n, 2);
    for (unsigned i = 0; i < n && i < 4; i++) {
        uint64_t base, size;
        cr_assert(err_is_ok(fdt_reg(&qemu, node, i, &base, &size)));
        cr_assert_eq(r[i].base, base);
        cr_assert_eq(r[i].size, size);
    }
}

Test(fdt_qemu, reg_all_of_a_node_without_reg_is_not_found)
{
    struct fdt_range r[1];
    unsigned n;
    cr_assert_eq(err_no(fdt_reg_all(&qemu, path_node("/chosen"), r, 1, &n)), FDT_ERR_NOT_FOUND);
}
