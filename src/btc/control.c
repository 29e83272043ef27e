/* The control socket server (docs/control-protocol.md). */
#include "btc/control.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainscope/control.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"

typedef struct reg_msg {
    uint8_t *data;
    size_t len;
} reg_msg;

struct cs_control {
    cs_connector *conn;
    cs_ctlsrv *srv; /* NULL without a socket */
    reg_msg *msgs;
    size_t nmsgs, max_msgs;
    cs_vw w;
};

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

static int by_id(const void *a, const void *b)
{
    uint64_t x = ((const cs_peer_info *)a)->id, y = ((const cs_peer_info *)b)->id;
    return x < y ? -1 : x > y;
}

/* PEERS: every peer (an empty body), or a page: u64 LE after, u32 LE limit
 * (the peers with id > after, ascending, at most limit; `next` names the
 * last one listed when more remain). */
static int write_peers(cs_control *ctl, cs_vw *w, const uint8_t *b, size_t len)
{
    uint64_t after = 0;
    size_t limit = SIZE_MAX;
    if (len) {
        uint32_t lim;
        if (cs_control_peers_page(b, len, &after, &lim) != 0)
            return fail(w, CS_EINVAL, "the body is empty or u64 after + u32 limit (1..%u)",
                        CS_CTL_PEERS_PAGE_MAX);
        limit = lim;
    }
    size_t n = cs_connector_count(ctl->conn);
    cs_peer_info *info = n ? malloc(n * sizeof *info) : NULL;
    if (n && !info)
        return fail(w, CS_ENOMEM, "out of memory");
    n = cs_connector_peers(ctl->conn, info, n);
    if (n)
        qsort(info, n, sizeof *info, by_id);
    size_t first = 0;
    while (first < n && info[first].id <= after)
        first++;
    size_t last = n - first > limit ? first + limit : n;
    cs_vw_kv_u64(w, "count", n);
    cs_vw_key(w, "peers");
    cs_vw_array_begin(w);
    for (size_t i = first; i < last; i++) {
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
    if (last < n)
        cs_vw_kv_u64(w, "next", info[last - 1].id);
    free(info);
    return 0;
}

/* Runs one request; the result object goes into ctl->w. */
static int execute(cs_control *ctl, const cs_control_req *r)
{
    cs_vw *w = &ctl->w;
    const uint8_t *b = r->body;
    size_t n = r->body_len;
    int rc;
    cs_vw_kv_str(w, "op", cs_control_op_name(r->op));
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
        return write_peers(ctl, w, b, n);
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

/* A client's request: answered at once, and published. */
static void on_call(void *arg, cs_ctlsrv_call *call, const cs_control_req *r)
{
    cs_control *ctl = arg;
    const uint8_t *res;
    size_t len;
    int status = cs_control_exec(ctl, r, &res, &len);
    cs_control_publish_result(cs_connector_publisher(ctl->conn), cs_ctlsrv_call_client(call),
                              r->req_id, status, res, len);
    cs_ctlsrv_reply(call, status, res, len); /* copies res */
}

int cs_control_new(uv_loop_t *loop, cs_connector *conn, const cs_control_opts *opts,
                   cs_control **out)
{
    if (!opts)
        return CS_EINVAL;
    cs_control *ctl = calloc(1, sizeof *ctl);
    if (!ctl)
        return CS_ENOMEM;
    ctl->conn = conn;
    ctl->max_msgs = opts->max_messages ? opts->max_messages : 1024;
    cs_vw_init(&ctl->w, CS_CTL_MAX_FRAME - 16);
    if (opts->path) {
        cs_ctlsrv_opts so = {.path = opts->path,
                             .max_clients = opts->max_clients,
                             .log_name = "control",
                             .exec = on_call,
                             .arg = ctl};
        int rc = cs_ctlsrv_new(loop, &so, &ctl->srv);
        if (rc) {
            cs_vw_free(&ctl->w);
            free(ctl);
            return rc;
        }
    }
    *out = ctl;
    return 0;
}

void cs_control_close(cs_control *ctl)
{
    /* Requests are answered as they come: none is in flight here. */
    if (ctl->srv)
        cs_ctlsrv_close(ctl->srv);
    for (size_t i = 0; i < ctl->nmsgs; i++)
        free(ctl->msgs[i].data);
    free(ctl->msgs);
    cs_vw_free(&ctl->w);
    free(ctl);
}
