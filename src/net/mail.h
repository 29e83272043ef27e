/* Mail over SMTP on the loop, through the HTTP client's libcurl multi
 * handle (net/http_client.h): the same timeouts, bounds, callback and
 * closing rules. Nothing blocks the loop.
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

/* Sends one message. On success cb runs exactly once on the loop: error 0
 * when the server accepted it; else error (CS_EIO, CS_ETIMEDOUT,
 * CS_ECLOSED) with error_text, and status holds the server's last SMTP
 * reply code (e.g. 550) when it gave one, 0 when it never answered. On
 * failure (CS_EINVAL, CS_ELIMIT, CS_ENOMEM) cb never runs. *out (may be
 * NULL) as for cs_http_request_start. */
int cs_mail_send(cs_http_client *c, const cs_mail_opts *o, cs_http_cb cb, void *arg,
                 cs_http_request **out);

#endif
