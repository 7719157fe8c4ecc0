/*
 * test_elf.c — lib/base/elf.c on ELF64 files written by the tests.
 *
 * A struct spec describes a file: header fields and program headers; the
 * default is a valid AArch64 executable with a text segment (R+X), a data
 * segment with bss (R+W) and a PT_GNU_STACK header. write_elf() lays it out
 * little-endian, byte by byte, into a buffer of exactly the file's size so
 * that ASan catches any read past the end. Each test then changes one
 * thing. The field layouts are those of the gABI's Elf64_Ehdr/Elf64_Phdr.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include <base/elf.h>

#define EHDR_SIZE   64
#define PHDR_SIZE   56
#define PT_LOAD     1
#define PT_NOTE     4
#define PT_GNU_STACK 0x6474e551u
#define ET_EXEC     2
#define ET_DYN      3
#define EM_AARCH64  183
#define EM_X86_64   62
#define PF_X        1
#define PF_W        2
#define PF_R        4

#define MAX_PHDRS   20

struct seg {
    uint32_t type, flags;
    uint64_t offset, vaddr, filesz, memsz, align;
};

struct spec {
    uint8_t ident_class, ident_data, ident_version;
    uint16_t type, machine, phentsize, phnum;
    uint32_t version;
    uint64_t entry, phoff;
    struct seg segs[MAX_PHDRS];
    unsigned nsegs;
    size_t file_size;
};

#define TEXT_OFF    0x100u
#define TEXT_VADDR  0x400100u
#define TEXT_SIZE   0x80u
#define DATA_OFF    0x180u
#define DATA_VADDR  0x410180u
#define DATA_FILESZ 0x40u
#define DATA_MEMSZ  0x1000u
#define FILE_SIZE   0x1c0u

static struct spec valid_spec(void)
{
    struct spec s = {
        .ident_class = 2, .ident_data = 1, .ident_version = 1,
        .type = ET_EXEC, .machine = EM_AARCH64, .version = 1,
        .phentsize = PHDR_SIZE, .phoff = EHDR_SIZE, .entry = TEXT_VADDR + 0x10,
        .nsegs = 3, .file_size = FILE_SIZE,
    };
    s.segs[0] = (struct seg){ PT_LOAD, PF_R | PF_X, TEXT_OFF, TEXT_VADDR, TEXT_SIZE, TEXT_SIZE,
                              0x1000 };
    s.segs[1] = (struct seg){ PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 16 };
    s.segs[2] = (struct seg){ PT_LOAD, PF_R | PF_W, DATA_OFF, DATA_VADDR, DATA_FILESZ,
                              DATA_MEMSZ, 0x1000 };
    s.phnum = (uint16_t)s.nsegs;
    return s;
}

static uint8_t *file;   /* the last file written, freed after each test */

static void teardown(void)
{
    free(file);
}

TestSuite(elf, .fini = teardown);

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Write `bytes` of `v` at `off` if they fit in the file: a spec may place
 * headers partly or wholly outside it on purpose. */
static void put_at(const struct spec *s, uint64_t off, uint64_t v, unsigned bytes)
{
    if (off <= s->file_size && bytes <= s->file_size - off)
        put_le(file + off, v, bytes);
}

static void write_ehdr(const struct spec *s)
{
    static const uint8_t magic[4] = { 0x7f, 'E', 'L', 'F' };
    for (unsigned i = 0; i < 4 && i < s->file_size; i++)
        file[i] = magic[i];
    put_at(s, 4, s->ident_class, 1);
    put_at(s, 5, s->ident_data, 1);
    put_at(s, 6, s->ident_version, 1);
    put_at(s, 16, s->type, 2);
    put_at(s, 18, s->machine, 2);
    put_at(s, 20, s->version, 4);
    put_at(s, 24, s->entry, 8);
    put_at(s, 32, s->phoff, 8);
    put_at(s, 52, EHDR_SIZE, 2);
    put_at(s, 54, s->phentsize, 2);
    put_at(s, 56, s->phnum, 2);
}

static void write_phdr(const struct spec *s, unsigned i)
{
    const struct seg *g = &s->segs[i];
    uint64_t p = s->phoff + (uint64_t)i * PHDR_SIZE;
    if (s->phoff > UINT64_MAX - (uint64_t)(i + 1) * PHDR_SIZE)
        return;     /* a table placed to wrap around: its fields go nowhere */
    put_at(s, p + 0, g->type, 4);
    put_at(s, p + 4, g->flags, 4);
    put_at(s, p + 8, g->offset, 8);
    put_at(s, p + 16, g->vaddr, 8);
    put_at(s, p + 24, g->vaddr, 8);     /* p_paddr */
    put_at(s, p + 32, g->filesz, 8);
    put_at(s, p + 40, g->memsz, 8);
    put_at(s, p + 48, g->align, 8);
}

/* Segment contents are a pattern that says where each byte came from. */
static const uint8_t *write_elf(const struct spec *s)
{
    free(file);
    file = malloc(s->file_size > 0 ? s->file_size : 1);
    cr_assert_not_null(file);
    for (size_t i = 0; i < s->file_size; i++)
        file[i] = (uint8_t)(i * 7 + 1);
    write_ehdr(s);
    for (unsigned i = 0; i < s->nsegs; i++)
        write_phdr(s, i);
    return file;
}

static errval_t parse(const struct spec *s, struct elf_image *img)
{
    return elf_parse(write_elf(s), s->file_size, img);
}

static void expect_error(const struct spec *s, enum err_code expected)
{
    struct elf_image img;
    enum err_code got = err_no(parse(s, &img));
    cr_assert_eq(got, expected, "expected %s, got %s", err_getcode(expected), err_getcode(got));
}

/* ---- Valid files. ---- */

Test(elf, valid_executable_with_text_data_and_bss_is_accepted)
{
    struct spec s = valid_spec();
    struct elf_image img;
    cr_assert(err_is_ok(parse(&s, &img)));
    cr_assert_eq(img.entry, TEXT_VADDR + 0x10);
    cr_assert_eq(img.nsegments, 2);
    cr_assert_eq(img.load_index[0], 0);
    cr_assert_eq(img.load_index[1], 2, "PT_GNU_STACK is not loaded");
    cr_assert_eq(img.file, file);
    cr_assert_eq(img.size, FILE_SIZE);
}

Test(elf, text_segment_is_read_and_executable_with_its_file_data)
{
    struct spec s = valid_spec();
    struct elf_image img;
    struct elf_segment seg;
    cr_assert(err_is_ok(parse(&s, &img)));
    elf_segment(&img, 0, &seg);
    cr_assert_eq(seg.vaddr, TEXT_VADDR);
    cr_assert_eq(seg.filesz, TEXT_SIZE);
    cr_assert_eq(seg.memsz, TEXT_SIZE);
    cr_assert_eq(seg.flags, ELF_SEG_R | ELF_SEG_X);
    cr_assert_eq(seg.data, file + TEXT_OFF);
}

Test(elf, data_segment_has_bss_beyond_its_file_size)
{
    struct spec s = valid_spec();
    struct elf_image img;
    struct elf_segment seg;
    cr_assert(err_is_ok(parse(&s, &img)));
    elf_segment(&img, 1, &seg);
    cr_assert_eq(seg.vaddr, DATA_VADDR);
    cr_assert_eq(seg.filesz, DATA_FILESZ);
    cr_assert_eq(seg.memsz, DATA_MEMSZ);
    cr_assert_eq(seg.flags, ELF_SEG_R | ELF_SEG_W);
    cr_assert_eq(seg.data, file + DATA_OFF);
}

Test(elf, segment_past_the_count_is_empty)
{
    struct spec s = valid_spec();
    struct elf_image img;
    struct elf_segment seg;
    cr_assert(err_is_ok(parse(&s, &img)));
    elf_segment(&img, 2, &seg);
    cr_assert_eq(seg.memsz, 0);
    cr_assert_eq(seg.filesz, 0);
    cr_assert_null(seg.data);
}

Test(elf, flags_other_than_rwx_are_not_reported)
{
    struct spec s = valid_spec();
    struct elf_image img;
    struct elf_segment seg;
    s.segs[0].flags |= 0x0ff00000u;     /* PF_MASKOS bits */
    cr_assert(err_is_ok(parse(&s, &img)));
    elf_segment(&img, 0, &seg);
    cr_assert_eq(seg.flags, ELF_SEG_R | ELF_SEG_X);
}

Test(elf, load_segment_with_zero_memory_size_is_skipped)
{
    struct spec s = valid_spec();
    struct elf_image img;
    s.segs[1] = (struct seg){ PT_LOAD, PF_R, 0xffffffffffull, 0x1234, 0, 0, 3 };
    cr_assert(err_is_ok(parse(&s, &img)));
    cr_assert_eq(img.nsegments, 2);
    cr_assert_eq(img.load_index[1], 2);
}

Test(elf, non_load_headers_are_not_checked)
{
    struct spec s = valid_spec();
    struct elf_image img;
    s.segs[1] = (struct seg){ PT_NOTE, PF_R, 0xffffffffffull, ~0ull, 0x10, 0x10, 3 };
    cr_assert(err_is_ok(parse(&s, &img)));
}

Test(elf, unaligned_segment_address_with_alignment_one_is_accepted)
{
    struct spec s = valid_spec();
    struct elf_image img;
    struct elf_segment seg;
    s.segs[2].vaddr = DATA_VADDR + 0x23;
    s.segs[2].align = 1;
    cr_assert(err_is_ok(parse(&s, &img)));
    elf_segment(&img, 1, &seg);
    cr_assert_eq(seg.vaddr, DATA_VADDR + 0x23);
}

Test(elf, unaligned_segment_address_with_alignment_zero_is_accepted)
{
    struct spec s = valid_spec();
    struct elf_image img;
    s.segs[2].vaddr = DATA_VADDR + 0x5;
    s.segs[2].align = 0;
    cr_assert(err_is_ok(parse(&s, &img)));
}

Test(elf, segments_sharing_a_page_without_overlap_are_accepted)
{
    struct spec s = valid_spec();
    struct elf_image img;
    s.segs[2].vaddr = TEXT_VADDR + TEXT_SIZE;   /* right after text, same page */
    s.segs[2].align = 0x40;
    cr_assert(err_is_ok(parse(&s, &img)));
}

Test(elf, segment_ending_exactly_at_the_user_limit_is_accepted)
{
    struct spec s = valid_spec();
    struct elf_image img;
    s.segs[2].vaddr = ELF_USER_LIMIT - DATA_MEMSZ + (DATA_OFF % 0x1000);
    s.segs[2].memsz = DATA_MEMSZ - (DATA_OFF % 0x1000);
    cr_assert(err_is_ok(parse(&s, &img)));
}

Test(elf, entry_at_the_last_byte_of_text_is_accepted)
{
    struct spec s = valid_spec();
    struct elf_image img;
    s.entry = TEXT_VADDR + TEXT_SIZE - 1;
    cr_assert(err_is_ok(parse(&s, &img)));
}

Test(elf, sixteen_load_segments_are_accepted)
{
    struct spec s = valid_spec();
    struct elf_image img;
    s.nsegs = ELF_MAX_SEGMENTS;
    s.phnum = ELF_MAX_SEGMENTS;
    s.phoff = 0x400;
    s.file_size = 0x800;
    for (unsigned i = 0; i < ELF_MAX_SEGMENTS; i++)
        s.segs[i] = (struct seg){ PT_LOAD, PF_R | PF_X, 0x10 * i, 0x10000 + 0x10 * i, 0x10, 0x10,
                                  0x10 };
    s.entry = 0x10000;
    cr_assert(err_is_ok(parse(&s, &img)));
    cr_assert_eq(img.nsegments, ELF_MAX_SEGMENTS);
}

Test(elf, failed_parse_leaves_the_image_untouched)
{
    struct spec s = valid_spec();
    struct elf_image img, before;
    s.entry = 0x999;
    memset(&img, 0x5a, sizeof(img));
    before = img;
    cr_assert_eq(err_no(parse(&s, &img)), ELF_ERR_ENTRY_OUTSIDE);
    cr_assert_eq(memcmp(&img, &before, sizeof(img)), 0);
}

/* ---- The file header. ---- */

Test(elf, file_shorter_than_the_elf_header_is_truncated)
{
    struct spec s = valid_spec();
    s.file_size = EHDR_SIZE - 1;
    expect_error(&s, ELF_ERR_TRUNCATED);
}

Test(elf, bad_magic_is_rejected)
{
    struct spec s = valid_spec();
    struct elf_image img;
    write_elf(&s);
    file[1] = 'e';
    cr_assert_eq(err_no(elf_parse(file, s.file_size, &img)), ELF_ERR_BAD_MAGIC);
}

Test(elf, short_file_that_is_not_elf_is_bad_magic)
{
    struct elf_image img;
    cr_assert_eq(err_no(elf_parse("#!/bin/sh\n", 10, &img)), ELF_ERR_BAD_MAGIC);
}

Test(elf, thirty_two_bit_class_is_rejected)
{
    struct spec s = valid_spec();
    s.ident_class = 1;
    expect_error(&s, ELF_ERR_NOT_64BIT);
}

Test(elf, big_endian_data_is_rejected)
{
    struct spec s = valid_spec();
    s.ident_data = 2;
    expect_error(&s, ELF_ERR_NOT_LITTLE_ENDIAN);
}

Test(elf, identification_version_other_than_current_is_rejected)
{
    struct spec s = valid_spec();
    s.ident_version = 0;
    expect_error(&s, ELF_ERR_BAD_VERSION);
}

Test(elf, header_version_other_than_current_is_rejected)
{
    struct spec s = valid_spec();
    s.version = 2;
    expect_error(&s, ELF_ERR_BAD_VERSION);
}

Test(elf, x86_64_machine_is_rejected)
{
    struct spec s = valid_spec();
    s.machine = EM_X86_64;
    expect_error(&s, ELF_ERR_WRONG_MACHINE);
}

Test(elf, shared_object_is_not_an_executable)
{
    struct spec s = valid_spec();
    s.type = ET_DYN;
    expect_error(&s, ELF_ERR_NOT_EXECUTABLE);
}

/* ---- The program header table. ---- */

Test(elf, program_header_size_other_than_56_is_rejected)
{
    struct spec s = valid_spec();
    s.phentsize = 32;
    expect_error(&s, ELF_ERR_BAD_PHDR);
}

Test(elf, extended_program_header_count_is_rejected)
{
    struct spec s = valid_spec();
    s.phnum = 0xffff;
    expect_error(&s, ELF_ERR_BAD_PHDR);
}

Test(elf, program_header_table_past_the_end_is_truncated)
{
    struct spec s = valid_spec();
    s.phoff = FILE_SIZE - PHDR_SIZE;   /* three headers from here run out */
    expect_error(&s, ELF_ERR_TRUNCATED);
}

Test(elf, program_header_table_whose_end_wraps_is_rejected)
{
    struct spec s = valid_spec();
    s.phoff = UINT64_MAX - PHDR_SIZE;
    expect_error(&s, ELF_ERR_BAD_PHDR);
}

Test(elf, more_than_sixteen_load_segments_are_rejected)
{
    struct spec s = valid_spec();
    s.nsegs = ELF_MAX_SEGMENTS + 1;
    s.phnum = ELF_MAX_SEGMENTS + 1;
    s.phoff = 0x400;
    s.file_size = 0x800;
    for (unsigned i = 0; i < s.nsegs; i++)
        s.segs[i] = (struct seg){ PT_LOAD, PF_R | PF_X, 0x10 * i, 0x10000 + 0x10 * i, 0x10, 0x10,
                                  0x10 };
    s.entry = 0x10000;
    expect_error(&s, ELF_ERR_BAD_PHDR);
}

Test(elf, file_without_program_headers_has_no_segments)
{
    struct spec s = valid_spec();
    s.phnum = 0;
    expect_error(&s, ELF_ERR_NO_SEGMENTS);
}

Test(elf, file_with_only_non_load_headers_has_no_segments)
{
    struct spec s = valid_spec();
    s.segs[0].type = PT_NOTE;
    s.segs[2].type = PT_NOTE;
    expect_error(&s, ELF_ERR_NO_SEGMENTS);
}

/* ---- Segments. ---- */

Test(elf, segment_data_past_the_end_of_the_file_is_rejected)
{
    struct spec s = valid_spec();
    s.segs[2].filesz = FILE_SIZE - DATA_OFF + 1;
    expect_error(&s, ELF_ERR_SEGMENT_OUTSIDE_FILE);
}

Test(elf, segment_offset_past_the_end_of_the_file_is_rejected)
{
    struct spec s = valid_spec();
    s.segs[2].offset = FILE_SIZE + 0x1000;
    s.segs[2].filesz = 0;
    expect_error(&s, ELF_ERR_SEGMENT_OUTSIDE_FILE);
}

Test(elf, segment_whose_offset_plus_file_size_wraps_is_rejected)
{
    struct spec s = valid_spec();
    s.segs[2].offset = UINT64_MAX - 0xf;    /* offset + 0x40 wraps to 0x30 */
    s.segs[2].vaddr = s.segs[2].offset % 0x1000 + 0x410000;
    expect_error(&s, ELF_ERR_SEGMENT_OUTSIDE_FILE);
}

Test(elf, file_size_larger_than_memory_size_is_rejected)
{
    struct spec s = valid_spec();
    s.segs[2].memsz = DATA_FILESZ - 1;
    expect_error(&s, ELF_ERR_SEGMENT_SIZES);
}

Test(elf, alignment_that_is_not_a_power_of_two_is_rejected)
{
    struct spec s = valid_spec();
    s.segs[2].align = 0x300;
    expect_error(&s, ELF_ERR_SEGMENT_ALIGN);
}

Test(elf, address_and_offset_disagreeing_modulo_alignment_are_rejected)
{
    struct spec s = valid_spec();
    s.segs[2].vaddr = DATA_VADDR + 8;
    expect_error(&s, ELF_ERR_SEGMENT_ALIGN);
}

Test(elf, segment_ending_past_the_user_limit_is_rejected)
{
    struct spec s = valid_spec();
    s.segs[2].vaddr = ELF_USER_LIMIT - 0x1000 + (DATA_OFF % 0x1000);
    expect_error(&s, ELF_ERR_SEGMENT_ADDRESS);
}

Test(elf, segment_starting_in_the_kernel_half_is_rejected)
{
    struct spec s = valid_spec();
    s.segs[2].vaddr = 0xffff000000000000ull + DATA_OFF;
    expect_error(&s, ELF_ERR_SEGMENT_ADDRESS);
}

Test(elf, segment_whose_address_plus_memory_size_wraps_is_rejected)
{
    struct spec s = valid_spec();
    s.segs[2].vaddr = DATA_VADDR;
    s.segs[2].memsz = UINT64_MAX - DATA_VADDR + 0x10;   /* the end wraps to 0xf */
    expect_error(&s, ELF_ERR_SEGMENT_ADDRESS);
}

Test(elf, segments_overlapping_by_one_byte_are_rejected)
{
    struct spec s = valid_spec();
    s.segs[2].vaddr = TEXT_VADDR + TEXT_SIZE - 1;
    s.segs[2].align = 1;
    expect_error(&s, ELF_ERR_SEGMENT_OVERLAP);
}

Test(elf, segment_inside_another_is_rejected)
{
    struct spec s = valid_spec();
    s.segs[0].vaddr = DATA_VADDR + 0x100;
    s.segs[0].align = 0;
    s.entry = DATA_VADDR + 0x100;
    expect_error(&s, ELF_ERR_SEGMENT_OVERLAP);
}

/* ---- The entry point. ---- */

Test(elf, entry_outside_every_segment_is_rejected)
{
    struct spec s = valid_spec();
    s.entry = 0x1000;
    expect_error(&s, ELF_ERR_ENTRY_OUTSIDE);
}

Test(elf, entry_just_past_the_text_segment_is_rejected)
{
    struct spec s = valid_spec();
    s.entry = TEXT_VADDR + TEXT_SIZE;
    expect_error(&s, ELF_ERR_ENTRY_OUTSIDE);
}

Test(elf, entry_in_a_non_executable_segment_is_rejected)
{
    struct spec s = valid_spec();
    s.entry = DATA_VADDR + 4;
    expect_error(&s, ELF_ERR_ENTRY_OUTSIDE);
}

/* ---- Truncation. ---- */

/* The first check a prefix of the valid file fails: the ELF header, then
 * the program header table, then the last segment's data. */
static enum err_code expected_for_prefix(size_t len)
{
    if (len < EHDR_SIZE + 3 * PHDR_SIZE)
        return ELF_ERR_TRUNCATED;
    return ELF_ERR_SEGMENT_OUTSIDE_FILE;
}

Test(elf, every_shorter_prefix_of_a_valid_file_is_rejected)
{
    struct spec full = valid_spec();
    for (size_t len = 0; len < FILE_SIZE; len++) {
        struct spec s = full;
        struct elf_image img;
        s.file_size = len;
        enum err_code got = err_no(parse(&s, &img));
        cr_assert_eq(got, expected_for_prefix(len), "length %zu: %s", len, err_getcode(got));
    }
}

Test(elf, the_whole_file_is_accepted_after_all_shorter_prefixes)
{
    struct spec s = valid_spec();
    struct elf_image img;
    s.file_size = FILE_SIZE;
    cr_assert(err_is_ok(parse(&s, &img)));
}
