/*
 * args.h — the argument page of a process: the kernel writes it for a boot
 * program, the spawner (lib/os/spawn.c) for any other.
 *
 * It is mapped read-only at ARGS_PAGE_VADDR and its address is passed in x0
 * at the program's first instruction; sp points to the top of the stack.
 * lib/os/start.c turns it into main(argc, argv).
 */
#pragma once

#include <stdint.h>

#define ARGS_MAGIC       0x6d696e6e6f776172ull  /* "minnowar" */
/* The argument page sits right above the stack, so that both share one
 * level-3 table (and its level-1 and level-2 tables): a process starts with
 * three tables fewer than if they lay apart. */
#define ARGS_PAGE_VADDR  0x00007feffffff000ull
#define ARGS_CMDLINE_MAX 2048
#define ARGS_NAME_MAX    32
#define ARGS_MAX_WORDS   64     /* argv[1..]: at most this many arguments */
#define ARGS_ENV_MAX     1024
#define ARGS_ENV_VARS    32     /* at most this many environment strings */

#define USER_STACK_TOP   ARGS_PAGE_VADDR
#define USER_STACK_SIZE  (64 * 1024)    /* with an unmapped guard page below */

struct minnow_args {
    uint64_t magic;
    uint32_t pid;
    uint32_t core;
    char name[ARGS_NAME_MAX];           /* the boot module's name */
    char cmdline[ARGS_CMDLINE_MAX];     /* the arguments after the name, split at spaces
                                           (a boot program: the kernel command line) */
    char env[ARGS_ENV_MAX];             /* the environment: "KEY=VALUE" strings, each
                                           ended by a NUL, the last by a second NUL */
    /* The console UART, for the first program's terminal driver (docs/terminal.md):
     * its registers' physical address (a DevFrame of ROOTCN_SLOT_DEVCN holds
     * them) and its interrupt (IRQ capability ROOTCN_SLOT_IRQCN slot
     * console_intid - 32). Zero for every other program, and when the device
     * tree names no interrupt. */
    uint64_t console_base;
    uint32_t console_intid;
};

_Static_assert(sizeof(struct minnow_args) <= 4096, "argument page is one page");
