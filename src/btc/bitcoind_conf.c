/* The `bitcoind:` config section (docs/btc.md lists every key). */
#include "btc/bitcoind.h"

#include <libfyaml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* Default intervals: what changes quickly (peers, mempool, tips) every
 * 10 s, the rest every minute, the whole address manager every 5 min. */
const cs_bitcoind_rpc_def cs_bitcoind_rpcs[CS_BTCD_NRPC] = {
    [CS_BTCD_GETPEERINFO] = {"getpeerinfo", "bitcoind.peers", NULL, 10000},
    [CS_BTCD_GETMEMPOOLINFO] = {"getmempoolinfo", "bitcoind.mempool", NULL, 10000},
    [CS_BTCD_UPTIME] = {"uptime", "bitcoind.uptime", NULL, 60000},
    [CS_BTCD_GETNETTOTALS] = {"getnettotals", "bitcoind.nettotals", NULL, 10000},
    [CS_BTCD_GETMEMORYINFO] = {"getmemoryinfo", "bitcoind.memory", NULL, 60000},
    [CS_BTCD_GETADDRMANINFO] = {"getaddrmaninfo", "bitcoind.addrman", NULL, 60000},
    [CS_BTCD_GETCHAINTXSTATS] = {"getchaintxstats", "bitcoind.chaintxstats", NULL, 60000},
    [CS_BTCD_GETNETWORKINFO] = {"getnetworkinfo", "bitcoind.network", NULL, 60000},
    [CS_BTCD_GETBLOCKCHAININFO] = {"getblockchaininfo", "bitcoind.blockchain", NULL, 10000},
    [CS_BTCD_GETORPHANTXS] = {"getorphantxs", "bitcoind.orphans", "[1]", 30000},
    [CS_BTCD_GETRAWADDRMAN] = {"getrawaddrman", "bitcoind.rawaddrman", NULL, 300000},
    [CS_BTCD_GETCHAINTIPS] = {"getchaintips", "bitcoind.chaintips", NULL, 10000},
};

static void node_free(cs_bitcoind_node_conf *n)
{
    free(n->name);
    free(n->network);
    free(n->rpc);
    free(n->cookie);
    free(n->user);
    if (n->password) {
        memset(n->password, 0, strlen(n->password));
        free(n->password);
    }
}

void cs_bitcoind_config_free(void *p)
{
    cs_bitcoind_conf *c = p;
    if (!c)
        return;
    for (size_t i = 0; i < c->nnodes; i++) {
        node_free(&c->nodes[i]);
        if (c->btclog)
            cs_btclog_node_free(&c->btclog[i]);
    }
    free(c->nodes);
    free(c->btclog);
    for (size_t i = 0; i < c->nlists; i++) {
        free(c->lists[i].name);
        free(c->lists[i].file);
    }
    free(c->asn_file);
    free(c);
}

/* intervals: {getpeerinfo: 10s, getrawaddrman: off, ...} */
static int parse_intervals(cs_cfg *c, struct fy_node *nn, const char *path,
                           cs_bitcoind_node_conf *n)
{
    struct fy_node *m = cs_cfg_get(nn, "intervals");
    if (!m)
        return 0;
    char ipath[160];
    snprintf(ipath, sizeof ipath, "%s.intervals", path);
    const char *keys[CS_BTCD_NRPC + 1];
    for (size_t i = 0; i < CS_BTCD_NRPC; i++)
        keys[i] = cs_bitcoind_rpcs[i].method;
    keys[CS_BTCD_NRPC] = NULL;
    int rc = cs_cfg_expect_map(c, m, ipath, keys);
    for (size_t i = 0; rc == 0 && i < CS_BTCD_NRPC; i++) {
        struct fy_node *v = cs_cfg_get(m, keys[i]);
        if (!v)
            continue;
        char *s = cs_cfg_scalar(c, v, ipath);
        if (!s)
            return CS_ECONFIG;
        bool off = strcmp(s, "off") == 0 || strcmp(s, "false") == 0;
        free(s);
        if (off) {
            n->interval_ms[i] = 0;
            continue;
        }
        if ((rc = cs_cfg_duration_ms(c, m, ipath, keys[i], &n->interval_ms[i], false)))
            return rc;
        if (n->interval_ms[i] < 100)
            return cs_cfg_error(c, v, keys[i], "at least 100ms (or off)");
    }
    return rc;
}

static int parse_node(cs_cfg *c, struct fy_node *nn, const char *path, cs_bitcoind_node_conf *n)
{
    /* log, p2p_listen, ... belong to the debug.log extractor and the P2P
     * view (btclog*.c), which read them from the same entry. */
    static const char *const own[] = {"name",         "network",   "rpc",     "cookie", "user",
                                      "password_env", "intervals", "timeout", "retries"};
    const char *keys[sizeof own / sizeof *own + 8];
    size_t k = 0;
    for (; k < sizeof own / sizeof *own; k++)
        keys[k] = own[k];
    for (size_t i = 0; cs_btclog_node_keys[i] && k + 1 < sizeof keys / sizeof *keys; i++)
        keys[k++] = cs_btclog_node_keys[i];
    keys[k] = NULL;
    int rc;
    char *penv = NULL;
    n->timeout_ms = 10000;
    n->retries = 1;
    for (size_t i = 0; i < CS_BTCD_NRPC; i++)
        n->interval_ms[i] = cs_bitcoind_rpcs[i].interval_ms;
    if ((rc = cs_cfg_expect_map(c, nn, path, keys)) ||
        (rc = cs_cfg_str(c, nn, path, "name", &n->name, true)) ||
        (rc = cs_cfg_str(c, nn, path, "network", &n->network, false)) ||
        (rc = cs_cfg_str(c, nn, path, "rpc", &n->rpc, true)) ||
        (rc = cs_cfg_str(c, nn, path, "cookie", &n->cookie, false)) ||
        (rc = cs_cfg_str(c, nn, path, "user", &n->user, false)) ||
        (rc = cs_cfg_str(c, nn, path, "password_env", &penv, false)) ||
        (rc = cs_cfg_duration_ms(c, nn, path, "timeout", &n->timeout_ms, false)) ||
        (rc = cs_cfg_uint(c, nn, path, "retries", &n->retries, 0, 10, false)) ||
        (rc = parse_intervals(c, nn, path, n)))
        goto out;
    if (!n->network && !(n->network = strdup("btc-main"))) {
        rc = CS_ENOMEM;
        goto out;
    }
    if (strncmp(n->rpc, "http://", 7) && strncmp(n->rpc, "https://", 8)) {
        rc = cs_cfg_error(c, cs_cfg_get(nn, "rpc"), "rpc", "'%s' is not an http(s):// URL", n->rpc);
        goto out;
    }
    if (n->timeout_ms < 10) {
        rc = cs_cfg_error(c, cs_cfg_get(nn, "timeout"), "timeout", "at least 10ms");
        goto out;
    }
    if (n->cookie && (n->user || penv)) {
        rc = cs_cfg_error(c, cs_cfg_get(nn, "cookie"), "cookie",
                          "either cookie or user + password_env, not both");
        goto out;
    }
    if (!n->user != !penv) {
        rc = cs_cfg_error(c, nn, path, "user and password_env go together");
        goto out;
    }
    if (penv) {
        const char *pw = getenv(penv);
        if (!pw || !*pw) {
            rc = cs_cfg_error(c, cs_cfg_get(nn, "password_env"), "password_env",
                              "environment variable %s is not set", penv);
            goto out;
        }
        if (!(n->password = strdup(pw)))
            rc = CS_ENOMEM;
    }
out:
    free(penv);
    return rc;
}

static int parse_lists(cs_cfg *c, struct fy_node *node, cs_bitcoind_conf *cf)
{
    struct fy_node *l = cs_cfg_get(node, "lists");
    if (!l)
        return 0;
    if (!fy_node_is_sequence(l))
        return cs_cfg_error(c, l, "bitcoind.lists", "a list of {name, file}");
    int rc = cs_cfg_unique(c, l, "bitcoind.lists", "name");
    void *it = NULL;
    struct fy_node *item;
    while (rc == 0 && (item = fy_node_sequence_iterate(l, &it))) {
        static const char *const keys[] = {"name", "file", NULL};
        if (cf->nlists == CS_BITCOIND_MAX_LISTS)
            return cs_cfg_error(c, item, "bitcoind.lists", "at most %d lists",
                                CS_BITCOIND_MAX_LISTS);
        char path[64];
        snprintf(path, sizeof path, "bitcoind.lists[%zu]", cf->nlists);
        cs_bitcoind_list_conf *e = &cf->lists[cf->nlists++];
        if ((rc = cs_cfg_expect_map(c, item, path, keys)) ||
            (rc = cs_cfg_str(c, item, path, "name", &e->name, true)) ||
            (rc = cs_cfg_str(c, item, path, "file", &e->file, true)))
            return rc;
    }
    return rc;
}

static int parse_forks(cs_cfg *c, struct fy_node *node, cs_bitcoind_conf *cf)
{
    static const char *const keys[] = {"stale_after", "lag_blocks", "history", "max_headers", NULL};
    struct fy_node *f = cs_cfg_get(node, "forks");
    const char *P = "bitcoind.forks";
    if (!f)
        return 0;
    int rc;
    if ((rc = cs_cfg_expect_map(c, f, P, keys)) ||
        (rc = cs_cfg_duration_ms(c, f, P, "stale_after", &cf->stale_after_ms, false)) ||
        (rc = cs_cfg_uint(c, f, P, "lag_blocks", &cf->lag_blocks, 1, 1000000, false)) ||
        (rc = cs_cfg_uint(c, f, P, "history", &cf->history, 0, 10000, false)) ||
        (rc = cs_cfg_uint(c, f, P, "max_headers", &cf->max_headers, 100, 10000000, false)))
        return rc;
    if (cf->stale_after_ms < 1000)
        return cs_cfg_error(c, cs_cfg_get(f, "stale_after"), "stale_after", "at least 1s");
    return 0;
}

int cs_bitcoind_config_parse(cs_cfg *c, struct fy_node *node, void **out)
{
    static const char *const keys[] = {"nodes", "lists", "asn", "backoff_max", "forks", NULL};
    const char *P = "bitcoind";
    cs_bitcoind_conf *cf = calloc(1, sizeof *cf);
    if (!cf)
        return CS_ENOMEM;
    cf->backoff_max_ms = 300000;
    cf->stale_after_ms = 30 * 60 * 1000;
    cf->lag_blocks = 2;
    cf->history = 6;
    cf->max_headers = 100000;
    int rc;
    struct fy_node *nodes = cs_cfg_get(node, "nodes");
    if ((rc = cs_cfg_expect_map(c, node, P, keys)))
        goto fail;
    if (!nodes || !fy_node_is_sequence(nodes) || fy_node_sequence_item_count(nodes) == 0) {
        rc = cs_cfg_error(c, nodes ? nodes : node, "bitcoind.nodes", "a list of nodes");
        goto fail;
    }
    if ((rc = cs_cfg_unique(c, nodes, "bitcoind.nodes", "name")))
        goto fail;
    size_t cap = (size_t)fy_node_sequence_item_count(nodes);
    if (cap > CS_BITCOIND_MAX_NODES) {
        rc = cs_cfg_error(c, nodes, "bitcoind.nodes", "at most %d nodes", CS_BITCOIND_MAX_NODES);
        goto fail;
    }
    if (!(cf->nodes = calloc(cap, sizeof *cf->nodes)) ||
        !(cf->btclog = calloc(cap, sizeof *cf->btclog))) {
        rc = CS_ENOMEM;
        goto fail;
    }
    void *it = NULL;
    struct fy_node *nn;
    while ((nn = fy_node_sequence_iterate(nodes, &it))) {
        char path[64];
        snprintf(path, sizeof path, "bitcoind.nodes[%zu]", cf->nnodes);
        if ((rc = parse_node(c, nn, path, &cf->nodes[cf->nnodes++])) ||
            (rc = cs_btclog_node_parse(c, nn, path, &cf->btclog[cf->nnodes - 1])))
            goto fail;
    }
    if ((rc = parse_lists(c, node, cf)) ||
        (rc = cs_cfg_str(c, node, P, "asn", &cf->asn_file, false)) ||
        (rc = cs_cfg_duration_ms(c, node, P, "backoff_max", &cf->backoff_max_ms, false)) ||
        (rc = parse_forks(c, node, cf)))
        goto fail;
    *out = cf;
    return 0;
fail:
    cs_bitcoind_config_free(cf);
    return rc;
}
