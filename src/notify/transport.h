/* How notifications leave the process: an HTTP request function (a plain
 * function pointer, so that the shared HTTP client of src/net/ can be
 * plugged in) and mail over SMTP. The built-in implementation (cs_curl)
 * drives libcurl's multi interface from the libuv loop: nothing blocks. */
#ifndef CS_NOTIFY_TRANSPORT_H
#define CS_NOTIFY_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct cs_notify_http_req {
    const char *method; /* "POST", "PUT", ... */
    const char *url;
    const char *const *headers; /* "Name: value" */
    size_t nheaders;
    const void *body;
    size_t body_len;
    uint32_t timeout_ms;
} cs_notify_http_req;

/* err: 0 when a response arrived (status is its HTTP status), else a
 * negative code (CS_ETIMEDOUT, CS_EIO, CS_ECLOSED) and errmsg says why.
 * body/errmsg are borrowed: valid until the callback returns. */
typedef void (*cs_notify_http_cb)(void *arg, int err, long status, const char *body, size_t len,
                                  const char *errmsg);

/* Sends req (everything in it is copied before this returns). Returns 0 and
 * later calls cb once, or an error and never calls cb. */
typedef int (*cs_notify_http_fn)(void *impl, const cs_notify_http_req *req, cs_notify_http_cb cb,
                                 void *arg);

typedef struct cs_notify_mail_req {
    const char *url;      /* smtp://host:port (STARTTLS if tls) or smtps://host:port */
    const char *username; /* may be NULL */
    const char *password;
    bool starttls;       /* require STARTTLS on smtp:// */
    const char *ca_file; /* may be NULL: the system's */
    bool insecure;       /* do not verify the server's certificate (tests only) */
    const char *from;
    const char *const *to;
    size_t nto;
    const void *msg; /* the whole message, headers and body, CRLF line ends */
    size_t len;
    uint32_t timeout_ms;
} cs_notify_mail_req;

typedef struct cs_curl cs_curl;

int cs_curl_new(uv_loop_t *loop, cs_curl **out);
/* Fails every transfer in flight with CS_ECLOSED (callbacks run), then
 * frees itself once its handles are closed (run the loop). */
void cs_curl_close(cs_curl *c);
/* A cs_notify_http_fn: impl is the cs_curl. */
int cs_curl_http(void *impl, const cs_notify_http_req *req, cs_notify_http_cb cb, void *arg);
/* Sends one mail; cb gets the SMTP reply code as status. */
int cs_curl_mail(cs_curl *c, const cs_notify_mail_req *req, cs_notify_http_cb cb, void *arg);
size_t cs_curl_in_flight(const cs_curl *c);

#endif
