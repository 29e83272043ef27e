/* A simulated Bitcoin network in one process, for tests and benches.
 *
 * N nodes listen on loopback. In "addresses" mode node i is 127.x.y.z =
 * base + i on one shared port, served by one listener on 0.0.0.0 that tells
 * nodes apart by the accepted socket's local address (connections to any
 * address outside 127.0.0.0/8 are dropped); in "ports" mode node i is
 * 127.0.0.1:(port + i), one listener each.
 *
 * Nodes answer the handshake, pings and getaddr (addr, or addrv2 to peers
 * that sent sendaddrv2) from a generated address graph: each node knows
 * `fanout` others, one of them the next node, so a crawl from any node
 * reaches all of them. A configurable share of nodes misbehaves:
 *   unreachable  connections are refused (the peer's connect fails with
 *                ECONNREFUSED). Ports mode: nothing listens on its port.
 *                Addresses mode: the one listener on 0.0.0.0 answers every
 *                127.x address, so these nodes live on a second port that
 *                simnet holds bound but never listens on (the kernel
 *                answers a SYN there with a reset: refused); a connection
 *                to such an address on the shared port is accepted and
 *                reset at once
 *   slow         the handshake reply waits slow_ms
 *   bad          after the handshake sends a message with a bad checksum,
 *                an oversized length, or garbage (in turn by node index)
 *   addr-spam    after the handshake sends an unsolicited addr message of
 *                spam_size addresses every spam_ms (addrv2 instead, to
 *                peers that asked for it, with spam_addrv2)
 *   ping-spam    after the handshake sends a ping every spam_ms
 * Everything is deterministic for a given seed: which nodes are of which
 * kind (cs_simnet_node), the graph, the spam's addresses. One timer sends
 * all the spam. Loop thread only. */
#ifndef CS_BTC_SIMNET_H
#define CS_BTC_SIMNET_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "btc/connector.h"

typedef struct cs_simnet cs_simnet;

enum cs_sim_kind {
    CS_SIM_GOOD,
    CS_SIM_UNREACHABLE,
    CS_SIM_SLOW,
    CS_SIM_BAD,
    CS_SIM_ADDR_SPAM,
    CS_SIM_PING_SPAM,
};
#define CS_SIM_KINDS 6

typedef struct cs_simnet_opts {
    const cs_wire_net *net; /* NULL: regtest */
    size_t nodes;
    const char *base_addr; /* addresses mode: first node's address (default 127.1.0.1) */
    uint16_t port;         /* the shared port, or the first port (ports mode); 0: any
                              (addresses mode only) */
    bool ports_mode;
    double unreachable, slow, bad; /* shares of nodes, 0..1 */
    double addr_spam, ping_spam;   /* shares of nodes, 0..1; all shares add up to <= 1 */
    uint64_t slow_ms;              /* default 3000 */
    uint64_t spam_ms;              /* spam period: default 1000 */
    size_t spam_size;              /* addresses per spam message: default 10 (max 1000) */
    bool spam_addrv2;              /* addr spam as addrv2 to peers that sent sendaddrv2 */
    size_t fanout;                 /* addresses each node returns: default 20 (max 1000) */
    uint64_t seed;
    size_t max_conns; /* connections served at once: default nodes + 1000 */
    cs_bus *bus;      /* NULL: publish nothing */
} cs_simnet_opts;

/* Starts the simulated network. Caller stops it with cs_simnet_close. */
int cs_simnet_new(uv_loop_t *loop, const cs_simnet_opts *opts, cs_simnet **out);
void cs_simnet_close(cs_simnet *s, void (*done)(void *), void *arg);
/* The port nodes listen on (addresses mode) or the first port. */
uint16_t cs_simnet_port(const cs_simnet *s);
/* Addresses mode: the port of the unreachable nodes (bound, not
 * listening); 0 otherwise. */
uint16_t cs_simnet_refuse_port(const cs_simnet *s);
/* Node i: its "ip:port" (buf >= 32) and kind ("addr-spam" etc. by
 * cs_sim_kind_name). */
enum cs_sim_kind cs_simnet_node(const cs_simnet *s, size_t i, char *buf, size_t len);
size_t cs_simnet_count(const cs_simnet *s);
/* Served connections and getaddr answers so far. */
uint64_t cs_simnet_getaddrs(const cs_simnet *s);
/* Spam messages sent so far (addr and ping spam). */
uint64_t cs_simnet_spam_sent(const cs_simnet *s);
const char *cs_sim_kind_name(enum cs_sim_kind k);

#endif
