/*
 * init.c — the first user program. For now it greets, reports its
 * arguments, and then does what the command line asks:
 *   (nothing)          read console commands (ps, spawn, run, wait, kill,
 *                      suspend, resume, free) and echo other lines, until "exit"
 *   test=syscalls      bad system calls get named errors
 *   test=survive       yield a while so other boot programs run, then report
 * The services of later milestones (memory, processes, terminal) grow here.
 */
#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include "cap.h"
#include "procmgr.h"
#include "services.h"
#include "ram.h"
#include "os.h"
#include "paging.h"
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
    if (err_is_ok(err))
        err = paging_init();    /* the services' threads and bulk frames need it */
    if (err_is_fail(err)) {
        DEBUG_ERR(err, "init: starting the memory manager and paging");
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

static void report(const char *what, errval_t err)
{
    if (err_is_fail(err))
        printf("init: %s: %s (%s)\n", what, err_getcode(err_no(err)), err_getstring(err_no(err)));
}

static void wait_for(uint32_t pid)
{
    struct proc_info info;
    errval_t err = proc_wait(pid, &info);
    report("wait", err);
    if (err_is_ok(err))
        printf("init: pid %u %s, exit code %lld\n", pid, proc_state_name(info.state), (long long)info.exit_code);
}

/* One console command (docs/processes.md#the-console); false for "exit". */
static bool command(const char *line)
{
    uint32_t pid;
    const char *arg = strchr(line, ' ') != NULL ? strchr(line, ' ') + 1 : "";
    unsigned long n = strtoul(arg, NULL, 10);
    if (strcmp(line, "exit") == 0)
        return false;
    if (strcmp(line, "ps") == 0) {
        proc_print("init");
    } else if (strncmp(line, "spawn ", 6) == 0 || strncmp(line, "run ", 4) == 0) {
        errval_t err = proc_spawn(arg, &pid);
        report("spawn", err);
        if (err_is_ok(err) && line[0] == 'r')
            wait_for(pid);
        else if (err_is_ok(err))
            printf("init: spawned pid %u\n", pid);
    } else if (strncmp(line, "wait ", 5) == 0) {
        wait_for((uint32_t)n);
    } else if (strncmp(line, "kill ", 5) == 0) {
        report("kill", proc_kill((uint32_t)n));
    } else if (strncmp(line, "suspend ", 8) == 0) {
        report("suspend", proc_suspend((uint32_t)n));
    } else if (strncmp(line, "resume ", 7) == 0) {
        report("resume", proc_resume((uint32_t)n));
    } else if (strcmp(line, "free") == 0) {
        printf("init: %llu bytes free\n", (unsigned long long)proc_free_memory());
    } else {
        printf("init: echo: %s\n", line);
    }
    return true;
}

static int console(void)
{
    char line[256];
    proc_init();
    errval_t err = termsrv_start();     /* the UART from user space; our stdio goes through it */
    if (err_is_fail(err))
        DEBUG_ERR(err, "init: starting the terminal");
    err = services_start();
    if (err_is_fail(err))
        DEBUG_ERR(err, "init: starting the services");
    printf("init: type a line and it is echoed; \"exit\" ends init\n");
    printf("init: commands: ps, spawn <program args>, run <program args>, wait|kill|suspend|resume <pid>, free\n");
    while (fgets(line, sizeof line, stdin) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!command(line))
            break;
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
        return console();
    if (strcmp(test, "syscalls") == 0)
        return test_syscalls();
    if (strcmp(test, "survive") == 0)
        return survive();
    printf("init: unknown test \"%s\"\n", test);
    return 2;
}
