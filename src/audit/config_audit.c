/* The `audit:` config section into cs_audit_config (docs/audit.md lists
 * every key). Errors name file:line:col through src/config/config.h. */
#include "audit/audit.h"
#include "audit/audit_config.h"
#include "audit/schedule.h"
#include "audit/report.h"
#include "btc/wire.h"
#include "config/config.h"
#include "core/error.h"

#include <libfyaml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const evm_checks[] = {"rpc",      "lag",     "peers", "connected",
                                         "enode_ip", "sealing", NULL};
static const char *const btc_checks[] = {"rpc", "tip_age", "sync", "peers", "tips", "p2p", NULL};
static const char *const ant_checks[] = {"api",     "lag",       "lib_lag", "chain_id",
                                         "version", "producing", NULL};

static const char *const *checks_of(int kind)
{
    return kind == CS_AUDIT_EVM ? evm_checks : kind == CS_AUDIT_BITCOIN ? btc_checks : ant_checks;
}

static bool in_list(const char *const *l, const char *s)
{
    for (; *l; l++)
        if (strcmp(*l, s) == 0)
            return true;
    return false;
}

static void where(cs_cfg *c, struct fy_node *n, int *line, int *col)
{
    /* Kept for messages produced after loading: "file:line:col". */
    char w[600];
    cs_cfg_where(c, n, w, sizeof w);
    const char *p = strrchr(w, ':');
    const char *q = p ? p - 1 : NULL;
    while (q && q > w && *q != ':')
        q--;
    *line = q && *q == ':' ? atoi(q + 1) : 0;
    *col = p ? atoi(p + 1) : 0;
}

static int seconds(cs_cfg *c, struct fy_node *map, const char *path, const char *key, uint32_t *out)
{
    uint64_t ms = 0;
    int rc = cs_cfg_duration_ms(c, map, path, key, &ms, false);
    if (rc || !cs_cfg_get(map, key))
        return rc;
    char full[160];
    snprintf(full, sizeof full, "%s.%s", path, key);
    if (ms < 1000 || ms / 1000 > UINT32_MAX)
        return cs_cfg_error(c, cs_cfg_get(map, key), full, "must be between 1s and 136 years");
    *out = (uint32_t)(ms / 1000);
    return 0;
}

static int millis(cs_cfg *c, struct fy_node *map, const char *path, const char *key, uint32_t *out,
                  uint64_t min_ms, uint64_t max_ms)
{
    uint64_t ms = 0;
    int rc = cs_cfg_duration_ms(c, map, path, key, &ms, false);
    if (rc || !cs_cfg_get(map, key))
        return rc;
    char full[160];
    snprintf(full, sizeof full, "%s.%s", path, key);
    if (ms < min_ms || ms > max_ms)
        return cs_cfg_error(c, cs_cfg_get(map, key), full, "must be between %llu ms and %llu ms",
                            (unsigned long long)min_ms, (unsigned long long)max_ms);
    *out = (uint32_t)ms;
    return 0;
}

static int u32(cs_cfg *c, struct fy_node *map, const char *path, const char *key, uint32_t *out,
               uint64_t max)
{
    uint64_t v = *out;
    int rc = cs_cfg_uint(c, map, path, key, &v, 0, max, false);
    if (!rc)
        *out = (uint32_t)v;
    return rc;
}

static int parse_node(cs_cfg *c, struct fy_node *nd, const char *path, cs_audit_network *net,
                      cs_audit_node *n)
{
    static const char *const keys[] = {
        "name",         "role",       "label",  "owner",   "contact", "since",   "rpc",
        "ipc",          "p2p",        "enode",  "address", "signer",  "account", "rpc_user",
        "rpc_password", "rpc_cookie", "checks", "pending", NULL};
    int rc;
    where(c, nd, &n->line, &n->col);
    if ((rc = cs_cfg_expect_map(c, nd, path, keys)) ||
        (rc = cs_cfg_str(c, nd, path, "name", &n->name, true)))
        return rc;
    if (n->name[0] == '@' || !n->name[0])
        return cs_cfg_error(c, cs_cfg_get(nd, "name"), path,
                            "node names may not be empty or start with '@'");
    static const char *const roles[] = {"miner", "validator", "producer", "witness",
                                        "rpc",   "seed",      "custom",   NULL};
    n->role = CS_ROLE_CUSTOM;
    if ((rc = cs_cfg_enum(c, nd, path, "role", roles, &n->role, true)))
        return rc;
    char **fields[] = {&n->role_label, &n->owner,    &n->contact,      &n->since,     &n->rpc,
                       &n->ipc,        &n->p2p,      &n->enode,        &n->address,   &n->signer,
                       &n->account,    &n->rpc_user, &n->rpc_password, &n->rpc_cookie};
    static const char *const names[] = {
        "label", "owner",   "contact", "since",   "rpc",      "ipc",          "p2p",
        "enode", "address", "signer",  "account", "rpc_user", "rpc_password", "rpc_cookie"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if ((rc = cs_cfg_str(c, nd, path, names[i], fields[i], false)))
            return rc;
    if ((rc = cs_cfg_bool(c, nd, path, "pending", &n->pending, false)))
        return rc;
    if (n->rpc && strncmp(n->rpc, "http://", 7) != 0 && strncmp(n->rpc, "https://", 8) != 0)
        return cs_cfg_error(c, cs_cfg_get(nd, "rpc"), path,
                            "expected an http:// or https:// URL, got \"%s\"", n->rpc);
    if (n->ipc && net->kind != CS_AUDIT_EVM)
        return cs_cfg_error(c, cs_cfg_get(nd, "ipc"), path,
                            "`ipc` is for EVM nodes (geth.ipc); this is a %s network",
                            cs_audit_kind_name(net->kind));
    if (n->ipc && n->ipc[0] != '/')
        return cs_cfg_error(c, cs_cfg_get(nd, "ipc"), path,
                            "expected an absolute path to the node's IPC socket, got \"%s\"",
                            n->ipc);
    if (n->ipc && !n->rpc) { /* the checks speak JSON-RPC over the socket */
        size_t len = strlen(n->ipc) + sizeof CS_AUDIT_IPC_SCHEME;
        if (!(n->rpc = malloc(len)))
            return CS_ENOMEM;
        snprintf(n->rpc, len, "%s%s", CS_AUDIT_IPC_SCHEME, n->ipc);
    }
    if (n->enode && (strncmp(n->enode, "enode://", 8) != 0 || !strchr(n->enode, '@')))
        return cs_cfg_error(c, cs_cfg_get(nd, "enode"), path,
                            "expected enode://<public key>@<ip>:<port>");
    if (n->since) {
        int y, m, d, k = 0;
        if (sscanf(n->since, "%4d-%2d-%2d%n", &y, &m, &d, &k) != 3 || k != 10 || n->since[10])
            return cs_cfg_error(c, cs_cfg_get(nd, "since"), path,
                                "expected a date YYYY-MM-DD, got \"%s\"", n->since);
    }
    char **list = NULL;
    size_t nl = 0;
    if ((rc = cs_cfg_strv(c, nd, path, "checks", &list, &nl, false)))
        return rc;
    if (nl > CS_AUDIT_MAX_CHECKS) {
        cs_cfg_strv_free(list);
        return cs_cfg_error(c, cs_cfg_get(nd, "checks"), path, "at most %d checks",
                            CS_AUDIT_MAX_CHECKS);
    }
    for (size_t i = 0; i < nl; i++) {
        if (!in_list(checks_of(net->kind), list[i])) {
            rc = cs_cfg_error(c, cs_cfg_get(nd, "checks"), path, "no check \"%s\" for %s networks",
                              list[i], cs_audit_kind_name(net->kind));
            cs_cfg_strv_free(list);
            return rc;
        }
        n->checks[i] = strdup(list[i]);
        n->nchecks = i + 1;
    }
    cs_cfg_strv_free(list);
    if (cs_audit_node_has_check(net, n, "sealing") && !n->signer && n->nchecks)
        return cs_cfg_error(c, nd, path, "the sealing check needs `signer`");
    if (cs_audit_node_has_check(net, n, "producing") && !n->account && n->nchecks)
        return cs_cfg_error(c, nd, path, "the producing check needs `account`");
    return 0;
}

/* The bp.json and endpoint keys of an Antelope network. */
static int parse_bp(cs_cfg *c, struct fy_node *nn, const char *path, cs_audit_network *net)
{
    static const char *const keys[] = {"bp_json",     "versions", "ca_file", "cert_warn_days",
                                       "concurrency", "bp_limit", NULL};
    cs_audit_bp *bp = &net->bp;
    uint64_t days = 7, conc = 8, limit = 100;
    int rc;
    if ((rc = cs_cfg_bool(c, nn, path, "bp_json", &bp->enabled, false)) ||
        (rc = cs_cfg_strv(c, nn, path, "versions", &bp->versions, &bp->nversions, false)) ||
        (rc = cs_cfg_str(c, nn, path, "ca_file", &bp->ca_file, false)) ||
        (rc = cs_cfg_uint(c, nn, path, "cert_warn_days", &days, 0, 3650, false)) ||
        (rc = cs_cfg_uint(c, nn, path, "concurrency", &conc, 1, 256, false)) ||
        (rc = cs_cfg_uint(c, nn, path, "bp_limit", &limit, 1, 1000, false)))
        return rc;
    bp->cert_warn_days = (uint32_t)days;
    bp->concurrency = (uint32_t)conc;
    bp->limit = (uint32_t)limit;
    if (bp->nversions > CS_AUDIT_BP_MAX_VERSIONS)
        return cs_cfg_error(c, cs_cfg_get(nn, "versions"), path, "at most %d versions",
                            CS_AUDIT_BP_MAX_VERSIONS);
    for (size_t i = 0; keys[i]; i++) {
        struct fy_node *k = cs_cfg_get(nn, keys[i]);
        if (k && net->kind != CS_AUDIT_ANTELOPE)
            return cs_cfg_error(c, k, path, "`%s` is for antelope networks", keys[i]);
    }
    return 0;
}

static int parse_network(cs_cfg *c, struct fy_node *nn, const char *path, cs_audit_network *net)
{
    static const char *const keys[] = {"name",           "kind",
                                       "auditor",        "chain_id",
                                       "version",        "add_missing_peers",
                                       "p2p_network",    "timeout",
                                       "head_max_age",   "lag_blocks",
                                       "lag_seconds",    "min_peers",
                                       "seal_within",    "seal_blocks",
                                       "lib_lag",        "headers_lag",
                                       "min_out_peers",  "max_missed_blocks",
                                       "observe",        "sample",
                                       "nodes",          "bp_json",
                                       "versions",       "ca_file",
                                       "cert_warn_days", "concurrency",
                                       "bp_limit",       NULL};
    static const char *const kinds[] = {"evm", "bitcoin", "antelope", NULL};
    int rc;
    where(c, nn, &net->line, &net->col);
    if ((rc = cs_cfg_expect_map(c, nn, path, keys)) ||
        (rc = cs_cfg_str(c, nn, path, "name", &net->name, true)) ||
        (rc = cs_cfg_enum(c, nn, path, "kind", kinds, &net->kind, true)) ||
        (rc = cs_cfg_str(c, nn, path, "auditor", &net->auditor, false)) ||
        (rc = cs_cfg_str(c, nn, path, "chain_id", &net->chain_id, false)) ||
        (rc = cs_cfg_str(c, nn, path, "version", &net->version, false)) ||
        (rc = cs_cfg_bool(c, nn, path, "add_missing_peers", &net->add_missing_peers, false)) ||
        (rc = cs_cfg_str(c, nn, path, "p2p_network", &net->p2p_network, false)))
        return rc;
    if (net->p2p_network && !cs_wire_net_find(net->p2p_network))
        return cs_cfg_error(c, cs_cfg_get(nn, "p2p_network"), path,
                            "unknown Bitcoin network '%s' (main, testnet3, testnet4, signet, "
                            "regtest)",
                            net->p2p_network);
    cs_audit_limits *L = &net->lim;
    if ((rc = millis(c, nn, path, "timeout", &L->timeout_ms, 100, 600000)) ||
        (rc = seconds(c, nn, path, "head_max_age", &L->head_max_age)) ||
        (rc = u32(c, nn, path, "lag_blocks", &L->lag_blocks, UINT32_MAX)) ||
        (rc = seconds(c, nn, path, "lag_seconds", &L->lag_seconds)) ||
        (rc = u32(c, nn, path, "min_peers", &L->min_peers, 100000)) ||
        (rc = seconds(c, nn, path, "seal_within", &L->seal_within)) ||
        (rc = u32(c, nn, path, "seal_blocks", &L->seal_blocks, 256)) ||
        (rc = u32(c, nn, path, "lib_lag", &L->lib_lag, UINT32_MAX)) ||
        (rc = u32(c, nn, path, "headers_lag", &L->headers_lag, UINT32_MAX)) ||
        (rc = u32(c, nn, path, "min_out_peers", &L->min_out_peers, 100000)) ||
        (rc = u32(c, nn, path, "max_missed_blocks", &L->max_missed_blocks, UINT32_MAX)) ||
        (rc = millis(c, nn, path, "observe", &L->observe_ms, 0, 3600000)) ||
        (rc = millis(c, nn, path, "sample", &L->sample_ms, 20, 60000)))
        return rc;
    if ((rc = parse_bp(c, nn, path, net)))
        return rc;
    struct fy_node *nodes = cs_cfg_get(nn, "nodes");
    if (!nodes || !fy_node_is_sequence(nodes))
        return cs_cfg_error(c, nodes ? nodes : nn, path, "`nodes` must be a list of nodes");
    int count = fy_node_sequence_item_count(nodes);
    if (count > CS_AUDIT_MAX_NODES)
        return cs_cfg_error(c, nodes, path, "at most %d nodes per network", CS_AUDIT_MAX_NODES);
    char np[128];
    snprintf(np, sizeof np, "%s.nodes", path);
    if ((rc = cs_cfg_unique(c, nodes, np, "name")))
        return rc;
    net->nodes = calloc(count ? (size_t)count : 1, sizeof *net->nodes);
    if (!net->nodes)
        return CS_ENOMEM;
    void *it = NULL;
    struct fy_node *nd;
    while ((nd = fy_node_sequence_iterate(nodes, &it))) {
        char p[128];
        snprintf(p, sizeof p, "%s.nodes[%zu]", path, net->nnodes);
        cs_audit_node *n = &net->nodes[net->nnodes++];
        if ((rc = parse_node(c, nd, p, net, n)))
            return rc;
    }
    if (net->auditor && !cs_audit_find_node(net, net->auditor))
        return cs_cfg_error(c, cs_cfg_get(nn, "auditor"), path,
                            "\"%s\" is not a node of network %s", net->auditor, net->name);
    return 0;
}

static int parse_sla(cs_cfg *c, struct fy_node *s, cs_audit_config *cfg)
{
    static const char *const keys[] = {"interval", "miner", "validator", "producer", "witness",
                                       "rpc",      "seed",  "custom",    NULL};
    int rc = cs_cfg_expect_map(c, s, "audit.sla", keys);
    if (rc || (rc = seconds(c, s, "audit.sla", "interval", &cfg->sla_interval)))
        return rc;
    for (int r = 0; r < CS_ROLE_COUNT; r++) {
        double pct = cfg->sla_bp[r] / 100.0;
        if ((rc = cs_cfg_double(c, s, "audit.sla", cs_audit_role_name(r), &pct, 0, 100, false)))
            return rc;
        cfg->sla_bp[r] = (uint32_t)(pct * 100 + 0.5);
    }
    return 0;
}

int cs_audit_config_parse(cs_cfg *c, struct fy_node *node, void **out)
{
    static const char *const keys[] = {"db",     "schedule", "mask_ips", "sla",
                                       "report", "networks", NULL};
    cs_audit_config *cfg = malloc(sizeof *cfg);
    if (!cfg)
        return CS_ENOMEM;
    cs_audit_config_init(cfg);
    int rc;
    struct fy_node *n;
    if ((rc = cs_cfg_expect_map(c, node, "audit", keys)) ||
        (rc = cs_cfg_str(c, node, "audit", "db", &cfg->db, false)) ||
        (rc = cs_cfg_str(c, node, "audit", "schedule", &cfg->schedule, false)) ||
        (rc = cs_cfg_bool(c, node, "audit", "mask_ips", &cfg->mask_ips, false)))
        goto fail;
    char err[256];
    cs_sched sch;
    if (cfg->schedule && cs_sched_parse(cfg->schedule, &sch, err, sizeof err) != 0) {
        rc = cs_cfg_error(c, cs_cfg_get(node, "schedule"), "audit.schedule", "%s", err);
        goto fail;
    }
    if (cfg->schedule && sch.every)
        cfg->sla_interval = (uint32_t)sch.every;
    if ((n = cs_cfg_get(node, "sla")) && (rc = parse_sla(c, n, cfg)))
        goto fail;
    if ((n = cs_cfg_get(node, "report"))) {
        static const char *const rk[] = {"schedule", "format", "channels", "glyphs", NULL};
        static const char *const formats[] = {"text", "md", "html", "json", NULL};
        int f = 0;
        if ((rc = cs_cfg_expect_map(c, n, "audit.report", rk)) ||
            (rc = cs_cfg_str(c, n, "audit.report", "schedule", &cfg->report_schedule, false)) ||
            (rc = cs_cfg_enum(c, n, "audit.report", "format", formats, &f, false)) ||
            (rc = cs_cfg_strv(c, n, "audit.report", "channels", &cfg->report_channels,
                              &cfg->nreport_channels, false)) ||
            (rc = cs_cfg_bool(c, n, "audit.report", "glyphs", &cfg->report_glyphs, false)))
            goto fail;
        cfg->report_format = strdup(formats[f]);
        if (cfg->report_schedule &&
            cs_sched_parse(cfg->report_schedule, &sch, err, sizeof err) != 0) {
            rc = cs_cfg_error(c, cs_cfg_get(n, "schedule"), "audit.report.schedule", "%s", err);
            goto fail;
        }
    }
    n = cs_cfg_get(node, "networks");
    if (!n || !fy_node_is_sequence(n)) {
        rc = cs_cfg_error(c, n ? n : node, "audit.networks", "expected a list of networks");
        goto fail;
    }
    int count = fy_node_sequence_item_count(n);
    if (count > CS_AUDIT_MAX_NETWORKS) {
        rc = cs_cfg_error(c, n, "audit.networks", "at most %d networks", CS_AUDIT_MAX_NETWORKS);
        goto fail;
    }
    if ((rc = cs_cfg_unique(c, n, "audit.networks", "name")))
        goto fail;
    cfg->nets = calloc(count ? (size_t)count : 1, sizeof *cfg->nets);
    if (!cfg->nets) {
        rc = CS_ENOMEM;
        goto fail;
    }
    void *it = NULL;
    struct fy_node *nn;
    while ((nn = fy_node_sequence_iterate(n, &it))) {
        char p[64];
        snprintf(p, sizeof p, "audit.networks[%zu]", cfg->nnets);
        cs_audit_network *net = &cfg->nets[cfg->nnets++];
        if ((rc = parse_network(c, nn, p, net)))
            goto fail;
    }
    *out = cfg;
    return 0;
fail:
    cs_audit_config_free(cfg);
    free(cfg);
    return rc ? rc : CS_ECONFIG;
}

void cs_audit_config_section_free(void *conf)
{
    if (!conf)
        return;
    cs_audit_config_free(conf);
    free(conf);
}
