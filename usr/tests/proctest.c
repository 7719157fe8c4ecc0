/*
 * proctest.c — processes in the OS: spawn (lib/os/spawn.c) through the
 * process manager (usr/init/procmgr.c), arguments, wait and exit codes,
 * listing, suspend/resume, kill, the bad inputs, and that everything comes
 * back (spawn/exit and spawn/kill cycles end with free memory exactly where
 * it started). Run as init=proctest; the spawned hello's output is matched
 * by the boot scenario.
 */
#include <stdio.h>
#include <string.h>

#include "os.h"
#include "ostest.h"
#include "paging.h"
#include "../init/procmgr.h"
#include "ram.h"
#include "syscall.h"
#include "thread.h"

#define EXIT_CYCLES 1000
#define KILL_CYCLES 200

/* Spawn, wait, and return the final status (state PROC_KILLED if it failed). */
static struct proc_info run(const char *cmdline)
{
    uint32_t pid;
    struct proc_info info = { .state = PROC_KILLED };
    if (err_is_ok(proc_spawn(cmdline, &pid)))
        proc_wait(pid, &info);
    return info;
}

static void test_hello(void)
{
    struct proc_info i = run("hello");
    check("hello with no arguments exits with 0", i.state == PROC_EXITED && i.exit_code == 0);
    uint32_t pid;
    expect("hello with its default arguments", proc_spawn_default("hello", &pid), SYS_ERR_OK);
    expect("wait for it", proc_wait(pid, &i), SYS_ERR_OK);
    check("it exited with 0", i.state == PROC_EXITED && i.exit_code == 0);
    i = run("hello arg1 arg2 arg3");
    check("hello arg1 arg2 arg3 exits with 0", i.state == PROC_EXITED && i.exit_code == 0);
    i = run("hello exit=42");
    check("wait returns the exit code (42)", i.state == PROC_EXITED && i.exit_code == 42);
    check("the status says it is hello", strcmp(i.name, "hello") == 0);
}

static bool listed(uint32_t pid, const char *name, enum proc_state state)
{
    struct proc_info all[PROC_MAX];
    size_t n = proc_list(all, PROC_MAX);
    for (size_t k = 0; k < n && k < PROC_MAX; k++) {
        if (all[k].pid == pid)
            return strcmp(all[k].name, name) == 0 && all[k].state == state && all[k].core == os_args()->core;
        if (k > 0 && all[k - 1].pid >= all[k].pid)
            return false;       /* not in pid order */
    }
    return false;
}

static uint64_t ticks_of(uint32_t pid)
{
    struct proc_info all[PROC_MAX];
    size_t n = proc_list(all, PROC_MAX);
    for (size_t k = 0; k < n && k < PROC_MAX; k++)
        if (all[k].pid == pid)
            return all[k].ticks;
    return UINT64_MAX;
}

/* Give the core away until `pid` has run for more ticks than `than`. */
static bool runs_beyond(uint32_t pid, uint64_t than)
{
    for (int i = 0; i < 2000; i++) {
        if (ticks_of(pid) != UINT64_MAX && ticks_of(pid) > than)
            return true;
        sys_yield();
    }
    return false;
}

static void test_control(void)
{
    uint32_t spin;
    struct proc_info info;
    expect("spawn a looping program", proc_spawn("spinner", &spin), SYS_ERR_OK);
    check("the list shows init and it (pid, name, state, core)",
          listed(os_args()->pid, os_args()->name, PROC_RUNNING) && listed(spin, "spinner", PROC_RUNNING));
    check("it runs (its tick count grows)", runs_beyond(spin, 0));
    expect("suspend it", proc_suspend(spin), SYS_ERR_OK);
    check("the list shows it suspended", listed(spin, "spinner", PROC_SUSPENDED));
    uint64_t t0 = ticks_of(spin);
    for (int i = 0; i < 300; i++)
        sys_yield();
    check("suspended, it makes no progress (ticks unchanged over 300 yields)", ticks_of(spin) == t0);
    expect("suspend it again", proc_suspend(spin), PROC_ERR_SUSPENDED);
    expect("resume it", proc_resume(spin), SYS_ERR_OK);
    expect("resume it again", proc_resume(spin), PROC_ERR_NOT_SUSPENDED);
    check("resumed, it makes progress again", runs_beyond(spin, t0));
    proc_print("proctest");
    expect("kill it", proc_kill(spin), SYS_ERR_OK);
    check("the list shows it killed", listed(spin, "spinner", PROC_KILLED));
    expect("kill it again", proc_kill(spin), PROC_ERR_ENDED);
    expect("suspend it after its end", proc_suspend(spin), PROC_ERR_ENDED);
    expect("wait reaps it", proc_wait(spin, &info), SYS_ERR_OK);
    check("its status: killed", info.state == PROC_KILLED);
    expect("wait for it again", proc_wait(spin, &info), PROC_ERR_NO_SUCH_PID);
}

/* Spawning `cmdline` fails with `want`, caused by `cause` (or SYS_ERR_OK
 * for none), and changes nothing. */
static void expect_spawn(const char *desc, const char *cmdline, enum err_code want, enum err_code cause)
{
    uint32_t pid;
    uint64_t before = proc_free_memory();
    errval_t err = proc_spawn(cmdline, &pid);
    expect(desc, err, want);
    if (cause != SYS_ERR_OK)
        check("  ... because of the right cause", err_contains(err, cause));
    if (err_is_ok(err))
        proc_kill(pid);
    check("  ... and free memory is unchanged", proc_free_memory() == before);
}

static void test_bad_input(void)
{
    static char many[ARGS_MAX_WORDS * 2 + 16], longline[ARGS_CMDLINE_MAX + 16];
    strcpy(many, "hello");
    for (int i = 0; i <= ARGS_MAX_WORDS; i++)
        strcat(many, " x");
    memset(longline, 'a', sizeof longline - 1);
    memcpy(longline, "hello ", 6);
    expect_spawn("spawn of an empty command line", "   ", SPAWN_ERR_NO_NAME, SYS_ERR_OK);
    expect_spawn("spawn of a program that does not exist", "nosuch arg", SPAWN_ERR_NO_PROGRAM, SYS_ERR_OK);
    expect_spawn("spawn of a boot module that is not an ELF file", "README", SPAWN_ERR_LOAD, ELF_ERR_BAD_MAGIC);
    expect_spawn("spawn of a truncated ELF file", "bad-truncated", SPAWN_ERR_LOAD, ELF_ERR_TRUNCATED);
    expect_spawn("spawn of an ELF file for another machine", "bad-machine", SPAWN_ERR_LOAD, ELF_ERR_WRONG_MACHINE);
    expect_spawn("spawn of an ELF file with overlapping segments", "bad-overlap", SPAWN_ERR_LOAD, ELF_ERR_SEGMENT_OVERLAP);
    expect_spawn("spawn of an ELF file with a 1 GiB segment", "bad-huge", SPAWN_ERR_IMAGE_TOO_BIG, SYS_ERR_OK);
    expect_spawn("spawn of an ELF file whose entry is outside its segments", "bad-entry", SPAWN_ERR_LOAD, ELF_ERR_ENTRY_OUTSIDE);
    expect_spawn("spawn with 65 arguments", many, SPAWN_ERR_TOO_MANY_ARGS, SYS_ERR_OK);
    expect_spawn("spawn with a command line longer than the page holds", longline, SPAWN_ERR_ARGS_TOO_LONG, SYS_ERR_OK);
    struct proc_info info;
    expect("kill a pid that never was", proc_kill(99999), PROC_ERR_NO_SUCH_PID);
    expect("suspend a pid that never was", proc_suspend(99999), PROC_ERR_NO_SUCH_PID);
    expect("resume a pid that never was", proc_resume(99999), PROC_ERR_NO_SUCH_PID);
    expect("wait for a pid that never was", proc_wait(99999, &info), PROC_ERR_NO_SUCH_PID);
    expect("kill init itself", proc_kill(os_args()->pid), PROC_ERR_IS_CALLER);
    expect("wait for init itself", proc_wait(os_args()->pid, &info), PROC_ERR_IS_CALLER);
    uint32_t pid;
    expect("spawn hello -q", proc_spawn("hello -q", &pid), SYS_ERR_OK);
    for (int i = 0; i < 100; i++)
        sys_yield();
    expect("kill a process that has exited but is not reaped", proc_kill(pid), PROC_ERR_ENDED);
    expect("wait reaps it", proc_wait(pid, &info), SYS_ERR_OK);
}

static void test_leaks(void)
{
    run("hello -q");            /* the first spawn maps the archive and fills caches */
    uint64_t before = proc_free_memory();
    unsigned bad = 0;
    uint32_t first = 0, last = 0;
    for (int i = 0; i < EXIT_CYCLES; i++) {
        uint32_t pid;
        struct proc_info info;
        bad += err_is_fail(proc_spawn("hello -q", &pid)) || err_is_fail(proc_wait(pid, &info)) ||
               info.state != PROC_EXITED || info.exit_code != 0;
        first = i == 0 ? pid : first;
        last = pid;
    }
    check("1,000 spawn/exit/wait cycles all succeed", bad == 0);
    check("  ... with 1,000 different pids", last - first == EXIT_CYCLES - 1);
    printf("proctest: free memory before %llu, after 1,000 spawn/exit cycles %llu\n",
           (unsigned long long)before, (unsigned long long)proc_free_memory());
    check("  ... and free memory is exactly where it started", proc_free_memory() == before);
    for (int i = 0; i < KILL_CYCLES; i++) {
        uint32_t pid;
        struct proc_info info;
        bad += err_is_fail(proc_spawn("spinner", &pid));
        sys_yield();            /* let it run a little */
        bad += err_is_fail(proc_kill(pid)) || err_is_fail(proc_wait(pid, &info)) || info.state != PROC_KILLED;
    }
    check("200 spawn/kill/wait cycles all succeed", bad == 0);
    printf("proctest: free memory after 200 spawn/kill cycles %llu\n", (unsigned long long)proc_free_memory());
    check("  ... and free memory is exactly where it started", proc_free_memory() == before);
}

int main(void)
{
    ostest_begin("PROCTEST");
    if (!ostest_start_memory("proctest"))
        return 1;
    proc_init();
    test_hello();
    test_control();
    test_bad_input();
    test_leaks();
    return ostest_summary("proctest");
}
