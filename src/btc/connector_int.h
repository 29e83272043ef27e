/* Shared by connector.c and peer.c only. */
#ifndef CS_BTC_CONNECTOR_INT_H
#define CS_BTC_CONNECTOR_INT_H

#include <netinet/in.h>

#include "btc/connector.h"
#include "core/metrics.h"

enum peer_state { PS_CONNECTING, PS_HANDSHAKE, PS_READY, PS_CLOSING };

enum {
    PF_GOT_VERSION = 1,
    PF_GOT_VERACK = 2,
    PF_SENT_VERSION = 4,
    PF_SENT_VERACK = 8,
    PF_PING_OUT = 16, /* one of our pings awaits its pong */
    PF_DELAYED = 32,  /* our version reply waits for delay_until */
    PF_FAILED = 64,   /* never connected: report p2p.conn.failed */
    PF_BY_PEER = 128, /* the peer closed the connection */
    PF_ADDRV2 = 256,  /* the peer sent sendaddrv2 (BIP155) */
    PF_RESET = 512,   /* close with a TCP reset */
};

/* One connection. About 600 bytes while idle: no buffer is held between
 * messages. Owned by the connector; freed in the handle's close callback. */
struct cs_peer {
    uv_tcp_t tcp;
    cs_connector *c;
    uint64_t id;
    size_t index; /* in c->peers */
    uint8_t dir;
    uint8_t state;
    uint16_t flags;
    uint16_t port, lport;
    char addr[46];
    char laddr[46];
    char key[72];
    /* bytes of an incomplete message; NULL between messages. rcap counts
     * against the connector's partial_budget (c->partial_bytes); buffers
     * of RBUF_MAP_MIN bytes or more are mapped, so that releasing one gives
     * its pages back to the system at once */
    uint8_t *rbuf;
    size_t rlen, rcap;
    size_t rneed;       /* the incomplete message's size; 0 while its header is */
    uint64_t t_partial; /* when the incomplete message began (loop ms) */
    uint64_t t_start, t_last_recv, t_ping_sent, t_next_ping, delay_until;
    uint64_t ping_nonce;
    double rtt_ms;
    uint64_t bytes_in, bytes_out, msgs_in, msgs_out;
    size_t send_queued;
    /* the peer's version */
    int32_t version;
    uint64_t services;
    int32_t start_height;
    bool relay;
    char *user_agent;      /* malloc'ed, NULL until version */
    uv_connect_t *connect; /* while connecting */
    void *user;
    char reason[96];
    char code[24]; /* the close's stable code (docs/btc.md), "" until closed */
};

typedef struct blk_entry {
    uint8_t ip[16]; /* v4 mapped into v6 */
    uint8_t bits;   /* prefix length over the 128 bits */
} blk_entry;

struct cs_connector {
    uv_loop_t *loop;
    cs_bus *bus;
    cs_connector_opts o;
    cs_connector_hooks hooks;
    char *user_agent;
    char origin[64];
    char network[64];
    cs_publisher pub;
    cs_wire_ctx *wire;
    cs_vw scratch;    /* decoded fields of the message at hand */
    cs_buf sendbuf;   /* scratch for framing */
    uint8_t *readbuf; /* the loop-wide read buffer */
    bool readbuf_busy;
    cs_peer **peers;
    size_t npeers;
    uint64_t next_id;
    uint64_t nonce; /* our version nonce: detects connecting to self */
    uv_timer_t sweep;
    uv_tcp_t **listeners;
    size_t nlisteners;
    blk_entry *blk;
    size_t nblk;
    size_t open_handles; /* handles not yet closed */
    bool closing;
    void (*done)(void *);
    void *done_arg;
    struct cs_conn_metrics *metrics; /* NULL without a registry */
    size_t partial_bytes;            /* sum of every peer's rcap */
    /* While the bus is pressed no peer socket is read (see on_pressure). */
    cs_bus_watch *pressure;
    bool read_paused;
    uint64_t read_paused_at, read_pauses;

    /* cs_wire_decode flags for received messages: 0, checksums checked;
     * the fuzz target sets CS_WIRE_NO_CHECKSUM to reach the handlers */
    unsigned decode_flags;
};

#define CS_READBUF_SIZE 65536

/* conn_metrics.c: the chainscope_p2p_* metrics. Each call does nothing
 * when the connector has no registry. */
enum cs_conn_metric {
    CS_CM_ATTEMPT,         /* an outbound connection started */
    CS_CM_ACCEPTED,        /* an inbound connection accepted */
    CS_CM_INBOUND_DROPPED, /* an inbound connection dropped at max_peers */
    CS_CM_FAILED,          /* p never connected: p->reason */
    CS_CM_CLOSED,          /* p's connection ended: p->reason, PF_BY_PEER */
    CS_CM_RTT,             /* p->rtt_ms was measured */
    CS_CM_READ_PAUSE,      /* reading every peer stopped: the bus is pressed (p NULL) */
};
int cs_conn_metrics_init(cs_connector *c, struct cs_metrics *reg);
void cs_conn_metrics_free(cs_connector *c);
void cs_conn_metrics_event(cs_connector *c, enum cs_conn_metric what, const cs_peer *p);
/* One well-formed message of `bytes` bytes (header included). */
void cs_conn_metrics_msg(cs_connector *c, const char *cmd, bool in, size_t bytes);

/* peer.c */
cs_peer *cs_peer_new(cs_connector *c, uint8_t dir);
void cs_peer_start_read(cs_peer *p);
void cs_peer_on_connected(cs_peer *p);
void cs_peer_send_version(cs_peer *p);
void cs_peer_send_ping(cs_peer *p);
void cs_peer_emit_conn(cs_peer *p, const char *type, const char *reason);
/* Closes p with a stable code (a static or copied string, docs/btc.md)
 * beside the reason for people (copied). */
void cs_peer_close_as(cs_peer *p, const char *code, const char *reason);
/* Closes incomplete messages older than partial_timeout_ms (the sweep). */
void cs_peer_check_partial(cs_peer *p, uint64_t now);
void cs_peer_set_addrs(cs_peer *p);
/* Called by the connector when a handle it counted closes. */
void cs_connector_handle_closed(cs_connector *c);
bool cs_connector_blocked(const cs_connector *c, const struct sockaddr *sa);
void cs_connector_remove(cs_connector *c, cs_peer *p);

#endif
