/* The Bitcoin P2P connector: many peers on one libuv loop, every message an
 * event.
 *
 * The connector opens outbound connections (IPv4 and IPv6) and accepts
 * inbound ones on any number of listeners, performs the version handshake
 * the way Bitcoin Core expects it, answers pings, sends its own keep-alive
 * pings and measures their round trip, and publishes on the bus:
 *
 *   p2p.conn.attempt   an outbound connection is being opened
 *   p2p.conn.open      an outbound connection was established
 *   p2p.conn.accepted  an inbound connection was accepted
 *   p2p.conn.failed    an outbound connection could not be opened (reason)
 *   p2p.conn.closed    a connection ended: by whom ("us", "peer") and why
 *   p2p.handshake      version and verack exchanged: the peer's version fields
 *   p2p.msg.<command>  every message received and sent (direction in/out)
 *   p2p.ping.rtt       a pong answered one of our pings
 *
 * Every event's key is "<peer id> <address>:<port>"; every payload has a
 * "peer" object {id, addr, port, direction}. docs/btc.md lists the fields.
 *
 * One periodic timer sweeps all peers for timeouts and keep-alive pings (no
 * timer per peer). Reads go through one loop-wide buffer; a peer holds its
 * own buffer only while a message is incomplete, sized by the bytes that
 * arrived, bounded by max_recv per peer and by partial_budget across all
 * peers, and for partial_timeout_ms at most. A malformed message, a full
 * send queue, a bound or a timeout closes that one peer with a code (a
 * stable name, docs/btc.md) and a reason for people. Loop thread only. */
#ifndef CS_BTC_CONNECTOR_H
#define CS_BTC_CONNECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "btc/wire.h"
#include "core/bus.h"
#include "core/value.h"

typedef struct cs_connector cs_connector;
typedef struct cs_peer cs_peer;

enum cs_peer_dir { CS_PEER_OUT = 0, CS_PEER_IN = 1 };

typedef struct cs_connector_opts {
    const cs_wire_net *net; /* NULL: main */
    const char *origin;     /* event origin, borrowed; NULL: "connector" */
    const char *network;    /* event network name, borrowed; NULL: "btc-<net>" */
    /* what we announce in our version message */
    int32_t version;        /* 0: CS_WIRE_PROTOCOL_VERSION (70016) */
    const char *user_agent; /* NULL: "/chainscope:<version>/"; copied */
    uint64_t services;      /* default 0 (NODE_NONE) */
    int32_t start_height;
    bool relay; /* default false: no transaction relay */
    /* bounds and timers (0 takes the default shown) */
    size_t max_peers;              /* 1000 */
    uint64_t connect_timeout_ms;   /* 10 s */
    uint64_t handshake_timeout_ms; /* 60 s */
    uint64_t idle_timeout_ms;      /* 20 min without any message */
    uint64_t ping_interval_ms;     /* 2 min */
    uint64_t ping_timeout_ms;      /* 20 min for a pong */
    uint64_t sweep_ms;             /* 1 s: the sweep timer's period */
    size_t max_recv;               /* per-peer buffer for one incomplete message:
                                      24 + 4,000,000 bytes */
    size_t partial_budget;         /* bytes held for incomplete messages by all
                                      peers together: 64 MiB (at least max_recv);
                                      a peer that would go over it is closed */
    uint64_t partial_timeout_ms;   /* an incomplete message must complete within
                                      this from its first byte: 60 s */
    size_t max_send;               /* bytes queued to one peer: 8 MiB */
    /* peer ids: id_first, id_first + id_step, ... (0: 1 and 1). A horde's
       shard i of n uses i + 1 and n, so that ids are unique across shards
       and name their shard */
    uint64_t id_first, id_step;
    /* events */
    bool no_msg_events; /* do not publish p2p.msg.* (connection events stay) */
    bool no_events;     /* publish nothing (simnet, benches) */
    /* metrics (chainscope_p2p_*, docs/btc.md) on this registry; borrowed,
     * must outlive the connector; NULL: none */
    struct cs_metrics *metrics;
    /* a configured node's name (borrowed, must outlive the connector): its
     * p2p.ping.rtt events carry it as field node (btc/btclog.h) */
    const char *node;
    /* pings every ping_interval_ms exactly (no jitter) */
    bool ping_fixed;
} cs_connector_opts;

/* Hooks for components built on the connector (crawler, simnet). Every
 * pointer handed to a hook is borrowed: valid until it returns. */
typedef struct cs_connector_hooks {
    void *arg;
    /* An inbound peer was accepted (before any byte is read). */
    void (*on_accept)(cs_connector *c, cs_peer *p, void *arg);
    /* Before our version message goes out: may change its fields. */
    void (*on_version)(cs_connector *c, cs_peer *p, cs_wire_version *v, void *arg);
    /* The handshake completed. */
    void (*on_handshake)(cs_connector *c, cs_peer *p, void *arg);
    /* A well-formed message arrived; fields is its decoded object. */
    void (*on_message)(cs_connector *c, cs_peer *p, const char *command, const cs_val *fields,
                       void *arg);
    /* The peer is gone (failed to connect when `failed`): reason is for
     * people, cs_peer_close_code(p) the stable code to act on. The peer is
     * freed after this returns. */
    void (*on_close)(cs_connector *c, cs_peer *p, bool failed, const char *reason, void *arg);
} cs_connector_hooks;

/* Creates a connector on loop, publishing on bus (may be NULL: no events).
 * opts is copied. Caller closes with cs_connector_close. */
int cs_connector_new(uv_loop_t *loop, cs_bus *bus, const cs_connector_opts *opts,
                     cs_connector **out);
void cs_connector_set_hooks(cs_connector *c, const cs_connector_hooks *hooks);
/* Closes every peer and listener; done(arg) runs once all memory is freed. */
void cs_connector_close(cs_connector *c, void (*done)(void *arg), void *arg);

/* Listens on "host:port" (port 0: any; *port_out, if not NULL, gets the
 * bound port). */
int cs_connector_listen(cs_connector *c, const char *hostport, uint16_t *port_out);
/* Opens an outbound connection to a numeric "ip:port" or "[ip6]:port"
 * (port defaults to the network's). *id (may be NULL) gets the peer id.
 * Errors: CS_EINVAL bad address, CS_ELIMIT peer cap, CS_EAUTH blocklisted. */
int cs_connector_connect(cs_connector *c, const char *hostport, uint64_t *id);
int cs_connector_connect_sa(cs_connector *c, const struct sockaddr *sa, uint64_t *id);
/* Closes a peer (reason is copied). CS_ENOTFOUND if no such peer. */
int cs_connector_disconnect(cs_connector *c, uint64_t id, const char *reason);
/* Closes every peer; returns how many. */
size_t cs_connector_disconnect_all(cs_connector *c, const char *reason);
/* Sends a framed message (header included) to a peer; the bytes are
 * copied. Publishes p2p.msg.<command> with direction "out". */
int cs_connector_send(cs_connector *c, uint64_t id, const uint8_t *msg, size_t n);
/* Frames and sends command+payload to a peer. */
int cs_connector_send_cmd(cs_connector *c, cs_peer *p, const char *command, const void *payload,
                          size_t n);

/* Blocklist: one CIDR prefix or address per line ("10.0.0.0/8",
 * "2001:db8::/32", "1.2.3.4"; '#' starts a comment). Replaces the current
 * list; connected peers that match are disconnected. On a parse error
 * returns CS_EPARSE with "line N: ..." in err and keeps the old list. */
int cs_connector_set_blocklist(cs_connector *c, const char *text, char *err, size_t errlen);
/* Reads the blocklist from a file (call again to reload). */
int cs_connector_load_blocklist(cs_connector *c, const char *path, char *err, size_t errlen);

/* ---- peers ------------------------------------------------------------- */

typedef struct cs_peer_info {
    uint64_t id;
    enum cs_peer_dir dir;
    char addr[46];
    uint16_t port;
    char local_addr[46];
    uint16_t local_port;
    bool ready;      /* handshake done */
    int32_t version; /* 0 until the peer's version arrived */
    uint64_t services;
    char user_agent[CS_WIRE_MAX_USER_AGENT + 1];
    int32_t start_height;
    bool relay;
    double rtt_ms; /* last ping round trip; < 0 if none yet */
    uint64_t bytes_in, bytes_out, msgs_in, msgs_out;
    int64_t connected_ms; /* since connection (or attempt) */
} cs_peer_info;

/* Copies up to max peers' info into out; returns the number of peers. */
size_t cs_connector_peers(cs_connector *c, cs_peer_info *out, size_t max);
size_t cs_connector_count(const cs_connector *c);
/* Times reading every peer stopped because the bus was pressed (a lossless
 * subscriber such as the log server fell behind). */
uint64_t cs_connector_read_pauses(const cs_connector *c);
/* The peer with this id, or NULL. Borrowed. */
cs_peer *cs_connector_peer(cs_connector *c, uint64_t id);
void cs_peer_info_get(const cs_peer *p, cs_peer_info *out);
uint64_t cs_peer_id(const cs_peer *p);
/* The peer's event key "id addr:port". */
const char *cs_peer_key(const cs_peer *p);
/* Addresses as text and ports. */
const char *cs_peer_addr(const cs_peer *p, uint16_t *port);
const char *cs_peer_local_addr(const cs_peer *p, uint16_t *port);
void *cs_peer_user(const cs_peer *p);
void cs_peer_set_user(cs_peer *p, void *user);
/* Delays our version reply to an inbound peer until `ms` from now (used by
 * simnet's slow nodes). */
void cs_peer_delay_handshake(cs_peer *p, uint64_t ms);
/* Closes one peer with a reason (copied). */
void cs_peer_close(cs_peer *p, const char *reason);
/* Closes one peer with a TCP reset (RST) instead of an orderly close. */
void cs_peer_abort(cs_peer *p, const char *reason);
/* Why the peer was closed, as a stable code: "" while it is open; one of
 * the codes docs/btc.md lists once closing (e.g. "ECONNRESET", "EOF",
 * "bad_checksum", "handshake_timeout"; "requested" for cs_peer_close and
 * cs_connector_disconnect). Borrowed: valid until the peer is freed. */
const char *cs_peer_close_code(const cs_peer *p);
/* Whether the peer asked for addrv2 (sent sendaddrv2, BIP155). */
bool cs_peer_wants_addrv2(const cs_peer *p);
/* Sends a framed message to this peer (bytes copied). */
int cs_peer_send_bytes(cs_peer *p, const uint8_t *msg, size_t n);

/* Raises this process's open-file soft limit to the hard limit (a process
 * with thousands of peers needs one descriptor each). Returns the new soft
 * limit. */
long cs_connector_raise_nofile(void);

/* The connector's publisher (for components that add their own events). */
cs_publisher *cs_connector_publisher(cs_connector *c);
uv_loop_t *cs_connector_loop(cs_connector *c);
const cs_wire_net *cs_connector_net(const cs_connector *c);

#endif
