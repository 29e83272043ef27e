/* The dashboard's views, built from events (state.h). */
#include "web/state.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/json.h"
#include "web/map.h"

struct peer {
    char id[24];
    char *addr;
    uint64_t port;
    char dir[4];
    int64_t version, height;
    char *agent;
    double rtt_ms; /* < 0: none yet */
    uint64_t msgs_in, msgs_out;
    int64_t since_ns;
};

struct crawl_node {
    char *addr, *net, *agent, *failure;
    uint64_t port;
    bool reachable;
    int64_t version, height;
    double rtt_ms;
};

struct chain {
    uint64_t head, timestamp, blocks, reorgs, last_depth, node_head;
    char hash[67];
    int64_t seen_ns[32]; /* when the last blocks arrived, for blocks/s */
    size_t nseen;
};

#define MAX_CHECKS 16

struct check {
    char name[32];
    char state[8];
    char *detail;
};

struct audit_node {
    struct check checks[MAX_CHECKS];
    size_t nchecks;
    int64_t sweep;      /* the sweep the checks belong to */
    bool sweep_fail;    /* some check of it failed */
    int month;          /* year * 12 + month of the counts below */
    uint64_t ok, total; /* finished sweeps this month */
    uint8_t days[31];   /* 0 no sweep, 1 all ok, 2 some failed */
};

struct alert {
    char *json;
};

struct cs_web_state {
    double sla;
    int64_t started_ns;
    char *components; /* JSON of chainscope.started's payload, or NULL */
    uint64_t total;
    cs_web_map types; /* -> uint64_t count (in the pointer) */
    uint32_t rate[CS_WEB_RATE_SECONDS];
    int64_t rate_sec; /* the second rate[rate_sec % N] counts */
    cs_web_map peers, commands, closes;
    struct {
        double t, rtt;
        char peer[24];
    } rtt[CS_WEB_RTT_SAMPLES];
    size_t nrtt, rtt_next;
    cs_web_map crawl;
    char *crawl_done;
    cs_web_map chains;
    char *alerts[CS_WEB_ALERTS];
    size_t nalerts, alert_next;
    cs_web_map alert_ids; /* alerts are published again until acked: count once */
    cs_web_map monitors;  /* name -> count */
    cs_web_map audit;
    bool truncated;
};

/* ---- field access ---------------------------------------------------------- */

static bool field(const cs_event *ev, const char *path, cs_val *v)
{
    return cs_val_path(&ev->payload, path, strlen(path), v) == 0;
}

/* A string field as a new C string (NULL when absent or not a string). */
static char *field_str(const cs_event *ev, const char *path)
{
    cs_val v;
    if (!field(ev, path, &v) || v.kind != CS_VAL_STR)
        return NULL;
    return strndup((const char *)v.p, v.n);
}

static bool field_copy(const cs_event *ev, const char *path, char *out, size_t size)
{
    cs_val v;
    if (!field(ev, path, &v))
        return false;
    if (v.kind == CS_VAL_STR)
        snprintf(out, size, "%.*s", (int)v.n, (const char *)v.p);
    else if (v.kind == CS_VAL_INT && !v.neg)
        snprintf(out, size, "%llu", (unsigned long long)v.u);
    else
        return false;
    return true;
}

static double field_num(const cs_event *ev, const char *path, double dflt)
{
    cs_val v;
    if (!field(ev, path, &v))
        return dflt;
    if (v.kind == CS_VAL_DOUBLE)
        return v.d;
    if (v.kind == CS_VAL_INT)
        return v.neg ? (double)v.i : (double)v.u;
    return dflt;
}

static void count(cs_web_state *s, cs_web_map *m, const char *key, size_t len)
{
    cs_web_entry *e = cs_web_map_get(m, key, len);
    if (!e) {
        if (m->n >= CS_WEB_MAX_KEYS) {
            s->truncated = true;
            return;
        }
        if (!(e = cs_web_map_put(m, key, len)))
            return;
    }
    e->value = (void *)((uintptr_t)e->value + 1);
}

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* ---- peers ----------------------------------------------------------------- */

static void free_peer(void *v)
{
    struct peer *p = v;
    if (!p)
        return;
    free(p->addr);
    free(p->agent);
    free(p);
}

static struct peer *peer_of(cs_web_state *s, const cs_event *ev, bool create, int64_t now_ns)
{
    char id[24];
    if (!field_copy(ev, "peer.id", id, sizeof id))
        return NULL;
    cs_web_entry *e = cs_web_map_get(&s->peers, id, strlen(id));
    if (e || !create)
        return e ? e->value : NULL;
    if (s->peers.n >= CS_WEB_MAX_PEERS) {
        s->truncated = true;
        return NULL;
    }
    struct peer *p = calloc(1, sizeof *p);
    if (!p || !(e = cs_web_map_put(&s->peers, id, strlen(id)))) {
        free(p);
        return NULL;
    }
    e->value = p;
    snprintf(p->id, sizeof p->id, "%s", id);
    p->addr = field_str(ev, "peer.addr");
    p->port = (uint64_t)field_num(ev, "peer.port", 0);
    field_copy(ev, "peer.direction", p->dir, sizeof p->dir);
    p->rtt_ms = -1;
    p->version = -1;
    p->since_ns = now_ns;
    return p;
}

static void on_p2p(cs_web_state *s, const cs_event *ev, int64_t now_ns)
{
    const char *t = ev->type;
    if (strcmp(t, "p2p.conn.open") == 0 || strcmp(t, "p2p.conn.accepted") == 0) {
        peer_of(s, ev, true, now_ns);
    } else if (strcmp(t, "p2p.handshake") == 0) {
        struct peer *p = peer_of(s, ev, true, now_ns);
        if (!p)
            return;
        p->version = (int64_t)field_num(ev, "version", -1);
        p->height = (int64_t)field_num(ev, "start_height", 0);
        free(p->agent);
        p->agent = field_str(ev, "user_agent");
    } else if (strcmp(t, "p2p.ping.rtt") == 0) {
        struct peer *p = peer_of(s, ev, false, now_ns);
        double rtt = field_num(ev, "rtt_ms", -1);
        if (p)
            p->rtt_ms = rtt;
        size_t i = s->rtt_next;
        s->rtt[i].t = (double)ev->time_ns / 1e6;
        s->rtt[i].rtt = rtt;
        field_copy(ev, "peer.id", s->rtt[i].peer, sizeof s->rtt[i].peer);
        s->rtt_next = (i + 1) % CS_WEB_RTT_SAMPLES;
        if (s->nrtt < CS_WEB_RTT_SAMPLES)
            s->nrtt++;
    } else if (strcmp(t, "p2p.conn.closed") == 0) {
        char id[24], code[48];
        if (field_copy(ev, "peer.id", id, sizeof id))
            free_peer(cs_web_map_del(&s->peers, id, strlen(id)));
        if (field_copy(ev, "code", code, sizeof code))
            count(s, &s->closes, code, strlen(code));
    } else if (has_prefix(t, "p2p.msg.")) {
        char cmd[16], dir[4] = "";
        if (field_copy(ev, "command", cmd, sizeof cmd))
            count(s, &s->commands, cmd, strlen(cmd));
        struct peer *p = peer_of(s, ev, false, now_ns);
        field_copy(ev, "direction", dir, sizeof dir);
        if (p && strcmp(dir, "in") == 0)
            p->msgs_in++;
        else if (p)
            p->msgs_out++;
    }
}

/* ---- crawl, evm, alerts, audit ------------------------------------------------ */

static void free_crawl(void *v)
{
    struct crawl_node *n = v;
    if (!n)
        return;
    free(n->addr);
    free(n->net);
    free(n->agent);
    free(n->failure);
    free(n);
}

static void on_crawl(cs_web_state *s, const cs_event *ev)
{
    if (strcmp(ev->type, "crawl.done") == 0) {
        cs_buf b;
        cs_buf_init(&b, 0);
        if (cs_json_value(&b, &ev->payload) == 0) {
            free(s->crawl_done);
            s->crawl_done = strdup(cs_buf_cstr(&b));
        }
        cs_buf_free(&b);
        return;
    }
    char key[300], addr[256] = "";
    field_copy(ev, "addr", addr, sizeof addr);
    uint64_t port = (uint64_t)field_num(ev, "port", 0);
    snprintf(key, sizeof key, "%s|%llu", addr, (unsigned long long)port);
    cs_web_entry *e = cs_web_map_get(&s->crawl, key, strlen(key));
    if (!e) {
        if (s->crawl.n >= CS_WEB_MAX_CRAWL) {
            s->truncated = true;
            return;
        }
        if (!(e = cs_web_map_put(&s->crawl, key, strlen(key))))
            return;
    }
    free_crawl(e->value);
    struct crawl_node *n = calloc(1, sizeof *n);
    e->value = n;
    if (!n)
        return;
    n->addr = strdup(addr);
    n->port = port;
    n->net = field_str(ev, "network");
    n->agent = field_str(ev, "user_agent");
    n->failure = field_str(ev, "failure");
    cs_val v;
    n->reachable = field(ev, "reachable", &v) && v.kind == CS_VAL_BOOL && v.b;
    n->version = (int64_t)field_num(ev, "version", -1);
    n->height = (int64_t)field_num(ev, "start_height", -1);
    n->rtt_ms = field_num(ev, "rtt_ms", -1);
}

static struct chain *chain_of(cs_web_state *s, const char *network)
{
    cs_web_entry *e = cs_web_map_get(&s->chains, network, strlen(network));
    if (e)
        return e->value;
    if (s->chains.n >= CS_WEB_MAX_KEYS ||
        !(e = cs_web_map_put(&s->chains, network, strlen(network))))
        return NULL;
    e->value = calloc(1, sizeof(struct chain));
    return e->value;
}

static void on_evm(cs_web_state *s, const cs_event *ev, int64_t now_ns)
{
    struct chain *c;
    if (strcmp(ev->type, "evm.block") == 0 && (c = chain_of(s, ev->network))) {
        c->head = (uint64_t)field_num(ev, "number", 0);
        c->timestamp = (uint64_t)field_num(ev, "timestamp", 0);
        field_copy(ev, "hash", c->hash, sizeof c->hash);
        c->blocks++;
        memmove(c->seen_ns + 1, c->seen_ns, sizeof c->seen_ns - sizeof *c->seen_ns);
        c->seen_ns[0] = now_ns;
        if (c->nseen < 32)
            c->nseen++;
    } else if (strcmp(ev->type, "evm.reorg") == 0 && (c = chain_of(s, ev->network))) {
        c->reorgs++;
        c->last_depth = (uint64_t)field_num(ev, "depth", 0);
    } else if (strcmp(ev->type, "evm.probe") == 0) {
        char method[32] = "";
        field_copy(ev, "method", method, sizeof method);
        double v = field_num(ev, "value", -1);
        if (strcmp(method, "eth_blockNumber") == 0 && v >= 0 && (c = chain_of(s, ev->network)) &&
            (uint64_t)v > c->node_head)
            c->node_head = (uint64_t)v;
    }
}

static void json_kv_str(cs_buf *b, const char *k, const char *v, bool comma)
{
    cs_buf_printf(b, "%s\"%s\":", comma ? "," : "", k);
    if (v)
        cs_json_string(b, v, strlen(v));
    else
        cs_buf_append_str(b, "null");
}

static void on_alert(cs_web_state *s, const cs_event *ev)
{
    char id[512] = "";
    field_copy(ev, "id", id, sizeof id);
    if (cs_web_map_get(&s->alert_ids, id, strlen(id)))
        return; /* published again until the notifier acknowledges it */
    if (s->alert_ids.n >= 10000)
        cs_web_map_clear(&s->alert_ids, NULL);
    cs_web_map_put(&s->alert_ids, id, strlen(id));
    char *name = field_str(ev, "monitor.name");
    char *sev = field_str(ev, "severity");
    char *risk = field_str(ev, "risk");
    char *why = field_str(ev, "matchReasonsFormatted");
    if (name)
        count(s, &s->monitors, name, strlen(name));
    cs_buf b;
    cs_buf_init(&b, 0);
    cs_buf_putc(&b, '{');
    json_kv_str(&b, "id", id, false);
    json_kv_str(&b, "monitor", name, true);
    json_kv_str(&b, "severity", sev, true);
    json_kv_str(&b, "risk", risk, true);
    json_kv_str(&b, "network", ev->network, true);
    cs_buf_printf(&b, ",\"time\":%lld", (long long)(ev->time_ns / 1000000));
    json_kv_str(&b, "reasons", why, true);
    cs_buf_putc(&b, '}');
    free(name);
    free(sev);
    free(risk);
    free(why);
    free(s->alerts[s->alert_next]);
    s->alerts[s->alert_next] = strdup(cs_buf_cstr(&b));
    cs_buf_free(&b);
    s->alert_next = (s->alert_next + 1) % CS_WEB_ALERTS;
    if (s->nalerts < CS_WEB_ALERTS)
        s->nalerts++;
}

static void free_audit(void *v)
{
    struct audit_node *n = v;
    if (!n)
        return;
    for (size_t i = 0; i < n->nchecks; i++)
        free(n->checks[i].detail);
    free(n);
}

/* year * 12 + month (0-11) and the day (1-31) of a Unix time, UTC. */
static int month_of(int64_t unix_s, int *day)
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    if (day)
        *day = tm.tm_mday;
    return (tm.tm_year + 1900) * 12 + tm.tm_mon;
}

/* Counts the node's current sweep into its month and its day. */
static void sweep_done(struct audit_node *n)
{
    if (!n->sweep)
        return;
    int day;
    int m = month_of(n->sweep, &day);
    if (m != n->month) {
        n->month = m;
        n->ok = n->total = 0;
        memset(n->days, 0, sizeof n->days);
    }
    n->total++;
    n->ok += !n->sweep_fail;
    uint8_t *d = &n->days[day - 1];
    *d = n->sweep_fail ? 2 : *d == 2 ? 2 : 1;
}

static void on_check(cs_web_state *s, const cs_event *ev)
{
    char node[128], check[32], state[8];
    if (!field_copy(ev, "node", node, sizeof node) ||
        !field_copy(ev, "check", check, sizeof check) ||
        !field_copy(ev, "state", state, sizeof state))
        return;
    int64_t sweep = (int64_t)field_num(ev, "sweep", 0);
    cs_web_entry *e = cs_web_map_get(&s->audit, node, strlen(node));
    if (!e) {
        if (s->audit.n >= CS_WEB_MAX_KEYS || !(e = cs_web_map_put(&s->audit, node, strlen(node))))
            return;
        e->value = calloc(1, sizeof(struct audit_node));
    }
    struct audit_node *n = e->value;
    if (!n)
        return;
    if (sweep != n->sweep) {
        sweep_done(n);
        n->sweep = sweep;
        n->sweep_fail = false;
    }
    n->sweep_fail |= strcmp(state, "fail") == 0;
    struct check *c = NULL;
    for (size_t i = 0; i < n->nchecks; i++)
        if (strcmp(n->checks[i].name, check) == 0)
            c = &n->checks[i];
    if (!c && n->nchecks < MAX_CHECKS) {
        c = &n->checks[n->nchecks++];
        snprintf(c->name, sizeof c->name, "%s", check);
    }
    if (!c)
        return;
    snprintf(c->state, sizeof c->state, "%s", state);
    free(c->detail);
    c->detail = field_str(ev, "detail");
}

void cs_web_state_event(cs_web_state *s, const cs_event *ev, int64_t now_ns)
{
    s->total++;
    count(s, &s->types, ev->type, strlen(ev->type));
    int64_t sec = now_ns / 1000000000;
    if (sec != s->rate_sec) {
        for (int64_t t = s->rate_sec + 1; t <= sec && t <= s->rate_sec + CS_WEB_RATE_SECONDS; t++)
            s->rate[t % CS_WEB_RATE_SECONDS] = 0;
        s->rate_sec = sec;
    }
    s->rate[sec % CS_WEB_RATE_SECONDS]++;
    const char *t = ev->type;
    if (has_prefix(t, "p2p."))
        on_p2p(s, ev, now_ns);
    else if (has_prefix(t, "crawl."))
        on_crawl(s, ev);
    else if (has_prefix(t, "evm."))
        on_evm(s, ev, now_ns);
    else if (strcmp(t, "alert.fired") == 0)
        on_alert(s, ev);
    else if (strcmp(t, "node.check") == 0)
        on_check(s, ev);
    else if (strcmp(t, "chainscope.started") == 0) {
        cs_buf b;
        cs_buf_init(&b, 0);
        if (cs_json_value(&b, &ev->payload) == 0) {
            free(s->components);
            s->components = strdup(cs_buf_cstr(&b));
        }
        cs_buf_free(&b);
    }
}

/* ---- rendering ------------------------------------------------------------- */

struct counts {
    cs_buf *out;
    bool first;
    const char *name; /* the key's JSON name */
};

static void count_one(cs_web_entry *e, void *arg)
{
    struct counts *c = arg;
    cs_buf_printf(c->out, "%s{\"%s\":", c->first ? "" : ",", c->name);
    cs_json_string(c->out, e->key, strlen(e->key));
    cs_buf_printf(c->out, ",\"count\":%llu}", (unsigned long long)(uintptr_t)e->value);
    c->first = false;
}

static void counts(cs_buf *out, const char *key, const cs_web_map *m, const char *name)
{
    struct counts c = {out, true, name};
    cs_buf_printf(out, ",\"%s\":[", key);
    cs_web_map_each(m, count_one, &c);
    cs_buf_putc(out, ']');
}

static bool is_error_type(const char *t)
{
    const char *last = strrchr(t, '.');
    last = last ? last + 1 : t;
    return strcmp(last, "failed") == 0 || strcmp(last, "dropped") == 0 ||
           strcmp(last, "unreachable") == 0 || strcmp(last, "invalid") == 0 ||
           strcmp(last, "error") == 0;
}

static void error_one(cs_web_entry *e, void *arg)
{
    if (is_error_type(e->key))
        count_one(e, arg);
}

int cs_web_state_overview(cs_web_state *s, cs_buf *out, int64_t now_ns)
{
    cs_buf_printf(out, "{\"started\":%lld,\"uptime_s\":%.0f,\"events\":%llu",
                  (long long)(s->started_ns / 1000000), (double)(now_ns - s->started_ns) / 1e9,
                  (unsigned long long)s->total);
    cs_buf_printf(out, ",\"process\":%s", s->components ? s->components : "null");
    int64_t sec = now_ns / 1000000000;
    cs_buf_append_str(out, ",\"rate\":[");
    for (int i = CS_WEB_RATE_SECONDS - 1; i >= 1; i--) {
        int64_t t = sec - i;
        uint32_t v = t > s->rate_sec || s->rate_sec - t >= CS_WEB_RATE_SECONDS
                         ? 0
                         : s->rate[t % CS_WEB_RATE_SECONDS];
        cs_buf_printf(out, "%s%u", i == CS_WEB_RATE_SECONDS - 1 ? "" : ",", v);
    }
    cs_buf_putc(out, ']');
    counts(out, "types", &s->types, "type");
    struct counts c = {out, true, "type"};
    cs_buf_append_str(out, ",\"errors\":[");
    cs_web_map_each(&s->types, error_one, &c);
    cs_buf_printf(out, "],\"truncated\":%s}", s->truncated ? "true" : "false");
    return 0;
}

struct list {
    cs_buf *out;
    size_t n, max;
};

static void peer_one(cs_web_entry *e, void *arg)
{
    struct list *l = arg;
    const struct peer *p = e->value;
    if (l->n++ >= l->max)
        return;
    cs_buf *o = l->out;
    cs_buf_printf(o, "%s{\"id\":%s", l->n > 1 ? "," : "", p->id);
    json_kv_str(o, "addr", p->addr, true);
    cs_buf_printf(o, ",\"port\":%llu", (unsigned long long)p->port);
    json_kv_str(o, "direction", p->dir, true);
    if (p->version >= 0)
        cs_buf_printf(o, ",\"version\":%lld,\"start_height\":%lld", (long long)p->version,
                      (long long)p->height);
    json_kv_str(o, "user_agent", p->agent, true);
    if (p->rtt_ms >= 0)
        cs_buf_printf(o, ",\"rtt_ms\":%.3f", p->rtt_ms);
    cs_buf_printf(o, ",\"msgs_in\":%llu,\"msgs_out\":%llu,\"since\":%lld}",
                  (unsigned long long)p->msgs_in, (unsigned long long)p->msgs_out,
                  (long long)(p->since_ns / 1000000));
}

int cs_web_state_peers(cs_web_state *s, cs_buf *out)
{
    struct list l = {out, 0, 2000};
    cs_buf_printf(out, "{\"count\":%zu,\"peers\":[", s->peers.n);
    cs_web_map_each(&s->peers, peer_one, &l);
    cs_buf_append_str(out, "],\"rtt\":[");
    size_t start = (s->rtt_next + CS_WEB_RTT_SAMPLES - s->nrtt) % CS_WEB_RTT_SAMPLES;
    for (size_t i = 0; i < s->nrtt; i++) {
        size_t k = (start + i) % CS_WEB_RTT_SAMPLES;
        cs_buf_printf(out, "%s[%.0f,%.3f,%s]", i ? "," : "", s->rtt[k].t, s->rtt[k].rtt,
                      s->rtt[k].peer[0] ? s->rtt[k].peer : "null");
    }
    cs_buf_putc(out, ']');
    counts(out, "commands", &s->commands, "command");
    counts(out, "closes", &s->closes, "code");
    cs_buf_putc(out, '}');
    return 0;
}

static void crawl_one(cs_web_entry *e, void *arg)
{
    struct list *l = arg;
    const struct crawl_node *n = e->value;
    if (!n || l->n++ >= l->max)
        return;
    cs_buf *o = l->out;
    cs_buf_append_str(o, l->n > 1 ? ",{" : "{");
    json_kv_str(o, "addr", n->addr, false);
    cs_buf_printf(o, ",\"port\":%llu,\"reachable\":%s", (unsigned long long)n->port,
                  n->reachable ? "true" : "false");
    json_kv_str(o, "network", n->net, true);
    json_kv_str(o, "user_agent", n->agent, true);
    json_kv_str(o, "failure", n->failure, true);
    if (n->version >= 0)
        cs_buf_printf(o, ",\"version\":%lld", (long long)n->version);
    if (n->height >= 0)
        cs_buf_printf(o, ",\"start_height\":%lld", (long long)n->height);
    if (n->rtt_ms >= 0)
        cs_buf_printf(o, ",\"rtt_ms\":%.3f", n->rtt_ms);
    cs_buf_putc(o, '}');
}

int cs_web_state_crawl(cs_web_state *s, cs_buf *out)
{
    struct list l = {out, 0, 5000};
    cs_buf_printf(out, "{\"count\":%zu,\"done\":%s,\"nodes\":[", s->crawl.n,
                  s->crawl_done ? s->crawl_done : "null");
    cs_web_map_each(&s->crawl, crawl_one, &l);
    cs_buf_append_str(out, "]}");
    return 0;
}

struct chains {
    cs_buf *out;
    bool first;
    int64_t now_ns;
};

static void chain_one(cs_web_entry *e, void *arg)
{
    struct chains *x = arg;
    const struct chain *c = e->value;
    if (!c)
        return;
    cs_buf *o = x->out;
    cs_buf_append_str(o, x->first ? "{" : ",{");
    x->first = false;
    json_kv_str(o, "network", e->key, false);
    double bps = 0;
    if (c->nseen >= 2) {
        double span = (double)(x->now_ns - c->seen_ns[c->nseen - 1]) / 1e9;
        bps = span > 0 ? (double)(c->nseen - 1) / span : 0;
    }
    long long lag = c->node_head > c->head ? (long long)(c->node_head - c->head) : 0;
    cs_buf_printf(o,
                  ",\"head\":%llu,\"hash\":\"%s\",\"timestamp\":%llu,\"blocks\":%llu,"
                  "\"blocks_per_s\":%.3f,\"reorgs\":%llu,\"last_reorg_depth\":%llu,"
                  "\"node_head\":%llu,\"lag\":%lld}",
                  (unsigned long long)c->head, c->hash, (unsigned long long)c->timestamp,
                  (unsigned long long)c->blocks, bps, (unsigned long long)c->reorgs,
                  (unsigned long long)c->last_depth, (unsigned long long)c->node_head, lag);
}

int cs_web_state_evm(cs_web_state *s, cs_buf *out, int64_t now_ns)
{
    struct chains x = {out, true, now_ns};
    cs_buf_append_str(out, "{\"networks\":[");
    cs_web_map_each(&s->chains, chain_one, &x);
    cs_buf_append_str(out, "]}");
    return 0;
}

int cs_web_state_alerts(cs_web_state *s, cs_buf *out)
{
    cs_buf_append_str(out, "{\"alerts\":[");
    /* newest first */
    for (size_t i = 0; i < s->nalerts; i++) {
        size_t k = (s->alert_next + CS_WEB_ALERTS - 1 - i) % CS_WEB_ALERTS;
        cs_buf_printf(out, "%s%s", i ? "," : "", s->alerts[k]);
    }
    cs_buf_putc(out, ']');
    counts(out, "monitors", &s->monitors, "monitor");
    cs_buf_putc(out, '}');
    return 0;
}

static void audit_one(cs_web_entry *e, void *arg)
{
    struct counts *x = arg;
    const struct audit_node *n = e->value;
    if (!n)
        return;
    cs_buf *o = x->out;
    cs_buf_append_str(o, x->first ? "{" : ",{");
    x->first = false;
    /* the sweep under way counts as if it were finished */
    struct audit_node cur = *n;
    sweep_done(&cur);
    json_kv_str(o, "node", e->key, false);
    cs_buf_printf(o, ",\"state\":\"%s\",\"sweep\":%lld,\"ok\":%llu,\"total\":%llu",
                  n->sweep_fail ? "fail" : "ok", (long long)n->sweep, (unsigned long long)cur.ok,
                  (unsigned long long)cur.total);
    cs_buf_printf(o, ",\"availability\":%.3f",
                  cur.total ? 100.0 * (double)cur.ok / (double)cur.total : 0.0);
    cs_buf_append_str(o, ",\"days\":[");
    for (int d = 0; d < 31; d++)
        cs_buf_printf(o, "%s%u", d ? "," : "", cur.days[d]);
    cs_buf_append_str(o, "],\"checks\":[");
    for (size_t i = 0; i < n->nchecks; i++) {
        cs_buf_append_str(o, i ? ",{" : "{");
        json_kv_str(o, "check", n->checks[i].name, false);
        json_kv_str(o, "state", n->checks[i].state, true);
        json_kv_str(o, "detail", n->checks[i].detail, true);
        cs_buf_putc(o, '}');
    }
    cs_buf_append_str(o, "]}");
}

struct node_fn {
    void (*fn)(const char *node, bool up, double availability, uint64_t sweeps, void *arg);
    void *arg;
};

static void node_each(cs_web_entry *e, void *arg)
{
    struct node_fn *x = arg;
    const struct audit_node *n = e->value;
    if (!n)
        return;
    struct audit_node cur = *n;
    sweep_done(&cur);
    x->fn(e->key, !n->sweep_fail, cur.total ? 100.0 * (double)cur.ok / (double)cur.total : 0.0,
          cur.total, x->arg);
}

void cs_web_state_each_node(cs_web_state *s,
                            void (*fn)(const char *node, bool up, double availability,
                                       uint64_t sweeps, void *arg),
                            void *arg)
{
    struct node_fn x = {fn, arg};
    cs_web_map_each(&s->audit, node_each, &x);
}

int cs_web_state_audit(cs_web_state *s, cs_buf *out)
{
    int64_t now = (int64_t)time(NULL);
    int m = month_of(now, NULL);
    cs_buf_printf(out, "{\"sla\":%.3f,\"month\":\"%04d-%02d\",\"nodes\":[", s->sla, m / 12,
                  m % 12 + 1);
    struct counts x = {out, true, NULL};
    cs_web_map_each(&s->audit, audit_one, &x);
    cs_buf_append_str(out, "]}");
    return 0;
}

/* ---- life ------------------------------------------------------------------ */

int cs_web_state_new(double sla, cs_web_state **out)
{
    cs_web_state *s = calloc(1, sizeof *s);
    if (!s)
        return CS_ENOMEM;
    s->sla = sla;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s->started_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    s->rate_sec = s->started_ns / 1000000000;
    *out = s;
    return 0;
}

static void no_free(void *v)
{
    (void)v;
}

void cs_web_state_free(cs_web_state *s)
{
    if (!s)
        return;
    free(s->components);
    free(s->crawl_done);
    cs_web_map_clear(&s->types, no_free);
    cs_web_map_clear(&s->commands, no_free);
    cs_web_map_clear(&s->closes, no_free);
    cs_web_map_clear(&s->monitors, no_free);
    cs_web_map_clear(&s->alert_ids, no_free);
    cs_web_map_clear(&s->peers, free_peer);
    cs_web_map_clear(&s->crawl, free_crawl);
    cs_web_map_clear(&s->chains, NULL);
    cs_web_map_clear(&s->audit, free_audit);
    for (size_t i = 0; i < CS_WEB_ALERTS; i++)
        free(s->alerts[i]);
    free(s);
}
