/* cs_audit_curl: libcurl's multi interface driven by the libuv loop.
 *
 * libcurl tells us which sockets to watch (socket callback: one uv_poll per
 * socket) and when to wake it (timer callback: one uv_timer); we tell it
 * what happened with curl_multi_socket_action. Name resolution uses
 * libcurl's threaded resolver, so nothing here blocks the loop. To be
 * replaced by the shared client (src/net/http_client.h) when it lands. */
#include "audit/http.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct req req;

struct cs_audit_curl {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    int open_handles; /* libuv handles not yet closed, the timer included */
    bool closing;
    size_t pending;
    req *reqs;              /* in flight, a doubly linked list */
    struct sock_ctx *socks; /* watched sockets, a doubly linked list */
};

struct req {
    cs_audit_curl *c;
    req *prev, *next;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    cs_buf resp;
    bool overflow;
    cs_audit_http_cb cb;
    void *arg;
    char errbuf[CURL_ERROR_SIZE];
};

typedef struct sock_ctx {
    uv_poll_t poll; /* first: the handle's address is the context's */
    curl_socket_t fd;
    cs_audit_curl *c;
    struct sock_ctx *prev, *next;
} sock_ctx;

static void sock_unlink(sock_ctx *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        s->c->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

static void maybe_free(cs_audit_curl *c)
{
    if (c->closing && c->open_handles == 0)
        free(c);
}

static void handle_closed(uv_handle_t *h)
{
    cs_audit_curl *c = h->data;
    if ((void *)h != (void *)&c->timer)
        free(h); /* a sock_ctx: poll is its first member */
    c->open_handles--;
    maybe_free(c);
}

static void req_free(req *r)
{
    cs_audit_curl *c = r->c;
    if (r->prev)
        r->prev->next = r->next;
    else
        c->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    c->pending--;
    curl_multi_remove_handle(c->multi, r->easy);
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    free(r->body);
    cs_buf_free(&r->resp);
    free(r);
}

static void req_finish(req *r, CURLcode code)
{
    cs_audit_http_resp resp = {0};
    if (r->overflow) {
        resp.err = CS_ELIMIT;
        resp.errmsg = "response body too large";
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
        resp.err = CS_ETIMEDOUT;
        resp.errmsg = r->errbuf[0] ? r->errbuf : "timed out";
    } else if (code != CURLE_OK) {
        resp.err = CS_EIO;
        resp.errmsg = r->errbuf[0] ? r->errbuf : curl_easy_strerror(code);
    } else {
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp.status);
        resp.body = cs_buf_cstr(&r->resp);
        resp.len = r->resp.len;
    }
    if (!resp.body)
        resp.body = "";
    cs_audit_http_cb cb = r->cb;
    void *arg = r->arg;
    cb(arg, &resp);
    req_free(r);
}

static void check_done(cs_audit_curl *c)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(c->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        req *r = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        CURLcode code = msg->data.result;
        req_finish(r, code);
    }
}

static void on_timer(uv_timer_t *t)
{
    cs_audit_curl *c = t->data;
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(c);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    cs_audit_curl *c = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    sock_ctx *s = (sock_ctx *)p;
    cs_audit_curl *c = s->c;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    int running;
    curl_multi_socket_action(c->multi, s->fd, flags, &running);
    check_done(c);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    cs_audit_curl *c = userp;
    sock_ctx *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            sock_unlink(s);
            uv_poll_stop(&s->poll);
            uv_close((uv_handle_t *)&s->poll, handle_closed);
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
        if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->poll.data = c;
        c->open_handles++;
        s->next = c->socks;
        if (c->socks)
            c->socks->prev = s;
        c->socks = s;
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

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    req *r = userdata;
    size_t n = size * nmemb;
    if (cs_buf_append(&r->resp, ptr, n) != 0) {
        r->overflow = true;
        return 0; /* libcurl stops the transfer */
    }
    return n;
}

static int curl_post(void *impl, const cs_audit_http_req *q, cs_audit_http_cb cb, void *arg)
{
    cs_audit_curl *c = impl;
    if (c->closing)
        return CS_ECLOSED;
    if (c->pending >= CS_AUDIT_HTTP_MAX_PENDING)
        return CS_ELIMIT;
    req *r = calloc(1, sizeof *r);
    if (!r)
        return CS_ENOMEM;
    r->c = c;
    r->cb = cb;
    r->arg = arg;
    cs_buf_init(&r->resp, CS_AUDIT_HTTP_MAX_BODY);
    r->easy = curl_easy_init();
    r->body = malloc(q->len + 1);
    char ct[128];
    snprintf(ct, sizeof ct, "Content-Type: %s",
             q->content_type ? q->content_type : "application/json");
    struct curl_slist *h1 = r->easy && r->body ? curl_slist_append(NULL, ct) : NULL;
    if (h1)
        r->headers = curl_slist_append(h1, "Expect:");
    if (!r->easy || !r->body || !r->headers) {
        curl_slist_free_all(h1);
        curl_easy_cleanup(r->easy);
        free(r->body);
        free(r);
        return CS_ENOMEM;
    }
    memcpy(r->body, q->body ? q->body : "", q->len);
    r->body[q->len] = 0;
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, q->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(q->timeout_ms ? q->timeout_ms : 5000));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "chainscope-audit/" CS_VERSION);
    if (q->userpwd) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERPWD, q->userpwd);
    }
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        curl_slist_free_all(r->headers);
        curl_easy_cleanup(e);
        free(r->body);
        free(r);
        return CS_EIO;
    }
    r->next = c->reqs;
    if (c->reqs)
        c->reqs->prev = r;
    c->reqs = r;
    c->pending++;
    return 0;
}

int cs_audit_curl_new(uv_loop_t *loop, unsigned max_conns, cs_audit_curl **out)
{
    static bool global_done;
    if (!global_done) {
        /* Not thread-safe by libcurl's contract: the first call happens on
         * the loop thread before any other thread uses libcurl. */
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return CS_EIO;
        global_done = true;
    }
    cs_audit_curl *c = calloc(1, sizeof *c);
    if (!c)
        return CS_ENOMEM;
    c->loop = loop;
    c->multi = curl_multi_init();
    if (!c->multi) {
        free(c);
        return CS_ENOMEM;
    }
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->open_handles = 1;
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)(max_conns ? max_conns : 16));
    *out = c;
    return 0;
}

void cs_audit_curl_http(cs_audit_curl *c, cs_audit_http *http)
{
    http->impl = c;
    http->post = curl_post;
}

void cs_audit_curl_close(cs_audit_curl *c)
{
    if (!c || c->closing)
        return;
    while (c->reqs) {
        req *r = c->reqs;
        cs_audit_http_resp resp = {.err = CS_ECLOSED, .errmsg = "closed", .body = ""};
        r->cb(r->arg, &resp);
        req_free(r);
    }
    /* Cleanup closes cached connections; their sockets leave through
     * socket_cb, which closes the polls. Any left over are closed here. */
    curl_multi_cleanup(c->multi);
    c->multi = NULL;
    while (c->socks) {
        sock_ctx *s = c->socks;
        sock_unlink(s);
        uv_poll_stop(&s->poll);
        uv_close((uv_handle_t *)&s->poll, handle_closed);
    }
    c->closing = true;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, handle_closed);
}
