/*
 * rpc_loopback.h — a transport between two channel ends in one process,
 * for testing the RPC layer apart from any kernel transport. Each direction
 * is a ring of `capacity` fragments; a full ring is RPC_ERR_TRANSPORT_FULL,
 * a closed peer RPC_ERR_PEER_DEAD, and a capability is copied into a slot
 * of the receiver's, as a real transfer would.
 */
#pragma once

#include "rpc.h"

errval_t rpc_loopback_pair(struct rpc_chan **a, struct waitset *wsa, struct rpc_chan **b,
                           struct waitset *wsb, size_t max_words, size_t capacity);

/* Put a raw fragment on the way to `to` (tests of malformed messages). */
errval_t rpc_loopback_inject(struct rpc_chan *from, const uint64_t *words, size_t n);
