/*
 * termsrv.c — the terminal service (svc.h: SVC_TERM_*).
 *
 * Output: each write goes to the console in one piece (a debug print per
 * SYSCALL_PRINT_MAX bytes), so lines of different processes never mix.
 * Input: a read waits for the console in a thread of its own and answers
 * later (rpc_reply_defer), so the services go on meanwhile. For now the
 * console is the kernel's (SYS_DEBUG_GETCHAR/PRINT), shared with init's
 * own command line: whoever reads first gets the character.
 */
#include "services.h"

#include <stdio.h>
#include <stdlib.h>

#include "svc.h"
#include "syscall.h"
#include "thread.h"

static void write_out(const char *s, size_t len)
{
    fflush(stdout);             /* init's own half-written line first */
    while (len > 0) {
        size_t n = len < SYSCALL_PRINT_MAX ? len : SYSCALL_PRINT_MAX;
        sys_debug_print(s, n);
        s += n;
        len -= n;
    }
}

struct read_req {
    rpc_reply_handle h;
    uint16_t type;
};

static int reader(void *arg)
{
    struct read_req *r = arg;
    if (r->type == SVC_TERM_GETCHAR) {
        int c = getchar();
        char ch = (char)c;
        rpc_reply(&r->h, SYS_ERR_OK, &ch, c == EOF ? 0 : 1, NULL);
    } else {
        char line[256];
        size_t n = 0;
        if (fgets(line, sizeof line, stdin) != NULL)
            for (; line[n] != '\0' && line[n] != '\n'; n++)
                ;
        rpc_reply(&r->h, SYS_ERR_OK, line, n, NULL);
    }
    free(r);
    return 0;
}

static void read_later(uint16_t type, rpc_reply_handle *h)
{
    struct read_req *r = malloc(sizeof *r);
    struct thread *t;
    if (r == NULL) {
        rpc_reply_error(h, LIB_ERR_SLAB_EMPTY);
        return;
    }
    r->type = type;
    r->h = rpc_reply_defer(h);
    errval_t err = thread_create(&t, reader, r);
    if (err_is_ok(err))
        err = thread_detach(t);
    if (err_is_fail(err)) {
        rpc_reply_error(&r->h, err);
        free(r);
    }
}

bool termsrv_serve(struct svc_client *cl, const struct rpc_msg *m, rpc_reply_handle *h)
{
    (void)cl;
    switch (m->type) {
    case SVC_TERM_WRITE:
        write_out(m->data, m->len);
        rpc_reply(h, SYS_ERR_OK, NULL, 0, NULL);
        return true;
    case SVC_TERM_GETCHAR:
    case SVC_TERM_GETLINE:
        read_later(m->type, h);
        return true;
    default:
        return false;
    }
}
