/*
 * init.c — the first user program. For now it greets, reports its
 * arguments, and then does what the command line asks:
 *   (nothing)          echo console lines back until "exit"
 *   test=syscalls      bad system calls get named errors
 *   test=survive       yield a while so other boot programs run, then report
 * The services of later milestones (memory, processes, terminal) grow here.
 */
#include <stdio.h>
#include <string.h>

#include "cap.h"
#include "ram.h"
#include "os.h"
#include "syscall.h"

static void greet(int argc, char **argv)
{
    const struct minnow_args *a = os_args();
    printf("init: hello from user space (pid %u on core %u)\n", a->pid, a->core);
    printf("init: %d argument%s:", argc, argc == 1 ? "" : "s");
    for (int i = 0; i < argc; i++)
        printf(" %s", argv[i]);
    printf("\n");
}

/* The RAM capabilities the kernel put in MEMCN: all free memory. */
static void report_memory(void)
{
    uint64_t total = 0;
    unsigned n = 0;
    for (uint32_t i = 0; i < L2_CNODE_SLOTS; i++) {
        struct capinfo ci;
        if (err_is_ok(cap_identify(capref_l2(ROOTCN_SLOT_MEMCN, i), &ci)) && ci.type == OBJ_RAM) {
            total += ci.size;
            n++;
        }
    }
    printf("init: received %u RAM capabilities, %llu bytes (%llu MiB)\n", n,
           (unsigned long long)total, (unsigned long long)(total >> 20));
}

/* All memory init hands out comes from its memory manager (lib/mm). */
static int start_memory(void)
{
    errval_t err = ram_init_from_memcn();
    if (err_is_fail(err)) {
        DEBUG_ERR(err, "init: starting the memory manager");
        return 1;
    }
    struct mm_stats st;
    mm_stats(ram_mm(), &st);
    printf("init: memory manager: %u regions, %llu bytes total, %llu free, largest free block %llu\n",
           (unsigned)st.regions, (unsigned long long)st.total, (unsigned long long)st.free,
           (unsigned long long)st.largest_free);
    return 0;
}

static int expect_error(const char *what, errval_t got, enum err_code want)
{
    bool ok = err_no(got) == want;
    printf("init: %s -> %s (%s)\n", what, err_getcode(err_no(got)), ok ? "as expected" : "WRONG");
    return ok ? 0 : 1;
}

static int test_syscalls(void)
{
    int failures = 0;
    failures += expect_error("syscall 999", syscall2(999, 0, 0).err, SYS_ERR_ILLEGAL_SYSCALL);
    failures += expect_error("syscall SYS_COUNT", syscall2(SYS_COUNT, 0, 0).err, SYS_ERR_ILLEGAL_SYSCALL);
    failures += expect_error("print from NULL", sys_debug_print(NULL, 8), SYS_ERR_BAD_USER_POINTER);
    failures += expect_error("print from kernel memory",
                             sys_debug_print((const char *)0xffffff8000000000ul, 8), SYS_ERR_BAD_USER_POINTER);
    failures += expect_error("print wrapping the address space",
                             sys_debug_print((const char *)0xfffffffffffffff0ul, 64), SYS_ERR_BAD_USER_POINTER);
    failures += expect_error("print too long", sys_debug_print("x", SYSCALL_PRINT_MAX + 1), SYS_ERR_ARG_TOO_LONG);
    failures += expect_error("print zero bytes", sys_debug_print(NULL, 0), SYS_ERR_OK);
    failures += expect_error("nop", sys_nop(), SYS_ERR_OK);
    DEBUG_ERR(err_push(syscall2(999, 0, 0).err, LIB_ERR_BAD_ARGS), "an error chain as printed");
    printf("init: syscall tests: %d failure%s\n", failures, failures == 1 ? "" : "s");
    return failures;
}

static int survive(void)
{
    for (int i = 0; i < 200; i++)
        sys_yield();
    printf("init: still running after 200 yields\n");
    return 0;
}

static int echo(void)
{
    char line[128];
    printf("init: type a line and it is echoed; \"exit\" ends init\n");
    while (fgets(line, sizeof line, stdin) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strcmp(line, "exit") == 0)
            break;
        printf("init: echo: %s\n", line);
    }
    return 0;
}

int main(int argc, char **argv)
{
    char test[32];
    greet(argc, argv);
    report_memory();
    if (start_memory() != 0)
        return 1;
    if (os_getarg("test", test, sizeof test) == NULL)
        return echo();
    if (strcmp(test, "syscalls") == 0)
        return test_syscalls();
    if (strcmp(test, "survive") == 0)
        return survive();
    printf("init: unknown test \"%s\"\n", test);
    return 2;
}
