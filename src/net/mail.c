/* SMTP through the HTTP client (see mail.h): libcurl's SMTP reads the
 * message through a read callback; the client runs the transfer on libuv's
 * thread pool, because libcurl 7.88 waits for the server's reply to the
 * end of the message inside the library, even on a multi handle. */
#include "net/mail.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "net/http_client_int.h"

static_assert(CS_MAIL_MAX_RUNNING == CS_HTTP_POOL_RUNNING &&
                  CS_MAIL_MAX_QUEUED == CS_HTTP_POOL_QUEUED,
              "mail.h states the pool's bounds");

typedef struct mail {
    char *msg;
    size_t len, sent;
    struct curl_slist *rcpt;
} mail;

static void mail_free(void *p)
{
    mail *m = p;
    if (!m)
        return;
    free(m->msg);
    curl_slist_free_all(m->rcpt);
    free(m);
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *arg)
{
    mail *m = arg;
    size_t room = size * nmemb, left = m->len - m->sent;
    if (room > left)
        room = left;
    memcpy(buf, m->msg + m->sent, room);
    m->sent += room;
    return room;
}

static bool is_smtp_url(const char *u)
{
    return u && (strncmp(u, "smtp://", 7) == 0 || strncmp(u, "smtps://", 8) == 0);
}

int cs_mail_send(cs_http_client *c, const cs_mail_opts *o, cs_http_cb cb, void *arg,
                 cs_http_request **out)
{
    if (!is_smtp_url(o->url) || !o->from || !o->nto || !o->to || (!o->msg && o->len))
        return CS_EINVAL;
    if (o->nto > CS_MAIL_MAX_RCPT || o->len > CS_MAIL_MAX_MESSAGE)
        return CS_ELIMIT;
    mail *m = calloc(1, sizeof *m);
    CURL *e = m ? curl_easy_init() : NULL;
    if (m)
        m->msg = malloc(o->len ? o->len : 1);
    if (!e || !m->msg) {
        curl_easy_cleanup(e);
        mail_free(m);
        return CS_ENOMEM;
    }
    if (o->len)
        memcpy(m->msg, o->msg, o->len);
    m->len = o->len;
    for (size_t i = 0; i < o->nto; i++) {
        struct curl_slist *l = curl_slist_append(m->rcpt, o->to[i]);
        if (!l) {
            curl_easy_cleanup(e);
            mail_free(m);
            return CS_ENOMEM;
        }
        m->rcpt = l;
    }
    curl_easy_setopt(e, CURLOPT_URL, o->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    if (o->username)
        curl_easy_setopt(e, CURLOPT_USERNAME, o->username);
    if (o->password)
        curl_easy_setopt(e, CURLOPT_PASSWORD, o->password);
    if (o->require_tls && strncmp(o->url, "smtp://", 7) == 0)
        curl_easy_setopt(e, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (o->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
    if (o->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_easy_setopt(e, CURLOPT_MAIL_FROM, o->from);
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, m->rcpt);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(e, CURLOPT_READDATA, m);
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)m->len);
    /* QUIT and its reply on the pool thread, at the end of the transfer,
     * not in curl_easy_cleanup on the loop; and no wait for any reply,
     * QUIT's included, past the mail's timeout (libcurl's own is 120 s). */
    uint64_t to = o->timeout_ms ? o->timeout_ms : CS_HTTP_DEFAULT_TIMEOUT_MS;
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(e, CURLOPT_SERVER_RESPONSE_TIMEOUT, (long)((to + 999) / 1000));
    cs_http_xfer x = {.timeout_ms = o->timeout_ms,
                      .connect_timeout_ms = o->connect_timeout_ms,
                      .max_response = 1u << 16,
                      .owned = m,
                      .owned_free = mail_free};
    return cs_http_start_easy_pool(c, e, &x, cb, arg, out);
}
