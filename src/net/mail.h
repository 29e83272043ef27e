/* Mail over SMTP through the HTTP client (net/http_client.h): the same
 * timeouts, bounds, callback and closing rules. Each mail runs on libuv's
 * thread pool (libcurl 7.88 waits for the server's reply to the end of a
 * message inside the library), so a server that takes the message and
 * then hangs holds one pool thread up to the timeout, never the loop.
 * At most CS_MAIL_MAX_RUNNING (2) mails of one client run at once, so
 * the pool's other threads stay free for the rest of the process; up to
 * CS_MAIL_MAX_QUEUED (64) more wait their turn, oldest first; past that
 * cs_mail_send fails with CS_ELIMIT.
 *
 * smtp://host:port speaks plain SMTP, or STARTTLS when require_tls is set
 * (then a server that does not offer it fails the mail); smtps://host:port
 * is SMTP inside TLS from the first byte. The server's certificate is
 * verified against ca_file, else the system's CAs, unless insecure.
 *
 * Loop thread only. */
#ifndef CS_NET_MAIL_H
#define CS_NET_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/http_client.h"

#define CS_MAIL_MAX_MESSAGE (32u << 20) /* bytes of one message; past it: CS_ELIMIT */
#define CS_MAIL_MAX_RCPT 100            /* recipients of one message; past it: CS_ELIMIT */
#define CS_MAIL_MAX_RUNNING 2           /* mails of one client on the thread pool at once */
#define CS_MAIL_MAX_QUEUED 64           /* mails waiting behind them; past it: CS_ELIMIT */

typedef struct cs_mail_opts {
    const char *url;                 /* smtp://host:port or smtps://host:port */
    const char *username, *password; /* AUTH when username is set; may be NULL */
    bool require_tls;                /* smtp://: STARTTLS or fail */
    const char *ca_file;             /* PEM; NULL: the system's CAs */
    bool insecure;                   /* no certificate check (tests only) */
    const char *from;                /* envelope sender, e.g. "audit@example.org" */
    const char *const *to;           /* envelope recipients */
    size_t nto;
    const void *msg; /* the whole message, headers and body, CRLF line ends; copied */
    size_t len;
    uint64_t timeout_ms;         /* whole transaction; 0: CS_HTTP_DEFAULT_TIMEOUT_MS */
    uint64_t connect_timeout_ms; /* 0: the total timeout */
} cs_mail_opts;

/* Sends one message (or queues it behind those running). On success cb
 * runs exactly once on the loop, never before cs_mail_send returns: error 0
 * when the server accepted it; else error (CS_EIO, CS_ETIMEDOUT,
 * CS_ECLOSED) with error_text, and status holds the server's last SMTP
 * reply code (e.g. 550) when it gave one, 0 when it never answered. On
 * failure (CS_EINVAL, CS_ELIMIT: too large, too many recipients, or
 * CS_MAIL_MAX_QUEUED mails already waiting; CS_ENOMEM) cb never runs. *out (may be NULL) as
 * for cs_http_request_start: cs_http_request_cancel stops the mail. */
int cs_mail_send(cs_http_client *c, const cs_mail_opts *o, cs_http_cb cb, void *arg,
                 cs_http_request **out);

#endif
