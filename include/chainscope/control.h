/* Client library for chainscope's control socket: drive a running
 * connector (connect to peers, disconnect, register and send messages, list
 * connections). The protocol is specified in docs/control-protocol.md.
 *
 * The client is blocking and single-threaded: each call sends one request
 * and waits for its reply (bounded by the timeout given to cs_ctl_open).
 * Every function returns 0 or a negative error code; cs_ctl_error() gives
 * the server's or the library's message for the last failure. */
#ifndef CHAINSCOPE_CONTROL_H
#define CHAINSCOPE_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CS_CTL_VERSION 1

/* Request types (client to server). */
enum cs_ctl_op {
    CS_CTL_CONNECT = 0x01,    /* body: address text "ip:port" */
    CS_CTL_DISCONNECT = 0x02, /* body: u64 peer id (0: every peer) */
    CS_CTL_REGISTER = 0x03,   /* body: u8 kind (0 raw message, 1 JSON), bytes */
    CS_CTL_SEND = 0x04,       /* body: u32 message id, u32 n, n x u64 peer ids */
    CS_CTL_PEERS = 0x05,      /* body: empty (every peer), or u64 after + u32 limit (a page) */
    CS_CTL_RESULT = 0x80,     /* reply: i32 status, value-encoded object */
};

#define CS_CTL_MAX_FRAME (4u << 20) /* bytes after the length prefix */
#define CS_CTL_PEERS_PAGE_MAX 5000  /* peers in one PEERS page */

typedef struct cs_ctl cs_ctl;

/* One connection as the connector sees it. */
typedef struct cs_ctl_peer {
    uint64_t id;
    char direction[4]; /* "in" or "out" */
    char addr[46];
    uint16_t port;
    char local_addr[46];
    uint16_t local_port;
    int ready; /* handshake done */
    int32_t version;
    uint64_t services;
    char user_agent[257];
    int32_t start_height;
    double rtt_ms; /* < 0: not measured yet */
    uint64_t bytes_in, bytes_out, msgs_in, msgs_out;
} cs_ctl_peer;

/* Connects to the control socket at path. timeout_ms bounds every later
 * call (0: 10 s). Caller closes with cs_ctl_close. */
int cs_ctl_open(const char *path, int timeout_ms, cs_ctl **out);
void cs_ctl_close(cs_ctl *c);
/* The message of the last failure ("" if none). Borrowed. */
const char *cs_ctl_error(const cs_ctl *c);

/* Opens a connection to a peer; *id gets its peer id. */
int cs_ctl_connect(cs_ctl *c, const char *addr, uint64_t *id);
/* Closes one peer (id 0: every peer); *count (may be NULL) gets how many. */
int cs_ctl_disconnect(cs_ctl *c, uint64_t id, uint64_t *count);
/* Registers a framed message (header included) or a JSON description such
 * as {"command":"ping","nonce":1}; *msg_id gets its id. */
int cs_ctl_register_raw(cs_ctl *c, const void *msg, size_t n, uint32_t *msg_id);
int cs_ctl_register_json(cs_ctl *c, const char *json, uint32_t *msg_id);
/* Sends a registered message to the given peers (n 0: every connected
 * peer); *sent (may be NULL) gets to how many. */
int cs_ctl_send(cs_ctl *c, uint32_t msg_id, const uint64_t *ids, size_t n, uint64_t *sent);
/* Lists connections, by pages of CS_CTL_PEERS_PAGE_MAX (so a horde of any
 * size is listed), in ascending id order: *out (free with free()) gets *n
 * entries. */
int cs_ctl_peers(cs_ctl *c, cs_ctl_peer **out, size_t *n);

#ifdef __cplusplus
}
#endif

#endif
