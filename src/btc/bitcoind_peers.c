/* getpeerinfo: peers coming and going (a diff by peer id between two
 * answers), the peers summed up, and the peer metrics (see
 * bitcoind_comp.h). */
#include "btc/bitcoind_comp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define SEP '\x1f'

static char *lg_join(const lgroup *g, const char *const *values)
{
    size_t len = 1;
    for (size_t i = 0; i < g->nlabels; i++)
        len += strlen(values[i]) + 1;
    char *s = malloc(len), *p = s;
    if (!s)
        return NULL;
    for (size_t i = 0; i < g->nlabels; i++) {
        size_t k = strlen(values[i]);
        memcpy(p, values[i], k);
        p += k;
        *p++ = SEP;
    }
    *p = 0;
    return s;
}

void lg_add(lgroup *g, const char *const *values, double v)
{
    if (!g->fam)
        return;
    char *k = lg_join(g, values);
    if (!k)
        return;
    for (size_t i = 0; i < g->ncur; i++)
        if (!strcmp(g->cur[i], k)) {
            g->val[i] += v;
            free(k);
            return;
        }
    if (g->ncur == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 16;
        char **nc = realloc(g->cur, cap * sizeof *nc);
        if (nc)
            g->cur = nc;
        double *nv = nc ? realloc(g->val, cap * sizeof *nv) : NULL;
        if (!nv) {
            free(k);
            return;
        }
        g->val = nv;
        g->cap = cap;
    }
    g->cur[g->ncur] = k;
    g->val[g->ncur++] = v;
}

/* Splits a joined key into values (pointers into buf). */
static void lg_split(const lgroup *g, const char *key, char *buf, const char **values)
{
    strcpy(buf, key);
    char *p = buf;
    for (size_t i = 0; i < g->nlabels; i++) {
        values[i] = p;
        p = strchr(p, SEP);
        *p++ = 0;
    }
}

void lg_commit(lgroup *g)
{
    const char *values[CS_METRICS_MAX_LABELS];
    char buf[1024];
    for (size_t i = 0; i < g->nold; i++) {
        bool kept = false;
        for (size_t k = 0; k < g->ncur && !kept; k++)
            kept = !strcmp(g->old[i], g->cur[k]);
        if (!kept && strlen(g->old[i]) < sizeof buf) {
            lg_split(g, g->old[i], buf, values);
            cs_mfamily_remove(g->fam, values);
        }
        free(g->old[i]);
    }
    for (size_t k = 0; k < g->ncur; k++)
        if (strlen(g->cur[k]) < sizeof buf) {
            lg_split(g, g->cur[k], buf, values);
            cs_mseries_set(cs_mfamily_series(g->fam, values), g->val[k]);
        }
    /* cur becomes old; old's array is reused for the next poll */
    char **t = g->old;
    g->old = g->cur;
    g->nold = g->ncur;
    size_t oldcap = g->cap;
    g->cur = realloc(t, (oldcap ? oldcap : 1) * sizeof *g->cur);
    if (!g->cur) {
        for (size_t i = 0; i < g->nold; i++)
            free(g->old[i]);
        free(g->old);
        g->old = NULL;
        g->nold = 0;
        g->cap = 0;
        free(g->val);
        g->val = NULL;
    }
    g->ncur = 0;
}

void lg_free(lgroup *g)
{
    for (size_t i = 0; i < g->nold; i++)
        free(g->old[i]);
    for (size_t i = 0; i < g->ncur; i++)
        free(g->cur[i]);
    free(g->old);
    free(g->cur);
    free(g->val);
    memset(g, 0, sizeof *g);
}

void cs_btcd_peers_metrics_init(btcd *s, bnode *n)
{
    cs_mfamily *fams[LG_N] = {s->f_peers, s->f_agents, s->f_ping, s->f_listed, s->f_asn};
    size_t nl[LG_N] = {5, 3, 2, 2, 2};
    for (int i = 0; i < LG_N; i++) {
        n->lg[i].fam = fams[i];
        n->lg[i].nlabels = nl[i];
    }
}

uint32_t cs_btcd_listed(const btcd *s, const cs_btcd_peer *p)
{
    uint32_t m = 0;
    if (!p->has_ip)
        return 0;
    for (size_t i = 0; i < s->nlists; i++)
        if (cs_btcd_list_has(&s->lists[i], p->ip))
            m |= 1u << i;
    return m;
}

static void peer_fields(bnode *n, cs_vw *w, const cs_btcd_peer *p)
{
    btcd *s = n->s;
    cs_vw_kv_str(w, "node", n->c->name);
    cs_vw_kv_i64(w, "id", p->id);
    cs_vw_kv_str(w, "addr", p->addr);
    cs_vw_kv_str(w, "network", p->network);
    cs_vw_kv_str(w, "conntype", p->conntype);
    cs_vw_kv_bool(w, "inbound", p->inbound);
    cs_vw_kv_str(w, "transport", p->transport);
    cs_vw_kv_i64(w, "version", p->version);
    cs_vw_kv_str(w, "subver", p->subver);
    cs_vw_kv_str(w, "services", p->services);
    cs_vw_key(w, "lists");
    cs_vw_array_begin(w);
    uint32_t m = cs_btcd_listed(s, p);
    for (size_t i = 0; i < s->nlists; i++)
        if (m & (1u << i))
            cs_vw_cstr(w, s->lists[i].name);
    cs_vw_array_end(w);
    uint32_t asn = p->has_ip && s->asns.n ? cs_btcd_asn_of(&s->asns, p->ip) : 0;
    if (asn)
        cs_vw_kv_u64(w, "asn", asn);
}

static void emit(bnode *n, const char *type)
{
    if (cs_publisher_emit(&n->s->pub, type, n->c->network, n->c->name, NULL))
        CS_WARN("bitcoind", "%s: %s not published", n->c->name, type);
}

static void connected(bnode *n, const cs_btcd_peer *p)
{
    cs_vw *w = cs_publisher_begin(&n->s->pub);
    peer_fields(n, w, p);
    cs_vw_kv_bool(w, "initial", !n->peers_seen);
    if (p->startingheight >= 0)
        cs_vw_kv_i64(w, "startingheight", p->startingheight);
    emit(n, "bitcoind.peer.connected");
}

static void disconnected(bnode *n, const cs_btcd_peer *p, uint64_t now_s)
{
    cs_vw *w = cs_publisher_begin(&n->s->pub);
    peer_fields(n, w, p);
    if (p->conntime && now_s >= p->conntime)
        cs_vw_kv_u64(w, "seconds", now_s - p->conntime);
    cs_vw_kv_u64(w, "bytessent", p->bytessent);
    cs_vw_kv_u64(w, "bytesrecv", p->bytesrecv);
    emit(n, "bitcoind.peer.disconnected");
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A count per name in a small object: {"inbound": 3, ...}. */
typedef struct tally {
    const char *name[32];
    uint64_t n[32];
    size_t k;
} tally;

static void tally_add(tally *t, const char *name)
{
    for (size_t i = 0; i < t->k; i++)
        if (!strcmp(t->name[i], name)) {
            t->n[i]++;
            return;
        }
    if (t->k < 32) {
        t->name[t->k] = name;
        t->n[t->k++] = 1;
    }
}

static void tally_write(cs_vw *w, const char *key, const tally *t)
{
    cs_vw_key(w, key);
    cs_vw_object_begin(w);
    for (size_t i = 0; i < t->k; i++)
        cs_vw_kv_u64(w, t->name[i][0] ? t->name[i] : "unknown", t->n[i]);
    cs_vw_object_end(w);
}

static void metrics(bnode *n, const cs_btcd_peer *v, size_t np, const double *pings, size_t nping,
                    double minping)
{
    btcd *s = n->s;
    const char *node = n->c->name;
    for (size_t i = 0; i < np; i++) {
        const cs_btcd_peer *p = &v[i];
        const char *pv[] = {node, p->conntype, p->network[0] ? p->network : "unknown",
                            p->transport[0] ? p->transport : "unknown",
                            p->inbound ? "inbound" : "outbound"};
        lg_add(&n->lg[LG_PEERS], pv, 1);
        char ver[24], ua[65];
        snprintf(ver, sizeof ver, "%lld", (long long)p->version);
        snprintf(ua, sizeof ua, "%s", p->subver);
        const char *av[] = {node, ver, ua};
        lg_add(&n->lg[LG_AGENTS], av, 1);
        if (s->asns.n && p->has_ip) {
            char asn[16];
            snprintf(asn, sizeof asn, "%u", cs_btcd_asn_of(&s->asns, p->ip));
            const char *sv[] = {node, asn};
            lg_add(&n->lg[LG_ASN], sv, 1);
        }
    }
    for (size_t l = 0; l < s->nlists; l++) {
        double c = 0;
        for (size_t i = 0; i < np; i++)
            if (v[i].has_ip && cs_btcd_list_has(&s->lists[l], v[i].ip))
                c++;
        const char *lv[] = {node, s->lists[l].name};
        lg_add(&n->lg[LG_LISTED], lv, c);
    }
    if (nping) {
        double sum = 0;
        for (size_t i = 0; i < nping; i++)
            sum += pings[i];
        const char *mv[] = {node, "mean"}, *dv[] = {node, "median"}, *nv[] = {node, "min"};
        lg_add(&n->lg[LG_PING], mv, sum / (double)nping);
        lg_add(&n->lg[LG_PING], dv,
               nping % 2 ? pings[nping / 2] : (pings[nping / 2 - 1] + pings[nping / 2]) / 2);
        if (minping >= 0)
            lg_add(&n->lg[LG_PING], nv, minping);
    }
    for (int i = 0; i < LG_N; i++)
        lg_commit(&n->lg[i]);
}

void cs_btcd_on_peers(bnode *n, const cs_jsonr *j, uint32_t result)
{
    cs_btcd_peer *v;
    size_t np;
    int rc = cs_btcd_peers_parse(j, result, &v, &np);
    if (rc) {
        CS_WARN("bitcoind", "%s: getpeerinfo: not a list of peers", n->c->name);
        return;
    }
    uint64_t now_s = (uint64_t)(uv_now(n->s->rt->loop) / 1000);
    {
        uv_timeval64_t tv;
        if (uv_gettimeofday(&tv) == 0)
            now_s = (uint64_t)tv.tv_sec;
    }
    /* both arrays are sorted by id */
    size_t a = 0, b = 0, nconn = 0, ndisc = 0;
    while (a < n->npeers || b < np) {
        if (b == np || (a < n->npeers && n->peers[a].id < v[b].id)) {
            disconnected(n, &n->peers[a++], now_s);
            ndisc++;
        } else if (a == n->npeers || v[b].id < n->peers[a].id) {
            connected(n, &v[b++]);
            nconn++;
        } else {
            a++;
            b++;
        }
    }
    double *pings = malloc((np ? np : 1) * sizeof *pings);
    size_t nping = 0, in = 0, listed = 0;
    double minping = -1;
    tally ct = {0}, nt = {0}, tt = {0};
    for (size_t i = 0; i < np; i++) {
        const cs_btcd_peer *p = &v[i];
        in += p->inbound;
        if (pings && p->pingtime >= 0)
            pings[nping++] = p->pingtime;
        if (p->minping >= 0 && (minping < 0 || p->minping < minping))
            minping = p->minping;
        listed += cs_btcd_listed(n->s, p) != 0;
        tally_add(&ct, p->conntype);
        tally_add(&nt, p->network);
        tally_add(&tt, p->transport);
    }
    if (pings)
        qsort(pings, nping, sizeof *pings, cmp_dbl);
    cs_vw *w = cs_publisher_begin(&n->s->pub);
    cs_vw_kv_str(w, "node", n->c->name);
    cs_vw_kv_u64(w, "count", np);
    cs_vw_kv_u64(w, "inbound", in);
    cs_vw_kv_u64(w, "outbound", np - in);
    tally_write(w, "by_conntype", &ct);
    tally_write(w, "by_network", &nt);
    tally_write(w, "by_transport", &tt);
    if (nping) {
        double sum = 0;
        for (size_t i = 0; i < nping; i++)
            sum += pings[i];
        cs_vw_kv_double(w, "ping_mean_ms", sum / (double)nping * 1000);
        cs_vw_kv_double(
            w, "ping_median_ms",
            (nping % 2 ? pings[nping / 2] : (pings[nping / 2 - 1] + pings[nping / 2]) / 2) * 1000);
    }
    if (minping >= 0)
        cs_vw_kv_double(w, "ping_min_ms", minping * 1000);
    cs_vw_kv_u64(w, "listed", listed);
    cs_vw_kv_u64(w, "connected", nconn);
    cs_vw_kv_u64(w, "disconnected", ndisc);
    emit(n, "bitcoind.peers");
    metrics(n, v, np, pings, nping, minping);
    free(pings);
    free(n->peers);
    n->peers = v;
    n->npeers = np;
    n->peers_seen = true;
}
