/*
 * errors.h — minnow's one error type.
 *
 * Every fallible function returns errval_t. The codes and their messages live
 * in the single table below (an X-macro), shared by the kernel, user space and
 * host tests. An errval_t holds a chain of up to ERR_CHAIN_DEPTH codes: the
 * newest (outermost) code is in the low 16 bits, and err_push() shifts older
 * codes up, so a caller can add its own context to an error it passes on.
 * The implementation is lib/base/err.c.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef uint64_t errval_t;

#define ERR_CODE_BITS   16
#define ERR_CHAIN_DEPTH 4

/* X(code, message). Group codes by layer; the prefix names the layer. */
#define MINNOW_ERRORS(X)                                                          \
    X(SYS_ERR_OK, "success")                                                      \
    /* system calls (kernel) */                                                   \
    X(SYS_ERR_ILLEGAL_SYSCALL, "unknown system call number")                      \
    X(SYS_ERR_BAD_USER_POINTER, "user buffer is not mapped readable in the caller")\
    X(SYS_ERR_ARG_TOO_LONG, "argument longer than the system call allows")        \
    X(SYS_ERR_NO_INPUT, "no console input is waiting")                            \
    X(SYS_ERR_NOT_BENCH_MODE, "operation only allowed in benchmark mode")         \
    /* kernel boot */                                                             \
    X(KERN_ERR_NO_MEMORY, "kernel boot allocator has no memory left")             \
    X(KERN_ERR_NO_INIT_MODULE, "boot module for the first program not found")     \
    X(KERN_ERR_TOO_MANY_PROCESSES, "boot process table is full")                  \
    X(KERN_ERR_NO_DEVICE, "device not described in the device tree")              \
    X(KERN_ERR_BAD_DEVICE, "device tree entry for a device is unusable")          \
    X(KERN_ERR_MAP_FAILED, "could not create a kernel or user mapping")           \
    X(KERN_ERR_LOAD_PROGRAM, "could not load a boot program")                     \
    X(KERN_ERR_CMDLINE, "malformed kernel command line")                          \
    /* flattened device tree parser */                                            \
    X(FDT_ERR_TRUNCATED, "device tree blob is shorter than its header says")      \
    X(FDT_ERR_BAD_MAGIC, "device tree blob has a bad magic number")               \
    X(FDT_ERR_BAD_VERSION, "device tree blob version is not supported")           \
    X(FDT_ERR_BAD_LAYOUT, "device tree blocks lie outside the blob or overlap")   \
    X(FDT_ERR_BAD_STRUCTURE, "device tree structure block is malformed")          \
    X(FDT_ERR_BAD_STRING, "device tree string is not terminated in its block")    \
    X(FDT_ERR_NOT_FOUND, "device tree node or property not found")                \
    X(FDT_ERR_BAD_VALUE, "device tree property has the wrong length or value")    \
    X(FDT_ERR_TOO_DEEP, "device tree nesting is deeper than supported")           \
    /* newc cpio archive parser */                                                \
    X(CPIO_ERR_TRUNCATED, "cpio archive ends inside an entry")                    \
    X(CPIO_ERR_BAD_MAGIC, "cpio entry does not start with the newc magic 070701") \
    X(CPIO_ERR_BAD_HEADER, "cpio header field is not hexadecimal")                \
    X(CPIO_ERR_BAD_NAME, "cpio entry name is empty or not NUL-terminated")        \
    X(CPIO_ERR_END, "end of the cpio archive (TRAILER!!!)")                      \
    X(CPIO_ERR_NOT_FOUND, "no file of that name in the cpio archive")             \
    /* ELF64 parser */                                                            \
    X(ELF_ERR_TRUNCATED, "ELF file is shorter than its headers say")              \
    X(ELF_ERR_BAD_MAGIC, "not an ELF file (bad magic)")                           \
    X(ELF_ERR_NOT_64BIT, "ELF file is not 64-bit (ELFCLASS64)")                   \
    X(ELF_ERR_NOT_LITTLE_ENDIAN, "ELF file is not little-endian")                 \
    X(ELF_ERR_BAD_VERSION, "ELF version is not EV_CURRENT")                       \
    X(ELF_ERR_WRONG_MACHINE, "ELF file is not for AArch64")                       \
    X(ELF_ERR_NOT_EXECUTABLE, "ELF file is not an executable (ET_EXEC)")          \
    X(ELF_ERR_BAD_PHDR, "ELF program header table is malformed")                  \
    X(ELF_ERR_NO_SEGMENTS, "ELF file has no loadable segments")                   \
    X(ELF_ERR_SEGMENT_OUTSIDE_FILE, "ELF segment data lies outside the file")     \
    X(ELF_ERR_SEGMENT_SIZES, "ELF segment file size exceeds its memory size")     \
    X(ELF_ERR_SEGMENT_ALIGN, "ELF segment alignment is invalid")                  \
    X(ELF_ERR_SEGMENT_ADDRESS, "ELF segment lies outside the user address range") \
    X(ELF_ERR_SEGMENT_OVERLAP, "ELF segments overlap")                            \
    X(ELF_ERR_ENTRY_OUTSIDE, "ELF entry point is not in an executable segment")   \
    /* user runtime */                                                            \
    X(LIB_ERR_BAD_ARGS, "malformed argument page")

enum err_code {
#define MINNOW_ERR_ENUM(code, msg) code,
    MINNOW_ERRORS(MINNOW_ERR_ENUM)
#undef MINNOW_ERR_ENUM
    ERR_CODE_COUNT
};

_Static_assert(ERR_CODE_COUNT < (1u << ERR_CODE_BITS), "error codes must fit the chain field");

/* The newest (outermost) code of a chain. */
static inline enum err_code err_no(errval_t err)
{
    return (enum err_code)(err & ((1u << ERR_CODE_BITS) - 1));
}

static inline bool err_is_ok(errval_t err) { return err_no(err) == SYS_ERR_OK; }
static inline bool err_is_fail(errval_t err) { return !err_is_ok(err); }

/* Add a layer's own code on top of an error it passes up. */
errval_t err_push(errval_t err, enum err_code code);

/* The code `depth` layers down (0 = newest); SYS_ERR_OK past the end. */
enum err_code err_code_at(errval_t err, unsigned depth);

/* True if `code` appears anywhere in the chain. */
bool err_contains(errval_t err, enum err_code code);

/* Name ("ELF_ERR_TRUNCATED") and message of one code; never NULL. */
const char *err_getcode(enum err_code code);
const char *err_getstring(enum err_code code);

/*
 * Write the chain, newest first, one line per layer, through `out` (so the
 * kernel and user space can each use their own console):
 *   "<where>: <context>\n  ELF_ERR_TRUNCATED: ELF file is shorter ...\n ..."
 */
typedef void (*err_out_fn)(const char *s);
void err_print_chain(err_out_fn out, errval_t err, const char *file, int line,
                     const char *context);
