/* Probes of a block producer's advertised endpoints: the producer table,
 * bp.json, the API (chain id, version, CORS, redirects) through the shared
 * HTTP client, and what that client cannot see: the P2P port's first bytes
 * and the TLS certificate's validity and expiry. All run without blocking the loop (the P2P probe
 * on libuv's TCP and resolver, the certificate on libuv's thread pool),
 * each with a total timeout, and call cb exactly once unless they return
 * an error (CS_EINVAL for a bad address or URL, CS_ENOMEM). Results are
 * borrowed until cb returns. */
#ifndef CS_ANTELOPE_ENDPOINT_H
#define CS_ANTELOPE_ENDPOINT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "antelope/producers.h"
#include "net/http_client.h"

#define CS_ANT_URL_MAX 256

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
    int error;         /* 0: a certificate chain verified against the trust */
    char why[256];     /* the TLS library's reason when not */
    int64_t not_after; /* the server certificate's notAfter, Unix s (0 unknown); read
                        * also when it does not verify (a second handshake that
                        * checks nothing gives the dates alone) */
    double days;       /* days from now to not_after (negative: expired) */
    char subject[128];
} cs_ant_tls_result;
typedef void (*cs_ant_tls_cb)(const cs_ant_tls_result *r, void *arg);

/* TLS handshake with an https:// URL's host, verified (host name and chain)
 * against ca_file (PEM, may be NULL: the system's trust). */
int cs_ant_tls_probe(uv_loop_t *loop, const char *url, const char *ca_file, uint32_t timeout_ms,
                     cs_ant_tls_cb cb, void *arg);

/* ---- through the HTTP client --------------------------------------------- */
/* An advertised API asked /v1/chain/get_info as a browser's page would (an
 * Origin header), the answer judged by the caller. */
typedef struct cs_ant_api_result {
    int error;     /* 0: HTTP 200 with get_info's fields, or a redirect (status 3xx) */
    char why[256]; /* for people */
    long status;
    char chain_id[80];
    char version[96];              /* server_version_string, else server_version */
    char cors[128];                /* Access-Control-Allow-Origin, "" when absent */
    char location[CS_ANT_URL_MAX]; /* a redirect's Location */
    double seconds;
} cs_ant_api_result;
typedef void (*cs_ant_api_cb)(const cs_ant_api_result *r, void *arg);

/* Reads a get_info answer's body into r (chain_id, version, why): 0, or
 * CS_EPROTO when it is not one. The fields the transport gives are left. */
int cs_ant_api_parse(const char *body, size_t len, cs_ant_api_result *r);

/* base: the endpoint's URL; ca_file: the trust for https (NULL: the
 * system's). */
int cs_ant_api_probe(cs_http_client *http, const char *base, const char *ca_file,
                     uint32_t timeout_ms, cs_ant_api_cb cb, void *arg);

/* One row of the producer table (/v1/chain/get_producers). */
typedef struct cs_ant_producer_row {
    char owner[CS_ANT_NAME_MAX];
    char url[CS_ANT_URL_MAX];
    double votes; /* total_votes */
    bool active;  /* is_active */
} cs_ant_producer_row;

typedef struct cs_ant_producers {
    int error;
    char why[256];
    size_t n; /* rows, by votes as the chain orders them */
    cs_ant_producer_row *rows;
    double total_votes;         /* total_producer_vote_weight */
    char more[CS_ANT_NAME_MAX]; /* the next page's lower_bound; "" at the end */
} cs_ant_producers;
typedef void (*cs_ant_producers_cb)(const cs_ant_producers *p, void *arg);

#define CS_ANT_MAX_ROWS 1000
/* Reads a get_producers answer's body into p (at most CS_ANT_MAX_ROWS rows,
 * those without an owner skipped): 0, or p->error (CS_EPROTO, CS_ENOMEM)
 * with p->why. The caller frees p->rows (also on an error: NULL then). */
int cs_ant_producers_parse(const char *body, size_t len, cs_ant_producers *p);

/* `limit` rows (at most CS_ANT_MAX_ROWS) of the producer table from
 * lower_bound (an account name, a previous answer's `more`; NULL or "": from
 * the first by votes). A node may answer fewer rows and name the next in
 * `more`. CS_EINVAL when lower_bound is not an account name. */
int cs_ant_get_producers(cs_http_client *http, const char *base, const char *lower_bound,
                         uint32_t limit, uint32_t timeout_ms, cs_ant_producers_cb cb, void *arg);

/* Fetches a document (bp.json, chains.json) by GET, through ca_file's
 * trust; cb gets the response as the HTTP client gives it. */
int cs_ant_fetch(cs_http_client *http, const char *url, const char *ca_file, uint32_t timeout_ms,
                 cs_http_cb cb, void *arg);

#endif
