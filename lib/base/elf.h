/*
 * elf.h — a validating parser for ELF64 AArch64 executables.
 *
 * Pure code, shared by the kernel loader and the host tests. elf_parse()
 * checks the whole file before anyone uses it: the identification, machine
 * and type, that the program headers and every loadable segment's data lie
 * inside the file, that sizes and addresses do not overflow, that segments
 * are in the user half (below ELF_USER_LIMIT), do not overlap one another,
 * and that the entry point lies in an executable segment. After a successful
 * parse, elf_segment() cannot fail for idx < nsegments.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <minnow/errors.h>

#define ELF_USER_LIMIT   (1ull << 48)   /* end of the TTBR0 (user) half */
#define ELF_MAX_SEGMENTS 16             /* more PT_LOAD segments: ELF_ERR_BAD_PHDR */

#define ELF_SEG_R 4u
#define ELF_SEG_W 2u
#define ELF_SEG_X 1u

struct elf_segment {
    uint64_t vaddr;         /* may be unaligned */
    uint64_t memsz;
    uint64_t filesz;        /* <= memsz; bytes past filesz are zero (bss) */
    const void *data;       /* filesz bytes inside the file */
    uint32_t flags;         /* ELF_SEG_R | ELF_SEG_W | ELF_SEG_X */
};

struct elf_image {
    const uint8_t *file;
    size_t size;
    uint64_t entry;
    unsigned nsegments;     /* PT_LOAD segments only, in file order */
    uint16_t load_index[ELF_MAX_SEGMENTS]; /* program header index of each */
};

errval_t elf_parse(const void *file, size_t size, struct elf_image *img);

/* The idx-th loadable segment (0 <= idx < img->nsegments). */
void elf_segment(const struct elf_image *img, unsigned idx, struct elf_segment *seg);
