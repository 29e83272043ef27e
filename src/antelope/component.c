/* The antelope: section and the component that runs its followers (see
 * component.h). */
#include "antelope/component.h"
#include "antelope/block.h"
#include "antelope/follower.h"
#include "core/error.h"
#include "core/log.h"

#include <libfyaml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NETWORKS 16

typedef struct ant_net_conf {
    char *name;
    char *api[CS_ANT_MAX_ENDPOINTS];
    size_t napi;
    char *chain_id;
    char *db;
    cs_ant_follower_opts fo;
    cs_ant_own own[CS_ANT_MAX_OWN];
    size_t nown;
} ant_net_conf;

typedef struct ant_conf {
    ant_net_conf nets[MAX_NETWORKS];
    size_t n;
} ant_conf;

void cs_antelope_config_free(void *p)
{
    ant_conf *c = p;
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        ant_net_conf *n = &c->nets[i];
        free(n->name);
        for (size_t k = 0; k < n->napi; k++)
            free(n->api[k]);
        free(n->chain_id);
        free(n->db);
        for (size_t a = 0; a < n->nown; a++) {
            free(n->own[a].account);
            for (size_t k = 0; k < n->own[a].nnodes; k++) {
                free(n->own[a].nodes[k].name);
                free(n->own[a].nodes[k].api);
            }
        }
    }
    free(c);
}

static bool is_http(const char *u)
{
    return strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0;
}

static int parse_api(cs_cfg *c, struct fy_node *nn, const char *path, ant_net_conf *n)
{
    char **v = NULL;
    size_t nv = 0;
    int rc = cs_cfg_strv(c, nn, path, "api", &v, &nv, true);
    if (rc)
        return rc;
    struct fy_node *node = cs_cfg_get(nn, "api");
    if (nv == 0 || nv > CS_ANT_MAX_ENDPOINTS)
        rc = cs_cfg_error(c, node, "api", "1 to %d endpoints", CS_ANT_MAX_ENDPOINTS);
    for (size_t i = 0; !rc && i < nv; i++)
        if (!is_http(v[i]))
            rc = cs_cfg_error(c, node, "api", "'%s' is not an http(s):// URL", v[i]);
    for (size_t i = 0; !rc && i < nv; i++)
        if (!(n->api[n->napi++] = strdup(v[i])))
            rc = CS_ENOMEM;
    cs_cfg_strv_free(v);
    return rc;
}

static int parse_own(cs_cfg *c, struct fy_node *nn, const char *path, ant_net_conf *n)
{
    struct fy_node *own = cs_cfg_get(nn, "own");
    if (!own)
        return 0;
    char opath[128];
    snprintf(opath, sizeof opath, "%s.own", path);
    if (!fy_node_is_sequence(own))
        return cs_cfg_error(c, own, opath, "a list of {account, nodes}");
    void *it = NULL;
    struct fy_node *item;
    int rc;
    while ((item = fy_node_sequence_iterate(own, &it))) {
        if (n->nown == CS_ANT_MAX_OWN)
            return cs_cfg_error(c, item, opath, "at most %d accounts", CS_ANT_MAX_OWN);
        cs_ant_own *o = &n->own[n->nown++];
        static const char *const keys[] = {"account", "nodes", NULL};
        char ipath[160];
        snprintf(ipath, sizeof ipath, "%s[%zu]", opath, n->nown - 1);
        if ((rc = cs_cfg_expect_map(c, item, ipath, keys)) ||
            (rc = cs_cfg_str(c, item, ipath, "account", &o->account, true)))
            return rc;
        if (!cs_ant_name_valid(o->account))
            return cs_cfg_error(c, cs_cfg_get(item, "account"), "account",
                                "'%s' is not an account name (1-12 of a-z, 1-5, .)",
                                o->account);
        struct fy_node *nodes = cs_cfg_get(item, "nodes");
        if (!nodes || !fy_node_is_sequence(nodes))
            return cs_cfg_error(c, nodes ? nodes : item, "nodes", "a list of {name, api}");
        void *it2 = NULL;
        struct fy_node *nd;
        while ((nd = fy_node_sequence_iterate(nodes, &it2))) {
            if (o->nnodes == CS_ANT_MAX_NODES)
                return cs_cfg_error(c, nd, "nodes", "at most %d nodes", CS_ANT_MAX_NODES);
            cs_ant_own_node *x = &o->nodes[o->nnodes++];
            static const char *const nkeys[] = {"name", "api", NULL};
            char npath[200];
            snprintf(npath, sizeof npath, "%s.nodes[%zu]", ipath, o->nnodes - 1);
            if ((rc = cs_cfg_expect_map(c, nd, npath, nkeys)) ||
                (rc = cs_cfg_str(c, nd, npath, "name", &x->name, true)) ||
                (rc = cs_cfg_str(c, nd, npath, "api", &x->api, true)))
                return rc;
            if (!is_http(x->api))
                return cs_cfg_error(c, cs_cfg_get(nd, "api"), "api",
                                    "'%s' is not an http(s):// URL", x->api);
        }
        if (!o->nnodes)
            return cs_cfg_error(c, nodes, "nodes", "at least one node");
    }
    return 0;
}

static int parse_net(cs_cfg *c, struct fy_node *nn, const char *path, ant_net_conf *n)
{
    static const char *const keys[] = {"name",    "api",         "chain_id", "confirm", "from",
                                       "poll",    "slot",        "timeout",  "db",      "own",
                                       "max_lag", "check_every", NULL};
    static const char *const confirms[] = {"head", "lib", NULL};
    uint64_t poll = 250, slot = 500, timeout = 5000, check = 10000, lag = 24;
    int confirm = 0, rc;
    if ((rc = cs_cfg_expect_map(c, nn, path, keys)) ||
        (rc = cs_cfg_str(c, nn, path, "name", &n->name, true)) ||
        (rc = parse_api(c, nn, path, n)) ||
        (rc = cs_cfg_str(c, nn, path, "chain_id", &n->chain_id, false)) ||
        (rc = cs_cfg_enum(c, nn, path, "confirm", confirms, &confirm, false)) ||
        (rc = cs_cfg_duration_ms(c, nn, path, "poll", &poll, false)) ||
        (rc = cs_cfg_duration_ms(c, nn, path, "slot", &slot, false)) ||
        (rc = cs_cfg_duration_ms(c, nn, path, "timeout", &timeout, false)) ||
        (rc = cs_cfg_duration_ms(c, nn, path, "check_every", &check, false)) ||
        (rc = cs_cfg_uint(c, nn, path, "max_lag", &lag, 0, 100000, false)) ||
        (rc = cs_cfg_str(c, nn, path, "db", &n->db, false)) ||
        (rc = parse_own(c, nn, path, n)))
        return rc;
    if (poll < 10)
        return cs_cfg_error(c, cs_cfg_get(nn, "poll"), "poll", "at least 10ms");
    if (slot < 10)
        return cs_cfg_error(c, cs_cfg_get(nn, "slot"), "slot", "at least 10ms");
    if (check < 100)
        return cs_cfg_error(c, cs_cfg_get(nn, "check_every"), "check_every", "at least 100ms");
    if (cs_cfg_get(nn, "from")) {
        if ((rc = cs_cfg_uint(c, nn, path, "from", &n->fo.from, 1, UINT32_MAX, false)))
            return rc;
        n->fo.from_set = true;
    }
    n->fo.confirm_lib = confirm == 1;
    n->fo.poll_ms = poll;
    n->fo.slot_ms = slot;
    n->fo.timeout_ms = timeout;
    n->fo.check_ms = check;
    n->fo.max_lag = lag;
    return 0;
}

int cs_antelope_config_parse(cs_cfg *c, struct fy_node *node, void **out)
{
    static const char *const keys[] = {"networks", NULL};
    int rc = cs_cfg_expect_map(c, node, "antelope", keys);
    if (rc)
        return rc;
    struct fy_node *nets = cs_cfg_get(node, "networks");
    if (!nets || !fy_node_is_sequence(nets))
        return cs_cfg_error(c, nets ? nets : node, "antelope.networks", "a list of networks");
    if ((rc = cs_cfg_unique(c, nets, "antelope.networks", "name")))
        return rc;
    ant_conf *conf = calloc(1, sizeof *conf);
    if (!conf)
        return CS_ENOMEM;
    void *it = NULL;
    struct fy_node *nn;
    while ((nn = fy_node_sequence_iterate(nets, &it))) {
        if (conf->n == MAX_NETWORKS) {
            cs_antelope_config_free(conf);
            return cs_cfg_error(c, nn, "antelope.networks", "at most %d networks", MAX_NETWORKS);
        }
        char path[64];
        snprintf(path, sizeof path, "antelope.networks[%zu]", conf->n);
        if ((rc = parse_net(c, nn, path, &conf->nets[conf->n++]))) {
            cs_antelope_config_free(conf);
            return rc;
        }
    }
    *out = conf;
    return 0;
}

const char *cs_antelope_config_db(const void *p, const char *network, const char **name,
                                  char *err, size_t errlen)
{
    const ant_conf *c = p;
    const ant_net_conf *n = NULL;
    for (size_t i = 0; c && i < c->n && !n; i++)
        if (network ? strcmp(c->nets[i].name, network) == 0 : c->n == 1)
            n = &c->nets[i];
    if (!n) {
        snprintf(err, errlen, network ? "no antelope network '%s' in the config"
                                      : "the config has %s antelope network: name one (--network)",
                 network ? network : (c && c->n ? "more than one" : "no"));
        return NULL;
    }
    if (!n->db) {
        snprintf(err, errlen, "antelope network '%s' has no `db`", n->name);
        return NULL;
    }
    *name = n->name;
    return n->db;
}

/* ---- running ------------------------------------------------------------------ */

typedef struct ant_comp {
    cs_runtime *rt;
    ant_conf *conf;
    cs_http_client *http;
    cs_ant_follower *f[MAX_NETWORKS];
    size_t n;
    char origin[300];
    cs_ant_metrics m;
    size_t closing;
    void (*done)(void *);
    void *done_arg;
} ant_comp;

static void metrics_init(ant_comp *e)
{
    cs_metrics *m = e->rt->metrics;
    if (!m)
        return;
    static const char *const net[] = {"network", NULL};
    static const char *const prod[] = {"network", "producer", NULL};
    const struct {
        cs_mfamily **f;
        cs_metric_kind kind;
        const char *name, *help;
        const char *const *labels;
    } defs[] = {
        {&e->m.head, CS_METRIC_GAUGE, "chainscope_antelope_head_block", "the node's head block",
         net},
        {&e->m.lib, CS_METRIC_GAUGE, "chainscope_antelope_lib_block",
         "the node's last irreversible block", net},
        {&e->m.next, CS_METRIC_GAUGE, "chainscope_antelope_next_block",
         "the next block the follower publishes", net},
        {&e->m.lag, CS_METRIC_GAUGE, "chainscope_antelope_lag_blocks",
         "blocks confirmed (head or LIB) but not yet published", net},
        {&e->m.blocks, CS_METRIC_COUNTER, "chainscope_antelope_blocks_total", "blocks published",
         net},
        {&e->m.forks, CS_METRIC_COUNTER, "chainscope_antelope_forks_total", "forks seen", net},
        {&e->m.rounds, CS_METRIC_COUNTER, "chainscope_antelope_rounds_total",
         "completed rounds published", net},
        {&e->m.errors, CS_METRIC_COUNTER, "chainscope_antelope_errors_total",
         "failed calls and bad answers", net},
        {&e->m.missed, CS_METRIC_COUNTER, "chainscope_antelope_missed_slots_total",
         "slots without a block, per producer", prod},
        {&e->m.produced, CS_METRIC_COUNTER, "chainscope_antelope_produced_blocks_total",
         "blocks published, per producer", prod},
        {&e->m.missed_rounds, CS_METRIC_COUNTER, "chainscope_antelope_missed_rounds_total",
         "rounds without a block, per producer", prod},
    };
    for (size_t i = 0; i < sizeof defs / sizeof *defs; i++)
        *defs[i].f = cs_metrics_family(m, defs[i].kind, defs[i].name, defs[i].help,
                                       defs[i].labels, NULL, 0);
}

int cs_antelope_component_start(cs_runtime *rt, void *p, void **state)
{
    ant_conf *conf = p;
    ant_comp *e = calloc(1, sizeof *e);
    if (!e)
        return CS_ENOMEM;
    e->rt = rt;
    e->conf = conf;
    snprintf(e->origin, sizeof e->origin, "antelope@%s", rt->node ? rt->node : "local");
    int rc = cs_http_client_new(rt->loop, 0, &e->http);
    if (rc) {
        free(e);
        return rc;
    }
    metrics_init(e);
    for (size_t i = 0; i < conf->n && !rc; i++) {
        ant_net_conf *nc = &conf->nets[i];
        cs_ant_follower_opts fo = nc->fo;
        fo.network = nc->name;
        fo.origin = e->origin;
        fo.api = nc->api;
        fo.napi = nc->napi;
        fo.chain_id = nc->chain_id;
        fo.db_path = nc->db;
        fo.own = nc->own;
        fo.nown = nc->nown;
        char err[512];
        if ((rc = cs_ant_follower_new(rt->loop, rt->bus, e->http, &e->m, &fo, &e->f[e->n], err,
                                      sizeof err))) {
            CS_ERROR("antelope", "%s: %s", nc->name, err);
            break;
        }
        cs_ant_follower_start(e->f[e->n++]);
    }
    *state = e;
    if (rc) {
        cs_antelope_component_stop(e, NULL, NULL);
        *state = NULL;
    }
    return rc;
}

static void one_closed(void *arg)
{
    ant_comp *e = arg;
    if (--e->closing)
        return;
    void (*done)(void *) = e->done;
    void *a = e->done_arg;
    free(e);
    if (done)
        done(a);
}

/* The followers end once the HTTP client, closed now, has ended their
 * requests. */
void cs_antelope_component_stop(void *state, void (*done)(void *), void *arg)
{
    ant_comp *e = state;
    e->done = done;
    e->done_arg = arg;
    e->closing = e->n + 2; /* the followers, the HTTP client, this call */
    for (size_t i = 0; i < e->n; i++)
        cs_ant_follower_close(e->f[i], one_closed, e);
    cs_http_client_close(e->http, one_closed, e);
    one_closed(e);
}
