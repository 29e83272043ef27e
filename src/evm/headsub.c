/* The newHeads subscription (headsub.h): one IPC connection, one
 * eth_subscribe, then a stream of JSON texts framed as rpc_ipc.c frames
 * them. One timer serves both the connect/subscribe deadline and the
 * backoff before the next attempt. */
#include "evm/headsub.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "net/jsonrpc_int.h"
#include "net/jsonr.h"
#include "net/sigpipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HLOG "evm.sub"
#define SUB_ID 1
#define SUB_REQUEST                                                                                \
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_subscribe\",\"params\":[\"newHeads\"]}\n"
#define SUB_ID_MAX 130 /* a subscription id: "0x" and up to 128 hex digits */
#define MAX_TOKENS 4096
#define MAX_DEPTH 16

enum hs_state { HS_IDLE, HS_CONNECTING, HS_SUBSCRIBING, HS_LIVE, HS_CLOSING };

struct cs_headsub {
    uv_loop_t *loop;
    cs_headsub_opts o;
    char *path, *name;
    enum hs_state state;
    uv_pipe_t pipe;
    bool pipe_open;
    uv_connect_t connect_req;
    uv_write_t write_req;
    uv_timer_t timer;
    bool timer_open;
    cs_buf rbuf;
    cs_jsonr json;
    char sub_id[SUB_ID_MAX + 1];
    uint64_t backoff;
    cs_headsub_stats st;
    void (*done)(void *);
    void *done_arg;
};

static void hs_connect(cs_headsub *h);
static void hs_timeout(cs_headsub *h);

/* ---- closing and retrying ------------------------------------------------------ */

static void hs_maybe_free(cs_headsub *h)
{
    if (h->state != HS_CLOSING || h->pipe_open || h->timer_open)
        return;
    void (*done)(void *) = h->done;
    void *arg = h->done_arg;
    cs_buf_free(&h->rbuf);
    cs_jsonr_free(&h->json);
    free(h->path);
    free(h->name);
    free(h);
    if (done)
        done(arg);
}

static void on_retry_timer(uv_timer_t *t)
{
    cs_headsub *h = t->data;
    if (h->state == HS_IDLE)
        hs_connect(h);
    else if (h->state == HS_CONNECTING || h->state == HS_SUBSCRIBING)
        hs_timeout(h); /* the deadline to connect and subscribe */
}

/* The next attempt, after the backoff. */
static void hs_schedule(cs_headsub *h)
{
    uv_timer_start(&h->timer, on_retry_timer, h->backoff, 0);
    h->backoff *= 2;
    if (h->backoff > h->o.backoff_max_ms)
        h->backoff = h->o.backoff_max_ms;
}

static void on_pipe_closed(uv_handle_t *hd)
{
    cs_headsub *h = hd->data;
    h->pipe_open = false;
    if (h->state == HS_CLOSING)
        hs_maybe_free(h);
    else
        hs_schedule(h);
}

/* Drops the connection (logging why) and schedules the next attempt. */
static void hs_drop(cs_headsub *h, const char *why)
{
    bool was_live = h->state == HS_LIVE;
    h->st.failures++;
    h->st.live = false;
    CS_WARN(HLOG, "%s: newHeads subscription on %s %s: %s; polling, subscribing again in %.1fs",
            h->name, h->path, was_live ? "lost" : "failed", why, (double)h->backoff / 1000.0);
    uv_timer_stop(&h->timer);
    /* Idle: reads and a pending connect are ignored; the next attempt is
     * scheduled once the pipe is closed. */
    h->state = HS_IDLE;
    h->rbuf.len = 0;
    h->sub_id[0] = 0;
    if (h->pipe_open) {
        if (!uv_is_closing((uv_handle_t *)&h->pipe))
            uv_close((uv_handle_t *)&h->pipe, on_pipe_closed);
    } else {
        hs_schedule(h);
    }
    if (was_live && h->o.on_state)
        h->o.on_state(false, h->o.arg);
}

static void hs_timeout(cs_headsub *h)
{
    char why[64];
    snprintf(why, sizeof why, "no answer within %.1fs", (double)h->o.timeout_ms / 1000.0);
    hs_drop(h, why);
}

/* ---- messages ------------------------------------------------------------------- */

/* Handles one JSON text from the node. Returns false when it dropped the
 * connection. */
static bool hs_message(cs_headsub *h, const char *p, size_t n)
{
    cs_jsonr *j = &h->json;
    if (cs_jsonr_parse(j, p, n) || cs_jsonr_at(j, 0)->type != CS_JT_OBJ) {
        char why[160];
        snprintf(why, sizeof why, "malformed message: %s", j->err[0] ? j->err : "not an object");
        hs_drop(h, why);
        return false;
    }
    uint32_t id = cs_jsonr_get(j, 0, "id");
    uint64_t idv;
    if (id && cs_jsonr_u64(j, id, &idv) == 0 && idv == SUB_ID && h->state == HS_SUBSCRIBING) {
        uint32_t res = cs_jsonr_get(j, 0, "result");
        const cs_jtok *t = res ? cs_jsonr_at(j, res) : NULL;
        if (!t || t->type != CS_JT_STR || t->len == 0 || t->len > SUB_ID_MAX ||
            (t->flags & (CS_JF_ESC | CS_JF_HIGH))) {
            char why[300];
            uint32_t err = cs_jsonr_get(j, 0, "error");
            uint32_t msg = err ? cs_jsonr_get(j, err, "message") : 0;
            uint32_t code = err ? cs_jsonr_get(j, err, "code") : 0;
            const cs_jtok *mt = msg ? cs_jsonr_at(j, msg) : NULL;
            const cs_jtok *ct = code ? cs_jsonr_at(j, code) : NULL;
            int mlen = mt && mt->type == CS_JT_STR ? (int)(mt->len > 200 ? 200 : mt->len) : 0;
            int clen = ct && ct->type == CS_JT_NUM ? (int)(ct->len > 20 ? 20 : ct->len) : 0;
            if (mlen || clen)
                snprintf(why, sizeof why, "the node refused eth_subscribe: %.*s (code %.*s)", mlen,
                         mlen ? cs_jsonr_ptr(j, msg) : "", clen ? clen : 1,
                         clen ? cs_jsonr_ptr(j, code) : "?");
            else
                snprintf(why, sizeof why, "eth_subscribe answered without a subscription id");
            hs_drop(h, why);
            return false;
        }
        memcpy(h->sub_id, cs_jsonr_ptr(j, res), t->len);
        h->sub_id[t->len] = 0;
        h->state = HS_LIVE;
        h->st.live = true;
        h->st.subscribes++;
        h->backoff = h->o.backoff_ms;
        uv_timer_stop(&h->timer);
        CS_INFO(HLOG, "%s: subscribed to newHeads on %s (%s)", h->name, h->path, h->sub_id);
        if (h->o.on_state)
            h->o.on_state(true, h->o.arg);
        return h->state == HS_LIVE;
    }
    uint32_t m = cs_jsonr_get(j, 0, "method");
    if (h->state != HS_LIVE || !m || !cs_jsonr_eq(j, m, "eth_subscription"))
        return true; /* something else (another id, a late answer): ignored */
    uint32_t params = cs_jsonr_get(j, 0, "params");
    if (!params || cs_jsonr_at(j, params)->type != CS_JT_OBJ)
        return true;
    uint32_t sub = cs_jsonr_get(j, params, "subscription");
    if (!sub || !cs_jsonr_eq(j, sub, h->sub_id))
        return true;
    uint32_t res = cs_jsonr_get(j, params, "result");
    uint32_t num =
        res && cs_jsonr_at(j, res)->type == CS_JT_OBJ ? cs_jsonr_get(j, res, "number") : 0;
    uint64_t number = 0;
    if (!num || cs_jsonr_u64(j, num, &number))
        number = 0;
    h->st.notifications++;
    if (h->o.on_head)
        h->o.on_head(number, h->o.arg);
    return h->state == HS_LIVE;
}

static void hs_alloc(uv_handle_t *hd, size_t sug, uv_buf_t *b)
{
    cs_headsub *h = hd->data;
    (void)sug;
    /* Room up to one byte past the bound, so a message over it is seen. */
    size_t want = h->o.max_message + 1 - h->rbuf.len;
    if (want > 65536)
        want = 65536;
    if (h->rbuf.len > h->o.max_message || cs_buf_reserve(&h->rbuf, want)) {
        b->base = NULL;
        b->len = 0;
        return;
    }
    b->base = (char *)h->rbuf.data + h->rbuf.len;
    b->len = want;
}

/* Takes the bytes just read into rbuf: every complete message, then the
 * bound on what remains. */
static void hs_take(cs_headsub *h)
{
    size_t skip, len;
    while ((len = cs_jsonr_frame((const char *)h->rbuf.data, h->rbuf.len, &skip)) > 0) {
        if (len - skip > h->o.max_message)
            break;
        if (!hs_message(h, (const char *)h->rbuf.data + skip, len - skip))
            return;
        cs_buf_consume(&h->rbuf, len);
    }
    if (h->rbuf.len > h->o.max_message) {
        char why[96];
        snprintf(why, sizeof why, "a message larger than %zu bytes", h->o.max_message);
        hs_drop(h, why);
    }
}

static void hs_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    cs_headsub *h = s->data;
    if (h->state != HS_SUBSCRIBING && h->state != HS_LIVE)
        return;
    if (nread < 0) {
        hs_drop(h, nread == UV_EOF ? "the node closed the connection" : uv_strerror((int)nread));
        return;
    }
    if (nread == 0 && !b->base) {
        char why[96];
        snprintf(why, sizeof why, "a message larger than %zu bytes", h->o.max_message);
        hs_drop(h, why);
        return;
    }
    h->rbuf.len += (size_t)nread;
    hs_take(h);
}

/* ---- connecting ------------------------------------------------------------------ */

static void on_written(uv_write_t *w, int status)
{
    cs_headsub *h = w->data;
    if (status < 0 && status != UV_ECANCELED && h->state == HS_SUBSCRIBING)
        hs_drop(h, uv_strerror(status));
}

static void on_connect(uv_connect_t *req, int status)
{
    cs_headsub *h = req->data;
    if (h->state != HS_CONNECTING || !h->pipe_open || uv_is_closing((uv_handle_t *)&h->pipe))
        return;
    if (status < 0) {
        char why[128];
        snprintf(why, sizeof why, "cannot connect: %s", uv_strerror(status));
        hs_drop(h, why);
        return;
    }
    h->state = HS_SUBSCRIBING;
    h->rbuf.len = 0;
    uv_read_start((uv_stream_t *)&h->pipe, hs_alloc, hs_read);
    uv_buf_t b = uv_buf_init((char *)SUB_REQUEST, (unsigned)strlen(SUB_REQUEST));
    h->write_req.data = h;
    int rc = uv_write(&h->write_req, (uv_stream_t *)&h->pipe, &b, 1, on_written);
    if (rc)
        hs_drop(h, uv_strerror(rc));
}

static void hs_connect(cs_headsub *h)
{
    if (uv_pipe_init(h->loop, &h->pipe, 0)) {
        h->state = HS_IDLE;
        hs_schedule(h);
        return;
    }
    h->pipe.data = h;
    h->pipe_open = true;
    h->state = HS_CONNECTING;
    h->connect_req.data = h;
    uv_timer_start(&h->timer, on_retry_timer, h->o.timeout_ms, 0);
    uv_pipe_connect(&h->connect_req, &h->pipe, h->path, on_connect);
}

/* ---- public ---------------------------------------------------------------------- */

int cs_headsub_new(uv_loop_t *loop, const cs_headsub_opts *o, cs_headsub **out)
{
    cs_ignore_sigpipe();
    if (!o->path || !o->on_head)
        return CS_EINVAL;
    cs_headsub *h = calloc(1, sizeof *h);
    if (!h)
        return CS_ENOMEM;
    h->loop = loop;
    h->o = *o;
    if (!h->o.timeout_ms)
        h->o.timeout_ms = 10000;
    if (!h->o.backoff_ms)
        h->o.backoff_ms = 1000;
    if (!h->o.backoff_max_ms)
        h->o.backoff_max_ms = 60000;
    if (h->o.backoff_max_ms < h->o.backoff_ms)
        h->o.backoff_max_ms = h->o.backoff_ms;
    if (!h->o.max_message)
        h->o.max_message = CS_HEADSUB_MAX_MESSAGE;
    h->backoff = h->o.backoff_ms;
    h->path = strdup(o->path);
    h->name = strdup(o->name ? o->name : "evm");
    if (!h->path || !h->name) {
        free(h->path);
        free(h->name);
        free(h);
        return CS_ENOMEM;
    }
    cs_buf_init(&h->rbuf, h->o.max_message + 1);
    cs_jsonr_init(&h->json, MAX_TOKENS, MAX_DEPTH);
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    h->timer_open = true;
    h->state = HS_IDLE;
    *out = h;
    return 0;
}

void cs_headsub_start(cs_headsub *h)
{
    if (h->state == HS_IDLE && !h->pipe_open)
        hs_connect(h);
}

static void on_timer_closed(uv_handle_t *hd)
{
    cs_headsub *h = hd->data;
    h->timer_open = false;
    hs_maybe_free(h);
}

void cs_headsub_close(cs_headsub *h, void (*done)(void *), void *arg)
{
    if (h->state == HS_CLOSING)
        return;
    h->state = HS_CLOSING;
    h->st.live = false;
    h->done = done;
    h->done_arg = arg;
    uv_timer_stop(&h->timer);
    uv_close((uv_handle_t *)&h->timer, on_timer_closed);
    if (h->pipe_open && !uv_is_closing((uv_handle_t *)&h->pipe))
        uv_close((uv_handle_t *)&h->pipe, on_pipe_closed);
}

void cs_headsub_stats_get(const cs_headsub *h, cs_headsub_stats *st)
{
    *st = h->st;
}
