/* libcurl multi, driven by libuv: curl tells us which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION) and when to wake it (CURLMOPT_TIMERFUNCTION);
 * we tell it when a socket is ready or the timer fired
 * (curl_multi_socket_action), then collect finished transfers.
 *
 * Pooled transfers (cs_http_start_easy_pool) instead run whole with
 * curl_easy_perform on libuv's thread pool, for protocols whose libcurl
 * code blocks (SMTP's final reply): they share the request list, the
 * callback and the closing rules, and wait in a FIFO for a pool slot. */
#include "net/http_client.h"
#include "net/http_client_int.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"

#include <assert.h>
#include <curl/curl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cs_http_client {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    size_t inflight, max_inflight;
    cs_http_request *head;          /* in-flight requests, pooled ones too */
    cs_http_request *qhead, *qtail; /* pooled requests waiting for a slot, oldest first */
    size_t queued;                  /* on that FIFO; at most CS_HTTP_POOL_QUEUED */
    size_t running;                 /* pooled transfers on the pool, cancelled ones too */
    bool closing;
    int open_handles; /* timer + poll contexts still closing */
    void (*done)(void *);
    void *done_arg;
    cs_http_transport transport; /* start NULL: libcurl */
};

struct cs_http_request {
    cs_http_client *c;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    cs_buf resp;
    bool too_large;
    cs_http_cb cb;
    void *arg;
    char errbuf[CURL_ERROR_SIZE];
    cs_http_request *prev, *next;
    void *owned; /* another protocol's state (net/mail.c), freed with owned_free */
    void (*owned_free)(void *owned);
    /* Pooled transfers only: */
    enum { POOL_NO, POOL_QUEUED, POOL_RUNNING } pool;
    bool orphan;       /* running but cancelled: pool_after frees it, cb never runs */
    atomic_bool abort; /* set on the loop, read by the worker's progress callback */
    CURLcode result;   /* what curl_easy_perform returned (worker writes, loop reads after) */
    uv_work_t work;
    cs_http_request *qnext; /* the client's FIFO */
    bool faked;             /* taken by the client's transport; easy is NULL */
};

typedef struct poll_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    cs_http_client *c;
} poll_ctx;

static bool curl_ready;

static void maybe_free_client(cs_http_client *c)
{
    if (c->closing && c->open_handles == 0 && c->running == 0) {
        curl_multi_cleanup(c->multi);
        void (*done)(void *) = c->done;
        void *arg = c->done_arg;
        free(c);
        if (done)
            done(arg);
    }
}

static void on_poll_closed(uv_handle_t *h)
{
    poll_ctx *p = h->data;
    cs_http_client *c = p->c;
    free(p);
    c->open_handles--;
    maybe_free_client(c);
}

static void unlink_req(cs_http_request *r)
{
    cs_http_client *c = r->c;
    if (r->prev)
        r->prev->next = r->next;
    else
        c->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    c->inflight--;
}

static void free_req(cs_http_request *r)
{
    if (r->faked) {
        free(r);
        return;
    }
    if (r->pool == POOL_NO)
        curl_multi_remove_handle(r->c->multi, r->easy);
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    free(r->body);
    cs_buf_free(&r->resp);
    if (r->owned_free)
        r->owned_free(r->owned);
    free(r);
}

/* Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date. */
static long retry_after(CURL *e)
{
    struct curl_header *h;
    if (curl_easy_header(e, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
        return -1;
    const char *v = h->value;
    if (*v >= '0' && *v <= '9') {
        char *end;
        long s = strtol(v, &end, 10);
        return *end == 0 || *end == ' ' ? s : -1;
    }
    time_t t = curl_getdate(v, NULL);
    if (t < 0)
        return -1;
    time_t now = time(NULL);
    return t > now ? (long)(t - now) : 0;
}

char *cs_http_response_take_body(const cs_http_response *res)
{
    cs_http_request *r = res->req;
    if (!r || !r->resp.data || res->body != (const char *)r->resp.data)
        return NULL;
    return (char *)cs_buf_steal(&r->resp, NULL);
}

const char *cs_http_response_header(const cs_http_response *res, const char *name)
{
    struct curl_header *h;
    if (!res->req || !res->req->easy ||
        curl_easy_header(res->req->easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
        return NULL;
    return h->value;
}

/* Gives r's outcome (res and what the easy handle holds) to its callback,
 * then frees r. */
static void complete(cs_http_request *r, CURLcode res)
{
    cs_http_response out = {.error_text = "", .req = r};
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &out.status);
    curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME, &out.seconds);
    char *ct = NULL;
    curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ct);
    out.content_type = ct;
    if (res == CURLE_FILESIZE_EXCEEDED)
        r->too_large = true;
    if (res != CURLE_OK) {
        out.error = r->too_large                      ? CS_ELIMIT
                    : res == CURLE_OPERATION_TIMEDOUT ? CS_ETIMEDOUT
                                                      : CS_EIO;
        out.error_text = r->too_large   ? "response larger than the bound"
                         : r->errbuf[0] ? r->errbuf
                                        : curl_easy_strerror(res);
    }
    out.body = cs_buf_cstr(&r->resp);
    out.body_len = r->resp.len;
    out.retry_after = out.status ? retry_after(r->easy) : -1;
    unlink_req(r);
    r->cb(&out, r->arg);
    free_req(r);
}

/* Hands finished transfers to their callbacks. */
static void check_done(cs_http_client *c)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(c->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        cs_http_request *r = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        complete(r, msg->data.result);
    }
}

/* ---- pooled transfers --------------------------------------------------- */

/* Worker thread: libcurl calls it about once a second even while it waits
 * inside a blocking read; non-zero aborts the transfer. */
static int on_progress(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    cs_http_request *r = p;
    return atomic_load_explicit(&r->abort, memory_order_relaxed) ? 1 : 0;
}

/* Worker thread: the whole transfer. Touches only r's easy handle, response
 * buffer and error buffer, which the loop leaves alone until pool_after. */
static void pool_work(uv_work_t *w)
{
    cs_http_request *r = w->data;
    r->result = curl_easy_perform(r->easy);
}

static void pool_after(uv_work_t *w, int status);

/* Starts queued transfers while slots are free, oldest first. */
static void pool_next(cs_http_client *c)
{
    while (!c->closing && c->running < CS_HTTP_POOL_RUNNING && c->qhead) {
        cs_http_request *r = c->qhead;
        c->qhead = r->qnext;
        if (!c->qhead)
            c->qtail = NULL;
        c->queued--;
        r->qnext = NULL;
        r->pool = POOL_RUNNING;
        c->running++;
        r->work.data = r;
        /* fails only without a work callback */
        int rc = uv_queue_work(c->loop, &r->work, pool_work, pool_after);
        assert(rc == 0);
        (void)rc;
    }
}

/* Loop thread, once the worker is done: frees a cancelled transfer, else
 * starts the next queued one (before the callback, which may queue more,
 * so the FIFO keeps its order) and reports the outcome. */
static void pool_after(uv_work_t *w, int status)
{
    (void)status; /* never UV_ECANCELED: we do not uv_cancel */
    cs_http_request *r = w->data;
    cs_http_client *c = r->c;
    c->running--;
    pool_next(c);
    if (r->orphan) {
        free_req(r);
        maybe_free_client(c);
        return;
    }
    complete(r, r->result);
}

static void queue_remove(cs_http_request *r)
{
    cs_http_client *c = r->c;
    cs_http_request **pp = &c->qhead, *prev = NULL;
    while (*pp != r) {
        prev = *pp;
        pp = &(*pp)->qnext;
    }
    *pp = r->qnext;
    if (c->qtail == r)
        c->qtail = prev;
    c->queued--;
}

/* Disposes of an unlinked request whose callback will not run: a running
 * pooled transfer is told to stop and freed when its worker returns. */
static void req_drop(cs_http_request *r)
{
    if (r->faked)
        r->c->transport.cancel(r->c->transport.impl, r);
    if (r->pool == POOL_RUNNING) {
        r->orphan = true;
        atomic_store_explicit(&r->abort, true, memory_order_relaxed);
        return;
    }
    if (r->pool == POOL_QUEUED)
        queue_remove(r);
    free_req(r);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    poll_ctx *p = h->data;
    int flags = 0, running;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    cs_http_client *c = p->c;
    curl_multi_socket_action(c->multi, p->fd, flags, &running);
    check_done(c);
}

static void on_timer(uv_timer_t *t)
{
    cs_http_client *c = t->data;
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(c);
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    cs_http_client *c = userp;
    poll_ctx *p = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (p) {
            uv_poll_stop(&p->poll);
            uv_close((uv_handle_t *)&p->poll, on_poll_closed);
            curl_multi_assign(c->multi, s, NULL);
        }
        return 0;
    }
    if (!p) {
        p = calloc(1, sizeof *p);
        if (!p)
            return -1;
        p->fd = s;
        p->c = c;
        if (uv_poll_init_socket(c->loop, &p->poll, s)) {
            free(p);
            return -1;
        }
        p->poll.data = p;
        c->open_handles++;
        curl_multi_assign(c->multi, s, p);
    }
    int ev = 0;
    if (what & CURL_POLL_IN)
        ev |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        ev |= UV_WRITABLE;
    uv_poll_start(&p->poll, ev, on_poll);
    return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    cs_http_client *c = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&c->timer);
    else /* 0 means "now": the next loop iteration, never from inside curl */
        uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

int cs_http_client_new(uv_loop_t *loop, size_t max_inflight, cs_http_client **out)
{
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT))
            return CS_EIO;
        curl_ready = true;
    }
    cs_http_client *c = calloc(1, sizeof *c);
    if (!c)
        return CS_ENOMEM;
    c->loop = loop;
    c->max_inflight = max_inflight ? max_inflight : CS_HTTP_DEFAULT_MAX_INFLIGHT;
    c->multi = curl_multi_init();
    if (!c->multi) {
        free(c);
        return CS_ENOMEM;
    }
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->open_handles = 1;
    *out = c;
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    cs_http_client *c = h->data;
    c->open_handles--;
    maybe_free_client(c);
}

void cs_http_client_close(cs_http_client *c, void (*done)(void *), void *arg)
{
    if (c->closing)
        return;
    c->closing = true;
    c->done = done;
    c->done_arg = arg;
    while (c->head) {
        cs_http_request *r = c->head;
        unlink_req(r);
        cs_http_response res = {
            .error = CS_ECLOSED, .error_text = "client closed", .body = "", .retry_after = -1};
        r->cb(&res, r->arg);
        req_drop(r);
    }
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    cs_http_request *r = ud;
    size_t n = size * nmemb;
    if (cs_buf_append(&r->resp, ptr, n)) {
        r->too_large = true;
        return 0; /* aborts the transfer */
    }
    return n;
}

/* A request around e with what every transfer shares: our pointer, the
 * response buffer and its bound, the error buffer, no signals, timeouts.
 * NULL when out of memory (e is left to the caller then). */
static cs_http_request *req_new(cs_http_client *c, CURL *e, const cs_http_xfer *x, cs_http_cb cb,
                                void *arg)
{
    cs_http_request *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->c = c;
    r->easy = e;
    r->cb = cb;
    r->arg = arg;
    cs_buf_init(&r->resp, x->max_response ? x->max_response : CS_HTTP_DEFAULT_MAX_RESPONSE);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    uint64_t to = x->timeout_ms ? x->timeout_ms : CS_HTTP_DEFAULT_TIMEOUT_MS;
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)to);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(x->connect_timeout_ms ? x->connect_timeout_ms : to));
    if (x->max_response)
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_response);
    return r;
}

static void link_req(cs_http_request *r, cs_http_request **out)
{
    cs_http_client *c = r->c;
    r->next = c->head;
    if (c->head)
        c->head->prev = r;
    c->head = r;
    c->inflight++;
    if (out)
        *out = r;
}

/* Puts r on the multi handle; frees it on failure. */
static int req_add(cs_http_request *r, cs_http_request **out)
{
    if (curl_multi_add_handle(r->c->multi, r->easy) != CURLM_OK) {
        free_req(r);
        return CS_EIO;
    }
    link_req(r, out);
    return 0;
}

/* What cs_http_start_easy and cs_http_start_easy_pool share: the checks,
 * and a request around easy that owns x->owned. NULL and *rc on failure,
 * with easy and x->owned freed. */
static cs_http_request *easy_req(cs_http_client *c, CURL *easy, const cs_http_xfer *x,
                                 cs_http_cb cb, void *arg, bool pooled, int *rc)
{
    bool pool_full =
        pooled && c->running >= CS_HTTP_POOL_RUNNING && c->queued >= CS_HTTP_POOL_QUEUED;
    *rc = !cb || c->closing                             ? CS_EINVAL
          : c->inflight >= c->max_inflight || pool_full ? CS_ELIMIT
                                                        : 0;
    cs_http_request *r = *rc ? NULL : req_new(c, easy, x, cb, arg);
    if (!r) {
        curl_easy_cleanup(easy);
        if (x->owned_free)
            x->owned_free(x->owned);
        if (!*rc)
            *rc = CS_ENOMEM;
        return NULL;
    }
    r->owned = x->owned;
    r->owned_free = x->owned_free;
    return r;
}

int cs_http_start_easy(cs_http_client *c, CURL *easy, const cs_http_xfer *x, cs_http_cb cb,
                       void *arg, cs_http_request **out)
{
    int rc;
    cs_http_request *r = easy_req(c, easy, x, cb, arg, false, &rc);
    return r ? req_add(r, out) : rc;
}

int cs_http_start_easy_pool(cs_http_client *c, CURL *easy, const cs_http_xfer *x, cs_http_cb cb,
                            void *arg, cs_http_request **out)
{
    int rc;
    cs_http_request *r = easy_req(c, easy, x, cb, arg, true, &rc);
    if (!r)
        return rc;
    curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(easy, CURLOPT_XFERINFODATA, r);
    curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
    r->pool = POOL_QUEUED;
    if (c->qtail)
        c->qtail->qnext = r;
    else
        c->qhead = r;
    c->qtail = r;
    c->queued++;
    link_req(r, out);
    pool_next(c);
    return 0;
}

void cs_http_client_set_transport(cs_http_client *c, const cs_http_transport *t)
{
    c->transport = *t;
}

void cs_http_request_answer(cs_http_request *r, const cs_http_response *res)
{
    cs_http_response out = *res;
    out.req = r;
    if (!out.error_text)
        out.error_text = "";
    if (!out.body)
        out.body = "";
    unlink_req(r);
    r->cb(&out, r->arg);
    free(r);
}

/* A request for the client's transport. */
static int fake_start(cs_http_client *c, const cs_http_opts *o, cs_http_cb cb, void *arg,
                      cs_http_request **out)
{
    cs_http_request *r = calloc(1, sizeof *r);
    if (!r)
        return CS_ENOMEM;
    r->c = c;
    r->cb = cb;
    r->arg = arg;
    r->faked = true;
    int rc = c->transport.start(c->transport.impl, r, o);
    if (rc) {
        free(r);
        return rc;
    }
    link_req(r, out);
    return 0;
}

int cs_http_request_start(cs_http_client *c, const cs_http_opts *o, cs_http_cb cb, void *arg,
                          cs_http_request **out)
{
    if (!o->url || !cb || c->closing)
        return CS_EINVAL;
    if (c->inflight >= c->max_inflight)
        return CS_ELIMIT;
    if (c->transport.start)
        return fake_start(c, o, cb, arg, out);
    CURL *e = curl_easy_init();
    if (!e)
        return CS_ENOMEM;
    cs_http_xfer x = {.timeout_ms = o->timeout_ms,
                      .connect_timeout_ms = o->connect_timeout_ms,
                      .max_response = o->max_response};
    cs_http_request *r = req_new(c, e, &x, cb, arg);
    if (!r) {
        curl_easy_cleanup(e);
        return CS_ENOMEM;
    }
    int rc = 0;
    curl_easy_setopt(e, CURLOPT_URL, o->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* whatever curl can decode */
    if (o->unix_socket)
        curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, o->unix_socket);
    if (o->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (o->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
    if (o->userpwd) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERPWD, o->userpwd);
    }
    if (o->body) {
        r->body = malloc(o->body_len + 1);
        if (!r->body) {
            rc = CS_ENOMEM;
            goto fail;
        }
        memcpy(r->body, o->body, o->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
    }
    if (o->method)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, o->method);
    else if (!o->body)
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    /* No "Expect: 100-continue" round trip for bodies. */
    r->headers = curl_slist_append(NULL, "Expect:");
    for (const char *const *h = o->headers; h && *h; h++) {
        struct curl_slist *nl = curl_slist_append(r->headers, *h);
        if (!nl) {
            rc = CS_ENOMEM;
            goto fail;
        }
        r->headers = nl;
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    return req_add(r, out);
fail:
    free_req(r);
    return rc;
}

void cs_http_request_cancel(cs_http_request *r)
{
    unlink_req(r);
    req_drop(r);
}

size_t cs_http_client_inflight(const cs_http_client *c)
{
    return c->inflight;
}

uv_loop_t *cs_http_client_loop(const cs_http_client *c)
{
    return c->loop;
}

void cs_http_client_set_max_connections(cs_http_client *c, unsigned n)
{
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)n);
}
