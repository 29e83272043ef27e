/* A horde: several connector processes ("shards") behind one control
 * socket that speaks the connector's own protocol (docs/control-protocol.md),
 * so `chainscope ctl` and the C client work unchanged against it.
 *
 * - CONNECT goes to one shard, chosen by a hash of the peer's IP address
 *   (every connection to one address lands on the same shard).
 * - Peer ids name their shard: shard i of n numbers its peers i+1, i+1+n,
 *   i+1+2n, ... (connector opts id_first/id_step), so DISCONNECT and SEND
 *   route an id to shard (id-1) % n and ids are unique across the horde.
 * - REGISTER goes to every shard (they keep the same message ids); the
 *   horde keeps the registrations and replays them, in order, to a shard
 *   whose process was restarted.
 * - DISCONNECT 0, SEND to every peer and PEERS fan out and merge: counts
 *   add up, peer lists are joined.
 *
 * A shard that is not connected (its process starting or restarting) fails
 * the requests that need it with "shard K is not connected"; fanned-out
 * requests answer with what the other shards said and name the missing
 * ones in `unavailable`. A shard that does not answer within the timeout
 * is disconnected and reconnected (backoff 100 ms doubling to 5 s).
 * Loop thread only. */
#ifndef CS_BTC_HORDE_H
#define CS_BTC_HORDE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/bus.h"

typedef struct cs_horde cs_horde;

typedef struct cs_horde_opts {
    size_t nshards;                 /* 1 .. 64 */
    const char *const *shard_paths; /* each shard's control socket; copied */
    const char *control_path;       /* the horde's socket (mode 0600); copied */
    cs_bus *bus;                    /* ctl.result events; NULL: none */
    const char *origin;             /* their origin; NULL: "horde"; copied */
    uint64_t timeout_ms;            /* a shard's answer: 0: 10 s */
} cs_horde_opts;

/* Listens on control_path and connects to every shard (retrying until they
 * are up). Returns 0 or an error with nothing left open. */
int cs_horde_new(uv_loop_t *loop, const cs_horde_opts *opts, cs_horde **out);
/* Stops listening, fails what is in flight, closes every handle; done(arg)
 * is called once everything is freed. */
void cs_horde_close(cs_horde *h, void (*done)(void *arg), void *arg);
/* Tells the horde that shard i's process was started again: its connection
 * is dropped and the registrations are replayed once it is back. */
void cs_horde_shard_restarted(cs_horde *h, size_t i);
/* Whether shard i's control socket is connected. */
int cs_horde_shard_up(const cs_horde *h, size_t i);

/* The shard of a peer id, and the shard of an "ip:port" / "[ip6]:port"
 * address (a hash of the ip). */
size_t cs_horde_shard_of_id(uint64_t id, size_t nshards);
size_t cs_horde_shard_of_addr(const char *addr, size_t len, size_t nshards);

#endif
