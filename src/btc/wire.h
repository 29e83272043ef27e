/* The Bitcoin P2P wire codec: message framing, decoding of every message a
 * modern node sends into event payload fields, and encoders for what a
 * connector sends.
 *
 * A message on the wire is a 24-byte header followed by a payload:
 *   4 bytes  network magic (message start)
 *  12 bytes  command, ASCII, NUL-padded
 *   4 bytes  payload length, little-endian (at most CS_WIRE_MAX_PAYLOAD)
 *   4 bytes  checksum: the first 4 bytes of SHA-256(SHA-256(payload))
 *
 * Decoding writes the fields of one message into a cs_vw writer (see
 * docs/btc.md for every field of every command). The decoder never
 * allocates per message: the only memory it grows is the writer's buffer,
 * which the caller reuses. Every rule violation returns a negative CS_E*
 * code and fills a cs_wire_err with a reason a person can read. */
#ifndef CS_BTC_WIRE_H
#define CS_BTC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/value.h"

#define CS_WIRE_HEADER_SIZE 24
#define CS_WIRE_MAX_PAYLOAD 4000000u /* MAX_PROTOCOL_MESSAGE_LENGTH */
#define CS_WIRE_MAX_ADDR 1000        /* addr/addrv2 entries (BIP155) */
#define CS_WIRE_MAX_INV 50000        /* inv/getdata/notfound entries */
#define CS_WIRE_MAX_HEADERS 2000     /* headers entries */
#define CS_WIRE_MAX_LOCATOR 101      /* getheaders/getblocks locator hashes */
#define CS_WIRE_MAX_USER_AGENT 256   /* version user agent bytes */
#define CS_WIRE_MAX_ADDRV2_LEN 512   /* BIP155: address bytes */
#define CS_WIRE_PROTOCOL_VERSION 70016

/* Service bits. */
#define CS_NODE_NETWORK (1u << 0)
#define CS_NODE_BLOOM (1u << 2)
#define CS_NODE_WITNESS (1u << 3)
#define CS_NODE_COMPACT_FILTERS (1u << 6)
#define CS_NODE_NETWORK_LIMITED (1u << 10)
#define CS_NODE_P2P_V2 (1u << 11)

/* A Bitcoin network: its name, message start and default port. */
typedef struct cs_wire_net {
    const char *name; /* "main", "testnet3", "testnet4", "signet", "regtest" */
    uint8_t magic[4]; /* in wire order */
    uint16_t port;
} cs_wire_net;

/* Looks a network up by name (also "mainnet", "testnet" for testnet3).
 * Returns NULL if unknown. The result is static. */
const cs_wire_net *cs_wire_net_find(const char *name);
/* Looks a network up by its magic (4 bytes in wire order); NULL if unknown. */
const cs_wire_net *cs_wire_net_by_magic(const uint8_t *magic);

/* Why a message was rejected: a CS_E* code and a reason for people, e.g.
 * "version: user agent of 300 bytes (limit 256)". */
typedef struct cs_wire_err {
    int code;
    char reason[120];
} cs_wire_err;

/* A parsed message header. */
typedef struct cs_wire_hdr {
    uint8_t magic[4];
    char command[13]; /* NUL-terminated */
    uint32_t length;
    uint8_t checksum[4];
} cs_wire_hdr;

/* Parses the 24-byte header at p (n >= CS_WIRE_HEADER_SIZE, else CS_ETRUNC).
 * net: the expected network (NULL: any known magic). Checks the magic, the
 * command (printable ASCII then NUL padding) and the length bound. */
int cs_wire_header_parse(const uint8_t *p, size_t n, const cs_wire_net *net, cs_wire_hdr *h,
                         cs_wire_err *err);

/* The decoder: holds the hash contexts, reused for every message. Not
 * thread-safe; one per thread. */
typedef struct cs_wire_ctx cs_wire_ctx;

/* Caller frees with cs_wire_ctx_free. */
int cs_wire_ctx_new(cs_wire_ctx **out);
void cs_wire_ctx_free(cs_wire_ctx *ctx);

/* SHA-256(SHA-256(p[0..n))) into out. */
void cs_wire_hash256(cs_wire_ctx *ctx, const void *p, size_t n, uint8_t out[32]);

/* The result of decoding one framed message. */
typedef struct cs_wire_msg {
    cs_wire_hdr hdr;
    const uint8_t *payload; /* borrowed from the input */
    uint32_t size;          /* payload bytes */
    bool checksum_ok;
    uint8_t hash[32]; /* SHA-256d of the payload */
} cs_wire_msg;

/* Flags for cs_wire_decode. */
enum {
    CS_WIRE_NO_CHECKSUM = 1, /* do not verify the checksum (hash not set) */
    CS_WIRE_NO_FIELDS = 2,   /* frame and check only; write no fields */
};

/* Decodes one whole message at p[0..n). On success *used is the bytes it
 * took (24 + length) and the payload's fields are written into w as
 * key/value pairs of the object the caller has opened (w may be NULL with
 * CS_WIRE_NO_FIELDS). If p holds less than one message, returns CS_ETRUNC
 * with *used set to the bytes needed (24 while the header is incomplete).
 * On error, w may hold a partial object: the caller resets it. */
int cs_wire_decode(cs_wire_ctx *ctx, const uint8_t *p, size_t n, const cs_wire_net *net,
                   unsigned flags, cs_wire_msg *msg, cs_vw *w, size_t *used, cs_wire_err *err);

/* Decodes a payload whose header was already parsed and whose checksum was
 * already checked: writes its fields into w. `hash` is SHA-256d of the
 * payload when known (it is the wtxid of a tx message), else NULL. */
int cs_wire_decode_payload(cs_wire_ctx *ctx, const char *command, const uint8_t *payload, size_t n,
                           const uint8_t *hash, cs_vw *w, cs_wire_err *err);

/* ---- encoding ---------------------------------------------------------- */

/* Frames a payload: appends header and payload to out. */
int cs_wire_frame(cs_wire_ctx *ctx, cs_buf *out, const cs_wire_net *net, const char *command,
                  const void *payload, size_t n);

/* A network address as in version and addr. ip is 16 bytes (IPv4 mapped
 * into ::ffff:0:0/96). */
typedef struct cs_wire_addr {
    uint32_t time;
    uint64_t services;
    uint8_t ip[16];
    uint16_t port;
} cs_wire_addr;

typedef struct cs_wire_version {
    int32_t version;
    uint64_t services;
    int64_t timestamp;
    cs_wire_addr recv, from; /* time unused */
    uint64_t nonce;
    const char *user_agent; /* borrowed */
    int32_t start_height;
    bool relay;
} cs_wire_version;

/* Payload writers: append a payload (not framed) to out. */
int cs_wire_put_version(cs_buf *out, const cs_wire_version *v);
int cs_wire_put_u64(cs_buf *out, uint64_t v); /* ping, pong */
int cs_wire_put_addr(cs_buf *out, const cs_wire_addr *a, size_t n);
/* BIP155 entry: network id, address bytes. */
typedef struct cs_wire_addrv2 {
    uint32_t time;
    uint64_t services;
    uint8_t net;
    uint8_t len;
    uint8_t addr[32];
    uint16_t port;
} cs_wire_addrv2;
int cs_wire_put_addrv2(cs_buf *out, const cs_wire_addrv2 *a, size_t n);
/* One addrv2 entry without the count (for callers that stream entries). */
void cs_wire_put_addrv2_entry(cs_buf *out, const cs_wire_addrv2 *a);
/* inv/getdata/notfound: types and 32-byte hashes in internal byte order. */
int cs_wire_put_inv(cs_buf *out, const uint32_t *types, const uint8_t (*hashes)[32], size_t n);
void cs_wire_put_compact(cs_buf *out, uint64_t v);

/* Builds a framed message from a description (a cs_val object shaped like
 * the decoder's output plus "command"), e.g.
 *   {"command":"ping","nonce":7}
 *   {"command":"addrv2","addresses":[{"time":1,"services":9,
 *                        "addr":"1.2.3.4","port":8333}]}
 *   {"command":"xyz","payload":"0x0102"}        (any command, raw payload)
 * Returns CS_EINVAL with a reason in err for a bad description. */
int cs_wire_encode_desc(cs_wire_ctx *ctx, const cs_wire_net *net, const cs_val *desc, cs_buf *out,
                        cs_wire_err *err);

/* ---- helpers ----------------------------------------------------------- */

/* Renders a 16-byte address (IPv4-mapped as dotted quad) into buf (>= 46). */
void cs_wire_ip_str(const uint8_t ip[16], char *buf, size_t len);
/* Parses an IPv4 or IPv6 literal into 16 bytes. */
int cs_wire_ip_parse(const char *s, uint8_t ip[16]);
/* Writes a 32-byte hash in display order (reversed) as 64 hex digits + NUL. */
void cs_wire_hash_hex(const uint8_t h[32], char out[65]);
/* The name of an inv type ("tx", "block", "witness_tx", ...); NULL if unknown. */
const char *cs_wire_inv_name(uint32_t type);

#endif
