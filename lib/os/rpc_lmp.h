/*
 * rpc_lmp.h — RPC channels over kernel LMP (docs/rpc.md; LMP: docs/lmp.md).
 *
 * Each end of a channel owns one receive buffer of its dispatcher frame and
 * holds an EndPoint capability to the other end's. The last fragment of a
 * message is sent with LMP_SEND_YIELD, so the receiver runs at once.
 *
 * Connecting: a server listens on an endpoint (init: its buffer 0, which
 * every spawned child's TASKCN_SLOT_INITEP names, with the child's pid as
 * the badge). A client sends CONNECT there with an EndPoint to a fresh
 * buffer of its own; the server answers ACCEPT, from a fresh buffer of its
 * own, with an EndPoint to it. Then both sides may send first.
 */
#pragma once

#include "lmp.h"
#include "rpc.h"

#define RPC_LMP_CONNECT 0x636f6e6e656374ull     /* "connect" */
#define RPC_LMP_ACCEPT  0x616363657074ull       /* "accept" */

/* Connect to the server behind `server_ep`, waiting up to timeout_us. */
errval_t rpc_lmp_connect(struct capref server_ep, struct waitset *ws, uint64_t timeout_us,
                         struct rpc_chan **out);

/* A new connection: its channel and the badge of the EndPoint the client
 * sent CONNECT through (init: the client's pid). */
typedef void rpc_lmp_accept_fn(struct rpc_chan *c, uint64_t badge, void *arg);

/* Accept connections on `listen` for as long as the process runs; each
 * handshake runs from `ws`. */
errval_t rpc_lmp_listen(struct lmp_endpoint *listen, struct waitset *ws, rpc_lmp_accept_fn *fn,
                        void *arg);
