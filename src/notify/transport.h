/* How notifications leave the process: an HTTP request function (a plain
 * function pointer, so that tests can plug in a fake) whose built-in
 * implementation is the project's HTTP client (net/http_client.h: libcurl's
 * multi interface on the libuv loop), and mail over SMTP through the same
 * client (net/mail.h). Nothing blocks the loop. */
#ifndef CS_NOTIFY_TRANSPORT_H
#define CS_NOTIFY_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/http_client.h"

typedef struct cs_notify_http_req {
    const char *method; /* "POST", "PUT", ... */
    const char *url;
    const char *const *headers; /* "Name: value" */
    size_t nheaders;
    const void *body;
    size_t body_len;
    uint32_t timeout_ms;
} cs_notify_http_req;

/* What came back. err: 0 when a response arrived (status is its HTTP
 * status), else a negative code (CS_ETIMEDOUT, CS_EIO, CS_ECLOSED) and
 * errmsg says why. retry_after_s: the seconds a Retry-After header asked
 * for, -1 when none. body/errmsg are borrowed: valid until the callback
 * returns. */
typedef struct cs_notify_http_resp {
    int err;
    long status;
    const char *body;
    size_t len;
    const char *errmsg;
    long retry_after_s;
} cs_notify_http_resp;

typedef void (*cs_notify_http_cb)(void *arg, const cs_notify_http_resp *resp);

/* Sends req (everything in it is copied before this returns). Returns 0 and
 * later calls cb once, or an error and never calls cb. */
typedef int (*cs_notify_http_fn)(void *impl, const cs_notify_http_req *req, cs_notify_http_cb cb,
                                 void *arg);

/* The built-in cs_notify_http_fn: impl is a cs_http_client (borrowed). */
int cs_notify_http_client(void *impl, const cs_notify_http_req *req, cs_notify_http_cb cb,
                          void *arg);

#define CS_NOTIFY_MAX_RESPONSE (1u << 20) /* bytes of a receiver's answer kept */

#endif
