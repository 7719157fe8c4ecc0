/*
 * elf.c — a validating parser for ELF64 little-endian AArch64 executables
 * (System V gABI, "ELF-64 Object File Format"; AArch64 ELF ABI).
 *
 * elf_parse() checks the file header, then every PT_LOAD program header,
 * then the segments against one another and the entry point against them.
 * The image is written only when all checks pass. Fields are read a byte
 * at a time, so the file may sit at any address. This file defines the few
 * ELF constants it needs itself: lib/base must not depend on a host <elf.h>.
 */
#include "elf.h"

#include <stdbool.h>

/* File header: e_ident bytes and field offsets of Elf64_Ehdr. */
#define EHDR_SIZE       64u
#define EI_CLASS        4
#define EI_DATA         5
#define EI_VERSION      6
#define ELFCLASS64      2
#define ELFDATA2LSB     1
#define EV_CURRENT      1
#define EHDR_TYPE       16
#define EHDR_MACHINE    18
#define EHDR_VERSION    20
#define EHDR_ENTRY      24
#define EHDR_PHOFF      32
#define EHDR_PHENTSIZE  54
#define EHDR_PHNUM      56
#define ET_EXEC         2
#define EM_AARCH64      183
#define PN_XNUM         0xffffu     /* count lives in section 0: unsupported */

/* Program header: field offsets of Elf64_Phdr. */
#define PHDR_SIZE       56u
#define PHDR_TYPE       0
#define PHDR_FLAGS      4
#define PHDR_OFFSET     8
#define PHDR_VADDR      16
#define PHDR_FILESZ     32
#define PHDR_MEMSZ      40
#define PHDR_ALIGN      48
#define PT_LOAD         1
#define PF_MASK         (ELF_SEG_R | ELF_SEG_W | ELF_SEG_X)

static const uint8_t elf_magic[4] = { 0x7f, 'E', 'L', 'F' };

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* A program header's fields that the checks and the loader use. */
struct phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, filesz, memsz, align;
};

static void read_phdr(const uint8_t *file, uint64_t phoff, unsigned idx, struct phdr *ph)
{
    const uint8_t *p = file + phoff + (uint64_t)idx * PHDR_SIZE;
    ph->type = le32(p + PHDR_TYPE);
    ph->flags = le32(p + PHDR_FLAGS);
    ph->offset = le64(p + PHDR_OFFSET);
    ph->vaddr = le64(p + PHDR_VADDR);
    ph->filesz = le64(p + PHDR_FILESZ);
    ph->memsz = le64(p + PHDR_MEMSZ);
    ph->align = le64(p + PHDR_ALIGN);
}

/* The magic is checked on whatever bytes there are, so that a short file
 * that is not ELF at all says so rather than "truncated". */
static errval_t check_ident(const uint8_t *f, size_t size)
{
    for (size_t i = 0; i < sizeof(elf_magic) && i < size; i++) {
        if (f[i] != elf_magic[i])
            return ELF_ERR_BAD_MAGIC;
    }
    if (size < EHDR_SIZE)
        return ELF_ERR_TRUNCATED;
    if (f[EI_CLASS] != ELFCLASS64)
        return ELF_ERR_NOT_64BIT;
    if (f[EI_DATA] != ELFDATA2LSB)
        return ELF_ERR_NOT_LITTLE_ENDIAN;
    if (f[EI_VERSION] != EV_CURRENT || le32(f + EHDR_VERSION) != EV_CURRENT)
        return ELF_ERR_BAD_VERSION;
    if (le16(f + EHDR_MACHINE) != EM_AARCH64)
        return ELF_ERR_WRONG_MACHINE;
    if (le16(f + EHDR_TYPE) != ET_EXEC)
        return ELF_ERR_NOT_EXECUTABLE;
    return SYS_ERR_OK;
}

/* The table must have the 64-bit entry size and fit in the file; a table
 * whose end does not even fit in 64 bits is malformed, not truncated. */
static errval_t check_phdr_table(const uint8_t *f, size_t size)
{
    uint64_t phoff = le64(f + EHDR_PHOFF);
    uint64_t phnum = le16(f + EHDR_PHNUM);

    if (le16(f + EHDR_PHENTSIZE) != PHDR_SIZE || phnum == PN_XNUM)
        return ELF_ERR_BAD_PHDR;
    if (phoff > UINT64_MAX - phnum * PHDR_SIZE)
        return ELF_ERR_BAD_PHDR;
    if (phoff + phnum * PHDR_SIZE > size)
        return ELF_ERR_TRUNCATED;
    return SYS_ERR_OK;
}

static bool is_power_of_two(uint64_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

/* One loadable segment on its own: sizes, place in the file, alignment,
 * place in the address space. */
static errval_t check_segment(const struct phdr *ph, size_t size)
{
    if (ph->filesz > ph->memsz)
        return ELF_ERR_SEGMENT_SIZES;
    if (ph->offset > size || ph->filesz > size - ph->offset)
        return ELF_ERR_SEGMENT_OUTSIDE_FILE;
    if (ph->align > 1 && !is_power_of_two(ph->align))
        return ELF_ERR_SEGMENT_ALIGN;
    if (ph->align > 1 && ph->vaddr % ph->align != ph->offset % ph->align)
        return ELF_ERR_SEGMENT_ALIGN;
    if (ph->vaddr > ELF_USER_LIMIT || ph->memsz > ELF_USER_LIMIT - ph->vaddr)
        return ELF_ERR_SEGMENT_ADDRESS;
    return SYS_ERR_OK;
}

/* Record every PT_LOAD segment with a non-zero memory size, checking each. */
static errval_t collect_segments(struct elf_image *img)
{
    uint64_t phoff = le64(img->file + EHDR_PHOFF);
    unsigned phnum = le16(img->file + EHDR_PHNUM);
    struct phdr ph;

    for (unsigned i = 0; i < phnum; i++) {
        read_phdr(img->file, phoff, i, &ph);
        if (ph.type != PT_LOAD || ph.memsz == 0)
            continue;
        if (img->nsegments == ELF_MAX_SEGMENTS)
            return ELF_ERR_BAD_PHDR;
        errval_t err = check_segment(&ph, img->size);
        if (err_is_fail(err))
            return err;
        img->load_index[img->nsegments++] = (uint16_t)i;
    }
    return img->nsegments == 0 ? ELF_ERR_NO_SEGMENTS : SYS_ERR_OK;
}

static void load_phdr(const struct elf_image *img, unsigned idx, struct phdr *ph)
{
    read_phdr(img->file, le64(img->file + EHDR_PHOFF), img->load_index[idx], ph);
}

/* Overlap is by byte, not by page: two segments may share a page (the
 * loader must then merge their permissions), but not an address. */
static errval_t check_overlap(const struct elf_image *img)
{
    struct phdr a, b;
    for (unsigned i = 0; i < img->nsegments; i++) {
        load_phdr(img, i, &a);
        for (unsigned j = i + 1; j < img->nsegments; j++) {
            load_phdr(img, j, &b);
            if (a.vaddr < b.vaddr + b.memsz && b.vaddr < a.vaddr + a.memsz)
                return ELF_ERR_SEGMENT_OVERLAP;
        }
    }
    return SYS_ERR_OK;
}

static errval_t check_entry(const struct elf_image *img)
{
    struct phdr ph;
    for (unsigned i = 0; i < img->nsegments; i++) {
        load_phdr(img, i, &ph);
        bool inside = img->entry >= ph.vaddr && img->entry - ph.vaddr < ph.memsz;
        if (inside && (ph.flags & ELF_SEG_X) != 0)
            return SYS_ERR_OK;
    }
    return ELF_ERR_ENTRY_OUTSIDE;
}

errval_t elf_parse(const void *file, size_t size, struct elf_image *img)
{
    struct elf_image checked = { .file = file, .size = size, .nsegments = 0 };
    errval_t err;

    if (file == NULL)
        return ELF_ERR_TRUNCATED;
    err = check_ident(checked.file, size);
    if (err_is_ok(err))
        err = check_phdr_table(checked.file, size);
    if (err_is_ok(err))
        err = collect_segments(&checked);
    if (err_is_ok(err))
        err = check_overlap(&checked);
    if (err_is_ok(err)) {
        checked.entry = le64(checked.file + EHDR_ENTRY);
        err = check_entry(&checked);
    }
    if (err_is_fail(err))
        return err;
    *img = checked;
    return SYS_ERR_OK;
}

/* idx past nsegments gives an empty segment rather than a stray read. */
void elf_segment(const struct elf_image *img, unsigned idx, struct elf_segment *seg)
{
    struct phdr ph = { 0 };
    bool valid = idx < img->nsegments && idx < ELF_MAX_SEGMENTS;
    if (valid)
        load_phdr(img, idx, &ph);
    seg->vaddr = ph.vaddr;
    seg->memsz = ph.memsz;
    seg->filesz = ph.filesz;
    seg->data = valid ? img->file + ph.offset : NULL;
    seg->flags = ph.flags & PF_MASK;
}
