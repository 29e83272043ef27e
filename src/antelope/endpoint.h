/* Probes of a block producer's advertised endpoints that the HTTP client
 * cannot make: the P2P port's first bytes, and the TLS certificate's
 * validity and expiry. Both run without blocking the loop (the P2P probe
 * on libuv's TCP and resolver, the certificate on libuv's thread pool),
 * each with a total timeout, and call cb exactly once unless they return
 * an error (CS_EINVAL for a bad address or URL, CS_ENOMEM). Results are
 * borrowed until cb returns. */
#ifndef CS_ANTELOPE_ENDPOINT_H
#define CS_ANTELOPE_ENDPOINT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* Antelope's net protocol: every message is a 4-byte little-endian length
 * then the variant index of net_message; a peer that accepts a connection
 * first sends handshake_message (index 0). */
#define CS_ANT_NET_HANDSHAKE 0
#define CS_ANT_NET_MAX_MESSAGE (8u << 20) /* nodeos' bound on one message */

typedef struct cs_ant_p2p_result {
    int error;     /* 0: the peer sent a handshake_message's first bytes */
    char why[256]; /* what was seen */
    bool connected;
    uint32_t length; /* the first message's length, when read */
    int type;        /* its type byte, -1 when not read */
    uint64_t ms;     /* from start to the verdict */
} cs_ant_p2p_result;
typedef void (*cs_ant_p2p_cb)(const cs_ant_p2p_result *r, void *arg);

/* Connects to host:port and reads the first 5 bytes. */
int cs_ant_p2p_probe(uv_loop_t *loop, const char *hostport, uint32_t timeout_ms, cs_ant_p2p_cb cb,
                     void *arg);

typedef struct cs_ant_tls_result {
    int error;      /* 0: a certificate chain verified against the trust */
    char why[256];  /* the TLS library's reason when not */
    int64_t not_after; /* the server certificate's notAfter, Unix s (0 unknown) */
    double days;       /* days from now to not_after (negative: expired) */
    char subject[128];
} cs_ant_tls_result;
typedef void (*cs_ant_tls_cb)(const cs_ant_tls_result *r, void *arg);

/* TLS handshake with an https:// URL's host, verified (host name and chain)
 * against ca_file (PEM, may be NULL: the system's trust). */
int cs_ant_tls_probe(uv_loop_t *loop, const char *url, const char *ca_file, uint32_t timeout_ms,
                     cs_ant_tls_cb cb, void *arg);

#endif
