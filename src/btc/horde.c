/* The horde: one control socket in front of many connector shards
 * (horde.h says how requests are routed and merged). */
#include "btc/horde.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "btc/ctlsrv.h"
#include "chainscope/control.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "core/value.h"

#define MAX_SHARDS 64
#define MAX_REGS 1024
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

typedef struct hcall hcall;

/* One result of one shard. */
typedef struct part {
    bool asked, done;
    int status;
    uint8_t *res; /* value-encoded result, or NULL when the horde failed it */
    size_t len;
    char why[96]; /* the horde's reason when res is NULL */
} part;

struct hcall {
    cs_horde *h;
    cs_ctlsrv_call *call;
    uint8_t op;
    uint64_t id;  /* DISCONNECT: the peer id */
    uint32_t msg; /* SEND: the message id */
    size_t waiting;
    bool single; /* answered by one shard: its result goes back as it is */
    part parts[];
};

/* A request sent to a shard, waiting for its RESULT (shards answer in
 * order). call is NULL for a replayed registration. */
typedef struct pending {
    struct pending *next;
    hcall *call;
    size_t shard;
    uint32_t req_id;
    uint64_t sent_ms;
} pending;

typedef enum { SH_DOWN, SH_CONNECTING, SH_UP, SH_CLOSING } shard_state;

typedef struct shard {
    cs_horde *h;
    size_t index;
    char *path;
    uv_pipe_t pipe;
    uv_connect_t creq;
    shard_state state;
    cs_buf in;
    uint32_t next_req;
    pending *head, **tail;
    uint64_t retry_ms, backoff_ms;
    bool replay; /* its process restarted: registrations go again first */
} shard;

typedef struct reg {
    uint8_t *body;
    size_t len;
} reg;

struct cs_horde {
    uv_loop_t *loop;
    cs_ctlsrv *srv;
    shard shards[MAX_SHARDS];
    size_t nshards;
    uv_timer_t sweep;
    reg regs[MAX_REGS];
    size_t nregs;
    uint64_t timeout_ms;
    cs_publisher pub;
    char *origin;
    cs_vw w;
    size_t open_handles;
    bool closing;
    void (*done)(void *);
    void *done_arg;
};

size_t cs_horde_shard_of_id(uint64_t id, size_t nshards)
{
    return id ? (size_t)((id - 1) % nshards) : 0;
}

size_t cs_horde_shard_of_addr(const char *addr, size_t len, size_t nshards)
{
    /* The ip only: "1.2.3.4:8333" -> "1.2.3.4", "[::1]:8333" -> "::1". */
    const char *p = addr, *end = addr + len;
    if (len && addr[0] == '[') {
        p++;
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (close)
            end = close;
    } else {
        for (const char *q = end; q > addr; q--)
            if (q[-1] == ':') {
                end = q - 1;
                break;
            }
    }
    uint64_t hash = 1469598103934665603ull; /* FNV-1a, 64 bits */
    for (; p < end; p++)
        hash = (hash ^ (uint8_t)*p) * 1099511628211ull;
    return (size_t)(hash % nshards);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t ld64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void maybe_done(cs_horde *h)
{
    if (!h->closing || h->open_handles)
        return;
    for (size_t i = 0; i < h->nshards; i++) {
        cs_buf_free(&h->shards[i].in);
        free(h->shards[i].path);
    }
    for (size_t i = 0; i < h->nregs; i++)
        free(h->regs[i].body);
    cs_publisher_free(&h->pub);
    cs_vw_free(&h->w);
    free(h->origin);
    void (*done)(void *) = h->done;
    void *arg = h->done_arg;
    free(h);
    if (done)
        done(arg);
}

/* ---- answering ---------------------------------------------------------- */

static void answer(hcall *c, int status)
{
    cs_horde *h = c->h;
    cs_vw_object_end(&h->w);
    if (cs_vw_error(&h->w)) {
        cs_vw_reset(&h->w);
        cs_vw_object_begin(&h->w);
        cs_vw_kv_str(&h->w, "error", "result too large");
        cs_vw_object_end(&h->w);
        status = CS_ELIMIT;
    }
    const cs_control_req *r = cs_ctlsrv_call_req(c->call);
    cs_control_publish_result(&h->pub, cs_ctlsrv_call_client(c->call), r->req_id, status,
                              h->w.buf.data, h->w.buf.len);
    cs_ctlsrv_reply(c->call, status, h->w.buf.data, h->w.buf.len);
}

/* Starts the answer object in h->w with its op. */
static cs_vw *begin(hcall *c)
{
    cs_vw *w = &c->h->w;
    cs_vw_reset(w);
    cs_vw_object_begin(w);
    cs_vw_kv_str(w, "op", cs_control_op_name(c->op));
    return w;
}

static void answer_error(hcall *c, int status, const char *why)
{
    cs_vw_kv_str(begin(c), "error", why);
    answer(c, status);
}

static uint64_t field_u64(const part *p, const char *key)
{
    cs_val v, f;
    if (!p->res || cs_val_read(p->res, p->len, &v, NULL) != 0 || v.kind != CS_VAL_OBJECT)
        return 0;
    if (cs_val_get(&v, key, strlen(key), &f) != 0 || f.kind != CS_VAL_INT || f.neg)
        return 0;
    return f.u;
}

/* The first failed part, or NULL. */
static const part *first_failure(const hcall *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (c->parts[i].asked && c->parts[i].status != 0)
            return &c->parts[i];
    return NULL;
}

static void answer_part(hcall *c, const part *p)
{
    if (p->res) {
        cs_vw *w = &c->h->w;
        cs_vw_reset(w);
        cs_vw_raw(w, p->res, p->len); /* the shard's object as it is */
        const cs_control_req *r = cs_ctlsrv_call_req(c->call);
        cs_control_publish_result(&c->h->pub, cs_ctlsrv_call_client(c->call), r->req_id, p->status,
                                  w->buf.data, w->buf.len);
        cs_ctlsrv_reply(c->call, p->status, w->buf.data, w->buf.len);
        return;
    }
    answer_error(c, p->status, p->why);
}

/* Names the shards that could not be asked or did not answer. */
static void write_unavailable(cs_vw *w, const hcall *c, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += c->parts[i].asked && !c->parts[i].res;
    if (!k)
        return;
    cs_vw_key(w, "unavailable");
    cs_vw_array_begin(w);
    for (size_t i = 0; i < n; i++)
        if (c->parts[i].asked && !c->parts[i].res)
            cs_vw_u64(w, i);
    cs_vw_array_end(w);
}

typedef struct peer_item {
    uint64_t id;
    const uint8_t *raw;
    size_t len;
} peer_item;

static int by_item_id(const void *a, const void *b)
{
    uint64_t x = ((const peer_item *)a)->id, y = ((const peer_item *)b)->id;
    return x < y ? -1 : x > y;
}

/* The shards' "peers" arrays; NULL items when a part has none. */
static int part_peers(const part *p, cs_val *arr)
{
    cs_val v;
    return p->status || !p->res || cs_val_read(p->res, p->len, &v, NULL) ||
                   cs_val_get(&v, "peers", 5, arr) || arr->kind != CS_VAL_ARRAY
               ? -1
               : 0;
}

/* PEERS: the shards' lists joined; for a page (after, limit) every shard
 * gave its first `limit` peers above `after`, so the first `limit` of
 * their union, by id, is the horde's page. */
static void merge_peers(hcall *c, size_t n)
{
    const cs_control_req *r = cs_ctlsrv_call_req(c->call);
    uint64_t after = 0;
    uint32_t limit = 0;
    bool paged = r->body_len > 0;
    if (paged && cs_control_peers_page(r->body, r->body_len, &after, &limit) != 0) {
        answer_error(c, CS_EINVAL, "the body is empty or u64 after + u32 limit");
        return;
    }
    uint64_t count = 0;
    size_t total = 0;
    bool more = false;
    for (size_t i = 0; i < n; i++) {
        cs_val arr;
        if (c->parts[i].status == 0)
            count += field_u64(&c->parts[i], "count");
        if (part_peers(&c->parts[i], &arr) == 0)
            total += arr.count;
        more = more || field_u64(&c->parts[i], "next") != 0;
    }
    peer_item *items = total ? malloc(total * sizeof *items) : NULL;
    if (total && !items) {
        answer_error(c, CS_ENOMEM, "out of memory");
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        cs_val arr, item, id;
        if (part_peers(&c->parts[i], &arr) != 0)
            continue;
        cs_val_iter it;
        cs_val_iter_init(&it, &arr);
        while (k < total && cs_val_next(&it, NULL, NULL, &item) == 1) {
            bool has = cs_val_get(&item, "id", 2, &id) == 0 && id.kind == CS_VAL_INT;
            items[k++] = (peer_item){has ? id.u : 0, item.raw, item.raw_len};
        }
    }
    size_t take = k;
    if (paged) {
        if (k)
            qsort(items, k, sizeof *items, by_item_id);
        if (take > limit) {
            take = limit;
            more = true;
        }
    }
    cs_vw *w = begin(c);
    cs_vw_kv_u64(w, "count", count);
    cs_vw_key(w, "peers");
    cs_vw_array_begin(w);
    for (size_t i = 0; i < take; i++)
        cs_vw_raw(w, items[i].raw, items[i].len);
    cs_vw_array_end(w);
    if (paged && more && take)
        cs_vw_kv_u64(w, "next", items[take - 1].id);
    free(items);
    write_unavailable(w, c, n);
    answer(c, 0);
}

/* All parts are in: the answer. */
static void finish_call(hcall *c)
{
    size_t n = c->h->nshards;
    if (c->single) {
        for (size_t i = 0; i < n; i++)
            if (c->parts[i].asked) {
                answer_part(c, &c->parts[i]);
                break;
            }
    } else if (c->op == CS_CTL_REGISTER) {
        /* Every shard must hold the message under the same id. */
        const part *bad = first_failure(c, n);
        if (bad) {
            answer_part(c, bad);
        } else {
            uint64_t id = field_u64(&c->parts[0], "id");
            bool same = true;
            for (size_t i = 1; i < n; i++)
                same = same && field_u64(&c->parts[i], "id") == id;
            if (same) {
                const cs_control_req *r = cs_ctlsrv_call_req(c->call);
                cs_horde *h = c->h;
                if (h->nregs < MAX_REGS) {
                    uint8_t *copy = malloc(r->body_len ? r->body_len : 1);
                    if (copy) {
                        memcpy(copy, r->body, r->body_len);
                        h->regs[h->nregs++] = (reg){copy, r->body_len};
                    }
                }
                answer_part(c, &c->parts[0]);
            } else {
                answer_error(c, CS_EIO,
                             "register: the shards gave different message ids (one restarted "
                             "and was not replayed)");
            }
        }
    } else if (c->op == CS_CTL_PEERS) {
        merge_peers(c, n);
    } else {
        /* DISCONNECT 0 and SEND: counts add up. */
        uint64_t a = 0, b = 0;
        size_t ok = 0, asked = 0;
        for (size_t i = 0; i < n; i++) {
            const part *p = &c->parts[i];
            if (!p->asked)
                continue;
            asked++;
            if (p->status == 0) {
                ok++;
                a += field_u64(p, c->op == CS_CTL_SEND ? "sent" : "count");
                b += field_u64(p, "missing");
            } else if (c->op == CS_CTL_SEND && p->res) {
                answer_part(c, p); /* e.g. no such message: every shard says so */
                return;
            }
        }
        if (asked && !ok) {
            answer_part(c, first_failure(c, n));
            return;
        }
        cs_vw *w = begin(c);
        if (c->op == CS_CTL_SEND) {
            cs_vw_kv_u64(w, "message", c->msg);
            cs_vw_kv_u64(w, "sent", a);
            cs_vw_kv_u64(w, "missing", b);
        } else {
            cs_vw_kv_u64(w, "id", 0);
            cs_vw_kv_u64(w, "count", a);
        }
        write_unavailable(w, c, n);
        answer(c, 0);
    }
    free(c);
}

/* One answer less to wait for; the last one finishes the call. */
static void release(hcall *c)
{
    if (--c->waiting)
        return;
    size_t n = c->h->nshards;
    part saved[MAX_SHARDS];
    memcpy(saved, c->parts, n * sizeof *saved); /* finish_call frees c */
    finish_call(c);
    for (size_t k = 0; k < n; k++)
        free(saved[k].res);
}

static void part_done(hcall *c, size_t i, int status, const uint8_t *res, size_t len,
                      const char *why)
{
    part *p = &c->parts[i];
    assert(p->asked && !p->done);
    p->done = true;
    p->status = status;
    if (res) {
        p->res = malloc(len ? len : 1);
        if (p->res) {
            memcpy(p->res, res, len);
            p->len = len;
        }
    }
    if (!p->res)
        snprintf(p->why, sizeof p->why, "%s", why ? why : "out of memory");
    release(c);
}

/* ---- shards ------------------------------------------------------------- */

static void shard_connect(shard *s);

static void on_shard_closed(uv_handle_t *hd)
{
    shard *s = hd->data;
    cs_horde *h = s->h;
    s->state = SH_DOWN;
    h->open_handles--;
    maybe_done(h);
}

/* Drops the shard's connection: what waits on it fails. */
static void shard_drop(shard *s, const char *why)
{
    if (s->state == SH_DOWN || s->state == SH_CLOSING)
        return;
    if (s->state == SH_UP && why)
        CS_WARN("horde", "shard %zu (%s): %s", s->index, s->path, why);
    s->state = SH_CLOSING;
    pending *p = s->head;
    s->head = NULL;
    s->tail = &s->head;
    while (p) {
        pending *next = p->next;
        if (p->call) {
            char msg[96];
            snprintf(msg, sizeof msg, "shard %zu: %s", s->index, why ? why : "closed");
            part_done(p->call, p->shard, CS_EIO, NULL, 0, msg);
        }
        free(p);
        p = next;
    }
    s->in.len = 0;
    s->retry_ms = uv_now(s->h->loop) + s->backoff_ms;
    s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
    uv_close((uv_handle_t *)&s->pipe, on_shard_closed);
}

typedef struct swrite {
    uv_write_t req;
    shard *s;
    uint8_t data[];
} swrite;

static void on_shard_write(uv_write_t *req, int status)
{
    swrite *w = (swrite *)req;
    shard *s = w->s;
    free(w);
    if (status < 0 && s->state == SH_UP)
        shard_drop(s, uv_strerror(status));
}

/* Sends op + body to the shard; a NULL call is a replayed registration. */
static int shard_send(shard *s, hcall *call, uint8_t op, const uint8_t *body, size_t n)
{
    if (s->state != SH_UP)
        return CS_ECLOSED;
    pending *p = malloc(sizeof *p);
    swrite *w = malloc(sizeof *w + 9 + n);
    if (!p || !w) {
        free(p);
        free(w);
        return CS_ENOMEM;
    }
    uint32_t id = ++s->next_req;
    put32(w->data, (uint32_t)(5 + n));
    w->data[4] = op;
    put32(w->data + 5, id);
    if (n)
        memcpy(w->data + 9, body, n);
    w->s = s;
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)(9 + n));
    if (uv_write(&w->req, (uv_stream_t *)&s->pipe, &b, 1, on_shard_write) != 0) {
        free(p);
        free(w);
        return CS_EIO;
    }
    *p = (pending){.call = call, .shard = s->index, .req_id = id, .sent_ms = uv_now(s->h->loop)};
    *s->tail = p;
    s->tail = &p->next;
    return 0;
}

static void on_shard_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
    shard *s = hd->data;
    (void)suggested;
    if (cs_buf_reserve(&s->in, 65536) != 0 && cs_buf_reserve(&s->in, 1) != 0) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init((char *)s->in.data + s->in.len, (unsigned)(s->in.cap - s->in.len));
}

static void on_shard_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    shard *s = st->data;
    (void)buf;
    if (s->state != SH_UP)
        return;
    if (nread < 0) {
        shard_drop(s, nread == UV_EOF ? "closed its control socket" : uv_strerror((int)nread));
        return;
    }
    if (nread == 0) {
        if (s->in.len == s->in.max)
            shard_drop(s, "result too large");
        return;
    }
    s->in.len += (size_t)nread;
    size_t off = 0;
    while (s->state == SH_UP) {
        cs_control_req r;
        size_t used;
        char err[128];
        int rc = cs_control_parse(s->in.data + off, s->in.len - off, &r, &used, err, sizeof err);
        if (rc == CS_ETRUNC)
            break;
        pending *p = s->head;
        if (rc || r.op != CS_CTL_RESULT || r.body_len < 4 || !p || p->req_id != r.req_id) {
            shard_drop(s, rc ? err : "answered out of order or with a bad frame");
            return;
        }
        s->head = p->next;
        if (!s->head)
            s->tail = &s->head;
        int status = (int)ld32(r.body);
        if (p->call)
            part_done(p->call, p->shard, status, r.body + 4, r.body_len - 4, NULL);
        else if (status != 0)
            CS_WARN("horde", "shard %zu: a replayed registration failed (status %d)", s->index,
                    status);
        free(p);
        off += used;
    }
    if (s->state == SH_UP)
        cs_buf_consume(&s->in, off);
}

static void on_shard_connect(uv_connect_t *req, int status)
{
    shard *s = req->data;
    cs_horde *h = s->h;
    if (s->state != SH_CONNECTING)
        return;
    if (status < 0 || h->closing) {
        s->state = SH_UP; /* so that shard_drop closes the handle */
        shard_drop(s, NULL);
        return;
    }
    s->state = SH_UP;
    s->backoff_ms = BACKOFF_MIN_MS;
    CS_INFO("horde", "shard %zu connected (%s)", s->index, s->path);
    uv_read_start((uv_stream_t *)&s->pipe, on_shard_alloc, on_shard_read);
    if (s->replay) {
        s->replay = false;
        for (size_t i = 0; i < h->nregs; i++)
            if (shard_send(s, NULL, CS_CTL_REGISTER, h->regs[i].body, h->regs[i].len) != 0)
                break;
        if (h->nregs)
            CS_INFO("horde", "shard %zu: %zu registrations replayed", s->index, h->nregs);
    }
}

static void shard_connect(shard *s)
{
    cs_horde *h = s->h;
    if (s->state != SH_DOWN || h->closing)
        return;
    uv_pipe_init(h->loop, &s->pipe, 0);
    s->pipe.data = s;
    s->creq.data = s;
    h->open_handles++;
    s->state = SH_CONNECTING;
    uv_pipe_connect(&s->creq, &s->pipe, s->path, on_shard_connect);
}

static void on_sweep(uv_timer_t *t)
{
    cs_horde *h = t->data;
    uint64_t now = uv_now(h->loop);
    for (size_t i = 0; i < h->nshards; i++) {
        shard *s = &h->shards[i];
        if (s->state == SH_DOWN && now >= s->retry_ms)
            shard_connect(s);
        else if (s->state == SH_UP && s->head && now - s->head->sent_ms > h->timeout_ms)
            shard_drop(s, "did not answer in time");
    }
}

void cs_horde_shard_restarted(cs_horde *h, size_t i)
{
    if (i >= h->nshards)
        return;
    shard *s = &h->shards[i];
    s->replay = true;
    s->backoff_ms = BACKOFF_MIN_MS;
    if (s->state == SH_UP || s->state == SH_CONNECTING) {
        if (s->state == SH_CONNECTING)
            s->state = SH_UP;
        shard_drop(s, "its process restarted");
    }
    s->retry_ms = 0;
}

int cs_horde_shard_up(const cs_horde *h, size_t i)
{
    return i < h->nshards && h->shards[i].state == SH_UP;
}

/* ---- requests ----------------------------------------------------------- */

static void ask(hcall *c, size_t i, const uint8_t *body, size_t n)
{
    shard *s = &c->h->shards[i];
    part *p = &c->parts[i];
    p->asked = true;
    c->waiting++;
    int rc = shard_send(s, c, c->op, body, n);
    if (rc) {
        char msg[96];
        snprintf(msg, sizeof msg, "shard %zu is not connected", i);
        part_done(c, i, CS_ECLOSED, NULL, 0, msg);
    }
}

/* SEND to listed peers: each shard gets the ids that are its own. */
static void ask_send_split(hcall *c, const cs_control_req *r, uint32_t cnt)
{
    cs_horde *h = c->h;
    size_t n = h->nshards;
    uint32_t per[MAX_SHARDS] = {0};
    for (uint32_t k = 0; k < cnt; k++)
        per[cs_horde_shard_of_id(ld64(r->body + 8 + 8 * (size_t)k), n)]++;
    uint8_t *bodies[MAX_SHARDS] = {0};
    size_t fill[MAX_SHARDS] = {0};
    for (size_t i = 0; i < n; i++) {
        if (!per[i])
            continue;
        if (!(bodies[i] = malloc(8 + 8 * (size_t)per[i])))
            goto oom;
        put32(bodies[i], c->msg);
        put32(bodies[i] + 4, per[i]);
        fill[i] = 8;
    }
    for (uint32_t k = 0; k < cnt; k++) {
        uint64_t id = ld64(r->body + 8 + 8 * (size_t)k);
        size_t i = cs_horde_shard_of_id(id, n);
        put64(bodies[i] + fill[i], id);
        fill[i] += 8;
    }
    /* Count every shard first, so that no answer finishes the call early. */
    c->waiting++;
    for (size_t i = 0; i < n; i++)
        if (bodies[i])
            ask(c, i, bodies[i], fill[i]);
    for (size_t i = 0; i < n; i++)
        free(bodies[i]);
    release(c);
    return;
oom:
    for (size_t i = 0; i < n; i++)
        free(bodies[i]);
    answer_error(c, CS_ENOMEM, "send: out of memory");
    free(c);
}

static void on_call(void *arg, cs_ctlsrv_call *call, const cs_control_req *r)
{
    cs_horde *h = arg;
    size_t n = h->nshards;
    hcall *c = calloc(1, sizeof *c + n * sizeof(part));
    if (!c) {
        static const uint8_t empty[] = {0x08, 0x00}; /* an empty object */
        cs_ctlsrv_reply(call, CS_ENOMEM, empty, sizeof empty);
        return;
    }
    c->h = h;
    c->call = call;
    c->op = r->op;
    if (h->closing) {
        answer_error(c, CS_EIO, "the horde is stopping");
        free(c);
        return;
    }
    const uint8_t *b = r->body;
    size_t len = r->body_len;
    switch (r->op) {
    case CS_CTL_CONNECT:
        c->single = true;
        ask(c, cs_horde_shard_of_addr((const char *)b, len, n), b, len);
        return;
    case CS_CTL_DISCONNECT:
        if (len != 8) {
            answer_error(c, CS_EINVAL, "disconnect: body must be a u64 peer id");
            break;
        }
        c->id = ld64(b);
        if (c->id) {
            c->single = true;
            ask(c, cs_horde_shard_of_id(c->id, n), b, len);
            return;
        }
        goto everyone;
    case CS_CTL_SEND: {
        if (len < 8 || (size_t)ld32(b + 4) * 8 != len - 8) {
            answer_error(c, CS_EINVAL, "send: body is u32 message id, u32 count, ids");
            break;
        }
        c->msg = ld32(b);
        uint32_t cnt = ld32(b + 4);
        if (cnt) {
            ask_send_split(c, r, cnt);
            return;
        }
        goto everyone;
    }
    case CS_CTL_REGISTER:
        /* Asked of all or none, so that the shards keep the same ids. */
        for (size_t i = 0; i < n; i++)
            if (!cs_horde_shard_up(h, i)) {
                char msg[80];
                snprintf(msg, sizeof msg, "register: shard %zu is not connected; try again", i);
                answer_error(c, CS_ECLOSED, msg);
                free(c);
                return;
            }
        goto everyone;
    case CS_CTL_PEERS:
    everyone:
        c->waiting++; /* held while asking, so no answer finishes the call early */
        for (size_t i = 0; i < n; i++)
            ask(c, i, b, len);
        release(c);
        return;
    default: {
        char msg[48];
        snprintf(msg, sizeof msg, "unknown request type 0x%02x", r->op);
        answer_error(c, CS_EUNSUPPORTED, msg);
        break;
    }
    }
    free(c);
}

/* ---- life --------------------------------------------------------------- */

int cs_horde_new(uv_loop_t *loop, const cs_horde_opts *o, cs_horde **out)
{
    if (!o || !o->nshards || o->nshards > MAX_SHARDS || !o->shard_paths || !o->control_path)
        return CS_EINVAL;
    cs_horde *h = calloc(1, sizeof *h);
    if (!h)
        return CS_ENOMEM;
    h->loop = loop;
    h->nshards = o->nshards;
    h->timeout_ms = o->timeout_ms ? o->timeout_ms : 10000;
    h->origin = strdup(o->origin ? o->origin : "horde");
    cs_vw_init(&h->w, CS_CTL_MAX_FRAME - 16);
    cs_publisher_init(&h->pub, o->bus, h->origin, NULL);
    int rc = h->origin ? 0 : CS_ENOMEM;
    for (size_t i = 0; i < h->nshards && rc == 0; i++) {
        shard *s = &h->shards[i];
        s->h = h;
        s->index = i;
        s->tail = &s->head;
        s->backoff_ms = BACKOFF_MIN_MS;
        cs_buf_init(&s->in, 4 + CS_CTL_MAX_FRAME);
        if (!(s->path = strdup(o->shard_paths[i])))
            rc = CS_ENOMEM;
    }
    cs_ctlsrv_opts so = {.path = o->control_path, .log_name = "horde", .exec = on_call, .arg = h};
    if (rc == 0)
        rc = cs_ctlsrv_new(loop, &so, &h->srv);
    if (rc) {
        h->closing = true;
        maybe_done(h);
        return rc;
    }
    uv_timer_init(loop, &h->sweep);
    h->sweep.data = h;
    h->open_handles = 1;
    uv_timer_start(&h->sweep, on_sweep, 0, 100);
    *out = h;
    return 0;
}

static void on_sweep_closed(uv_handle_t *hd)
{
    cs_horde *h = hd->data;
    h->open_handles--;
    maybe_done(h);
}

void cs_horde_close(cs_horde *h, void (*done)(void *arg), void *arg)
{
    if (h->closing)
        return;
    h->closing = true;
    h->done = done;
    h->done_arg = arg;
    cs_ctlsrv_close(h->srv);
    for (size_t i = 0; i < h->nshards; i++) {
        shard *s = &h->shards[i];
        if (s->state == SH_CONNECTING)
            s->state = SH_UP;
        shard_drop(s, NULL); /* fails what is in flight: the calls are answered */
    }
    uv_close((uv_handle_t *)&h->sweep, on_sweep_closed);
}
