/* One peer: reading and framing, decoding, the handshake, pings, sending,
 * closing. The connector (connector.c) owns the peers and sweeps them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "btc/connector_int.h"
#include "core/error.h"
#include "core/log.h"
#include "net/addr.h"

#define MIN_PEER_VERSION 31800 /* older peers are disconnected, as nodes do */
#define WTXID_RELAY_VERSION 70016
#define RBUF_MIN 4096             /* the smallest buffer for an incomplete message */
#define RBUF_MAP_MIN (128u << 10) /* buffers this large are mapped, not malloc'ed */

static void on_close(uv_handle_t *h);
static void send_cmd(cs_peer *p, const char *cmd, const void *payload, size_t n);

cs_peer *cs_peer_new(cs_connector *c, uint8_t dir)
{
    cs_peer *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (uv_tcp_init(c->loop, &p->tcp) != 0) {
        free(p);
        return NULL;
    }
    p->tcp.data = p;
    p->c = c;
    p->id = c->next_id;
    c->next_id += c->o.id_step;
    p->dir = dir;
    p->state = dir == CS_PEER_OUT ? PS_CONNECTING : PS_HANDSHAKE;
    p->rtt_ms = -1;
    p->t_start = p->t_last_recv = uv_now(c->loop);
    p->index = c->npeers;
    c->peers[c->npeers++] = p;
    c->open_handles++;
    return p;
}

static void sa_text(const struct sockaddr_storage *ss, char *addr, uint16_t *port)
{
    char buf[80];
    cs_addr_format((const struct sockaddr *)ss, buf, sizeof buf);
    /* buf is "1.2.3.4:8333" or "[::1]:8333": split it */
    char *colon = strrchr(buf, ':');
    *port = 0;
    if (colon) {
        *port = (uint16_t)atoi(colon + 1);
        *colon = 0;
    }
    const char *a = buf;
    size_t n = strlen(buf);
    if (buf[0] == '[' && n >= 2 && buf[n - 1] == ']') {
        buf[n - 1] = 0;
        a = buf + 1;
    }
    size_t al = strlen(a);
    if (al > 45)
        al = 45;
    memcpy(addr, a, al);
    addr[al] = 0;
}

static void make_key(cs_peer *p)
{
    if (strchr(p->addr, ':'))
        snprintf(p->key, sizeof p->key, "%llu [%s]:%u", (unsigned long long)p->id, p->addr,
                 p->port);
    else
        snprintf(p->key, sizeof p->key, "%llu %s:%u", (unsigned long long)p->id, p->addr, p->port);
}

void cs_peer_set_addrs(cs_peer *p)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&p->tcp, (struct sockaddr *)&ss, &len) == 0)
        sa_text(&ss, p->addr, &p->port);
    len = sizeof ss;
    if (uv_tcp_getsockname(&p->tcp, (struct sockaddr *)&ss, &len) == 0)
        sa_text(&ss, p->laddr, &p->lport);
    make_key(p);
}

/* Sets the remote address of an outbound peer before it connects. */
void cs_peer_set_remote(cs_peer *p, const struct sockaddr *sa);
void cs_peer_set_remote(cs_peer *p, const struct sockaddr *sa)
{
    struct sockaddr_storage ss = {0};
    memcpy(&ss, sa,
           sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
    sa_text(&ss, p->addr, &p->port);
    make_key(p);
}

/* ---- events ------------------------------------------------------------ */

static bool events_on(const cs_connector *c)
{
    return c->bus && !c->o.no_events;
}

static void write_peer(cs_vw *w, const cs_peer *p)
{
    cs_vw_key(w, "peer");
    cs_vw_object_begin(w);
    cs_vw_kv_u64(w, "id", p->id);
    cs_vw_kv_str(w, "addr", p->addr);
    cs_vw_kv_u64(w, "port", p->port);
    cs_vw_kv_str(w, "direction", p->dir == CS_PEER_IN ? "in" : "out");
    cs_vw_object_end(w);
}

static void emit(cs_peer *p, const char *type)
{
    int rc = cs_publisher_emit(&p->c->pub, type, NULL, p->key, NULL);
    if (rc)
        CS_WARN("connector", "%s: cannot publish %s: %s", p->key, type, cs_strerror(rc));
}

void cs_peer_emit_conn(cs_peer *p, const char *type, const char *reason)
{
    cs_connector *c = p->c;
    if (!events_on(c))
        return;
    cs_vw *w = cs_publisher_begin(&c->pub);
    write_peer(w, p);
    if (p->laddr[0]) {
        cs_vw_kv_str(w, "local_addr", p->laddr);
        cs_vw_kv_u64(w, "local_port", p->lport);
    }
    if (reason) {
        cs_vw_kv_str(w, "code", p->code);
        cs_vw_kv_str(w, "reason", reason);
    }
    if (strcmp(type, "p2p.conn.closed") == 0) {
        cs_vw_kv_str(w, "by", p->flags & PF_BY_PEER ? "peer" : "us");
        cs_vw_kv_u64(w, "duration_ms", uv_now(c->loop) - p->t_start);
        cs_vw_kv_bool(w, "handshake", p->state == PS_READY);
        cs_vw_kv_u64(w, "bytes_in", p->bytes_in);
        cs_vw_kv_u64(w, "bytes_out", p->bytes_out);
        cs_vw_kv_u64(w, "msgs_in", p->msgs_in);
        cs_vw_kv_u64(w, "msgs_out", p->msgs_out);
    }
    emit(p, type);
}

/* p2p.msg.<command>: fields is the encoded object of the decoded message. */
static void emit_msg(cs_peer *p, bool in, const char *cmd, uint32_t size, const uint8_t *fields,
                     size_t flen)
{
    cs_connector *c = p->c;
    char type[32] = "p2p.msg.";
    size_t n = 8;
    for (const char *s = cmd; *s && n < sizeof type - 1; s++)
        type[n++] = (*s == '.' || *s == '*' || *s == '>') ? '_' : *s;
    type[n] = 0;
    cs_vw *w = cs_publisher_begin(&c->pub);
    write_peer(w, p);
    cs_vw_kv_str(w, "direction", in ? "in" : "out");
    cs_vw_kv_str(w, "command", cmd);
    cs_vw_kv_u64(w, "size", size);
    cs_vw_key(w, "msg");
    cs_vw_raw(w, fields, flen);
    emit(p, type);
}

/* ---- closing ----------------------------------------------------------- */

static void rbuf_release(cs_peer *p);

void cs_peer_close_as(cs_peer *p, const char *code, const char *reason)
{
    if (p->state == PS_CLOSING)
        return;
    cs_connector *c = p->c;
    snprintf(p->reason, sizeof p->reason, "%s", reason ? reason : "closed");
    snprintf(p->code, sizeof p->code, "%s", code && *code ? code : "requested");
    rbuf_release(p); /* nothing more is read: give the memory back now */
    bool failed = p->flags & PF_FAILED;
    cs_peer_emit_conn(p, failed ? "p2p.conn.failed" : "p2p.conn.closed", p->reason);
    cs_conn_metrics_event(c, failed ? CS_CM_FAILED : CS_CM_CLOSED, p);
    if (!failed)
        CS_DEBUG("connector", "%s: closed by %s: %s (%s)", p->key,
                 p->flags & PF_BY_PEER ? "peer" : "us", p->reason, p->code);
    p->state = PS_CLOSING;
    /* out of the table before the hook: a hook that closes the connector
     * (the audit's, once its last node is done) must not find p there
     * still, closing, and wait for it forever */
    cs_connector_remove(c, p);
    if (c->hooks.on_close)
        c->hooks.on_close(c, p, failed, p->reason, c->hooks.arg);
    if ((p->flags & PF_RESET) && !failed && uv_tcp_close_reset(&p->tcp, (uv_close_cb)on_close) == 0)
        return;
    uv_close((uv_handle_t *)&p->tcp, on_close);
}

void cs_peer_close(cs_peer *p, const char *reason)
{
    cs_peer_close_as(p, "requested", reason);
}

void cs_peer_abort(cs_peer *p, const char *reason)
{
    p->flags |= PF_RESET;
    cs_peer_close(p, reason);
}

const char *cs_peer_close_code(const cs_peer *p)
{
    return p->code;
}

/* A libuv error as a close: its name is the code, its text the reason
 * unless `what` prefixes the name ("send failed: EPIPE"). */
static void close_uv(cs_peer *p, const char *what, int err)
{
    if (what) {
        char why[64];
        snprintf(why, sizeof why, "%s: %s", what, uv_err_name(err));
        cs_peer_close_as(p, uv_err_name(err), why);
    } else {
        cs_peer_close_as(p, uv_err_name(err),
                         err == UV_EOF ? "connection closed by peer" : uv_strerror(err));
    }
}

bool cs_peer_wants_addrv2(const cs_peer *p)
{
    return p->flags & PF_ADDRV2;
}

static void on_close(uv_handle_t *h)
{
    cs_peer *p = h->data;
    cs_connector *c = p->c;
    rbuf_release(p);
    free(p->user_agent);
    free(p);
    cs_connector_handle_closed(c);
}

/* ---- sending ----------------------------------------------------------- */

typedef struct wreq {
    uv_write_t req;
    cs_peer *p;
    size_t n;
    uint8_t data[];
} wreq;

static void on_write(uv_write_t *req, int status)
{
    wreq *r = (wreq *)req;
    cs_peer *p = r->p;
    p->send_queued -= r->n;
    free(r);
    if (status < 0 && p->state != PS_CLOSING)
        close_uv(p, "send failed", status);
}

/* Sends one framed message; publishes it as an "out" event. */
static void send_raw(cs_peer *p, const uint8_t *msg, size_t n)
{
    cs_connector *c = p->c;
    if (p->state == PS_CLOSING || p->state == PS_CONNECTING)
        return;
    /* bound: a peer that does not read is dropped */
    if (p->send_queued + n > c->o.max_send) {
        cs_peer_close_as(p, "send_queue_full", "send queue full");
        return;
    }
    wreq *r = malloc(sizeof *r + n);
    if (!r) {
        cs_peer_close_as(p, "out_of_memory", "out of memory");
        return;
    }
    r->p = p;
    r->n = n;
    memcpy(r->data, msg, n);
    uv_buf_t b = uv_buf_init((char *)r->data, (unsigned)n);
    int rc = uv_write(&r->req, (uv_stream_t *)&p->tcp, &b, 1, on_write);
    if (rc) {
        free(r);
        close_uv(p, "send failed", rc);
        return;
    }
    p->send_queued += n;
    p->bytes_out += n;
    p->msgs_out++;
    if (c->metrics && n >= CS_WIRE_HEADER_SIZE) {
        char cmd[13];
        memcpy(cmd, msg + 4, 12);
        cmd[12] = 0;
        cs_conn_metrics_msg(c, cmd, false, n);
    }
    if (events_on(c) && !c->o.no_msg_events && n >= CS_WIRE_HEADER_SIZE) {
        cs_vw w;
        cs_wire_msg m;
        cs_wire_err err;
        size_t used;
        cs_vw_init(&w, 0);
        cs_vw_object_begin(&w);
        if (cs_wire_decode(c->wire, msg, n, NULL, CS_WIRE_NO_CHECKSUM, &m, &w, &used, &err) == 0) {
            cs_vw_object_end(&w);
            emit_msg(p, false, m.hdr.command, m.size, w.buf.data, w.buf.len);
        } else {
            /* raw bytes sent by request may be anything: show them raw */
            cs_vw_reset(&w);
            cs_vw_object_begin(&w);
            cs_vw_kv_bytes(&w, "raw", msg, n);
            cs_vw_kv_str(&w, "error", err.reason);
            cs_vw_object_end(&w);
            char cmd[13] = "?";
            if (n >= 16) {
                memcpy(cmd, msg + 4, 12);
                cmd[12] = 0;
                for (char *s = cmd; *s; s++)
                    if (*s < 0x21 || *s > 0x7e)
                        *s = '_';
                if (!cmd[0])
                    strcpy(cmd, "_");
            }
            emit_msg(p, false, cmd, (uint32_t)(n - CS_WIRE_HEADER_SIZE), w.buf.data, w.buf.len);
        }
        cs_vw_free(&w);
    }
}

int cs_peer_send_bytes(cs_peer *p, const uint8_t *msg, size_t n)
{
    if (p->state == PS_CLOSING || p->state == PS_CONNECTING)
        return CS_ECLOSED;
    send_raw(p, msg, n);
    return 0;
}

static void send_cmd(cs_peer *p, const char *cmd, const void *payload, size_t n)
{
    cs_connector *c = p->c;
    c->sendbuf.len = 0;
    if (cs_wire_frame(c->wire, &c->sendbuf, c->o.net, cmd, payload, n) == 0)
        send_raw(p, c->sendbuf.data, c->sendbuf.len);
}

int cs_connector_send_cmd(cs_connector *c, cs_peer *p, const char *command, const void *payload,
                          size_t n)
{
    (void)c;
    if (p->state == PS_CLOSING || p->state == PS_CONNECTING)
        return CS_ECLOSED;
    send_cmd(p, command, payload, n);
    return 0;
}

static void to_ip16(const char *addr, uint8_t ip[16])
{
    if (cs_wire_ip_parse(addr, ip) != 0)
        memset(ip, 0, 16);
}

void cs_peer_send_version(cs_peer *p)
{
    cs_connector *c = p->c;
    cs_wire_version v = {0};
    v.version = c->o.version;
    v.services = c->o.services;
    v.timestamp = (int64_t)(uv_now(c->loop) / 1000);
    {
        uv_timeval64_t tv;
        if (uv_gettimeofday(&tv) == 0)
            v.timestamp = tv.tv_sec;
    }
    to_ip16(p->addr, v.recv.ip);
    v.recv.port = p->port;
    v.recv.services = p->services;
    v.from.services = c->o.services;
    to_ip16("0.0.0.0", v.from.ip);
    v.nonce = c->nonce;
    v.user_agent = c->user_agent;
    v.start_height = c->o.start_height;
    v.relay = c->o.relay;
    if (c->hooks.on_version)
        c->hooks.on_version(c, p, &v, c->hooks.arg);
    cs_buf pl;
    cs_buf_init(&pl, 0);
    if (cs_wire_put_version(&pl, &v) == 0)
        send_cmd(p, "version", pl.data, pl.len);
    cs_buf_free(&pl);
    p->flags |= PF_SENT_VERSION;
}

void cs_peer_send_ping(cs_peer *p)
{
    uint8_t n[8];
    uint64_t nonce = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 11) ^ uv_hrtime();
    memcpy(n, &nonce, 8);
    p->ping_nonce = nonce;
    p->t_ping_sent = uv_hrtime();
    p->flags |= PF_PING_OUT;
    send_cmd(p, "ping", n, 8);
}

/* Our answer to the peer's version: our own version (inbound), then the
 * feature negotiation BIP339/BIP155 require before verack, then verack. */
static void reply_version(cs_peer *p)
{
    p->flags &= (uint16_t)~PF_DELAYED;
    if (!(p->flags & PF_SENT_VERSION))
        cs_peer_send_version(p);
    if (p->version >= WTXID_RELAY_VERSION) {
        send_cmd(p, "wtxidrelay", NULL, 0);
        send_cmd(p, "sendaddrv2", NULL, 0);
    }
    send_cmd(p, "verack", NULL, 0);
    p->flags |= PF_SENT_VERACK;
}

void cs_peer_flush_delayed(cs_peer *p);
void cs_peer_flush_delayed(cs_peer *p)
{
    if ((p->flags & PF_DELAYED) && p->state != PS_CLOSING)
        reply_version(p);
}

static int64_t field_i64(const cs_val *o, const char *k, int64_t def)
{
    cs_val v;
    if (cs_val_get(o, k, strlen(k), &v) != 0 || v.kind != CS_VAL_INT)
        return def;
    return v.neg ? v.i : (int64_t)v.u;
}

static void on_ready(cs_peer *p)
{
    cs_connector *c = p->c;
    p->state = PS_READY;
    if (events_on(c)) {
        cs_vw *w = cs_publisher_begin(&c->pub);
        write_peer(w, p);
        cs_vw_kv_i64(w, "version", p->version);
        cs_vw_kv_u64(w, "services", p->services);
        cs_vw_kv_str(w, "user_agent", p->user_agent ? p->user_agent : "");
        cs_vw_kv_i64(w, "start_height", p->start_height);
        cs_vw_kv_bool(w, "relay", p->relay);
        cs_vw_kv_str(w, "local_addr", p->laddr);
        cs_vw_kv_u64(w, "local_port", p->lport);
        emit(p, "p2p.handshake");
    }
    /* the first RTT right away (before whatever the hook asks for, so that
     * its pong comes first); then every interval */
    cs_peer_send_ping(p);
    if (p->state == PS_READY && c->hooks.on_handshake)
        c->hooks.on_handshake(c, p, c->hooks.arg);
}

static void on_version(cs_peer *p, const cs_val *f)
{
    cs_connector *c = p->c;
    if (p->flags & PF_GOT_VERSION)
        return; /* a second version is ignored, as nodes do */
    p->flags |= PF_GOT_VERSION;
    p->version = (int32_t)field_i64(f, "version", 0);
    p->services = (uint64_t)field_i64(f, "services", 0);
    p->start_height = (int32_t)field_i64(f, "start_height", 0);
    cs_val v;
    p->relay = !(cs_val_get(f, "relay", 5, &v) == 0 && v.kind == CS_VAL_BOOL && !v.b);
    free(p->user_agent);
    p->user_agent = NULL;
    if (cs_val_get(f, "user_agent", 10, &v) == 0 &&
        (v.kind == CS_VAL_STR || v.kind == CS_VAL_BYTES)) {
        p->user_agent = malloc(v.n + 1);
        if (p->user_agent) {
            memcpy(p->user_agent, v.p, v.n);
            p->user_agent[v.n] = 0;
        }
    }
    if (p->dir == CS_PEER_IN && cs_val_get(f, "nonce", 5, &v) == 0 && v.kind == CS_VAL_INT &&
        v.u == c->nonce) {
        cs_peer_close_as(p, "self", "connected to self");
        return;
    }
    if (p->version < MIN_PEER_VERSION) {
        char why[64];
        snprintf(why, sizeof why, "obsolete protocol version %d", p->version);
        cs_peer_close_as(p, "obsolete_version", why);
        return;
    }
    if (p->dir == CS_PEER_IN && p->delay_until > uv_now(c->loop)) {
        p->flags |= PF_DELAYED;
        return;
    }
    reply_version(p);
}

static void close_malformed(cs_peer *p, const char *code, const cs_wire_err *err)
{
    char why[160];
    snprintf(why, sizeof why, "malformed message: %s", err->reason);
    cs_peer_close_as(p, code, why);
}

/* Handles one whole message at msg[0..n). Returns false if the peer closed. */
static bool handle(cs_peer *p, const uint8_t *msg, size_t n)
{
    cs_connector *c = p->c;
    cs_wire_msg m = {.checksum_ok = true};
    cs_wire_err err = {0};
    size_t used;
    cs_vw_reset(&c->scratch);
    cs_vw_object_begin(&c->scratch);
    int rc =
        cs_wire_decode(c->wire, msg, n, c->o.net, c->decode_flags, &m, &c->scratch, &used, &err);
    if (rc) {
        close_malformed(p, m.checksum_ok ? "bad_payload" : "bad_checksum", &err);
        return false;
    }
    cs_vw_object_end(&c->scratch);
    p->msgs_in++;
    cs_conn_metrics_msg(c, m.hdr.command, true, n);
    cs_val f;
    if (cs_val_read(c->scratch.buf.data, c->scratch.buf.len, &f, NULL) != 0)
        return true;
    if (events_on(c) && !c->o.no_msg_events)
        emit_msg(p, true, m.hdr.command, m.size, c->scratch.buf.data, c->scratch.buf.len);
    const char *cmd = m.hdr.command;
    if (strcmp(cmd, "version") == 0) {
        on_version(p, &f);
    } else if (strcmp(cmd, "verack") == 0) {
        p->flags |= PF_GOT_VERACK;
    } else if (strcmp(cmd, "sendaddrv2") == 0) {
        p->flags |= PF_ADDRV2;
    } else if (strcmp(cmd, "ping") == 0) {
        cs_val v;
        if (cs_val_get(&f, "nonce", 5, &v) == 0 && v.kind == CS_VAL_INT) {
            uint8_t nb[8];
            memcpy(nb, &v.u, 8);
            send_cmd(p, "pong", nb, 8);
        }
    } else if (strcmp(cmd, "pong") == 0) {
        cs_val v;
        if ((p->flags & PF_PING_OUT) && cs_val_get(&f, "nonce", 5, &v) == 0 &&
            v.kind == CS_VAL_INT && v.u == p->ping_nonce) {
            p->flags &= (uint16_t)~PF_PING_OUT;
            p->rtt_ms = (double)(uv_hrtime() - p->t_ping_sent) / 1e6;
            cs_conn_metrics_event(c, CS_CM_RTT, p);
            /* +-10 % jitter, so that thousands of peers connected at once
             * do not all ping in the same sweep */
            uint64_t iv = c->o.ping_interval_ms;
            p->t_next_ping = uv_now(c->loop) + iv;
            if (!c->o.ping_fixed)
                p->t_next_ping += (uint64_t)rand() % (iv / 5 + 1) - iv / 10;
            if (events_on(c)) {
                cs_vw *w = cs_publisher_begin(&c->pub);
                write_peer(w, p);
                cs_vw_kv_double(w, "rtt_ms", p->rtt_ms);
                cs_vw_kv_u64(w, "nonce", v.u);
                if (c->o.node)
                    cs_vw_kv_str(w, "node", c->o.node);
                emit(p, "p2p.ping.rtt");
            }
        }
    }
    if (p->state == PS_CLOSING)
        return false;
    if (p->state == PS_HANDSHAKE && (p->flags & PF_GOT_VERSION) && (p->flags & PF_GOT_VERACK) &&
        (p->flags & PF_SENT_VERACK))
        on_ready(p);
    if (p->state == PS_CLOSING)
        return false;
    if (c->hooks.on_message) {
        /* the hook may send, which reuses nothing of scratch */
        c->hooks.on_message(c, p, cmd, &f, c->hooks.arg);
    }
    return p->state != PS_CLOSING;
}

/* Frames and handles the messages in data[0..n). Returns the bytes used;
 * *need gets the size of the incomplete message at the end (0: unknown). */
static size_t process(cs_peer *p, const uint8_t *data, size_t n, size_t *need)
{
    size_t off = 0;
    *need = 0;
    while (p->state != PS_CLOSING && n - off >= CS_WIRE_HEADER_SIZE) {
        cs_wire_hdr h;
        cs_wire_err err = {0};
        if (cs_wire_header_parse(data + off, n - off, p->c->o.net, &h, &err) != 0) {
            close_malformed(p,
                            err.code == CS_ELIMIT                            ? "oversized"
                            : memcmp(data + off, p->c->o.net->magic, 4) != 0 ? "bad_magic"
                                                                             : "bad_command",
                            &err);
            return n;
        }
        size_t total = CS_WIRE_HEADER_SIZE + (size_t)h.length;
        if (n - off < total) {
            *need = total;
            break;
        }
        if (!handle(p, data + off, total))
            return n;
        off += total;
    }
    return off;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    cs_peer *p = h->data;
    (void)suggested;
    /* one buffer for every peer: libuv reads into it and calls on_read
     * before it asks again */
    *buf = uv_buf_init((char *)p->c->readbuf, CS_READBUF_SIZE);
}

/* ---- buffers for incomplete messages ------------------------------------ */

static size_t page_round(size_t n)
{
    static size_t page;
    if (!page) {
        long v = sysconf(_SC_PAGESIZE);
        page = v > 0 ? (size_t)v : 4096;
    }
    return (n + page - 1) / page * page;
}

static void rbuf_release(cs_peer *p)
{
    if (!p->rbuf)
        return;
    if (p->rcap >= RBUF_MAP_MIN)
        munmap(p->rbuf, p->rcap);
    else
        free(p->rbuf);
    p->c->partial_bytes -= p->rcap;
    p->rbuf = NULL;
    p->rcap = p->rlen = p->rneed = 0;
}

/* Gives p's buffer room for `cap` bytes (>= p->rlen), keeping its first
 * p->rlen bytes; grows or shrinks. Every peer's buffers together stay
 * within partial_budget: past it the peer is closed (partial_budget), as
 * it is when memory runs out. Returns false when p was closed. */
static bool rbuf_resize(cs_peer *p, size_t cap)
{
    cs_connector *c = p->c;
    bool map = cap >= RBUF_MAP_MIN, was_map = p->rcap >= RBUF_MAP_MIN;
    if (map)
        cap = page_round(cap);
    if (cap == p->rcap)
        return true;
    if (cap > p->rcap && c->partial_bytes - p->rcap + cap > c->o.partial_budget) {
        char why[96], budget[32];
        if (c->o.partial_budget % (1u << 20) == 0)
            snprintf(budget, sizeof budget, "%zu MiB", c->o.partial_budget >> 20);
        else
            snprintf(budget, sizeof budget, "%zu bytes", c->o.partial_budget);
        snprintf(why, sizeof why, "incomplete messages over the connector's budget of %s", budget);
        cs_peer_close_as(p, "partial_budget", why);
        return false;
    }
    uint8_t *nb;
    if (map && was_map) {
        nb = mremap(p->rbuf, p->rcap, cap, MREMAP_MAYMOVE);
    } else if (!map && !was_map) {
        nb = realloc(p->rbuf, cap);
        if (!nb)
            nb = MAP_FAILED;
    } else {
        nb = map ? mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                 : malloc(cap);
        if (!nb)
            nb = MAP_FAILED;
        if (nb != MAP_FAILED) {
            if (p->rlen)
                memcpy(nb, p->rbuf, p->rlen);
            if (was_map)
                munmap(p->rbuf, p->rcap);
            else
                free(p->rbuf);
        }
    }
    if (nb == MAP_FAILED) {
        cs_peer_close_as(p, "out_of_memory", "out of memory");
        return false;
    }
    c->partial_bytes = c->partial_bytes - p->rcap + cap;
    p->rbuf = nb;
    p->rcap = cap;
    return true;
}

/* Keeps data[0..n), the start of an incomplete message of `need` bytes (0:
 * its header is incomplete too), in a buffer of p's own sized by what has
 * arrived, not by what the header announces: a peer holds only memory it
 * has sent. Returns false when p was closed. */
static bool rbuf_keep(cs_peer *p, const uint8_t *data, size_t n, size_t need)
{
    /* one read (up to CS_READBUF_SIZE) can hold more of an incomplete
     * message than max_recv allows when max_recv is set below that */
    if (n > p->c->o.max_recv) {
        cs_peer_close_as(p, "receive_buffer_full", "receive buffer full");
        return false;
    }
    size_t cap = n < RBUF_MIN ? RBUF_MIN : n;
    if (need && cap > need)
        cap = need;
    if (!rbuf_resize(p, cap))
        return false;
    memcpy(p->rbuf, data, n);
    p->rlen = n;
    p->rneed = need;
    p->t_partial = uv_now(p->c->loop);
    return true;
}

/* The sweep's check: an incomplete message must complete within
 * partial_timeout_ms of its first byte, or the peer is closed
 * (partial_timeout). */
void cs_peer_check_partial(cs_peer *p, uint64_t now)
{
    cs_connector *c = p->c;
    if (!p->rbuf || now - p->t_partial < c->o.partial_timeout_ms)
        return;
    char why[96];
    double s = (double)c->o.partial_timeout_ms / 1000.0;
    if (p->rneed)
        snprintf(why, sizeof why, "incomplete message for %g s: %zu of %zu bytes", s, p->rlen,
                 p->rneed);
    else
        snprintf(why, sizeof why, "incomplete message for %g s: %zu bytes of its header", s,
                 p->rlen);
    cs_peer_close_as(p, "partial_timeout", why);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    cs_peer *p = s->data;
    cs_connector *c = p->c;
    if (p->state == PS_CLOSING)
        return;
    if (nread < 0) {
        p->flags |= PF_BY_PEER;
        close_uv(p, NULL, (int)nread);
        return;
    }
    if (nread == 0)
        return;
    p->bytes_in += (uint64_t)nread;
    p->t_last_recv = uv_now(c->loop);
    const uint8_t *data = (const uint8_t *)buf->base;
    size_t n = (size_t)nread, need = 0;
    if (!p->rbuf) {
        size_t used = process(p, data, n, &need);
        if (p->state != PS_CLOSING && used < n)
            rbuf_keep(p, data + used, n - used, need);
        return;
    }
    if (p->rlen + n > c->o.max_recv) {
        cs_peer_close_as(p, "receive_buffer_full", "receive buffer full");
        return;
    }
    if (p->rlen + n > p->rcap) {
        /* double, but never past the announced size or max_recv */
        size_t cap = p->rcap * 2, limit = p->rneed ? p->rneed : c->o.max_recv;
        if (cap > limit)
            cap = limit;
        if (cap < p->rlen + n)
            cap = p->rlen + n;
        if (!rbuf_resize(p, cap))
            return;
    }
    memcpy(p->rbuf + p->rlen, data, n);
    p->rlen += n;
    size_t used = process(p, p->rbuf, p->rlen, &need);
    if (p->state == PS_CLOSING)
        return;
    if (used == p->rlen) {
        rbuf_release(p);
        return;
    }
    p->rneed = need;
    if (used == 0)
        return;
    /* a new incomplete message starts here: its own deadline; a buffer a
     * large message left is shrunk to what the new one holds */
    p->rlen -= used;
    memmove(p->rbuf, p->rbuf + used, p->rlen);
    p->t_partial = uv_now(c->loop);
    if (p->rcap >= RBUF_MAP_MIN && p->rlen < p->rcap / 4)
        rbuf_resize(p, p->rlen * 2 < RBUF_MIN ? RBUF_MIN : p->rlen * 2);
}

void cs_peer_start_read(cs_peer *p)
{
    if (p->c->read_paused)
        return; /* the connector starts every peer when the bus is released */
    /* small messages go out at once: no Nagle delay on pings */
    uv_tcp_nodelay(&p->tcp, 1);
    int rc = uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read);
    if (rc)
        close_uv(p, NULL, rc);
}

void cs_peer_on_connected(cs_peer *p)
{
    p->state = PS_HANDSHAKE;
    p->t_start = p->t_last_recv = uv_now(p->c->loop);
    cs_peer_set_addrs(p);
    cs_peer_emit_conn(p, "p2p.conn.open", NULL);
    cs_peer_send_version(p);
    if (p->state != PS_CLOSING)
        cs_peer_start_read(p);
}

/* ---- accessors --------------------------------------------------------- */

void cs_peer_info_get(const cs_peer *p, cs_peer_info *o)
{
    memset(o, 0, sizeof *o);
    o->id = p->id;
    o->dir = p->dir;
    memcpy(o->addr, p->addr, sizeof o->addr);
    o->port = p->port;
    memcpy(o->local_addr, p->laddr, sizeof o->local_addr);
    o->local_port = p->lport;
    o->ready = p->state == PS_READY;
    o->version = p->version;
    o->services = p->services;
    if (p->user_agent)
        snprintf(o->user_agent, sizeof o->user_agent, "%s", p->user_agent);
    o->start_height = p->start_height;
    o->relay = p->relay;
    o->rtt_ms = p->rtt_ms;
    o->bytes_in = p->bytes_in;
    o->bytes_out = p->bytes_out;
    o->msgs_in = p->msgs_in;
    o->msgs_out = p->msgs_out;
    o->connected_ms = (int64_t)(uv_now(p->c->loop) - p->t_start);
}

uint64_t cs_peer_id(const cs_peer *p)
{
    return p->id;
}

const char *cs_peer_key(const cs_peer *p)
{
    return p->key;
}

const char *cs_peer_addr(const cs_peer *p, uint16_t *port)
{
    if (port)
        *port = p->port;
    return p->addr;
}

const char *cs_peer_local_addr(const cs_peer *p, uint16_t *port)
{
    if (port)
        *port = p->lport;
    return p->laddr;
}

void *cs_peer_user(const cs_peer *p)
{
    return p->user;
}

void cs_peer_set_user(cs_peer *p, void *user)
{
    p->user = user;
}

void cs_peer_delay_handshake(cs_peer *p, uint64_t ms)
{
    p->delay_until = uv_now(p->c->loop) + ms;
}
