/* What the files of net/ share about the HTTP client: a transfer of
 * another protocol on the same multi handle and loop, or on libuv's thread
 * pool (net/mail.c sends SMTP this way), with the client's bounds,
 * callback and closing rules. */
#ifndef CS_NET_HTTP_CLIENT_INT_H
#define CS_NET_HTTP_CLIENT_INT_H

#include <curl/curl.h>

#include "net/http_client.h"

typedef struct cs_http_xfer {
    uint64_t timeout_ms;         /* total; 0: CS_HTTP_DEFAULT_TIMEOUT_MS */
    uint64_t connect_timeout_ms; /* 0: the total timeout */
    size_t max_response;         /* bytes the server may send back; 0: the default */
    void *owned;                 /* the protocol's own state (upload, recipients); may be NULL */
    void (*owned_free)(void *owned); /* runs once the transfer is freed; may be NULL */
} cs_http_xfer;

/* Starts easy, which the caller has set up for its protocol (URL,
 * protocols, upload, credentials), on c. The client adds what every
 * transfer shares (its private pointer, the response buffer and bound, the
 * error buffer, no signals, the timeouts) and owns easy and x->owned from
 * here on, whatever the result: on failure (CS_EINVAL, CS_ELIMIT,
 * CS_ENOMEM, CS_EIO) both are freed at once and cb never runs; on success
 * cb runs exactly once, as for cs_http_request_start, with the protocol's
 * reply code as status. */
int cs_http_start_easy(cs_http_client *c, CURL *easy, const cs_http_xfer *x, cs_http_cb cb,
                       void *arg, cs_http_request **out);

/* Pooled transfers: at most this many of one client's run at once, so
 * libuv's thread pool (4 threads by default) always has threads left for
 * the rest of the process; this many more wait, oldest first. */
#define CS_HTTP_POOL_RUNNING 2
#define CS_HTTP_POOL_QUEUED 64

/* Like cs_http_start_easy, but for a protocol whose libcurl code blocks
 * (SMTP waits for the reply to the end of the message inside the
 * library): the transfer runs whole with curl_easy_perform on libuv's
 * thread pool (uv_queue_work), and cb runs on the loop after it. It waits
 * in a FIFO while CS_HTTP_POOL_RUNNING others run; with
 * CS_HTTP_POOL_QUEUED already waiting it fails with CS_ELIMIT. The same
 * timeouts, bounds, result and closing rules apply: cancelling it, or
 * closing the client, tells a running transfer to stop (libcurl notices
 * within about a second), and the client is freed only once it has. easy
 * must not be touched by the caller after this call; x->owned is used by
 * the pool thread while the transfer runs. */
int cs_http_start_easy_pool(cs_http_client *c, CURL *easy, const cs_http_xfer *x, cs_http_cb cb,
                            void *arg, cs_http_request **out);

#endif
