/* libcurl multi driven by libuv (see transport.h): curl tells us which
 * sockets to watch and when to wake up; uv_poll and one uv_timer do it. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "notify/transport.h"

#define MAX_RESPONSE (1u << 20)

struct cs_curl {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    size_t inflight;
    bool closing;
    struct xfer *list;
};

typedef struct sockctx {
    uv_poll_t poll;
    curl_socket_t fd;
    cs_curl *c;
} sockctx;

typedef struct xfer {
    struct xfer *prev, *next;
    cs_curl *c;
    CURL *easy;
    struct curl_slist *hdrs, *rcpt;
    char *body;
    size_t body_len, sent;
    cs_buf resp;
    char errbuf[CURL_ERROR_SIZE];
    cs_notify_http_cb cb;
    void *arg;
} xfer;

static void xfer_free(xfer *x)
{
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->hdrs);
    curl_slist_free_all(x->rcpt);
    free(x->body);
    cs_buf_free(&x->resp);
    free(x);
}

static void unlink_x(cs_curl *c, xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        c->list = x->next;
    if (x->next)
        x->next->prev = x->prev;
    c->inflight--;
}

static void finish(cs_curl *c, xfer *x, CURLcode res)
{
    curl_multi_remove_handle(c->multi, x->easy);
    unlink_x(c, x);
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    int err = 0;
    const char *msg = NULL;
    if (res != CURLE_OK) {
        err = res == CURLE_OPERATION_TIMEDOUT ? CS_ETIMEDOUT : CS_EIO;
        msg = x->errbuf[0] ? x->errbuf : curl_easy_strerror(res);
        /* an SMTP refusal still carries its reply code in status */
    }
    cs_buf_putc(&x->resp, 0);
    x->cb(x->arg, err, status, (const char *)x->resp.data, x->resp.len ? x->resp.len - 1 : 0, msg);
    xfer_free(x);
}

static void check_done(cs_curl *c)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        finish(c, x, m->data.result);
    }
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    sockctx *s = p->data;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    int running;
    cs_curl *c = s->c;
    curl_multi_socket_action(c->multi, s->fd, flags, &running);
    check_done(c);
}

static void on_timer(uv_timer_t *t)
{
    cs_curl *c = t->data;
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(c);
}

static void sock_closed(uv_handle_t *h)
{
    free(h->data);
}

static int sock_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)e;
    cs_curl *c = userp;
    sockctx *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            uv_poll_stop(&s->poll);
            uv_close((uv_handle_t *)&s->poll, sock_closed);
            curl_multi_assign(c->multi, fd, NULL);
        }
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return -1;
        s->fd = fd;
        s->c = c;
        if (uv_poll_init_socket(c->loop, &s->poll, fd)) {
            free(s);
            return -1;
        }
        s->poll.data = s;
        curl_multi_assign(c->multi, fd, s);
    }
    int ev = 0;
    if (what & CURL_POLL_IN)
        ev |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        ev |= UV_WRITABLE;
    uv_poll_start(&s->poll, ev, on_poll);
    return 0;
}

static int timer_cb(CURLM *m, long ms, void *userp)
{
    (void)m;
    cs_curl *c = userp;
    if (ms < 0)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timer, (uint64_t)ms, 0);
    return 0;
}

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int cs_curl_new(uv_loop_t *loop, cs_curl **out)
{
    static uv_once_t once = UV_ONCE_INIT;
    uv_once(&once, global_init);
    cs_curl *c = calloc(1, sizeof *c);
    if (!c)
        return CS_ENOMEM;
    c->loop = loop;
    c->multi = curl_multi_init();
    if (!c->multi) {
        free(c);
        return CS_ENOMEM;
    }
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    *out = c;
    return 0;
}

static void timer_closed(uv_handle_t *h)
{
    cs_curl *c = h->data;
    curl_multi_cleanup(c->multi);
    free(c);
}

void cs_curl_close(cs_curl *c)
{
    if (!c || c->closing)
        return;
    c->closing = true;
    while (c->list) {
        xfer *x = c->list;
        curl_multi_remove_handle(c->multi, x->easy);
        unlink_x(c, x);
        x->cb(x->arg, CS_ECLOSED, 0, "", 0, "closed");
        xfer_free(x);
    }
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, timer_closed);
}

size_t cs_curl_in_flight(const cs_curl *c)
{
    return c->inflight;
}

static size_t on_data(char *p, size_t sz, size_t n, void *arg)
{
    xfer *x = arg;
    size_t len = sz * n;
    if (cs_buf_append(&x->resp, p, len))
        return 0; /* too large: abort */
    return len;
}

static size_t on_read_body(char *buf, size_t sz, size_t n, void *arg)
{
    xfer *x = arg;
    size_t room = sz * n, left = x->body_len - x->sent;
    if (room > left)
        room = left;
    memcpy(buf, x->body + x->sent, room);
    x->sent += room;
    return room;
}

static xfer *xfer_new(cs_curl *c, const void *body, size_t len, cs_notify_http_cb cb, void *arg)
{
    xfer *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->c = c;
    x->cb = cb;
    x->arg = arg;
    cs_buf_init(&x->resp, MAX_RESPONSE);
    x->body = malloc(len ? len : 1);
    x->easy = curl_easy_init();
    if (!x->body || !x->easy) {
        xfer_free(x);
        return NULL;
    }
    if (len)
        memcpy(x->body, body, len);
    x->body_len = len;
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    return x;
}

static int start(cs_curl *c, xfer *x)
{
    if (curl_multi_add_handle(c->multi, x->easy) != CURLM_OK) {
        xfer_free(x);
        return CS_EIO;
    }
    x->next = c->list;
    if (c->list)
        c->list->prev = x;
    c->list = x;
    c->inflight++;
    return 0;
}

int cs_curl_http(void *impl, const cs_notify_http_req *req, cs_notify_http_cb cb, void *arg)
{
    cs_curl *c = impl;
    if (c->closing)
        return CS_ECLOSED;
    xfer *x = xfer_new(c, req->body, req->body_len, cb, arg);
    if (!x)
        return CS_ENOMEM;
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method ? req->method : "POST");
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(req->timeout_ms ? req->timeout_ms : 10000));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    for (size_t i = 0; i < req->nheaders; i++) {
        struct curl_slist *h = curl_slist_append(x->hdrs, req->headers[i]);
        if (!h) {
            xfer_free(x);
            return CS_ENOMEM;
        }
        x->hdrs = h;
    }
    x->hdrs = curl_slist_append(x->hdrs, "Expect:"); /* no 100-continue round trip */
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
    return start(c, x);
}

int cs_curl_mail(cs_curl *c, const cs_notify_mail_req *req, cs_notify_http_cb cb, void *arg)
{
    if (c->closing)
        return CS_ECLOSED;
    xfer *x = xfer_new(c, req->msg, req->len, cb, arg);
    if (!x)
        return CS_ENOMEM;
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    if (req->username)
        curl_easy_setopt(e, CURLOPT_USERNAME, req->username);
    if (req->password)
        curl_easy_setopt(e, CURLOPT_PASSWORD, req->password);
    if (req->starttls)
        curl_easy_setopt(e, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (req->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, req->ca_file);
    if (req->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_easy_setopt(e, CURLOPT_MAIL_FROM, req->from);
    for (size_t i = 0; i < req->nto; i++)
        x->rcpt = curl_slist_append(x->rcpt, req->to[i]);
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, x->rcpt);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read_body);
    curl_easy_setopt(e, CURLOPT_READDATA, x);
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->body_len);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(req->timeout_ms ? req->timeout_ms : 30000));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    return start(c, x);
}
