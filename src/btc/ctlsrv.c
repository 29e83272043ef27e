/* The control socket's server side: clients, frames, ordered replies. */
#include "btc/ctlsrv.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chainscope/control.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "net/sigpipe.h"

typedef struct ctl_client {
    uv_pipe_t pipe;
    cs_ctlsrv *srv;
    struct ctl_client *next, **prev;
    cs_buf in;
    unsigned num;
    bool closing;
    bool reading;
    bool processing;      /* inside process(): a reply made there does not recurse */
    cs_ctlsrv_call *call; /* the request in flight, or NULL */
} ctl_client;

struct cs_ctlsrv_call {
    ctl_client *cl; /* NULL once the client has gone */
    cs_ctlsrv *srv;
    cs_control_req req;
    uint8_t body[];
};

struct cs_ctlsrv {
    uv_loop_t *loop;
    uv_pipe_t server;
    char *path;
    const char *log_name;
    cs_ctlsrv_exec_fn exec;
    void *arg;
    size_t max_clients, nclients;
    unsigned next_client;
    ctl_client *clients;
    size_t open_handles; /* the server and its clients */
    size_t calls;        /* in flight */
    bool closing;
};

int cs_control_parse(const uint8_t *p, size_t n, cs_control_req *req, size_t *used, char *err,
                     size_t errlen)
{
    if (n < 4)
        return CS_ETRUNC;
    uint32_t len =
        (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    if (len < 5) {
        snprintf(err, errlen, "frame of %u bytes is shorter than op and request id", len);
        return CS_EPROTO;
    }
    if (len > CS_CTL_MAX_FRAME) {
        snprintf(err, errlen, "frame of %u bytes over the limit of %u", len, CS_CTL_MAX_FRAME);
        return CS_ELIMIT;
    }
    if (n < 4 + (size_t)len)
        return CS_ETRUNC;
    req->op = p[4];
    req->req_id =
        (uint32_t)p[5] | (uint32_t)p[6] << 8 | (uint32_t)p[7] << 16 | (uint32_t)p[8] << 24;
    req->body = p + 9;
    req->body_len = len - 5;
    *used = 4 + (size_t)len;
    return 0;
}

int cs_control_peers_page(const uint8_t *b, size_t len, uint64_t *after, uint32_t *limit)
{
    if (len != 12)
        return CS_EINVAL;
    uint64_t a = 0;
    for (int i = 7; i >= 0; i--)
        a = a << 8 | b[i];
    uint32_t l =
        (uint32_t)b[8] | (uint32_t)b[9] << 8 | (uint32_t)b[10] << 16 | (uint32_t)b[11] << 24;
    if (l < 1 || l > CS_CTL_PEERS_PAGE_MAX)
        return CS_EINVAL;
    *after = a;
    *limit = l;
    return 0;
}

const char *cs_control_op_name(uint8_t op)
{
    switch (op) {
    case CS_CTL_CONNECT:
        return "connect";
    case CS_CTL_DISCONNECT:
        return "disconnect";
    case CS_CTL_REGISTER:
        return "register";
    case CS_CTL_SEND:
        return "send";
    case CS_CTL_PEERS:
        return "peers";
    default:
        return "unknown";
    }
}

static void maybe_free(cs_ctlsrv *s)
{
    if (s->closing && s->open_handles == 0 && s->calls == 0) {
        free(s->path);
        free(s);
    }
}

static void on_client_closed(uv_handle_t *h)
{
    ctl_client *cl = h->data;
    cs_ctlsrv *s = cl->srv;
    cs_buf_free(&cl->in);
    free(cl);
    s->open_handles--;
    maybe_free(s);
}

static void client_close(ctl_client *cl, const char *why)
{
    if (cl->closing)
        return;
    cl->closing = true;
    if (why)
        CS_INFO(cl->srv->log_name, "client %u closed: %s", cl->num, why);
    if (cl->call)
        cl->call->cl = NULL; /* its reply goes nowhere */
    cl->call = NULL;
    *cl->prev = cl->next;
    if (cl->next)
        cl->next->prev = cl->prev;
    cl->srv->nclients--;
    uv_close((uv_handle_t *)&cl->pipe, on_client_closed);
}

typedef struct wreq {
    uv_write_t req;
    ctl_client *cl;
    uint8_t data[];
} wreq;

static void on_write(uv_write_t *req, int status)
{
    wreq *r = (wreq *)req;
    ctl_client *cl = r->cl;
    free(r);
    if (status < 0)
        client_close(cl, uv_strerror(status));
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void send_result(ctl_client *cl, uint32_t req_id, int status, const uint8_t *res,
                        size_t vlen)
{
    size_t len = 1 + 4 + 4 + vlen;
    wreq *r = malloc(sizeof *r + 4 + len);
    if (!r) {
        client_close(cl, "out of memory");
        return;
    }
    r->cl = cl;
    put32(r->data, (uint32_t)len);
    r->data[4] = CS_CTL_RESULT;
    put32(r->data + 5, req_id);
    put32(r->data + 9, (uint32_t)status);
    memcpy(r->data + 13, res, vlen);
    uv_buf_t b = uv_buf_init((char *)r->data, (unsigned)(4 + len));
    if (uv_write(&r->req, (uv_stream_t *)&cl->pipe, &b, 1, on_write) != 0) {
        free(r);
        client_close(cl, "write failed");
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

/* Runs the buffered requests of a client, one at a time: stops at one that
 * is still being answered, and reads again once the buffer has room. */
static void process(ctl_client *cl)
{
    cs_ctlsrv *s = cl->srv;
    size_t off = 0;
    cl->processing = true;
    while (!cl->closing && !cl->call) {
        cs_control_req r;
        size_t used;
        char err[128];
        int rc = cs_control_parse(cl->in.data + off, cl->in.len - off, &r, &used, err, sizeof err);
        if (rc == CS_ETRUNC)
            break;
        if (rc) {
            client_close(cl, err);
            return;
        }
        cs_ctlsrv_call *call = malloc(sizeof *call + r.body_len);
        if (!call) {
            client_close(cl, "out of memory");
            return;
        }
        call->cl = cl;
        call->srv = s;
        memcpy(call->body, r.body, r.body_len);
        call->req = r;
        call->req.body = call->body;
        off += used;
        cl->call = call;
        s->calls++;
        s->exec(s->arg, call, &call->req); /* may reply before it returns */
    }
    cl->processing = false;
    if (cl->closing)
        return;
    cs_buf_consume(&cl->in, off);
    /* A full buffer waits for the call in flight; reading resumes after. */
    bool room = cl->in.len < cl->in.max;
    if (room && !cl->reading) {
        if (uv_read_start((uv_stream_t *)&cl->pipe, on_alloc, on_read) == 0)
            cl->reading = true;
    } else if (!room && cl->reading) {
        uv_read_stop((uv_stream_t *)&cl->pipe);
        cl->reading = false;
    }
}

void cs_ctlsrv_reply(cs_ctlsrv_call *call, int status, const uint8_t *res, size_t len)
{
    ctl_client *cl = call->cl;
    cs_ctlsrv *s = call->srv;
    uint32_t req_id = call->req.req_id;
    free(call);
    s->calls--;
    if (cl && !cl->closing) {
        cl->call = NULL;
        send_result(cl, req_id, status, res, len);
        if (!cl->processing && !cl->closing)
            process(cl); /* the requests that waited behind this one */
    }
    maybe_free(s);
}

unsigned cs_ctlsrv_call_client(const cs_ctlsrv_call *call)
{
    return call->cl ? call->cl->num : 0;
}

const cs_control_req *cs_ctlsrv_call_req(const cs_ctlsrv_call *call)
{
    return &call->req;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    ctl_client *cl = h->data;
    (void)suggested;
    if (cs_buf_reserve(&cl->in, 65536) != 0 && cs_buf_reserve(&cl->in, 1) != 0) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init((char *)cl->in.data + cl->in.len, (unsigned)(cl->in.cap - cl->in.len));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    ctl_client *cl = st->data;
    (void)buf;
    if (cl->closing)
        return;
    if (nread < 0) {
        client_close(cl, nread == UV_EOF ? NULL : uv_strerror((int)nread));
        return;
    }
    if (nread == 0) {
        if (cl->in.cap - cl->in.len == 0 && !cl->call)
            client_close(cl, "request too large");
        return;
    }
    cl->in.len += (size_t)nread;
    if (!cl->call)
        process(cl);
}

static void on_connection(uv_stream_t *server, int status)
{
    cs_ctlsrv *s = server->data;
    if (status < 0 || s->closing)
        return;
    ctl_client *cl = calloc(1, sizeof *cl);
    if (!cl)
        return;
    uv_pipe_init(s->loop, &cl->pipe, 0);
    cl->pipe.data = cl;
    cl->srv = s;
    cl->num = ++s->next_client;
    cs_buf_init(&cl->in, 4 + CS_CTL_MAX_FRAME);
    s->open_handles++;
    cl->next = s->clients;
    if (cl->next)
        cl->next->prev = &cl->next;
    cl->prev = &s->clients;
    s->clients = cl;
    s->nclients++;
    if (uv_accept(server, (uv_stream_t *)&cl->pipe) != 0) {
        client_close(cl, "accept failed");
        return;
    }
    if (s->nclients > s->max_clients) {
        client_close(cl, "too many control clients");
        return;
    }
    if (uv_read_start((uv_stream_t *)&cl->pipe, on_alloc, on_read) == 0)
        cl->reading = true;
}

static void on_server_closed(uv_handle_t *h)
{
    cs_ctlsrv *s = h->data;
    s->open_handles--;
    maybe_free(s);
}

int cs_ctlsrv_new(uv_loop_t *loop, const cs_ctlsrv_opts *opts, cs_ctlsrv **out)
{
    if (!opts || !opts->path || !opts->exec)
        return CS_EINVAL;
    cs_ignore_sigpipe(); /* a client that goes away mid-reply */
    cs_ctlsrv *s = calloc(1, sizeof *s);
    if (!s)
        return CS_ENOMEM;
    s->loop = loop;
    s->exec = opts->exec;
    s->arg = opts->arg;
    s->log_name = opts->log_name ? opts->log_name : "control";
    s->max_clients = opts->max_clients ? opts->max_clients : 64;
    if (!(s->path = strdup(opts->path))) {
        free(s);
        return CS_ENOMEM;
    }
    uv_pipe_init(loop, &s->server, 0);
    s->server.data = s;
    s->open_handles = 1;
    unlink(opts->path);
    int rc = uv_pipe_bind(&s->server, opts->path);
    if (rc == 0)
        rc = chmod(opts->path, 0600) == 0 ? 0 : CS_EIO;
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->server, 64, on_connection);
    if (rc) {
        s->closing = true;
        uv_close((uv_handle_t *)&s->server, on_server_closed);
        return rc;
    }
    *out = s;
    return 0;
}

void cs_ctlsrv_close(cs_ctlsrv *s)
{
    if (s->closing)
        return;
    s->closing = true;
    while (s->clients)
        client_close(s->clients, NULL);
    unlink(s->path);
    uv_close((uv_handle_t *)&s->server, on_server_closed);
}

void cs_control_publish_result(cs_publisher *pub, unsigned client, uint32_t req_id, int status,
                               const uint8_t *res, size_t len)
{
    if (!pub->bus)
        return;
    cs_vw *w = cs_publisher_begin(pub);
    cs_vw_kv_u64(w, "client", client);
    cs_vw_kv_u64(w, "request", req_id);
    cs_vw_kv_i64(w, "status", status);
    cs_vw_kv_bool(w, "ok", status == 0);
    cs_vw_key(w, "result");
    cs_vw_raw(w, res, len);
    char key[32];
    snprintf(key, sizeof key, "ctl %u", client);
    cs_publisher_emit(pub, "ctl.result", NULL, key, NULL);
}
