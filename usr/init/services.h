/*
 * services.h — init's services (lib/os/svc.h has the interface): accepting
 * each process's channel, and handing its calls to the service modules
 * (termsrv.c, memsrv.c, procsrv.c), each of which could move into a
 * process of its own.
 */
#pragma once

#include <stdint.h>

#include "rpc.h"

/* One connected process. */
struct svc_client {
    uint32_t pid;               /* the badge of the EndPoint it connected through */
    struct rpc_chan *chan;
    struct memsrv_client *mem;  /* memsrv.c's record, made on first use */
    bool gone;                  /* the process has ended: drop it (services.c) */
};

/* Listen on init's buffer 0 and serve from a thread of its own. */
errval_t services_start(void);

/* The modules' handlers: true if the type is theirs (and was answered). */
bool termsrv_serve(struct svc_client *cl, const struct rpc_msg *m, rpc_reply_handle *h);
bool memsrv_serve(struct svc_client *cl, const struct rpc_msg *m, rpc_reply_handle *h);
bool procsrv_serve(struct svc_client *cl, const struct rpc_msg *m, rpc_reply_handle *h);

/* memsrv.c: give back everything a client held (it has ended). */
void memsrv_release(struct svc_client *cl);

/* termsrv.c: drive the console UART and serve it as a terminal, to init's
 * own stdio too; children spawned from now on are told to use it. */
errval_t termsrv_start(void);
/* termsrv.c: forget the reads a client (which has ended) was waiting for. */
void termsrv_release(struct svc_client *cl);
