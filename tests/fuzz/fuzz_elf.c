/*
 * fuzz_elf.c — libFuzzer over the ELF parser (lib/base/elf.c), `make fuzz-elf`.
 *
 * Every input is parsed. A file the parser accepts must keep the promises
 * of elf.h, checked here one by one, so the fuzzer finds wrong acceptances
 * as well as crashes: every segment's data lies inside the file, filesz <=
 * memsz, the segment ends below ELF_USER_LIMIT without wrapping, no two
 * segments overlap, and the entry point lies in an executable segment.
 * A broken promise aborts, which libFuzzer reports as a crash with the
 * input saved. Built with ASan and UBSan, which catch out-of-bounds reads.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/elf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void promise(int ok)
{
    if (!ok)
        abort();
}

static void check_segment(const struct elf_image *img, const struct elf_segment *s)
{
    const uint8_t *d = s->data;
    promise(s->filesz <= s->memsz);
    promise(s->filesz == 0 || (d >= img->file && (size_t)(d - img->file) <= img->size &&
                               s->filesz <= img->size - (size_t)(d - img->file)));
    promise(s->memsz > 0 && s->vaddr + s->memsz > s->vaddr && s->vaddr + s->memsz <= ELF_USER_LIMIT);
    uint8_t sum = 0;            /* read every byte the loader would copy (ASan checks) */
    for (uint64_t i = 0; i < s->filesz; i++)
        sum ^= d[i];
    __asm__ volatile("" ::"r"(sum));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct elf_image img;
    if (err_is_fail(elf_parse(data, size, &img)))
        return 0;
    promise(img.nsegments >= 1 && img.nsegments <= ELF_MAX_SEGMENTS);
    struct elf_segment seg[ELF_MAX_SEGMENTS];
    int entry_ok = 0;
    for (unsigned i = 0; i < img.nsegments; i++) {
        elf_segment(&img, i, &seg[i]);
        check_segment(&img, &seg[i]);
        for (unsigned j = 0; j < i; j++)
            promise(seg[i].vaddr + seg[i].memsz <= seg[j].vaddr ||
                    seg[j].vaddr + seg[j].memsz <= seg[i].vaddr);
        entry_ok |= (seg[i].flags & ELF_SEG_X) && img.entry - seg[i].vaddr < seg[i].memsz;
    }
    promise(entry_ok);
    return 0;
}
