/*
 * termsrv.c — the terminal: the console UART (pl011.c) as a cooked
 * terminal for every process. The service calls are SVC_TERM_* (svc.h);
 * init's own stdio reaches the same terminal in-process (term.h).
 *
 * Output: a write goes to the UART in one piece under the terminal's lock,
 * so lines of different writers never mix; '\n' goes out as "\r\n".
 * Input: each received byte is echoed and kept in one input ring ('\r'
 * becomes '\n'; backspace takes back the last byte not yet read, up to the
 * start of its line). Reads — from other processes (deferred replies) and
 * from init's console (a thread that waits) — queue in one FIFO and are
 * answered in arrival order: GETCHAR as soon as a byte is there, GETLINE
 * once a whole line is (or as much as fits). Nothing blocks a thread per
 * read: the UART's interrupt, an LMP message, runs the service thread's
 * waitset, which drains the UART and answers whoever can be answered.
 * docs/terminal.md has the rules.
 */
#include "services.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os.h"
#include "pl011.h"
#include "procmgr.h"
#include "svc.h"
#include "syscall.h"
#include "term.h"
#include "thread.h"
#include "waitset.h"

#define TERM_INPUT_BYTES 1024       /* typed ahead, not yet read */
#define TERM_REPLY_BYTES 256        /* the most one GETLINE answers */
#define TERM_POLL_US     2000       /* without the UART's interrupt */

/* One waiting read. A remote one is answered with rpc_reply; init's own
 * console waits on `answered` until `done`. */
struct reader {
    struct reader *next;
    uint16_t type;                  /* SVC_TERM_GETCHAR or SVC_TERM_GETLINE */
    struct svc_client *cl;          /* NULL: init's console */
    rpc_reply_handle h;
    char *buf;                      /* init's console: where its line goes */
    size_t max, got;
    bool done;
};

static struct thread_mutex lock = THREAD_MUTEX_INITIALIZER("terminal");
static struct thread_cond answered;             /* a local read was answered */
static struct thread_cond want_input;           /* the poller: a read is waiting */
static struct reader *first, **last = &first;   /* FIFO of reads; guarded by lock */
static struct writer {                          /* SVC_TERM_WRITTEN's counts; guarded by lock */
    uint32_t pid;
    uint64_t bytes;
} writers[SVC_TERM_WRITERS_KEPT];
static unsigned writers_next;                   /* the slot a new writer takes; guarded by lock */
static char ring[TERM_INPUT_BYTES];             /* guarded by lock */
static size_t ring_head, ring_len;              /* guarded by lock */

static struct pl011 uart;
static bool have_uart;                          /* set once, before any use */
static struct waitset_source irq_source;        /* run by the service thread */

/* ---- output ---- */

static void out_bytes(const char *s, size_t len)
{
    if (!have_uart) {
        for (size_t n; len > 0; s += n, len -= n) {
            n = len < SYSCALL_PRINT_MAX ? len : SYSCALL_PRINT_MAX;
            sys_debug_print(s, n);
        }
        return;
    }
    while (len > 0) {
        const char *nl = memchr(s, '\n', len);
        size_t n = nl != NULL ? (size_t)(nl - s) : len;
        pl011_write(&uart, s, n);
        if (nl != NULL) {
            pl011_write(&uart, "\r\n", 2);
            n++;
        }
        s += n;
        len -= n;
    }
}

static void term_write(const char *s, size_t len)
{
    thread_mutex_lock(&lock);
    out_bytes(s, len);
    thread_mutex_unlock(&lock);
}

/* ---- who wrote how much (lock held): tests ask whether a program's
 * stdio came through here (SVC_TERM_WRITTEN). The oldest writer's count
 * makes room for a new one. ---- */

static struct writer *writer_of(uint32_t pid)
{
    for (unsigned i = 0; i < SVC_TERM_WRITERS_KEPT; i++)
        if (writers[i].pid == pid && writers[i].bytes > 0)
            return &writers[i];
    return NULL;
}

static void count_written(uint32_t pid, size_t len)
{
    struct writer *w = writer_of(pid);
    if (w == NULL) {
        w = &writers[writers_next];
        writers_next = (writers_next + 1) % SVC_TERM_WRITERS_KEPT;
        *w = (struct writer){ .pid = pid };
    }
    w->bytes += len;
}

static void remote_write(struct svc_client *cl, const char *s, size_t len)
{
    thread_mutex_lock(&lock);
    out_bytes(s, len);
    if (len > 0)
        count_written(cl->pid, len);
    thread_mutex_unlock(&lock);
}

static errval_t written_by(const struct rpc_msg *m, uint64_t *bytes)
{
    uint32_t pid;
    if (m->len != sizeof pid)
        return SVC_ERR_BAD_REQUEST;
    memcpy(&pid, m->data, sizeof pid);
    thread_mutex_lock(&lock);
    struct writer *w = writer_of(pid);
    *bytes = w != NULL ? w->bytes : 0;
    thread_mutex_unlock(&lock);
    return SYS_ERR_OK;
}

/* ---- the input ring (lock held) ---- */

static char ring_at(size_t i)
{
    return ring[(ring_head + i) % TERM_INPUT_BYTES];
}

static size_t ring_take(char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = ring_at(i);
    ring_head = (ring_head + n) % TERM_INPUT_BYTES;
    ring_len -= n;
    return n;
}

/* How much a read at the head of the queue can take now (0: wait). */
static size_t ready_for(const struct reader *r, size_t max)
{
    if (ring_len == 0)
        return 0;
    if (r->type == SVC_TERM_GETCHAR)
        return 1;
    for (size_t i = 0; i < ring_len && i < max; i++)
        if (ring_at(i) == '\n')
            return i + 1;
    return ring_len >= max ? max : 0;     /* a line longer than the read: in pieces */
}

/* A typed byte: echo it and keep it, or take back the last one. */
static void feed(char c, void *arg)
{
    (void)arg;
    if (c == '\r')
        c = '\n';
    if (c == '\b' || c == 0x7f) {
        if (ring_len > 0 && ring_at(ring_len - 1) != '\n') {
            ring_len--;
            out_bytes("\b \b", 3);
        }
        return;
    }
    if (ring_len == TERM_INPUT_BYTES)
        return;                 /* nobody reads: drop, as a full UART FIFO would */
    ring[(ring_head + ring_len++) % TERM_INPUT_BYTES] = c;
    out_bytes(&c, 1);
}

/* ---- reads ---- */

static void answer(struct reader *r)
{
    if (r->cl == NULL) {
        r->got = ring_take(r->buf, ready_for(r, r->max));
        r->done = true;
        thread_cond_broadcast(&answered);
        return;
    }
    char line[TERM_REPLY_BYTES];
    size_t n = ring_take(line, ready_for(r, sizeof line));
    rpc_reply(&r->h, SYS_ERR_OK, line, n, NULL);
    free(r);
}

/* Answer reads in order while input is there for the first one. */
static void serve_readers(void)
{
    while (first != NULL && ready_for(first, first->cl == NULL ? first->max : TERM_REPLY_BYTES) > 0) {
        struct reader *r = first;
        first = r->next;
        if (first == NULL)
            last = &first;
        answer(r);
    }
}

static void enqueue(struct reader *r)
{
    r->next = NULL;
    *last = r;
    last = &r->next;
    thread_cond_signal(&want_input);
    serve_readers();
}

/* init's console (term.h): wait for a line in turn with everyone else. */
static size_t term_read_line(char *buf, size_t max)
{
    struct reader r = { .type = SVC_TERM_GETLINE, .buf = buf, .max = max };
    thread_mutex_lock(&lock);
    enqueue(&r);
    while (!r.done)
        thread_cond_wait(&answered, &lock);
    thread_mutex_unlock(&lock);
    return r.got;
}

static void read_later(struct svc_client *cl, uint16_t type, rpc_reply_handle *h)
{
    struct reader *r = calloc(1, sizeof *r);
    if (r == NULL) {
        rpc_reply_error(h, LIB_ERR_SLAB_EMPTY);
        return;
    }
    r->type = type;
    r->cl = cl;
    r->h = rpc_reply_defer(h);
    thread_mutex_lock(&lock);
    enqueue(r);
    thread_mutex_unlock(&lock);
}

void termsrv_release(struct svc_client *cl)
{
    thread_mutex_lock(&lock);
    for (struct reader **p = &first; *p != NULL;) {
        struct reader *r = *p;
        if (r->cl != cl) {
            p = &r->next;
            continue;
        }
        *p = r->next;
        rpc_reply_drop(&r->h);
        free(r);
    }
    for (last = &first; *last != NULL; last = &(*last)->next)
        ;
    thread_mutex_unlock(&lock);
}

bool termsrv_serve(struct svc_client *cl, const struct rpc_msg *m, rpc_reply_handle *h)
{
    switch (m->type) {
    case SVC_TERM_WRITE:
        remote_write(cl, m->data, m->len);
        rpc_reply(h, SYS_ERR_OK, NULL, 0, NULL);
        return true;
    case SVC_TERM_WRITTEN: {
        uint64_t bytes;
        errval_t err = written_by(m, &bytes);
        if (err_is_fail(err))
            rpc_reply_error(h, err);
        else
            rpc_reply(h, SYS_ERR_OK, &bytes, sizeof bytes, NULL);
        return true;
    }
    case SVC_TERM_GETCHAR:
    case SVC_TERM_GETLINE:
        read_later(cl, m->type, h);
        return true;
    default:
        return false;
    }
}

/* ---- input sources ---- */

/* The UART's interrupt message (thread-scheduler context: only trigger). */
static void on_irq(struct lmp_endpoint *ep, void *arg)
{
    (void)ep;
    (void)arg;
    waitset_trigger_critical(&irq_source);
}

/* In the service thread. */
static void serve_irq(struct waitset_source *src, void *arg)
{
    (void)src;
    (void)arg;
    thread_mutex_lock(&lock);
    errval_t err = pl011_serve_irq(&uart, feed, NULL);
    serve_readers();
    thread_mutex_unlock(&lock);
    if (err_is_fail(err))
        DEBUG_ERR(err, "terminal: acknowledging the UART's interrupt");
}

/* Without the interrupt (no UART line in the device tree, or it could not
 * be connected): poll the kernel console, but only while a read waits. */
static int poll_kernel(void *arg)
{
    (void)arg;
    for (;;) {
        char c;
        thread_mutex_lock(&lock);
        while (first == NULL)
            thread_cond_wait(&want_input, &lock);
        errval_t err = sys_debug_getchar(&c);
        if (err_is_ok(err)) {
            feed(c, NULL);
            serve_readers();
        }
        thread_mutex_unlock(&lock);
        if (err_is_fail(err))
            thread_sleep_us(TERM_POLL_US);
    }
    return 0;
}

static errval_t start_uart(void)
{
    const struct minnow_args *a = os_args();
    if (a->console_intid < 32 || a->console_base == 0)
        return IRQ_ERR_NO_SUCH_LINE;
    waitset_source_init(&irq_source, waitset_default(), serve_irq, NULL);
    struct capref irq = capref_l2(ROOTCN_SLOT_IRQCN, a->console_intid - 32);
    return pl011_start(&uart, a->console_base, irq, on_irq, NULL);
}

static const struct os_term_local local_term = { term_write, term_read_line };
static const char *const child_env[] = { OS_TERM_ENV "=init", NULL };

errval_t termsrv_start(void)
{
    thread_cond_init(&answered);
    thread_cond_init(&want_input);
    fflush(stdout);             /* what init printed so far goes before the driver's output */
    errval_t err = start_uart();
    have_uart = err_is_ok(err);
    if (!have_uart) {
        DEBUG_ERR(err, "terminal: no UART interrupt; polling the kernel console");
        struct thread *t;
        err = thread_create(&t, poll_kernel, NULL);
        if (err_is_ok(err))
            err = thread_detach(t);
    }
    os_term_set_local(&local_term);
    proc_set_child_env(child_env);
    if (have_uart)
        printf("init: terminal on the PL011 at 0x%llx, input by interrupt %u\n",
               (unsigned long long)os_args()->console_base, os_args()->console_intid);
    return err;
}
