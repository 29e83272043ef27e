/* The inside view of configured Bitcoin Core nodes: each node's debug.log
 * followed and turned into bitcoind.log.<kind> events (btclog_kinds.c),
 * and each node's own -addnode connection taken on a listener of its own
 * and pinged at a fixed interval (p2p.ping.rtt with field node), with its
 * inv, addr/addrv2 and feefilter traffic counted per node. docs/btc.md. */
#include "btc/btclog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "btc/btclog_follow.h"
#include "btc/btclog_int.h"
#include "btc/connector.h"
#include "core/error.h"
#include "core/log.h"

/* ---- config ------------------------------------------------------------ */

const char *const cs_btclog_node_keys[] = {
    "log", "log_from", "p2p_listen", "p2p_ping_interval", "p2p_rates_interval", NULL};

int cs_btclog_node_parse(cs_cfg *c, struct fy_node *map, const char *path, cs_btclog_node *out)
{
    static const char *const from[] = {"end", "start", NULL};
    int which = 0, rc;
    if ((rc = cs_cfg_str(c, map, path, "name", &out->name, true)) ||
        (rc = cs_cfg_str(c, map, path, "network", &out->network, false)))
        return rc;
    out->p2p_ping_interval_ms = 10000;
    out->p2p_rates_interval_ms = 60000;
    if ((rc = cs_cfg_str(c, map, path, "log", &out->log, false)) ||
        (rc = cs_cfg_enum(c, map, path, "log_from", from, &which, false)) ||
        (rc = cs_cfg_str(c, map, path, "p2p_listen", &out->p2p_listen, false)) ||
        (rc = cs_cfg_duration_ms(c, map, path, "p2p_ping_interval", &out->p2p_ping_interval_ms,
                                 false)) ||
        (rc = cs_cfg_duration_ms(c, map, path, "p2p_rates_interval", &out->p2p_rates_interval_ms,
                                 false)))
        return rc;
    if (out->p2p_rates_interval_ms < 1000)
        return cs_cfg_error(c, cs_cfg_get(map, "p2p_rates_interval"), "p2p_rates_interval",
                            "at least 1s");
    out->log_from_start = which == 1;
    if (out->p2p_ping_interval_ms < 100)
        return cs_cfg_error(c, cs_cfg_get(map, "p2p_ping_interval"), "p2p_ping_interval",
                            "at least 100ms");
    if (out->p2p_listen) {
        bool loopback;
        if ((rc = cs_cfg_listen(c, map, path, "p2p_listen", out->p2p_listen, &loopback)))
            return rc;
    }
    return 0;
}

void cs_btclog_node_free(cs_btclog_node *n)
{
    free(n->name);
    free(n->network);
    free(n->log);
    free(n->p2p_listen);
    memset(n, 0, sizeof *n);
}

/* ---- one node ---------------------------------------------------------- */

#define POLL_MS 100
#define MAX_ENTRY (64u << 10) /* bytes of one multi-line entry kept */
#define MAX_CATS 32           /* unparsed categories labelled; the rest "other" */
#define CMPCT_RING 16
#define PEER_SLOTS 1024 /* peer id -> addr, conntype for disconnect lines */

typedef struct peer_slot {
    uint64_t id; /* id + 1; 0: empty */
    char addr[64];
    char conntype[24];
} peer_slot;

typedef struct node {
    struct cs_btclog *b;
    const cs_btclog_node *n;
    const char *network;
    /* the log */
    bool has_log;
    cs_follow f;
    uv_timer_t timer;
    uv_idle_t idle;
    bool timer_open;
    int last_error; /* of the last step, to warn once */
    char *entry;    /* the entry being assembled (continuation lines join it) */
    size_t elen;
    bool have_entry, seen_ts;
    cs_mseries *m_lines, *m_unparsed_other, *m_rotate, *m_truncate, *m_cut;
    cs_mcount c_cut;
    cs_mseries **m_kind; /* per kind, found on first use */
    struct {
        char name[24];
        cs_mseries *s;
    } cats[MAX_CATS];
    size_t ncats;
    struct {
        char hash[65];
        int64_t us;
    } cmpct[CMPCT_RING];
    size_t cmpct_at;
    peer_slot *peers;
    /* the node's own P2P connection */
    cs_connector *conn;
    char origin[96];
    uint16_t port;
    cs_mseries *m_inv, *m_inv_items, *m_addr, *m_addrv2, *m_addr_entries, *m_feefilter;
    cs_mseries *m_feerate, *m_rtt, *m_connected;
    /* what the node sent since the last bitcoind.p2p.rates */
    uv_timer_t rates;
    bool rates_open;
    uint64_t n_inv, n_inv_items, n_addr, n_addr_entries, n_feefilter;
    int64_t feerate; /* -1 until a feefilter */
    double rtt_ms;   /* -1 until a pong */
    int connected;
    uint64_t rates_at; /* loop ms of the last rates event */
} node;

struct cs_btclog {
    cs_runtime *rt;
    cs_publisher pub;
    char origin[96];
    node *nodes;
    size_t nnodes;
    size_t open;         /* handles and connectors still to close */
    cs_mseries *m_waits; /* log steps skipped while the bus was pressed */
    bool stopping;
    void (*done)(void *);
    void *done_arg;
    cs_mfamily *f_lines, *f_kind, *f_unparsed, *f_reopen, *f_cut;
    cs_mfamily *f_p2p_msgs, *f_p2p_items, *f_feerate, *f_rtt, *f_connected;
};

static cs_mseries *series(cs_mfamily *f, const char *a, const char *b)
{
    const char *v[] = {a, b};
    return f ? cs_mfamily_series(f, v) : NULL;
}

static peer_slot *peer_find(node *nd, uint64_t id, bool add)
{
    if (!nd->peers)
        return NULL;
    peer_slot *s = &nd->peers[id % PEER_SLOTS];
    if (s->id == id + 1 || add)
        return s; /* a newer peer with the same slot replaces the older */
    return NULL;
}

/* Copies the text after `key` up to a space or comma, into out. */
static bool field_after(const char *msg, size_t n, const char *key, char *out, size_t outlen)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl <= n; i++)
        if (memcmp(msg + i, key, kl) == 0) {
            size_t j = i + kl, k = 0;
            while (j < n && msg[j] != ' ' && msg[j] != ',' && k + 1 < outlen)
                out[k++] = msg[j++];
            out[k] = 0;
            return k > 0;
        }
    return false;
}

/* What a kind's event gains from earlier lines: the time a compact block
 * took from its first line, a disconnected peer's address and type from its
 * connected line. */
static void kind_extras(node *nd, const char *kind, const cs_btclog_line *l, cs_vw *w)
{
    char buf[80];
    if (strcmp(kind, "cmpctblock_init") == 0 && l->time_len) {
        if (field_after(l->msg, l->msg_len, "for block ", buf, 65)) {
            memcpy(nd->cmpct[nd->cmpct_at].hash, buf, 65);
            nd->cmpct[nd->cmpct_at].us = l->time_us;
            nd->cmpct_at = (nd->cmpct_at + 1) % CMPCT_RING;
        }
    } else if (strcmp(kind, "cmpctblock") == 0 && l->time_len) {
        if (field_after(l->msg, l->msg_len, "reconstructed block ", buf, 65))
            for (size_t i = 0; i < CMPCT_RING; i++)
                if (strcmp(nd->cmpct[i].hash, buf) == 0) {
                    cs_vw_kv_double(w, "elapsed_ms", (double)(l->time_us - nd->cmpct[i].us) / 1e3);
                    nd->cmpct[i].hash[0] = 0;
                    break;
                }
    } else if (strcmp(kind, "peer_connected") == 0) {
        if (!field_after(l->msg, l->msg_len, "peer=", buf, 21))
            return;
        peer_slot *s = peer_find(nd, strtoull(buf, NULL, 10), true);
        if (!s)
            return;
        s->id = strtoull(buf, NULL, 10) + 1;
        s->addr[0] = s->conntype[0] = 0;
        field_after(l->msg, l->msg_len, "peeraddr=", s->addr, sizeof s->addr);
        if (l->msg_len > 4 && memcmp(l->msg, "New ", 4) == 0)
            field_after(l->msg, l->msg_len, "New ", s->conntype, sizeof s->conntype);
        if (strcmp(s->conntype, "outbound") == 0) /* the old format: "(conntype)" at the end */
            s->conntype[0] = 0;
    } else if (strcmp(kind, "peer_disconnected") == 0) {
        if (!field_after(l->msg, l->msg_len, "peer=", buf, 21))
            return;
        peer_slot *s = peer_find(nd, strtoull(buf, NULL, 10), false);
        if (!s)
            return;
        if (s->addr[0] && !field_after(l->msg, l->msg_len, "peeraddr=", buf, sizeof buf))
            cs_vw_kv_str(w, "addr", s->addr);
        if (s->conntype[0])
            cs_vw_kv_str(w, "conntype", s->conntype);
        s->id = 0;
    }
}

static void count_unparsed(node *nd, const cs_btclog_line *l)
{
    cs_btclog *b = nd->b;
    if (!b->f_unparsed)
        return;
    char cat[24] = "none";
    if (l->category_len && l->category_len < sizeof cat) {
        memcpy(cat, l->category, l->category_len);
        cat[l->category_len] = 0;
    }
    for (size_t i = 0; i < nd->ncats; i++)
        if (strcmp(nd->cats[i].name, cat) == 0) {
            cs_mseries_inc(nd->cats[i].s, 1);
            return;
        }
    if (nd->ncats < MAX_CATS) {
        memcpy(nd->cats[nd->ncats].name, cat, sizeof cat);
        nd->cats[nd->ncats].s = series(b->f_unparsed, nd->n->name, cat);
        cs_mseries_inc(nd->cats[nd->ncats++].s, 1);
        return;
    }
    if (!nd->m_unparsed_other)
        nd->m_unparsed_other = series(b->f_unparsed, nd->n->name, "other");
    cs_mseries_inc(nd->m_unparsed_other, 1);
}

/* One whole entry: its prefixes, the table, an event or a count. */
static void entry(node *nd, const char *s, size_t n)
{
    cs_btclog_line l;
    cs_btclog_split(s, n, &l);
    if (l.msg_len == 0)
        return; /* Core's blank lines between runs */
    cs_mseries_inc(nd->m_lines, 1);
    cs_btclog *b = nd->b;
    cs_vw *w = cs_publisher_begin(&b->pub);
    int k = cs_btclog_payload(&l, nd->n->name, w);
    if (k < 0) {
        count_unparsed(nd, &l);
        return;
    }
    const char *kind = cs_btclog_kind_name((size_t)k);
    kind_extras(nd, kind, &l, w);
    if (nd->m_kind && !nd->m_kind[k])
        nd->m_kind[k] = series(b->f_kind, nd->n->name, kind);
    if (nd->m_kind)
        cs_mseries_inc(nd->m_kind[k], 1);
    int rc = cs_publisher_emit(&b->pub, cs_schema_btclog[k].type, nd->network, nd->n->name, NULL);
    if (rc)
        CS_WARN("btclog", "%s: cannot publish %s: %s", nd->n->name, cs_schema_btclog[k].type,
                cs_strerror(rc));
}

static void flush_entry(node *nd)
{
    if (nd->have_entry) {
        entry(nd, nd->entry, nd->elen);
        nd->have_entry = false;
        nd->elen = 0;
    }
}

/* Physical lines to entries: once timestamps are seen, a line without one
 * continues the entry before it (a message with newlines), until the blank
 * lines of Core's next start. The last entry waits for the next line or for
 * the end of what is there. */
static void on_line(void *arg, const char *s, size_t n)
{
    node *nd = arg;
    if (n == 0) {
        /* Core writes blank lines when it starts logging: its options may
         * differ from here on */
        flush_entry(nd);
        nd->seen_ts = false;
        return;
    }
    bool ts = cs_btclog_starts_entry(s, n);
    if (!ts && nd->seen_ts && nd->have_entry) {
        if (nd->elen + 1 + n <= MAX_ENTRY) {
            nd->entry[nd->elen++] = '\n';
            memcpy(nd->entry + nd->elen, s, n);
            nd->elen += n;
        }
        return;
    }
    flush_entry(nd);
    if (ts)
        nd->seen_ts = true;
    if (n > MAX_ENTRY)
        n = MAX_ENTRY;
    memcpy(nd->entry, s, n);
    nd->elen = n;
    nd->have_entry = true;
}

static void on_idle(void *arg)
{
    flush_entry(arg);
}

static void on_reopen(void *arg, const char *why)
{
    node *nd = arg;
    flush_entry(nd);
    cs_mseries_inc(strcmp(why, "rotate") == 0 ? nd->m_rotate : nd->m_truncate, 1);
    CS_INFO("btclog", "%s: %s %s", nd->n->name, nd->n->log,
            strcmp(why, "rotate") == 0 ? "was rotated: reading the new file" : "was truncated");
}

static void on_timer(uv_timer_t *t);
static void on_idle_step(uv_idle_t *h);

/* One bounded read step. While more is waiting, the next step runs from
 * the idle handle: once per loop turn, after the turn's I/O (a timer of 0
 * would run again within the same turn); at the end, the poll timer. */
static void step(node *nd)
{
    /* a lossless subscriber fell behind: the log waits on disk, not in
     * memory (the connector stops reading its peers the same way) */
    if (nd->b->rt->bus && cs_bus_pressed(nd->b->rt->bus)) {
        cs_mseries_inc(nd->b->m_waits, 1);
        uv_idle_stop(&nd->idle);
        uv_timer_start(&nd->timer, on_timer, POLL_MS, 0);
        return;
    }
    int rc = cs_follow_step(&nd->f, CS_FOLLOW_CHUNK);
    cs_mcount_set(&nd->c_cut, (double)nd->f.cut);
    /* one warning per kind of trouble, until reading works again */
    if (rc < 0 && rc != nd->last_error) {
        if (rc == CS_ENOTFOUND)
            CS_WARN("btclog", "%s: %s does not exist (yet): waiting for it", nd->n->name,
                    nd->n->log);
        else
            CS_WARN("btclog", "%s: cannot read %s: %s (trying again)", nd->n->name, nd->n->log,
                    cs_strerror(rc));
    } else if (rc >= 0 && nd->last_error) {
        CS_INFO("btclog", "%s: reading %s", nd->n->name, nd->n->log);
    }
    nd->last_error = rc < 0 ? rc : 0;
    if (rc == 1) {
        uv_idle_start(&nd->idle, on_idle_step);
    } else {
        uv_idle_stop(&nd->idle);
        uv_timer_start(&nd->timer, on_timer, POLL_MS, 0);
    }
}

static void on_timer(uv_timer_t *t)
{
    step(t->data);
}

static void on_idle_step(uv_idle_t *h)
{
    step(h->data);
}

/* ---- the node's own P2P connection ------------------------------------- */

static void p2p_handshake(cs_connector *c, cs_peer *p, void *arg)
{
    (void)c;
    node *nd = arg;
    cs_peer_info info;
    cs_peer_info_get(p, &info);
    cs_mseries_inc(nd->m_connected, 1);
    nd->connected++;
    CS_INFO("btclog", "%s: the node connected to %s from %s:%u (%s)", nd->n->name,
            nd->n->p2p_listen, info.addr, info.port, info.user_agent);
    cs_vw *w = cs_publisher_begin(&nd->b->pub);
    cs_vw_kv_str(w, "node", nd->n->name);
    cs_vw_key(w, "peer");
    cs_vw_object_begin(w);
    cs_vw_kv_u64(w, "id", info.id);
    cs_vw_kv_str(w, "addr", info.addr);
    cs_vw_kv_u64(w, "port", info.port);
    cs_vw_kv_str(w, "direction", "in");
    cs_vw_object_end(w);
    cs_vw_kv_str(w, "user_agent", info.user_agent);
    cs_vw_kv_i64(w, "version", info.version);
    cs_vw_kv_i64(w, "start_height", info.start_height);
    cs_publisher_emit(&nd->b->pub, "bitcoind.p2p.connected", nd->network, nd->n->name, NULL);
}

static uint64_t count_of(const cs_val *fields, const char *list)
{
    cs_val v;
    if (cs_val_get(fields, "count", 5, &v) == 0 && v.kind == CS_VAL_INT)
        return v.u;
    if (cs_val_get(fields, list, strlen(list), &v) == 0 && v.kind == CS_VAL_ARRAY)
        return v.count;
    return 0;
}

static void p2p_message(cs_connector *c, cs_peer *p, const char *cmd, const cs_val *fields,
                        void *arg)
{
    (void)c;
    (void)p;
    node *nd = arg;
    if (strcmp(cmd, "inv") == 0) {
        uint64_t n = count_of(fields, "inventory");
        cs_mseries_inc(nd->m_inv, 1);
        cs_mseries_inc(nd->m_inv_items, (double)n);
        nd->n_inv++;
        nd->n_inv_items += n;
    } else if (strcmp(cmd, "addr") == 0 || strcmp(cmd, "addrv2") == 0) {
        uint64_t n = count_of(fields, "addresses");
        cs_mseries_inc(cmd[4] ? nd->m_addrv2 : nd->m_addr, 1);
        cs_mseries_inc(nd->m_addr_entries, (double)n);
        nd->n_addr++;
        nd->n_addr_entries += n;
    } else if (strcmp(cmd, "feefilter") == 0) {
        cs_val v;
        cs_mseries_inc(nd->m_feefilter, 1);
        nd->n_feefilter++;
        if (cs_val_get(fields, "feerate", 7, &v) == 0 && v.kind == CS_VAL_INT) {
            cs_mseries_set(nd->m_feerate, (double)v.u);
            nd->feerate = (int64_t)v.u;
        }
    } else if (strcmp(cmd, "pong") == 0) {
        cs_peer_info info;
        cs_peer_info_get(p, &info);
        if (info.rtt_ms >= 0) {
            cs_mseries_set(nd->m_rtt, info.rtt_ms / 1e3);
            nd->rtt_ms = info.rtt_ms;
        }
    }
}

static void p2p_close(cs_connector *c, cs_peer *p, bool failed, const char *reason, void *arg)
{
    (void)c;
    node *nd = arg;
    cs_peer_info info;
    cs_peer_info_get(p, &info);
    if (!failed && info.ready) {
        cs_mseries_inc(nd->m_connected, -1);
        nd->connected--;
        CS_INFO("btclog", "%s: the node's connection to %s ended: %s", nd->n->name,
                nd->n->p2p_listen, reason);
    }
}

/* Every p2p_rates_interval: what the node sent per second since the last
 * one, as an event the rules can watch (an addr flood, an inv storm). */
static void on_rates(uv_timer_t *t)
{
    node *nd = t->data;
    uint64_t now = uv_now(nd->b->rt->loop);
    double secs = (double)(now - nd->rates_at) / 1e3;
    nd->rates_at = now;
    if (secs <= 0)
        return;
    cs_vw *w = cs_publisher_begin(&nd->b->pub);
    cs_vw_kv_str(w, "node", nd->n->name);
    cs_vw_kv_bool(w, "connected", nd->connected > 0);
    cs_vw_kv_double(w, "seconds", secs);
    cs_vw_kv_double(w, "inv_per_s", (double)nd->n_inv / secs);
    cs_vw_kv_double(w, "inv_items_per_s", (double)nd->n_inv_items / secs);
    cs_vw_kv_double(w, "addr_per_s", (double)nd->n_addr / secs);
    cs_vw_kv_double(w, "addr_entries_per_s", (double)nd->n_addr_entries / secs);
    cs_vw_kv_double(w, "feefilter_per_s", (double)nd->n_feefilter / secs);
    if (nd->feerate >= 0)
        cs_vw_kv_i64(w, "feerate", nd->feerate);
    if (nd->rtt_ms >= 0)
        cs_vw_kv_double(w, "rtt_ms", nd->rtt_ms);
    nd->n_inv = nd->n_inv_items = nd->n_addr = nd->n_addr_entries = nd->n_feefilter = 0;
    cs_publisher_emit(&nd->b->pub, "bitcoind.p2p.rates", nd->network, nd->n->name, NULL);
}

/* "btc-main", "main", "btc-regtest", ... as the wire network. */
static const cs_wire_net *wire_net(const char *network)
{
    if (!network)
        return cs_wire_net_find("main");
    const cs_wire_net *n = cs_wire_net_find(network);
    if (!n && strncmp(network, "btc-", 4) == 0)
        n = cs_wire_net_find(network + 4);
    return n ? n : cs_wire_net_find("main");
}

static int p2p_start(node *nd)
{
    cs_btclog *b = nd->b;
    snprintf(nd->origin, sizeof nd->origin, "btclog@%s/%s", b->rt->node ? b->rt->node : "local",
             nd->n->name);
    cs_connector_opts o = {.net = wire_net(nd->n->network),
                           .origin = nd->origin,
                           .network = nd->network,
                           .node = nd->n->name,
                           .ping_interval_ms = nd->n->p2p_ping_interval_ms,
                           .ping_fixed = true,
                           /* a late pong is the measurement, not a fault */
                           .ping_timeout_ms = 3600000,
                           .max_peers = 8,
                           .no_msg_events = true};
    int rc = cs_connector_new(b->rt->loop, b->rt->bus, &o, &nd->conn);
    if (rc)
        return rc;
    cs_connector_hooks h = {
        .arg = nd, .on_handshake = p2p_handshake, .on_message = p2p_message, .on_close = p2p_close};
    cs_connector_set_hooks(nd->conn, &h);
    if ((rc = cs_connector_listen(nd->conn, nd->n->p2p_listen, &nd->port)) != 0) {
        CS_ERROR("btclog", "%s: cannot listen on %s: %s", nd->n->name, nd->n->p2p_listen,
                 cs_strerror(rc));
        return rc;
    }
    const char *nm = nd->n->name;
    nd->m_inv = series(b->f_p2p_msgs, nm, "inv");
    nd->m_addr = series(b->f_p2p_msgs, nm, "addr");
    nd->m_addrv2 = series(b->f_p2p_msgs, nm, "addrv2");
    nd->m_feefilter = series(b->f_p2p_msgs, nm, "feefilter");
    nd->m_inv_items = series(b->f_p2p_items, nm, "inv");
    nd->m_addr_entries = series(b->f_p2p_items, nm, "addr");
    const char *v1[] = {nm};
    if (b->f_feerate) {
        nd->m_feerate = cs_mfamily_series(b->f_feerate, v1);
        nd->m_rtt = cs_mfamily_series(b->f_rtt, v1);
        nd->m_connected = cs_mfamily_series(b->f_connected, v1);
    }
    nd->feerate = -1;
    nd->rtt_ms = -1;
    uv_timer_init(b->rt->loop, &nd->rates);
    nd->rates.data = nd;
    nd->rates_open = true;
    b->open++;
    nd->rates_at = uv_now(b->rt->loop);
    uv_timer_start(&nd->rates, on_rates, nd->n->p2p_rates_interval_ms,
                   nd->n->p2p_rates_interval_ms);
    CS_INFO("btclog", "%s: waiting for the node's -addnode on %s", nm, nd->n->p2p_listen);
    return 0;
}

/* ---- start and stop ---------------------------------------------------- */

static void families(cs_btclog *b, cs_metrics *m)
{
    if (!m)
        return;
    static const char *const l1[] = {"node", NULL};
    static const char *const lk[] = {"node", "kind", NULL};
    static const char *const lc[] = {"node", "category", NULL};
    static const char *const lw[] = {"node", "why", NULL};
    static const char *const lm[] = {"node", "command", NULL};
    b->f_lines =
        cs_metrics_family(m, CS_METRIC_COUNTER, "btc_log_lines_total",
                          "debug.log entries read (a multi-line entry counts once)", l1, NULL, 0);
    b->f_kind = cs_metrics_family(m, CS_METRIC_COUNTER, "btc_log_events_total",
                                  "debug.log entries that matched a known line kind", lk, NULL, 0);
    b->f_unparsed = cs_metrics_family(m, CS_METRIC_COUNTER, "btc_log_unparsed_total",
                                      "debug.log entries of no known kind, by debug category "
                                      "(none: unconditional lines)",
                                      lc, NULL, 0);
    b->f_reopen =
        cs_metrics_family(m, CS_METRIC_COUNTER, "btc_log_reopens_total",
                          "times the log was rotated or truncated under the reader", lw, NULL, 0);
    b->f_cut = cs_metrics_family(m, CS_METRIC_COUNTER, "btc_log_lines_cut_total",
                                 "lines longer than 64 KiB, cut in pieces", l1, NULL, 0);
    b->f_p2p_msgs = cs_metrics_family(m, CS_METRIC_COUNTER, "btc_node_p2p_messages_total",
                                      "inv, addr, addrv2 and feefilter messages a configured node "
                                      "sent on its own connection",
                                      lm, NULL, 0);
    b->f_p2p_items = cs_metrics_family(m, CS_METRIC_COUNTER, "btc_node_p2p_items_total",
                                       "inventory entries (inv) and addresses (addr: addr and "
                                       "addrv2) a configured node announced",
                                       lm, NULL, 0);
    b->f_feerate = cs_metrics_family(m, CS_METRIC_GAUGE, "btc_node_p2p_feefilter_sat_per_kvb",
                                     "the feerate of the node's last feefilter", l1, NULL, 0);
    b->f_rtt = cs_metrics_family(m, CS_METRIC_GAUGE, "btc_node_p2p_ping_rtt_seconds",
                                 "the node's last ping round trip", l1, NULL, 0);
    b->m_waits = cs_metrics_counter(m, "btc_log_bus_waits_total",
                                    "log reading steps put off while a lossless subscriber "
                                    "was behind");
    b->f_connected = cs_metrics_family(m, CS_METRIC_GAUGE, "btc_node_p2p_connected",
                                       "the node's own connections to its p2p_listen", l1, NULL, 0);
}

static int log_start(node *nd)
{
    cs_btclog *b = nd->b;
    cs_follow_cbs cbs = {.arg = nd, .on_line = on_line, .on_idle = on_idle, .on_reopen = on_reopen};
    nd->entry = malloc(MAX_ENTRY + 1);
    nd->peers = calloc(PEER_SLOTS, sizeof *nd->peers);
    nd->m_kind = calloc(cs_btclog_kinds(), sizeof *nd->m_kind);
    if (!nd->entry || !nd->peers || !nd->m_kind)
        return CS_ENOMEM;
    int rc = cs_follow_init(&nd->f, nd->n->log, nd->n->log_from_start, &cbs);
    if (rc)
        return rc;
    nd->has_log = true;
    const char *nm = nd->n->name;
    const char *v1[] = {nm};
    if (b->f_lines) {
        nd->m_lines = cs_mfamily_series(b->f_lines, v1);
        nd->c_cut.s = cs_mfamily_series(b->f_cut, v1);
    }
    nd->m_rotate = series(b->f_reopen, nm, "rotate");
    nd->m_truncate = series(b->f_reopen, nm, "truncate");
    uv_timer_init(b->rt->loop, &nd->timer);
    uv_idle_init(b->rt->loop, &nd->idle);
    nd->timer.data = nd->idle.data = nd;
    nd->timer_open = true;
    b->open += 2;
    uv_timer_start(&nd->timer, on_timer, 0, 0);
    return 0;
}

static void maybe_done(cs_btclog *b)
{
    if (b->open)
        return;
    for (size_t i = 0; i < b->nnodes; i++) {
        node *nd = &b->nodes[i];
        if (nd->has_log)
            cs_follow_free(&nd->f);
        free(nd->entry);
        free(nd->peers);
        free(nd->m_kind);
    }
    cs_publisher_free(&b->pub);
    void (*done)(void *) = b->done;
    void *arg = b->done_arg;
    free(b->nodes);
    free(b);
    if (done)
        done(arg);
}

static void timer_closed(uv_handle_t *h)
{
    node *nd = h->data;
    nd->b->open--;
    maybe_done(nd->b);
}

static void conn_closed(void *arg)
{
    node *nd = arg;
    nd->b->open--;
    maybe_done(nd->b);
}

void cs_btclog_stop(cs_btclog *b, void (*done)(void *arg), void *arg)
{
    b->done = done;
    b->done_arg = arg;
    b->stopping = true;
    b->open++; /* held while closing, so nothing finishes early */
    for (size_t i = 0; i < b->nnodes; i++) {
        node *nd = &b->nodes[i];
        if (nd->timer_open) {
            nd->timer_open = false;
            uv_close((uv_handle_t *)&nd->timer, timer_closed);
            uv_close((uv_handle_t *)&nd->idle, timer_closed);
        }
        if (nd->rates_open) {
            nd->rates_open = false;
            uv_close((uv_handle_t *)&nd->rates, timer_closed);
        }
        if (nd->conn) {
            cs_connector *c = nd->conn;
            nd->conn = NULL;
            cs_connector_close(c, conn_closed, nd);
        }
    }
    b->open--;
    maybe_done(b);
}

int cs_btclog_start(cs_runtime *rt, const cs_btclog_node *nodes, size_t nnodes, cs_btclog **out)
{
    cs_btclog *b = calloc(1, sizeof *b);
    if (!b)
        return CS_ENOMEM;
    b->rt = rt;
    b->nodes = calloc(nnodes ? nnodes : 1, sizeof *b->nodes);
    if (!b->nodes) {
        free(b);
        return CS_ENOMEM;
    }
    b->nnodes = nnodes;
    snprintf(b->origin, sizeof b->origin, "btclog@%s", rt->node ? rt->node : "local");
    cs_publisher_init(&b->pub, rt->bus, b->origin, "btc-main");
    families(b, rt->metrics);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < nnodes; i++) {
        node *nd = &b->nodes[i];
        nd->b = b;
        nd->n = &nodes[i];
        nd->network = nodes[i].network ? nodes[i].network : "btc-main";
        if (nodes[i].log)
            rc = log_start(nd);
        if (rc == 0 && nodes[i].p2p_listen) {
            rc = p2p_start(nd);
            if (nd->conn)
                b->open++;
        }
    }
    if (rc) {
        cs_btclog_stop(b, NULL, NULL);
        return rc;
    }
    *out = b;
    return 0;
}

uint16_t cs_btclog_p2p_port(const cs_btclog *b, size_t i)
{
    return i < b->nnodes ? b->nodes[i].port : 0;
}
