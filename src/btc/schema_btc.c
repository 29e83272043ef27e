/* The events of the Bitcoin P2P component: connector, control socket,
 * crawler. One entry per type; docs/events.md is generated from these. */
#include "core/schema.h"
#include "btc/events.h"

#define PEER                                                                                       \
    {                                                                                              \
        "peer", "object", false, "the peer: {id, addr, port, direction (in/out)}"                  \
    }
#define LOCAL                                                                                      \
    {"local_addr", "string", true, "our address on this connection"},                              \
    {                                                                                              \
        "local_port", "u64", true, "our port on this connection"                                   \
    }
#define END                                                                                        \
    {                                                                                              \
        NULL, NULL, false, NULL                                                                    \
    }

static const cs_field_def f_attempt[] = {PEER, END};
static const cs_field_def f_open[] = {PEER, LOCAL, END};
static const cs_field_def f_failed[] = {
    PEER,
    LOCAL,
    {"code", "string", false,
     "why, as a stable name to act on: a libuv error name (ECONNREFUSED, ETIMEDOUT, "
     "ENETUNREACH, ECONNRESET, ...), connect_timeout, blocklisted, requested, stopping, ... "
     "(docs/btc.md lists them)"},
    {"reason", "string", false,
     "why, for people: refused, timeout, unreachable, reset, blocklisted, ..."},
    END};
static const cs_field_def f_closed[] = {
    PEER,
    LOCAL,
    {"code", "string", false,
     "why, as a stable name to act on: EOF, a libuv error name (ECONNRESET, EPIPE, ...), "
     "bad_magic, bad_command, oversized, bad_checksum, bad_payload, handshake_timeout, "
     "idle_timeout, ping_timeout, partial_timeout, partial_budget, send_queue_full, "
     "receive_buffer_full, requested, stopping, ... (docs/btc.md lists them)"},
    {"reason", "string", false,
     "why, for people: connection closed by peer, malformed message: <rule broken>, "
     "handshake timeout, idle timeout, ping timeout, send queue full, control: disconnect, ..."},
    {"by", "string", false, "who closed it: us or peer"},
    {"duration_ms", "u64", false, "time since the connection opened"},
    {"handshake", "bool", false, "whether the handshake had completed"},
    {"bytes_in", "u64", false, "bytes received"},
    {"bytes_out", "u64", false, "bytes sent"},
    {"msgs_in", "u64", false, "messages received"},
    {"msgs_out", "u64", false, "messages sent"},
    END};
static const cs_field_def f_handshake[] = {
    PEER,
    LOCAL,
    {"version", "i64", false, "the peer's protocol version"},
    {"services", "u64", false, "the peer's service bits"},
    {"user_agent", "string", false, "the peer's user agent"},
    {"start_height", "i64", false, "the peer's best height when it connected"},
    {"relay", "bool", false, "whether the peer wants transactions relayed (BIP37)"},
    END};
static const cs_field_def f_msg[] = {
    PEER,
    {"direction", "string", false, "in (received) or out (sent)"},
    {"command", "string", false, "the message's command"},
    {"size", "u64", false, "payload bytes"},
    {"msg", "object", false, "the decoded fields (docs/btc.md lists them per command)"},
    END};
static const cs_field_def f_rtt[] = {
    PEER,
    {"rtt_ms", "double", false, "round trip of our ping, milliseconds"},
    {"nonce", "u64", false, "the ping's nonce"},
    {"node", "string", true,
     "the configured node name, when the peer is a node's own connection to its p2p_listen"},
    END};
static const cs_field_def f_ctl[] = {
    {"client", "u64", false, "control client number"},
    {"request", "u64", false, "the client's request id"},
    {"status", "i64", false, "0 or a negative error code"},
    {"ok", "bool", false, "status == 0"},
    {"result", "object", false, "what the command returned (docs/control-protocol.md)"},
    END};
static const cs_field_def f_crawl_node[] = {
    {"addr", "string", false, "the node's address"},
    {"port", "u64", false, "its port"},
    {"network", "string", false, "ipv4, ipv6, torv3, i2p, cjdns"},
    {"reachable", "bool", false, "whether the handshake completed"},
    {"failure", "string", true, "why not (or why the connection ended badly)"},
    {"version", "i64", true, "protocol version"},
    {"services", "u64", true, "service bits"},
    {"user_agent", "string", true, "user agent"},
    {"start_height", "i64", true, "start height"},
    {"rtt_ms", "double", true, "ping round trip"},
    {"addresses", "u64", true, "addresses it returned"},
    END};
static const cs_field_def f_crawl_done[] = {
    {"known", "u64", false, "nodes heard of"},
    {"tried", "u64", false, "nodes contacted"},
    {"reachable", "u64", false, "nodes that completed the handshake"},
    {"failed", "u64", false, "nodes contacted without a handshake"},
    {"seconds", "double", false, "duration of the crawl"},
    END};

const cs_event_def cs_schema_btc[] = {
    {"p2p.conn.attempt", "connector", "an outbound connection is being opened", f_attempt},
    {"p2p.conn.open", "connector", "an outbound connection was established", f_open},
    {"p2p.conn.accepted", "connector", "an inbound connection was accepted", f_open},
    {"p2p.conn.failed", "connector", "an outbound connection could not be opened", f_failed},
    {"p2p.conn.closed", "connector", "a connection ended", f_closed},
    {"p2p.handshake", "connector", "version and verack exchanged with a peer", f_handshake},
    {"p2p.msg.*", "connector", "a message received from or sent to a peer", f_msg},
    {"p2p.ping.rtt", "connector", "a pong answered one of our keep-alive pings", f_rtt},
    {"ctl.result", "control socket", "the result of a control command", f_ctl},
    {"crawl.node", "crawler", "what the crawl learned about one node", f_crawl_node},
    {"crawl.done", "crawler", "the crawl finished", f_crawl_done},
    {NULL, NULL, NULL, NULL},
};
