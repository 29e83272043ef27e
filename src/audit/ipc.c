/* cs_audit_ipc_post: one JSON-RPC exchange with a node over its IPC socket
 * (see http.h). Each request has its own connection, a timer for its
 * deadline and a bounded read buffer; the callback runs exactly once. */
#include "audit/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "net/jsonr.h"
#include "net/sigpipe.h"

typedef struct ipc_req {
    uv_pipe_t pipe;
    uv_timer_t timer;
    uv_connect_t conn;
    uv_write_t wr;
    char *body;
    size_t len;
    cs_buf in;
    cs_audit_http_cb cb;
    void *arg;
    char path[256];
    char errmsg[320];
    int open; /* handles not yet closed */
    bool done;
} ipc_req;

static void on_closed(uv_handle_t *h)
{
    ipc_req *r = h->data;
    if (--r->open == 0) {
        free(r->body);
        cs_buf_free(&r->in);
        free(r);
    }
}

/* Answers once (an error when err != 0, else the JSON text at p) and closes. */
static void finish(ipc_req *r, int err, const char *why, const char *p, size_t n)
{
    if (r->done)
        return;
    r->done = true;
    cs_audit_http_resp resp = {.err = err, .body = ""};
    if (err) {
        snprintf(r->errmsg, sizeof r->errmsg, "%s: %s", r->path, why);
        resp.errmsg = r->errmsg;
    } else {
        resp.status = 200;
        resp.body = p;
        resp.len = n;
    }
    r->cb(r->arg, &resp);
    uv_close((uv_handle_t *)&r->pipe, on_closed);
    uv_close((uv_handle_t *)&r->timer, on_closed);
}

static void on_timeout(uv_timer_t *t)
{
    finish(t->data, CS_ETIMEDOUT, "no answer in time", NULL, 0);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)hint;
    ipc_req *r = h->data;
    size_t want = 64 * 1024;
    if (cs_buf_reserve(&r->in, want) != 0) {
        b->base = NULL;
        b->len = 0;
        return;
    }
    b->base = (char *)r->in.data + r->in.len;
    b->len = want;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    ipc_req *r = s->data;
    if (r->done)
        return;
    if (n == UV_ENOBUFS) { /* on_alloc could not grow the buffer */
        finish(r, CS_ELIMIT, "answer larger than the limit", NULL, 0);
        return;
    }
    if (n < 0) {
        finish(r, CS_EIO,
               n == UV_EOF ? "the node closed the connection before answering"
                           : uv_strerror((int)n),
               NULL, 0);
        return;
    }
    r->in.len += (size_t)n;
    size_t skip, len = cs_jsonr_frame((const char *)r->in.data, r->in.len, &skip);
    if (len) {
        if (cs_buf_reserve(&r->in, 1) != 0) { /* room for the NUL the contract promises */
            finish(r, CS_ELIMIT, "answer larger than the limit", NULL, 0);
            return;
        }
        char *text = (char *)r->in.data + skip;
        text[len - skip] = 0;
        finish(r, 0, NULL, text, len - skip);
    } else if (r->in.len > CS_AUDIT_HTTP_MAX_BODY) {
        finish(r, CS_ELIMIT, "answer larger than the limit", NULL, 0);
    }
}

static void on_write(uv_write_t *w, int status)
{
    ipc_req *r = w->data;
    if (status && status != UV_ECANCELED)
        finish(r, CS_EIO, uv_strerror(status), NULL, 0);
}

static void on_connect(uv_connect_t *c, int status)
{
    ipc_req *r = c->data;
    if (r->done)
        return;
    if (status) {
        finish(r, CS_EIO, uv_strerror(status), NULL, 0);
        return;
    }
    uv_buf_t b = uv_buf_init(r->body, (unsigned)r->len);
    r->wr.data = r;
    int rc = uv_write(&r->wr, (uv_stream_t *)&r->pipe, &b, 1, on_write);
    if (!rc)
        rc = uv_read_start((uv_stream_t *)&r->pipe, on_alloc, on_read);
    if (rc)
        finish(r, CS_EIO, uv_strerror(rc), NULL, 0);
}

int cs_audit_ipc_post(uv_loop_t *loop, const char *path, const cs_audit_http_req *q,
                      cs_audit_http_cb cb, void *arg)
{
    if (!path[0] || strlen(path) >= sizeof((ipc_req *)0)->path)
        return CS_EINVAL;
    cs_ignore_sigpipe(); /* a node that goes away mid-request */
    ipc_req *r = calloc(1, sizeof *r);
    if (!r || !(r->body = malloc(q->len ? q->len : 1))) {
        free(r);
        return CS_ENOMEM;
    }
    memcpy(r->body, q->body, q->len);
    r->len = q->len;
    r->cb = cb;
    r->arg = arg;
    snprintf(r->path, sizeof r->path, "%s", path);
    cs_buf_init(&r->in, CS_AUDIT_HTTP_MAX_BODY + 128 * 1024);
    uv_pipe_init(loop, &r->pipe, 0);
    uv_timer_init(loop, &r->timer);
    r->pipe.data = r->timer.data = r->conn.data = r;
    r->open = 2;
    uv_timer_start(&r->timer, on_timeout, q->timeout_ms ? q->timeout_ms : 5000, 0);
    uv_pipe_connect(&r->conn, &r->pipe, r->path, on_connect);
    return 0;
}
