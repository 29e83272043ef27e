#include "evm/component.h"
#include "core/error.h"
#include "core/log.h"
#include "evm/chain.h"
#include "evm/fetch.h"
#include "evm/follower.h"
#include "evm/probe.h"
#include "net/jsonrpc.h"

#include <libfyaml.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NETWORKS 64

typedef struct evm_net_conf {
    char *name;
    char *rpc[CS_RPC_MAX_ENDPOINTS];
    unsigned weight[CS_RPC_MAX_ENDPOINTS];
    size_t nrpc;
    cs_evm_abis *abis;
    cs_follower_opts fo;
    bool follow;
    uint64_t timeout_ms;
    uint64_t retries;
    char *db;
    uint64_t probe_every_ms;
    uint64_t probe_timeout_ms;
    char **probe_methods;
    size_t nprobe;
} evm_net_conf;

typedef struct evm_conf {
    evm_net_conf nets[MAX_NETWORKS];
    size_t n;
} evm_conf;

void cs_evm_config_free(void *p)
{
    evm_conf *c = p;
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        evm_net_conf *n = &c->nets[i];
        free(n->name);
        for (size_t k = 0; k < n->nrpc; k++)
            free(n->rpc[k]);
        cs_evm_abis_free(n->abis);
        free(n->db);
        cs_cfg_strv_free(n->probe_methods);
    }
    free(c);
}

/* An ABI path relative to the config file's folder. */
static char *abi_path(const cs_cfg *c, const char *spec)
{
    const char *eq = strchr(spec, '=');
    const char *file = eq ? eq + 1 : spec;
    if (file[0] == '/' || !c->file)
        return strdup(spec);
    char *dup = strdup(c->file);
    if (!dup)
        return NULL;
    const char *dir = dirname(dup);
    size_t n = strlen(spec) + strlen(dir) + 2;
    char *out = malloc(n);
    if (out) {
        if (eq)
            snprintf(out, n, "%.*s=%s/%s", (int)(eq - spec), spec, dir, file);
        else
            snprintf(out, n, "%s/%s", dir, file);
    }
    free(dup);
    return out;
}

/* rpc: a URL, or a list of URLs and {url, weight} mappings. */
static int parse_rpc(cs_cfg *c, struct fy_node *nn, const char *path, evm_net_conf *n)
{
    struct fy_node *v = cs_cfg_get(nn, "rpc");
    if (!v)
        return cs_cfg_error(c, nn, path, "`rpc` is required");
    char ipath[256];
    snprintf(ipath, sizeof ipath, "%s.rpc", path);
    void *it = NULL;
    struct fy_node *item = v;
    bool seq = fy_node_is_sequence(v);
    while (seq ? (item = fy_node_sequence_iterate(v, &it)) != NULL : item != NULL) {
        if (n->nrpc == CS_RPC_MAX_ENDPOINTS)
            return cs_cfg_error(c, item, "rpc", "at most %d endpoints", CS_RPC_MAX_ENDPOINTS);
        char *url = NULL;
        uint64_t w = 1;
        if (fy_node_is_mapping(item)) {
            static const char *const keys[] = {"url", "weight", NULL};
            int rc;
            if ((rc = cs_cfg_expect_map(c, item, ipath, keys)) ||
                (rc = cs_cfg_str(c, item, ipath, "url", &url, true)) ||
                (rc = cs_cfg_uint(c, item, ipath, "weight", &w, 1, 1000, false)))
                return rc;
        } else if (!(url = cs_cfg_scalar(c, item, ipath))) {
            return CS_ECONFIG;
        }
        if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8) &&
            strncmp(url, "ipc://", 6) && url[0] != '/') {
            int rc = cs_cfg_error(c, item, "rpc", "'%s' is not http(s)://, ipc:// or a socket path",
                                  url);
            free(url);
            return rc;
        }
        n->rpc[n->nrpc] = url;
        n->weight[n->nrpc++] = (unsigned)w;
        if (!seq)
            break;
    }
    if (n->nrpc == 0)
        return cs_cfg_error(c, v, "rpc", "at least one endpoint");
    return 0;
}

static int parse_net(cs_cfg *c, struct fy_node *nn, const char *path, evm_net_conf *n)
{
    static const char *const keys[] = {"name",   "rpc",         "confirmations", "from",
                                       "poll",   "concurrency", "timeout",       "retries",
                                       "db",     "abi",         "follow",        "per_tx_receipts",
                                       "probes", "reorg_depth", "subscribe",     "subscribed_poll",
                                       NULL};
    int rc;
    n->follow = true;
    n->timeout_ms = 10000;
    n->retries = 3;
    uint64_t poll = 2000, conc = 8, depth = 128, sub_poll = 30000;
    if ((rc = cs_cfg_expect_map(c, nn, path, keys)) ||
        (rc = cs_cfg_str(c, nn, path, "name", &n->name, true)) ||
        (rc = parse_rpc(c, nn, path, n)) ||
        (rc = cs_cfg_duration_ms(c, nn, path, "poll", &poll, false)) ||
        (rc = cs_cfg_uint(c, nn, path, "concurrency", &conc, 1, CS_FOLLOWER_MAX_CONCURRENCY,
                          false)) ||
        (rc = cs_cfg_duration_ms(c, nn, path, "timeout", &n->timeout_ms, false)) ||
        (rc = cs_cfg_uint(c, nn, path, "retries", &n->retries, 0, 100, false)) ||
        (rc = cs_cfg_uint(c, nn, path, "reorg_depth", &depth, 2, 4096, false)) ||
        (rc = cs_cfg_str(c, nn, path, "db", &n->db, false)) ||
        (rc = cs_cfg_bool(c, nn, path, "follow", &n->follow, false)) ||
        (rc = cs_cfg_bool(c, nn, path, "per_tx_receipts", &n->fo.receipts_per_tx, false)) ||
        (rc = cs_cfg_duration_ms(c, nn, path, "subscribed_poll", &sub_poll, false)))
        return rc;
    if (poll < 10)
        return cs_cfg_error(c, cs_cfg_get(nn, "poll"), "poll", "at least 10ms");
    /* subscribe: on the first IPC endpoint; by default when there is one */
    const char *ipc = NULL;
    for (size_t k = 0; k < n->nrpc && !ipc; k++)
        if (strncmp(n->rpc[k], "ipc://", 6) == 0)
            ipc = n->rpc[k] + 6;
        else if (n->rpc[k][0] == '/')
            ipc = n->rpc[k];
    bool subscribe = ipc != NULL;
    if ((rc = cs_cfg_bool(c, nn, path, "subscribe", &subscribe, false)))
        return rc;
    if (subscribe && !ipc)
        return cs_cfg_error(c, cs_cfg_get(nn, "subscribe"), "subscribe",
                            "head subscriptions need an IPC endpoint (ipc:///path or /path) in "
                            "`rpc`");
    n->fo.subscribe_ipc = subscribe ? ipc : NULL;
    n->fo.subscribed_poll_ms = sub_poll < poll ? poll : sub_poll;
    struct fy_node *conf = cs_cfg_get(nn, "confirmations");
    if (conf) {
        char *s = cs_cfg_scalar(c, conf, path);
        if (!s)
            return CS_ECONFIG;
        char *end;
        if (strcmp(s, "safe") == 0)
            n->fo.mode = CS_FOLLOW_SAFE;
        else if (strcmp(s, "finalized") == 0)
            n->fo.mode = CS_FOLLOW_FINALIZED;
        else if ((n->fo.confirmations = strtoull(s, &end, 10)), *end || !*s || s[0] == '-') {
            free(s);
            return cs_cfg_error(c, conf, "confirmations", "a number of blocks, safe or finalized");
        }
        free(s);
    }
    if (cs_cfg_get(nn, "from")) {
        if ((rc = cs_cfg_uint(c, nn, path, "from", &n->fo.from_block, 0, UINT64_MAX, false)))
            return rc;
        n->fo.from_set = true;
    }
    n->fo.poll_ms = poll;
    n->fo.concurrency = (unsigned)conc;
    n->fo.reorg_depth = (unsigned)depth;
    if (cs_evm_abis_new(&n->abis))
        return CS_ENOMEM;
    char **abis = NULL;
    size_t nabis = 0;
    if ((rc = cs_cfg_strv(c, nn, path, "abi", &abis, &nabis, false)))
        return rc;
    for (size_t i = 0; i < nabis; i++) {
        char err[512];
        char *spec = abi_path(c, abis[i]);
        rc = spec ? cs_evm_abis_add_spec(n->abis, spec, err, sizeof err) : CS_ENOMEM;
        free(spec);
        if (rc) {
            cs_cfg_strv_free(abis);
            return cs_cfg_error(c, cs_cfg_get(nn, "abi"), "abi", "%s", err);
        }
    }
    cs_cfg_strv_free(abis);
    struct fy_node *pr = cs_cfg_get(nn, "probes");
    if (pr) {
        static const char *const pkeys[] = {"every", "timeout", "methods", NULL};
        char ppath[256];
        snprintf(ppath, sizeof ppath, "%s.probes", path);
        n->probe_every_ms = 60000;
        n->probe_timeout_ms = 5000;
        if ((rc = cs_cfg_expect_map(c, pr, ppath, pkeys)) ||
            (rc = cs_cfg_duration_ms(c, pr, ppath, "every", &n->probe_every_ms, false)) ||
            (rc = cs_cfg_duration_ms(c, pr, ppath, "timeout", &n->probe_timeout_ms, false)) ||
            (rc = cs_cfg_strv(c, pr, ppath, "methods", &n->probe_methods, &n->nprobe, false)))
            return rc;
        if (n->nprobe > CS_PROBE_MAX_METHODS)
            return cs_cfg_error(c, cs_cfg_get(pr, "methods"), "methods", "at most %d methods",
                                CS_PROBE_MAX_METHODS);
        if (n->probe_every_ms < 1000)
            return cs_cfg_error(c, cs_cfg_get(pr, "every"), "every", "at least 1s");
    }
    return 0;
}

int cs_evm_config_parse(cs_cfg *c, struct fy_node *node, void **out)
{
    static const char *const keys[] = {"networks", NULL};
    int rc = cs_cfg_expect_map(c, node, "evm", keys);
    if (rc)
        return rc;
    struct fy_node *nets = cs_cfg_get(node, "networks");
    if (!nets || !fy_node_is_sequence(nets))
        return cs_cfg_error(c, nets ? nets : node, "evm.networks", "a list of networks");
    if ((rc = cs_cfg_unique(c, nets, "evm.networks", "name")))
        return rc;
    evm_conf *conf = calloc(1, sizeof *conf);
    if (!conf)
        return CS_ENOMEM;
    void *it = NULL;
    struct fy_node *nn;
    while ((nn = fy_node_sequence_iterate(nets, &it))) {
        if (conf->n == MAX_NETWORKS) {
            cs_evm_config_free(conf);
            return cs_cfg_error(c, nn, "evm.networks", "at most %d networks", MAX_NETWORKS);
        }
        char path[64];
        snprintf(path, sizeof path, "evm.networks[%zu]", conf->n);
        evm_net_conf *n = &conf->nets[conf->n++];
        if ((rc = parse_net(c, nn, path, n))) {
            cs_evm_config_free(conf);
            return rc;
        }
    }
    *out = conf;
    return 0;
}

/* ---- running ------------------------------------------------------------- */

typedef struct evm_net {
    struct evm_comp *comp;
    evm_net_conf *conf;
    cs_rpc *rpc;
    cs_follower *follower;
    cs_publisher probe_pub;
    uv_timer_t probe_timer;
    bool probing;
    char origin[300];       /* the follower's */
    char probe_origin[300]; /* the probes' (each origin has its own sequence) */
    double counted[7];      /* what the counters already hold */
} evm_net;

typedef struct evm_comp {
    cs_runtime *rt;
    cs_mfamily *m_head, *m_next, *m_blocks, *m_txs, *m_logs, *m_reorgs, *m_errors;
    cs_mfamily *m_subscribed, *m_notifications;
    cs_mfamily *m_node_up, *m_outages;
    evm_conf *conf;
    cs_http_client *http;
    evm_net nets[MAX_NETWORKS];
    size_t n;
    int closing;      /* handles and clients still closing */
    size_t rpcs_open; /* rpc clients not yet closed: the shared HTTP client waits */
    void (*done)(void *);
    void *done_arg;
} evm_comp;

static void probes_done(void *arg, unsigned failed)
{
    evm_net *n = arg;
    (void)failed;
    n->probing = false;
}

static void on_probe_timer(uv_timer_t *t)
{
    evm_net *n = t->data;
    if (n->probing)
        return;
    const char *const *m = (const char *const *)n->conf->probe_methods;
    size_t nm = n->conf->nprobe;
    if (!nm) {
        m = cs_probe_default_methods;
        nm = cs_probe_ndefault;
    }
    if (cs_probe_run(n->rpc, &n->probe_pub, m, nm, n->conf->probe_timeout_ms, n->conf->name,
                     probes_done, n) == 0)
        n->probing = true;
}

/* Refreshes the per-network series from the followers' counters. */
static void collect(cs_metrics *m, void *arg)
{
    evm_comp *e = arg;
    (void)m;
    for (size_t i = 0; i < e->n; i++) {
        evm_net *n = &e->nets[i];
        if (!n->follower)
            continue;
        cs_follower_stats st;
        cs_follower_stats_get(n->follower, &st);
        const char *lv[] = {n->conf->name};
        cs_mseries *g;
        if (e->m_head && (g = cs_mfamily_series(e->m_head, lv)))
            cs_mseries_set(g, (double)st.head);
        if (e->m_next && (g = cs_mfamily_series(e->m_next, lv)))
            cs_mseries_set(g, (double)st.next);
        if (e->m_subscribed && (g = cs_mfamily_series(e->m_subscribed, lv)))
            cs_mseries_set(g, st.subscribed ? 1 : 0);
        if (e->m_node_up && (g = cs_mfamily_series(e->m_node_up, lv)))
            cs_mseries_set(g, st.node_down ? 0 : 1);
        /* Counters grow by what the follower counted since the last scrape. */
        cs_mfamily *fam[7] = {e->m_blocks, e->m_txs,           e->m_logs,   e->m_reorgs,
                              e->m_errors, e->m_notifications, e->m_outages};
        double now[7] = {(double)st.blocks, (double)st.txs,    (double)st.logs,
                         (double)st.reorgs, (double)st.errors, (double)st.notifications,
                         (double)st.outages};
        for (int k = 0; k < 7; k++) {
            cs_mseries *c = fam[k] ? cs_mfamily_series(fam[k], lv) : NULL;
            if (c && now[k] > n->counted[k]) {
                cs_mseries_inc(c, now[k] - n->counted[k]);
                n->counted[k] = now[k];
            }
        }
    }
}

static void metrics_init(evm_comp *e)
{
    cs_metrics *m = e->rt->metrics;
    if (!m)
        return;
    static const char *const labels[] = {"network", NULL};
    e->m_head = cs_metrics_family(m, CS_METRIC_GAUGE, "chainscope_evm_head_block",
                                  "the node's head at the last poll", labels, NULL, 0);
    e->m_next = cs_metrics_family(m, CS_METRIC_GAUGE, "chainscope_evm_next_block",
                                  "the next block the follower will publish", labels, NULL, 0);
    e->m_blocks = cs_metrics_family(m, CS_METRIC_COUNTER, "chainscope_evm_blocks_total",
                                    "blocks published", labels, NULL, 0);
    e->m_txs = cs_metrics_family(m, CS_METRIC_COUNTER, "chainscope_evm_txs_total",
                                 "transactions published", labels, NULL, 0);
    e->m_logs = cs_metrics_family(m, CS_METRIC_COUNTER, "chainscope_evm_logs_total",
                                  "logs published", labels, NULL, 0);
    e->m_reorgs = cs_metrics_family(m, CS_METRIC_COUNTER, "chainscope_evm_reorgs_total",
                                    "reorgs seen", labels, NULL, 0);
    e->m_errors =
        cs_metrics_family(m, CS_METRIC_COUNTER, "chainscope_evm_errors_total",
                          "errors: bad data from the node, failed calls", labels, NULL, 0);
    e->m_subscribed =
        cs_metrics_family(m, CS_METRIC_GAUGE, "chainscope_evm_head_subscribed",
                          "1 while the newHeads subscription (IPC) is live", labels, NULL, 0);
    e->m_notifications =
        cs_metrics_family(m, CS_METRIC_COUNTER, "chainscope_evm_head_notifications_total",
                          "newHeads notifications received", labels, NULL, 0);
    e->m_node_up = cs_metrics_family(m, CS_METRIC_GAUGE, "chainscope_evm_node_up",
                                     "0 while the node is unreachable, else 1", labels, NULL, 0);
    e->m_outages = cs_metrics_family(m, CS_METRIC_COUNTER, "chainscope_evm_node_outages_total",
                                     "times the node became unreachable", labels, NULL, 0);
    cs_metrics_on_collect(m, collect, e);
}

int cs_evm_component_start(cs_runtime *rt, void *p, void **state)
{
    evm_conf *conf = p;
    evm_comp *e = calloc(1, sizeof *e);
    if (!e)
        return CS_ENOMEM;
    e->rt = rt;
    e->conf = conf;
    int rc = cs_http_client_new(rt->loop, 0, &e->http);
    if (rc) {
        free(e);
        return rc;
    }
    char err[512];
    metrics_init(e);
    for (size_t i = 0; i < conf->n && !rc; i++) {
        evm_net_conf *nc = &conf->nets[i];
        evm_net *n = &e->nets[e->n];
        n->comp = e;
        n->conf = nc;
        snprintf(n->origin, sizeof n->origin, "evm@%s", rt->node ? rt->node : "local");
        snprintf(n->probe_origin, sizeof n->probe_origin, "evm-probe@%s",
                 rt->node ? rt->node : "local");
        cs_rpc_endpoint eps[CS_RPC_MAX_ENDPOINTS];
        for (size_t k = 0; k < nc->nrpc; k++)
            eps[k] = (cs_rpc_endpoint){nc->rpc[k], nc->weight[k]};
        cs_rpc_opts ro = {.endpoints = eps,
                          .nendpoints = nc->nrpc,
                          .timeout_ms = nc->timeout_ms,
                          .retries = nc->retries ? (unsigned)nc->retries : (unsigned)-1,
                          .name = nc->name};
        if ((rc = cs_rpc_new(rt->loop, e->http, &ro, &n->rpc)))
            break;
        e->n++;
        cs_publisher_init(&n->probe_pub, rt->bus, n->probe_origin, nc->name);
        uv_timer_init(rt->loop, &n->probe_timer);
        n->probe_timer.data = n;
        if (nc->probe_every_ms)
            uv_timer_start(&n->probe_timer, on_probe_timer, 0, nc->probe_every_ms);
        if (nc->follow) {
            cs_follower_opts fo = nc->fo;
            fo.network = nc->name;
            fo.origin = n->origin;
            fo.key = nc->name;
            fo.db_path = nc->db;
            if ((rc = cs_follower_new(rt->loop, rt->bus, n->rpc, nc->abis, &fo, &n->follower, err,
                                      sizeof err))) {
                CS_ERROR("evm", "%s: %s", nc->name, err);
                break;
            }
            cs_follower_start(n->follower);
        }
    }
    *state = e;
    if (rc) {
        cs_evm_component_stop(e, NULL, NULL);
        *state = NULL;
    }
    return rc;
}

static void one_closed(evm_comp *e)
{
    if (--e->closing)
        return;
    void (*done)(void *) = e->done;
    void *arg = e->done_arg;
    for (size_t i = 0; i < e->n; i++)
        cs_publisher_free(&e->nets[i].probe_pub);
    free(e);
    if (done)
        done(arg);
}

static void on_closed_cb(void *arg)
{
    one_closed(arg);
}

static void on_handle_closed(uv_handle_t *h)
{
    evm_net *n = h->data;
    one_closed(n->comp);
}

/* An rpc client closed. The HTTP client they share closes after the last
 * one: until then an rpc's retry timer may still start a request on it. */
static void rpc_closed(void *arg)
{
    evm_comp *e = arg;
    if (--e->rpcs_open == 0)
        cs_http_client_close(e->http, on_closed_cb, e);
    one_closed(e);
}

static void rpc_after_follower(void *arg)
{
    evm_net *n = arg;
    cs_rpc_close(n->rpc, rpc_closed, n->comp);
}

void cs_evm_component_stop(void *state, void (*done)(void *), void *arg)
{
    evm_comp *e = state;
    e->done = done;
    e->done_arg = arg;
    if (e->rt->metrics)
        cs_metrics_off_collect(e->rt->metrics, collect, e);
    e->closing = 1; /* held until everything is asked to close */
    e->closing++;   /* the HTTP client, closed after the last rpc client */
    e->rpcs_open = e->n;
    for (size_t i = 0; i < e->n; i++) {
        evm_net *n = &e->nets[i];
        e->closing += 2; /* the probe timer and the rpc client */
        uv_timer_stop(&n->probe_timer);
        uv_close((uv_handle_t *)&n->probe_timer, on_handle_closed);
        if (n->follower)
            cs_follower_close(n->follower, rpc_after_follower, n);
        else
            cs_rpc_close(n->rpc, rpc_closed, e);
    }
    if (e->n == 0)
        cs_http_client_close(e->http, on_closed_cb, e);
    one_closed(e);
}

/* ---- one block, for commands ------------------------------------------------ */

const char *cs_evm_config_only_network(const void *conf)
{
    const evm_conf *c = conf;
    return c && c->n == 1 ? c->nets[0].name : NULL;
}

int cs_evm_config_fetch_block(const void *conf, const char *network, uint64_t number, cs_sub_cb cb,
                              void *arg, uint64_t *head, char *err, size_t errlen)
{
    const evm_conf *c = conf;
    const evm_net_conf *nc = NULL;
    for (size_t i = 0; c && i < c->n && !nc; i++)
        if (strcmp(c->nets[i].name, network) == 0)
            nc = &c->nets[i];
    if (!nc) {
        int k = snprintf(err, errlen, "no evm network '%s' in the config (it has:", network);
        for (size_t i = 0; c && i < c->n && k > 0 && (size_t)k < errlen; i++)
            k += snprintf(err + k, errlen - (size_t)k, " %s", c->nets[i].name);
        if (k > 0 && (size_t)k < errlen)
            snprintf(err + k, errlen - (size_t)k, "%s)", c && c->n ? "" : " none");
        return CS_ENOTFOUND;
    }
    cs_rpc_endpoint eps[CS_RPC_MAX_ENDPOINTS];
    for (size_t k = 0; k < nc->nrpc; k++)
        eps[k] = (cs_rpc_endpoint){nc->rpc[k], nc->weight[k]};
    cs_rpc_opts ro = {.endpoints = eps,
                      .nendpoints = nc->nrpc,
                      .timeout_ms = nc->timeout_ms,
                      .retries = nc->retries ? (unsigned)nc->retries : (unsigned)-1,
                      .name = nc->name};
    uint64_t per_try = nc->timeout_ms ? nc->timeout_ms : 10000;
    cs_evm_fetch_opts fo = {.rpc = &ro,
                            .abis = nc->abis,
                            .receipts_per_tx = nc->fo.receipts_per_tx,
                            .network = nc->name,
                            .number = number,
                            /* a few rounds of the node's own retries */
                            .timeout_ms = per_try * (nc->retries + 1) * 3 + 5000,
                            .on_event = cb,
                            .arg = arg};
    return cs_evm_fetch_block(&fo, head, err, errlen);
}
