/* The control socket server (docs/control-protocol.md). */
#include "btc/control.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chainscope/control.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "net/sigpipe.h"

typedef struct ctl_client {
    uv_pipe_t pipe;
    cs_control *ctl;
    struct ctl_client *next, **prev;
    cs_buf in;
    unsigned num;
    bool closing;
} ctl_client;

typedef struct reg_msg {
    uint8_t *data;
    size_t len;
} reg_msg;

struct cs_control {
    uv_loop_t *loop;
    cs_connector *conn;
    uv_pipe_t server;
    char *path;
    size_t max_clients, nclients;
    unsigned next_client;
    ctl_client *clients;
    reg_msg *msgs;
    size_t nmsgs, max_msgs;
    size_t open_handles;
    bool closing;
    cs_vw w;
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

static void maybe_free(cs_control *ctl)
{
    if (ctl->closing && ctl->open_handles == 0) {
        for (size_t i = 0; i < ctl->nmsgs; i++)
            free(ctl->msgs[i].data);
        free(ctl->msgs);
        cs_vw_free(&ctl->w);
        free(ctl->path);
        free(ctl);
    }
}

static void on_client_closed(uv_handle_t *h)
{
    ctl_client *cl = h->data;
    cs_control *ctl = cl->ctl;
    cs_buf_free(&cl->in);
    free(cl);
    ctl->open_handles--;
    maybe_free(ctl);
}

static void client_close(ctl_client *cl, const char *why)
{
    if (cl->closing)
        return;
    cl->closing = true;
    if (why)
        CS_INFO("control", "client %u closed: %s", cl->num, why);
    *cl->prev = cl->next;
    if (cl->next)
        cl->next->prev = cl->prev;
    cl->ctl->nclients--;
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

/* Sends a RESULT frame with the object in ctl->w. */
static void reply(ctl_client *cl, uint32_t req_id, int status)
{
    cs_control *ctl = cl->ctl;
    size_t vlen = ctl->w.buf.len;
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
    memcpy(r->data + 13, ctl->w.buf.data, vlen);
    uv_buf_t b = uv_buf_init((char *)r->data, (unsigned)(4 + len));
    if (uv_write(&r->req, (uv_stream_t *)&cl->pipe, &b, 1, on_write) != 0) {
        free(r);
        client_close(cl, "write failed");
    }
}

static const char *op_name(uint8_t op)
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

static uint64_t ld64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int fail(cs_vw *w, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(cs_vw *w, int code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cs_vw_kv_str(w, "error", msg);
    return code;
}

static void write_peers(cs_control *ctl, cs_vw *w)
{
    size_t n = cs_connector_count(ctl->conn);
    cs_peer_info *info = n ? malloc(n * sizeof *info) : NULL;
    if (n && !info) {
        fail(w, CS_ENOMEM, "out of memory");
        return;
    }
    n = cs_connector_peers(ctl->conn, info, n);
    cs_vw_kv_u64(w, "count", n);
    cs_vw_key(w, "peers");
    cs_vw_array_begin(w);
    for (size_t i = 0; i < n; i++) {
        cs_peer_info *p = &info[i];
        cs_vw_object_begin(w);
        cs_vw_kv_u64(w, "id", p->id);
        cs_vw_kv_str(w, "direction", p->dir == CS_PEER_IN ? "in" : "out");
        cs_vw_kv_str(w, "addr", p->addr);
        cs_vw_kv_u64(w, "port", p->port);
        cs_vw_kv_str(w, "local_addr", p->local_addr);
        cs_vw_kv_u64(w, "local_port", p->local_port);
        cs_vw_kv_bool(w, "ready", p->ready);
        cs_vw_kv_i64(w, "version", p->version);
        cs_vw_kv_u64(w, "services", p->services);
        cs_vw_kv_str(w, "user_agent", p->user_agent);
        cs_vw_kv_i64(w, "start_height", p->start_height);
        cs_vw_kv_double(w, "rtt_ms", p->rtt_ms);
        cs_vw_kv_u64(w, "bytes_in", p->bytes_in);
        cs_vw_kv_u64(w, "bytes_out", p->bytes_out);
        cs_vw_kv_u64(w, "msgs_in", p->msgs_in);
        cs_vw_kv_u64(w, "msgs_out", p->msgs_out);
        cs_vw_kv_i64(w, "connected_ms", p->connected_ms);
        cs_vw_object_end(w);
    }
    cs_vw_array_end(w);
    free(info);
}

/* Runs one request; the result object goes into ctl->w. */
static int execute(cs_control *ctl, const cs_control_req *r)
{
    cs_vw *w = &ctl->w;
    const uint8_t *b = r->body;
    size_t n = r->body_len;
    int rc;
    cs_vw_kv_str(w, "op", op_name(r->op));
    switch (r->op) {
    case CS_CTL_CONNECT: {
        char addr[128];
        bool text = n > 0 && n < sizeof addr;
        for (size_t i = 0; text && i < n; i++)
            text = b[i] > 0x20 && b[i] < 0x7f; /* echoed in the result: printable ASCII only */
        if (!text)
            return fail(w, CS_EINVAL, "connect: expected an address like 1.2.3.4:8333");
        memcpy(addr, b, n);
        addr[n] = 0;
        cs_vw_kv_str(w, "addr", addr);
        uint64_t id = 0;
        rc = cs_connector_connect(ctl->conn, addr, &id);
        if (rc == CS_EINVAL)
            return fail(w, rc, "connect: '%s' is not a numeric ip:port", addr);
        if (rc == CS_ELIMIT)
            return fail(w, rc, "connect: peer cap reached");
        if (rc == CS_EAUTH)
            return fail(w, rc, "connect: %s is blocklisted", addr);
        if (rc)
            return fail(w, rc, "connect: %s", cs_strerror(rc));
        cs_vw_kv_u64(w, "id", id);
        return 0;
    }
    case CS_CTL_DISCONNECT: {
        if (n != 8)
            return fail(w, CS_EINVAL, "disconnect: body must be a u64 peer id");
        uint64_t id = ld64(b);
        cs_vw_kv_u64(w, "id", id);
        if (id == 0) {
            cs_vw_kv_u64(w, "count", cs_connector_disconnect_all(ctl->conn, "control: disconnect"));
            return 0;
        }
        rc = cs_connector_disconnect(ctl->conn, id, "control: disconnect");
        if (rc) {
            char ids[24];
            snprintf(ids, sizeof ids, "%llu", (unsigned long long)id);
            return fail(w, rc, "disconnect: no peer %s", ids);
        }
        cs_vw_kv_u64(w, "count", 1);
        return 0;
    }
    case CS_CTL_REGISTER: {
        if (n < 2)
            return fail(w, CS_EINVAL, "register: body is a kind byte and the message");
        if (ctl->nmsgs >= ctl->max_msgs)
            return fail(w, CS_ELIMIT, "register: the table of messages is full");
        reg_msg m = {0};
        cs_buf out;
        cs_buf_init(&out, CS_WIRE_MAX_PAYLOAD + CS_WIRE_HEADER_SIZE);
        if (b[0] == 0) {
            /* raw bytes go out as given: malformed ones too, on purpose */
            rc = cs_buf_append(&out, b + 1, n - 1);
        } else if (b[0] == 1) {
            cs_vw jw;
            char perr[160];
            cs_vw_init(&jw, 16u << 20);
            rc = cs_json_parse_value((const char *)b + 1, n - 1, &jw, perr, sizeof perr);
            if (rc) {
                cs_vw_free(&jw);
                cs_buf_free(&out);
                return fail(w, CS_EINVAL, "register: %s", perr);
            }
            cs_val v;
            cs_wire_err err = {0};
            rc = cs_val_read(jw.buf.data, jw.buf.len, &v, NULL);
            if (rc == 0)
                rc = cs_wire_encode_desc(NULL, cs_connector_net(ctl->conn), &v, &out, &err);
            cs_vw_free(&jw);
            if (rc) {
                cs_buf_free(&out);
                return fail(w, CS_EINVAL, "register: %s", err.reason);
            }
        } else {
            cs_buf_free(&out);
            return fail(w, CS_EINVAL, "register: kind must be 0 (raw) or 1 (JSON)");
        }
        if (rc) {
            cs_buf_free(&out);
            return fail(w, rc, "register: %s", cs_strerror(rc));
        }
        m.data = cs_buf_steal(&out, &m.len);
        reg_msg *nm = realloc(ctl->msgs, (ctl->nmsgs + 1) * sizeof *nm);
        if (!nm) {
            free(m.data);
            return fail(w, CS_ENOMEM, "register: out of memory");
        }
        ctl->msgs = nm;
        ctl->msgs[ctl->nmsgs++] = m;
        cs_vw_kv_u64(w, "id", ctl->nmsgs);
        cs_vw_kv_u64(w, "size", m.len);
        return 0;
    }
    case CS_CTL_SEND: {
        if (n < 8)
            return fail(w, CS_EINVAL, "send: body is u32 message id, u32 count, ids");
        uint32_t mid = ld32(b), cnt = ld32(b + 4);
        if ((size_t)cnt * 8 != n - 8)
            return fail(w, CS_EINVAL, "send: peer count does not match the body");
        if (mid == 0 || mid > ctl->nmsgs)
            return fail(w, CS_ENOTFOUND, "send: no such registered message");
        reg_msg *m = &ctl->msgs[mid - 1];
        uint64_t sent = 0, missing = 0;
        if (cnt == 0) {
            size_t np = cs_connector_count(ctl->conn);
            cs_peer_info *info = np ? malloc(np * sizeof *info) : NULL;
            np = info ? cs_connector_peers(ctl->conn, info, np) : 0;
            for (size_t i = 0; i < np; i++)
                if (info[i].ready && cs_connector_send(ctl->conn, info[i].id, m->data, m->len) == 0)
                    sent++;
            free(info);
        } else {
            for (uint32_t i = 0; i < cnt; i++) {
                if (cs_connector_send(ctl->conn, ld64(b + 8 + 8 * (size_t)i), m->data, m->len) == 0)
                    sent++;
                else
                    missing++;
            }
        }
        cs_vw_kv_u64(w, "message", mid);
        cs_vw_kv_u64(w, "sent", sent);
        cs_vw_kv_u64(w, "missing", missing);
        return 0;
    }
    case CS_CTL_PEERS:
        write_peers(ctl, w);
        return 0;
    default: {
        char op[8];
        snprintf(op, sizeof op, "0x%02x", r->op);
        return fail(w, CS_EUNSUPPORTED, "unknown request type %s", op);
    }
    }
}

int cs_control_exec(cs_control *ctl, const cs_control_req *r, const uint8_t **result, size_t *len)
{
    cs_vw_reset(&ctl->w);
    cs_vw_object_begin(&ctl->w);
    int status = execute(ctl, r);
    cs_vw_object_end(&ctl->w);
    if (cs_vw_error(&ctl->w)) {
        cs_vw_reset(&ctl->w);
        cs_vw_object_begin(&ctl->w);
        cs_vw_kv_str(&ctl->w, "error", "result too large");
        cs_vw_object_end(&ctl->w);
        status = CS_ELIMIT;
    }
    *result = ctl->w.buf.data;
    *len = ctl->w.buf.len;
    return status;
}

static void publish_result(cs_control *ctl, ctl_client *cl, const cs_control_req *r, int status)
{
    cs_publisher *pub = cs_connector_publisher(ctl->conn);
    if (!pub->bus)
        return;
    cs_vw *w = cs_publisher_begin(pub);
    cs_vw_kv_u64(w, "client", cl->num);
    cs_vw_kv_u64(w, "request", r->req_id);
    cs_vw_kv_i64(w, "status", status);
    cs_vw_kv_bool(w, "ok", status == 0);
    cs_vw_key(w, "result");
    cs_vw_raw(w, ctl->w.buf.data, ctl->w.buf.len);
    char key[32];
    snprintf(key, sizeof key, "ctl %u", cl->num);
    cs_publisher_emit(pub, "ctl.result", NULL, key, NULL);
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

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    ctl_client *cl = s->data;
    cs_control *ctl = cl->ctl;
    (void)buf;
    if (cl->closing)
        return;
    if (nread < 0) {
        client_close(cl, nread == UV_EOF ? NULL : uv_strerror((int)nread));
        return;
    }
    if (nread == 0) {
        if (cl->in.cap - cl->in.len == 0)
            client_close(cl, "request too large");
        return;
    }
    cl->in.len += (size_t)nread;
    size_t off = 0;
    while (!cl->closing) {
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
        const uint8_t *res;
        size_t reslen;
        int status = cs_control_exec(ctl, &r, &res, &reslen);
        reply(cl, r.req_id, status);
        publish_result(ctl, cl, &r, status);
        off += used;
    }
    if (!cl->closing)
        cs_buf_consume(&cl->in, off);
}

static void on_connection(uv_stream_t *server, int status)
{
    cs_control *ctl = server->data;
    if (status < 0 || ctl->closing)
        return;
    ctl_client *cl = calloc(1, sizeof *cl);
    if (!cl)
        return;
    uv_pipe_init(ctl->loop, &cl->pipe, 0);
    cl->pipe.data = cl;
    cl->ctl = ctl;
    cl->num = ++ctl->next_client;
    cs_buf_init(&cl->in, 4 + CS_CTL_MAX_FRAME);
    ctl->open_handles++;
    cl->next = ctl->clients;
    if (cl->next)
        cl->next->prev = &cl->next;
    cl->prev = &ctl->clients;
    ctl->clients = cl;
    ctl->nclients++;
    if (uv_accept(server, (uv_stream_t *)&cl->pipe) != 0) {
        client_close(cl, "accept failed");
        return;
    }
    if (ctl->nclients > ctl->max_clients) {
        client_close(cl, "too many control clients");
        return;
    }
    uv_read_start((uv_stream_t *)&cl->pipe, on_alloc, on_read);
}

static void on_server_closed(uv_handle_t *h)
{
    cs_control *ctl = h->data;
    ctl->open_handles--;
    maybe_free(ctl);
}

int cs_control_new(uv_loop_t *loop, cs_connector *conn, const cs_control_opts *opts,
                   cs_control **out)
{
    if (!opts)
        return CS_EINVAL;
    cs_ignore_sigpipe(); /* a client that goes away mid-reply */
    cs_control *ctl = calloc(1, sizeof *ctl);
    if (!ctl)
        return CS_ENOMEM;
    ctl->loop = loop;
    ctl->conn = conn;
    ctl->max_clients = opts->max_clients ? opts->max_clients : 64;
    ctl->max_msgs = opts->max_messages ? opts->max_messages : 1024;
    cs_vw_init(&ctl->w, CS_CTL_MAX_FRAME - 16);
    if (!opts->path) {
        *out = ctl; /* no socket: cs_control_exec only */
        return 0;
    }
    ctl->path = strdup(opts->path);
    if (!ctl->path) {
        cs_vw_free(&ctl->w);
        free(ctl);
        return CS_ENOMEM;
    }
    uv_pipe_init(loop, &ctl->server, 0);
    ctl->server.data = ctl;
    ctl->open_handles = 1;
    unlink(opts->path);
    int rc = uv_pipe_bind(&ctl->server, opts->path);
    if (rc == 0)
        rc = chmod(opts->path, 0600) == 0 ? 0 : CS_EIO;
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&ctl->server, 64, on_connection);
    if (rc) {
        ctl->closing = true;
        uv_close((uv_handle_t *)&ctl->server, on_server_closed);
        return rc;
    }
    *out = ctl;
    return 0;
}

void cs_control_close(cs_control *ctl)
{
    if (ctl->closing)
        return;
    ctl->closing = true;
    if (!ctl->path) {
        maybe_free(ctl); /* no socket: nothing to close */
        return;
    }
    while (ctl->clients)
        client_close(ctl->clients, NULL);
    unlink(ctl->path);
    uv_close((uv_handle_t *)&ctl->server, on_server_closed);
}
