/*
 * procmgr.c — the process table (procmgr.h).
 *
 * A fixed table of PROC_MAX entries, found by PID with a linear search: it
 * is small, and a process manager looks a PID up once per request. Entry 0
 * is init itself. An entry is `live` while its process holds memory; it is
 * `used` until its status is reaped.
 */
#include "procmgr.h"

#include <stdio.h>
#include <string.h>

#include "dispatcher.h"
#include "lmp.h"
#include "os.h"
#include "paging.h"
#include "ram.h"
#include "slots.h"
#include "spawn.h"
#include "syscall.h"
#include "thread.h"

#define DEFAULTS_MODULE "defaults.args"

struct proc {
    bool used, live;
    struct proc_info info;
    struct spawn_process sp;
};

static struct thread_mutex lock = THREAD_MUTEX_INITIALIZER("procmgr");
static struct proc table[PROC_MAX];
static uint32_t next_pid = PROC_FIRST_PID;
static void (*on_reclaim)(uint32_t pid);

void proc_init(void)
{
    const struct minnow_args *a = os_args();
    table[0] = (struct proc){ .used = true, .live = false,
                              .info = { .pid = a->pid, .state = PROC_RUNNING, .core = a->core } };
    strcpy(table[0].info.name, a->name);
}

static struct proc *find(uint32_t pid)
{
    for (size_t i = 0; i < PROC_MAX; i++)
        if (table[i].used && table[i].info.pid == pid)
            return &table[i];
    return NULL;
}

static struct proc *free_entry(void)
{
    for (size_t i = 0; i < PROC_MAX; i++)
        if (!table[i].used)
            return &table[i];
    return NULL;
}

static bool is_self(const struct proc *p)
{
    return p == &table[0];
}

static bool has_ended(const struct proc *p)
{
    return p->info.state == PROC_EXITED || p->info.state == PROC_FAULTED || p->info.state == PROC_KILLED;
}

/* Everything the process held goes back; only its status stays. */
static void reclaim(struct proc *p, enum proc_state end)
{
    errval_t err = spawn_reclaim(&p->sp);
    if (err_is_fail(err))
        DEBUG_ERR(err, "procmgr: reclaiming a process");
    p->live = false;
    p->info.state = end;
    if (on_reclaim != NULL)
        on_reclaim(p->info.pid);
}

void proc_on_reclaim(void (*fn)(uint32_t pid))
{
    on_reclaim = fn;
}

/* Learn from the dispatcher whether a live process has ended. */
static void refresh(struct proc *p)
{
    struct dispatcher_status st;
    if (!p->live || err_is_fail(dispatcher_status(p->sp.dispatcher, &st)))
        return;
    p->info.ticks = st.ticks;
    if (st.state == DCB_EXITED) {
        p->info.exit_code = st.exit_code;
        reclaim(p, PROC_EXITED);
    } else if (st.state == DCB_FAULTED) {
        reclaim(p, PROC_FAULTED);
    }
}

/* The entry for `pid`, refreshed, with the lock held; NULL (and the lock
 * released) if there is none. */
static struct proc *lookup(uint32_t pid)
{
    thread_mutex_lock(&lock);
    struct proc *p = find(pid);
    if (p == NULL) {
        thread_mutex_unlock(&lock);
        return NULL;
    }
    refresh(p);
    return p;
}

/* An EndPoint to our buffer 0 with the child's pid as its badge, for the
 * child's TASKCN_SLOT_INITEP: how it connects to our services, and how we
 * know who connected (lib/os/rpc_lmp.h). */
static errval_t initep_for(uint32_t pid, struct capref *ep)
{
    struct lmp_endpoint *self = lmp_self_endpoint();
    if (self == NULL)
        return LMP_ERR_NO_DISPFRAME;
    errval_t err = os_slot_alloc(ep);
    if (err_is_ok(err)) {
        err = lmp_endpoint_mint(self, pid, *ep);
        if (err_is_fail(err))
            os_slot_free(*ep);
    }
    return err;
}

static const char *const *child_env;    /* set once, before children that use it */

void proc_set_child_env(const char *const *env)
{
    child_env = env;
}

static errval_t start(struct proc *p, const char *cmdline, uint32_t pid)
{
    struct capref ep;
    bool have_ep = err_is_ok(initep_for(pid, &ep));
    struct spawn_request req = { .cmdline = cmdline, .pid = pid, .initep = have_ep ? &ep : NULL,
                                 .env = child_env };
    errval_t err = spawn_load(&req, &p->sp);
    if (have_ep) {
        cap_delete(ep);         /* the child has its copy */
        os_slot_free(ep);
    }
    if (err_is_ok(err)) {
        err = dispatcher_run(p->sp.dispatcher);
        if (err_is_fail(err))
            spawn_reclaim(&p->sp);
    }
    return err;
}

errval_t proc_spawn(const char *cmdline, uint32_t *pid)
{
    thread_mutex_lock(&lock);
    struct proc *p = free_entry();
    errval_t err = (p == NULL || next_pid == UINT32_MAX) ? PROC_ERR_TABLE_FULL : SYS_ERR_OK;
    if (err_is_ok(err))
        err = start(p, cmdline, next_pid);
    if (err_is_ok(err)) {
        p->used = p->live = true;
        p->info = (struct proc_info){ .pid = next_pid++, .state = PROC_RUNNING, .core = os_args()->core };
        strcpy(p->info.name, p->sp.name);
        *pid = p->info.pid;
    }
    thread_mutex_unlock(&lock);
    return err;
}

/* The rest of the line of DEFAULTS_MODULE that starts with `name`. */
static void default_args(const char *name, char *out, size_t size)
{
    const char *data;
    size_t len, n = strlen(name);
    out[0] = '\0';
    if (err_is_fail(spawn_read_module(DEFAULTS_MODULE, (const void **)&data, &len)))
        return;
    for (const char *line = data, *end = data + len; line < end;) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (eol == NULL)
            eol = end;
        if ((size_t)(eol - line) > n && strncmp(line, name, n) == 0 && line[n] == ' ' &&
            (size_t)(eol - line) < size) {
            memcpy(out, line, (size_t)(eol - line));
            out[eol - line] = '\0';
            return;
        }
        line = eol + 1;
    }
}

errval_t proc_spawn_default(const char *name, uint32_t *pid)
{
    char line[ARGS_CMDLINE_MAX];
    default_args(name, line, sizeof line);
    return proc_spawn(line[0] != '\0' ? line : name, pid);
}

/* Check that `p` may be suspended, resumed or killed. */
static errval_t changeable(const struct proc *p)
{
    if (p == NULL)
        return PROC_ERR_NO_SUCH_PID;
    if (is_self(p))
        return PROC_ERR_IS_CALLER;
    return has_ended(p) ? PROC_ERR_ENDED : SYS_ERR_OK;
}

/* Suspend a running process, or resume a suspended one. */
static errval_t set_suspended(uint32_t pid, bool suspend)
{
    struct proc *p = lookup(pid);
    errval_t err = changeable(p);
    if (err_is_ok(err) && (p->info.state == PROC_SUSPENDED) == suspend)
        err = suspend ? PROC_ERR_SUSPENDED : PROC_ERR_NOT_SUSPENDED;
    if (err_is_ok(err))
        err = suspend ? dispatcher_stop(p->sp.dispatcher) : dispatcher_run(p->sp.dispatcher);
    if (err_is_ok(err))
        p->info.state = suspend ? PROC_SUSPENDED : PROC_RUNNING;
    if (p != NULL)
        thread_mutex_unlock(&lock);
    return err;
}

errval_t proc_suspend(uint32_t pid) { return set_suspended(pid, true); }

errval_t proc_resume(uint32_t pid) { return set_suspended(pid, false); }

errval_t proc_kill(uint32_t pid)
{
    struct proc *p = lookup(pid);
    errval_t err = changeable(p);
    if (err_is_ok(err))
        reclaim(p, PROC_KILLED);
    if (p != NULL)
        thread_mutex_unlock(&lock);
    return err;
}

errval_t proc_wait(uint32_t pid, struct proc_info *info)
{
    for (;;) {
        struct proc *p = lookup(pid);
        if (p == NULL)
            return PROC_ERR_NO_SUCH_PID;
        if (is_self(p)) {
            thread_mutex_unlock(&lock);
            return PROC_ERR_IS_CALLER;
        }
        if (has_ended(p)) {
            *info = p->info;
            p->used = false;
            thread_mutex_unlock(&lock);
            return SYS_ERR_OK;
        }
        thread_mutex_unlock(&lock);
        thread_yield();
        sys_yield();
    }
}

/* The used entry with the smallest pid at or above `floor`, or NULL. */
static struct proc *next_by_pid(uint64_t floor)
{
    struct proc *best = NULL;
    for (size_t i = 0; i < PROC_MAX; i++)
        if (table[i].used && table[i].info.pid >= floor && (best == NULL || table[i].info.pid < best->info.pid))
            best = &table[i];
    return best;
}

size_t proc_list(struct proc_info *out, size_t max)
{
    size_t n = 0;
    thread_mutex_lock(&lock);
    for (struct proc *p = next_by_pid(0); p != NULL; p = next_by_pid((uint64_t)p->info.pid + 1)) {
        refresh(p);
        if (n < max)
            out[n] = p->info;
        n++;
    }
    thread_mutex_unlock(&lock);
    return n;
}

void proc_print(const char *prefix)
{
    struct proc_info all[PROC_MAX];
    size_t n = proc_list(all, PROC_MAX);
    printf("%s:   PID  CORE  STATE      TICKS  NAME\n", prefix);
    for (size_t i = 0; i < n && i < PROC_MAX; i++)
        printf("%s: %5u  %4u  %-9s  %5llu  %s\n", prefix, all[i].pid, all[i].core,
               proc_state_name(all[i].state), (unsigned long long)all[i].ticks, all[i].name);
}

uint64_t proc_free_memory(void)
{
    struct mm_stats st;
    mm_stats(ram_mm(), &st);
    return st.free + paging_frames_idle_bytes();
}

const char *proc_state_name(enum proc_state s)
{
    static const char *const names[] = { "running", "suspended", "exited", "faulted", "killed" };
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}
