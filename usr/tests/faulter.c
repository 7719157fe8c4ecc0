/*
 * faulter.c — a program that faults on purpose, to show that a user fault
 * stops only the faulting process. fault=<kind> picks the fault:
 *   null         read through a NULL pointer
 *   null-write   write through a NULL pointer
 *   undef        execute an undefined instruction
 *   kernel-jump  jump into kernel memory
 *   kernel-read  read kernel memory
 *   sysreg       read a register only the kernel may read
 * If the fault does not stop it, it says so and exits with code 1.
 */
#include <stdio.h>
#include <string.h>

#include "os.h"

#define KERNEL_ADDRESS 0xffffff8000000000ul

static void do_fault(const char *kind)
{
    if (strcmp(kind, "null") == 0) {
        (void)*(volatile int *)0;
    } else if (strcmp(kind, "null-write") == 0) {
        *(volatile int *)0 = 1;
    } else if (strcmp(kind, "undef") == 0) {
        __asm__ volatile("udf #0");
    } else if (strcmp(kind, "kernel-jump") == 0) {
        ((void (*)(void))KERNEL_ADDRESS)();
    } else if (strcmp(kind, "kernel-read") == 0) {
        (void)*(volatile int *)KERNEL_ADDRESS;
    } else if (strcmp(kind, "sysreg") == 0) {
        uint64_t v;
        __asm__ volatile("mrs %0, sctlr_el1" : "=r"(v));
    } else {
        printf("faulter: unknown fault kind \"%s\"\n", kind);
    }
}

int main(void)
{
    char kind[32];
    if (os_getarg("fault", kind, sizeof kind) == NULL) {
        printf("faulter: no fault=<kind> given\n");
        return 2;
    }
    printf("faulter: about to fault (%s)\n", kind);
    do_fault(kind);
    printf("faulter: FAILED: still running after the fault\n");
    return 1;
}
