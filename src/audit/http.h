/* The narrow HTTP interface the audit checks need: "POST this body to this
 * URL with this timeout, call me back with status, body or error".
 *
 * Checks see only cs_audit_http, a struct of function pointers: in the
 * program it runs over the project's HTTP client (src/net/http_client.h,
 * libcurl's multi interface on the libuv loop); tests can plug in a fake.
 * Nothing here blocks the loop. */
#ifndef CS_AUDIT_HTTP_H
#define CS_AUDIT_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/http_client.h"

typedef struct cs_audit_http_req {
    const char *url;  /* borrowed; copied before post returns */
    const char *body; /* borrowed; copied before post returns */
    size_t len;
    const char *content_type; /* NULL: application/json */
    const char *userpwd;      /* "user:password" for HTTP basic auth, or NULL */
    uint32_t timeout_ms;      /* whole request, connect included; 0: 5000 */
} cs_audit_http_req;

typedef struct cs_audit_http_resp {
    int err; /* 0, or CS_ETIMEDOUT, CS_EIO (connect/transfer), CS_ELIMIT (body too big), CS_ECLOSED
              */
    const char *errmsg; /* for people when err != 0: "Connection refused", ... */
    long status;        /* HTTP status when err == 0 */
    const char *body;   /* NUL-terminated; borrowed: valid until the callback returns */
    size_t len;
} cs_audit_http_resp;

typedef void (*cs_audit_http_cb)(void *arg, const cs_audit_http_resp *resp);

typedef struct cs_audit_http {
    void *impl;
    /* Starts a POST. Returns 0 and later calls cb exactly once (on the loop
     * thread), or returns an error and never calls cb. */
    int (*post)(void *impl, const cs_audit_http_req *req, cs_audit_http_cb cb, void *arg);
} cs_audit_http;

/* A URL of this scheme names a unix socket speaking JSON-RPC (geth.ipc):
 * "ipc:///var/lib/geth/geth.ipc". The body is written to the socket and the
 * first complete JSON text read back is the response, with status 200. */
#define CS_AUDIT_IPC_SCHEME "ipc://"

/* ---- over the shared HTTP client -------------------------------------- */

#define CS_AUDIT_HTTP_MAX_BODY (16u << 20) /* response bytes; beyond: CS_ELIMIT */
#define CS_AUDIT_HTTP_MAX_PENDING 4096     /* requests in flight; beyond: post fails CS_ELIMIT */
#define CS_AUDIT_HTTP_MAX_CONNS 16         /* connections at once; more requests wait */

/* A client for the audit on loop: at most CS_AUDIT_HTTP_MAX_PENDING
 * requests, CS_AUDIT_HTTP_MAX_CONNS connections. *out is owned by the
 * caller: cs_http_client_close. */
int cs_audit_http_client_new(uv_loop_t *loop, cs_http_client **out);
/* Fills *http with the interface over c (borrowed: it must outlive every
 * request; closing it fails those in flight with CS_ECLOSED). ipc:// URLs
 * go to their socket on c's loop, one connection per request. */
void cs_audit_http_over(cs_http_client *c, cs_audit_http *http);

/* One JSON-RPC exchange over the unix socket at path: connect, write the
 * body, read one JSON text (at most CS_AUDIT_HTTP_MAX_BODY bytes) within
 * the request's timeout, close. The same contract as post. */
int cs_audit_ipc_post(uv_loop_t *loop, const char *path, const cs_audit_http_req *q,
                      cs_audit_http_cb cb, void *arg);

#endif
