/* An asynchronous HTTP client on the libuv loop: libcurl's multi interface
 * driven by uv_poll (sockets) and one uv_timer (curl's timeouts), so any
 * number of requests run at once on the loop thread without blocking it.
 * Shared by the JSON-RPC client, webhooks and audit checks; mail (SMTP)
 * goes through the same client, on libuv's thread pool (net/mail.h).
 *
 * Bounds: every request has a total timeout (default 30 s) and a response
 * size bound (default 16 MiB; past it the transfer is aborted and the
 * callback gets CS_ELIMIT); a client runs at most max_inflight requests
 * (starting more fails with CS_ELIMIT). Redirects are not followed.
 *
 * Loop thread only. */
#ifndef CS_NET_HTTP_CLIENT_H
#define CS_NET_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define CS_HTTP_DEFAULT_TIMEOUT_MS 30000
#define CS_HTTP_DEFAULT_MAX_RESPONSE (16u << 20)
#define CS_HTTP_DEFAULT_MAX_INFLIGHT 1024

typedef struct cs_http_client cs_http_client;
typedef struct cs_http_request cs_http_request;

typedef struct cs_http_response {
    int error;              /* 0, or CS_ETIMEDOUT, CS_ELIMIT (too large), CS_EIO
                               (connect, TLS, transfer), CS_ECLOSED (client closed) */
    const char *error_text; /* what went wrong, for people; "" when none */
    long status;            /* HTTP status; 0 when no response arrived */
    const char *body;       /* NUL-terminated; borrowed until the callback returns */
    size_t body_len;
    const char *content_type; /* or NULL; borrowed */
    double seconds;           /* total time */
    /* Appended: */
    long retry_after;            /* seconds a Retry-After header asks for (a number or an HTTP
                                    date, from now); -1 when there is none or it is unreadable */
    struct cs_http_request *req; /* internal: for cs_http_response_header */
} cs_http_response;

/* Runs once per started request, on the loop. res is borrowed. */
typedef void (*cs_http_cb)(const cs_http_response *res, void *arg);

typedef struct cs_http_opts {
    const char *url;            /* http:// or https:// */
    const char *method;         /* NULL: GET, or POST when a body is given */
    const char *const *headers; /* "Name: value" strings, NULL-terminated; may be NULL */
    const char *body;           /* copied; may be NULL */
    size_t body_len;
    uint64_t timeout_ms;         /* total; 0: CS_HTTP_DEFAULT_TIMEOUT_MS */
    uint64_t connect_timeout_ms; /* 0: the total timeout */
    size_t max_response;         /* 0: CS_HTTP_DEFAULT_MAX_RESPONSE */
    const char *unix_socket;     /* HTTP over this unix socket; may be NULL */
    int insecure;                /* skip TLS verification (tests, private CAs) */
    /* Appended: */
    const char *userpwd; /* "user:password" for HTTP basic auth; may be NULL */
    const char *ca_file; /* PEM CA bundle to verify the server with; NULL: the system's */
} cs_http_opts;

/* max_inflight 0: CS_HTTP_DEFAULT_MAX_INFLIGHT. *out is owned by the caller:
 * close with cs_http_client_close. */
int cs_http_client_new(uv_loop_t *loop, size_t max_inflight, cs_http_client **out);
uv_loop_t *cs_http_client_loop(const cs_http_client *c);
/* Cancels every request (their callbacks run with CS_ECLOSED), closes the
 * handles and frees the client from their close callbacks; done (may be
 * NULL) runs then. */
void cs_http_client_close(cs_http_client *c, void (*done)(void *arg), void *arg);

/* Starts a request. On success the callback will run exactly once, and
 * *out (may be NULL) gets a handle valid until then. On failure (CS_EINVAL,
 * CS_ELIMIT, CS_ENOMEM) the callback never runs. */
int cs_http_request_start(cs_http_client *c, const cs_http_opts *o, cs_http_cb cb, void *arg,
                          cs_http_request **out);
/* Cancels a request whose callback has not run: it never will. */
void cs_http_request_cancel(cs_http_request *r);

size_t cs_http_client_inflight(const cs_http_client *c);

/* At most n connections open at once (0: no bound, the default); requests
 * past it wait inside libcurl for a free connection, within their timeout. */
void cs_http_client_set_max_connections(cs_http_client *c, unsigned n);

/* ---- the test seam ------------------------------------------------------
 *
 * The one place where tests plug in: a transport that takes every request
 * started on a client in place of libcurl, and answers it when it likes
 * with cs_http_request_answer. Everything above the client (the JSON-RPC
 * client, the audit, the chain API calls, webhooks) runs unchanged over
 * it. The request stays counted in flight and is cancelled and closed as
 * any other: then `cancel` is called and the transport must forget it. */
typedef struct cs_http_transport {
    void *impl;
    /* Takes request r (its options, borrowed until start returns) and
     * answers it later, never from inside start. Returns 0, or an error
     * and the request fails to start with it. */
    int (*start)(void *impl, cs_http_request *r, const cs_http_opts *o);
    /* r was cancelled, or the client closed: never answer it. */
    void (*cancel)(void *impl, cs_http_request *r);
} cs_http_transport;

/* Every request started on c from now on goes to t (copied; t->impl is
 * borrowed). */
void cs_http_client_set_transport(cs_http_client *c, const cs_http_transport *t);
/* Answers a request a transport took: res (borrowed; its req field is
 * ignored) goes to the request's callback, then r is freed. */
void cs_http_request_answer(cs_http_request *r, const cs_http_response *res);

/* A header of the response, by name (case-insensitive), the last one when
 * it repeats; NULL when absent. Borrowed, like the response: valid until
 * the callback returns. */
const char *cs_http_response_header(const cs_http_response *res, const char *name);

/* In the callback: takes the body out of the response (NUL-terminated,
 * body_len bytes; the caller frees it with free()), so a caller that keeps
 * a big body does not copy it. res->body must not be used after this.
 * NULL when there is no body or it was taken. */
char *cs_http_response_take_body(const cs_http_response *res);

#endif
