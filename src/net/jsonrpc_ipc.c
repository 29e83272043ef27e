/* The IPC transport of the JSON-RPC client: one connection per endpoint to
 * a node's unix socket (geth.ipc), JSON texts written one after another and
 * read back as a stream, answers matched to calls by id. Timeouts are
 * enforced by rpc.c's sweep. */
#include "core/error.h"
#include "core/log.h"
#include "net/jsonrpc_int.h"
#include "net/sigpipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cs_rpc_ipc_unlink(call *c)
{
    if (!c->on_ipc)
        return;
    endpoint *e = c->ep;
    if (c->ipc_prev)
        c->ipc_prev->ipc_next = c->ipc_next;
    else
        e->ipc_pending = c->ipc_next;
    if (c->ipc_next)
        c->ipc_next->ipc_prev = c->ipc_prev;
    c->ipc_prev = c->ipc_next = NULL;
    c->on_ipc = false;
}

/* ---- IPC transport ---------------------------------------------------------- */

static void ipc_fail_all(endpoint *e, int error, const char *msg)
{
    while (e->ipc_pending) {
        call *c = e->ipc_pending;
        cs_rpc_ipc_unlink(c);
        cs_rpc_fail_attempt(c, error, 0, msg);
    }
}

static void ipc_connect(endpoint *e);

static void on_pipe_closed(uv_handle_t *h)
{
    endpoint *e = h->data;
    cs_rpc *r = e->rpc;
    e->pipe_open = false;
    r->open_handles--;
    if (!r->closing && e->ipc_pending)
        ipc_connect(e); /* calls that came while the old pipe was closing */
    cs_rpc_maybe_free(r);
}

void cs_rpc_ipc_close(endpoint *e)
{
    if (e->pipe_open && !uv_is_closing((uv_handle_t *)&e->pipe))
        uv_close((uv_handle_t *)&e->pipe, on_pipe_closed);
    e->connected = e->connecting = false;
    e->rbuf.len = 0;
}

static void ipc_drop(endpoint *e, const char *why)
{
    char msg[200];
    snprintf(msg, sizeof msg, "%s: %s", e->url, why);
    cs_rpc_ipc_close(e);
    ipc_fail_all(e, CS_EIO, msg);
}

static void ipc_message(endpoint *e, const char *p, size_t n)
{
    /* Find the call by the (first) id. */
    cs_jsonr j;
    cs_jsonr_init(&j, 0, 0);
    uint64_t id = 0;
    bool have = false;
    if (cs_jsonr_parse(&j, p, n) == 0) {
        uint32_t first = cs_jsonr_at(&j, 0)->type == CS_JT_ARR ? cs_jsonr_first(&j, 0) : 0;
        uint32_t idt = cs_jsonr_get(&j, first, "id");
        have = idt && cs_jsonr_u64(&j, idt, &id) == 0;
    }
    cs_jsonr_free(&j);
    if (!have) {
        CS_WARN("rpc", "%s: %s sent a message without a known id; ignored", e->rpc->name, e->url);
        return;
    }
    for (call *c = e->ipc_pending; c; c = c->ipc_next)
        if (id >= c->id_base && id - c->id_base < c->n) {
            cs_rpc_ipc_unlink(c);
            cs_rpc_got_body(c, p, n);
            return;
        }
    /* A late answer to a call that timed out: nothing to do. */
}

static void ipc_alloc(uv_handle_t *h, size_t sug, uv_buf_t *b)
{
    endpoint *e = h->data;
    (void)sug;
    if (cs_buf_reserve(&e->rbuf, 65536)) {
        b->base = NULL;
        b->len = 0;
        return;
    }
    b->base = (char *)e->rbuf.data + e->rbuf.len;
    b->len = e->rbuf.cap - e->rbuf.len;
}

static void ipc_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    endpoint *e = s->data;
    (void)b;
    if (nread < 0) {
        ipc_drop(e, nread == UV_EOF ? "connection closed by the node" : uv_strerror((int)nread));
        return;
    }
    if (nread == 0 && !b->base) {
        ipc_drop(e, "message larger than the bound");
        return;
    }
    e->rbuf.len += (size_t)nread;
    size_t skip, len;
    while ((len = cs_jsonr_frame((const char *)e->rbuf.data, e->rbuf.len, &skip)) > 0) {
        ipc_message(e, (const char *)e->rbuf.data + skip, len - skip);
        if (!e->connected)
            return; /* dropped meanwhile */
        cs_buf_consume(&e->rbuf, len);
    }
}

typedef struct ipc_write {
    uv_write_t req;
    char *data;
} ipc_write;

static void on_ipc_written(uv_write_t *w, int status)
{
    ipc_write *iw = (ipc_write *)w;
    endpoint *e = w->handle->data;
    free(iw->data);
    free(iw);
    if (status < 0 && status != UV_ECANCELED && e->connected)
        ipc_drop(e, uv_strerror(status));
}

static void ipc_write_call(endpoint *e, call *c)
{
    ipc_write *iw = malloc(sizeof *iw);
    char *d = iw ? malloc(c->body_len + 1) : NULL;
    if (!d) {
        free(iw);
        cs_rpc_ipc_unlink(c);
        cs_rpc_fail_attempt(c, CS_ENOMEM, 0, "out of memory");
        return;
    }
    memcpy(d, c->body, c->body_len);
    d[c->body_len] = '\n';
    iw->data = d;
    uv_buf_t b = uv_buf_init(d, (unsigned)c->body_len + 1);
    int rc = uv_write(&iw->req, (uv_stream_t *)&e->pipe, &b, 1, on_ipc_written);
    if (rc) {
        free(d);
        free(iw);
        ipc_drop(e, uv_strerror(rc));
    }
}

static void on_ipc_connect(uv_connect_t *req, int status)
{
    endpoint *e = req->data;
    e->connecting = false;
    if (status < 0) {
        ipc_drop(e, uv_strerror(status));
        return;
    }
    e->connected = true;
    uv_read_start((uv_stream_t *)&e->pipe, ipc_alloc, ipc_read);
    for (call *c = e->ipc_pending; c && e->connected;) {
        call *nx = c->ipc_next;
        ipc_write_call(e, c);
        c = nx;
    }
}

void cs_rpc_ipc_send(call *c)
{
    cs_ignore_sigpipe(); /* a node that goes away mid-request */
    endpoint *e = c->ep;
    cs_rpc *r = c->rpc;
    c->on_ipc = true;
    c->ipc_prev = NULL;
    c->ipc_next = e->ipc_pending;
    if (e->ipc_pending)
        e->ipc_pending->ipc_prev = c;
    e->ipc_pending = c;
    c->due = uv_now(r->loop) + c->timeout_ms;
    cs_rpc_arm_sweep(r);
    if (e->connected) {
        ipc_write_call(e, c);
        return;
    }
    if (e->connecting || e->pipe_open)
        return; /* sent on connect, or on the connect after the old pipe closed */
    ipc_connect(e);
}

static void ipc_connect(endpoint *e)
{
    cs_rpc *r = e->rpc;
    if (uv_pipe_init(r->loop, &e->pipe, 0)) {
        ipc_fail_all(e, CS_EIO, "cannot create a pipe");
        return;
    }
    e->pipe.data = e;
    e->pipe_open = true;
    r->open_handles++;
    e->connecting = true;
    e->connect_req.data = e;
    uv_pipe_connect(&e->connect_req, &e->pipe, e->path, on_ipc_connect);
}
