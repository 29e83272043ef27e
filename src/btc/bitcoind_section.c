/* The `bitcoind:` section as far as the debug.log extractor and the node's
 * own P2P view need it: nodes with name and network, and the keys of
 * btc/btclog.h. The RPC keys of the same node entries join this parse when
 * the RPC extractor does (one call to cs_btclog_node_parse per node). */
#include "btc/bitcoind_section.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfyaml.h>

#include "btc/btclog.h"
#include "core/error.h"

typedef struct section {
    cs_btclog_node *nodes;
    size_t nnodes;
} section;

void cs_bitcoind_section_free(void *p)
{
    section *s = p;
    if (!s)
        return;
    for (size_t i = 0; i < s->nnodes; i++)
        cs_btclog_node_free(&s->nodes[i]);
    free(s->nodes);
    free(s);
}

static int parse_node(cs_cfg *c, struct fy_node *nd, const char *path, cs_btclog_node *n)
{
    /* name and network, then every key btclog reads */
    const char *keys[16] = {"name", "network"};
    size_t k = 2;
    for (size_t i = 0; cs_btclog_node_keys[i] && k < 15; i++)
        keys[k++] = cs_btclog_node_keys[i];
    keys[k] = NULL;
    int rc = cs_cfg_expect_map(c, nd, path, keys);
    return rc ? rc : cs_btclog_node_parse(c, nd, path, n);
}

int cs_bitcoind_section_parse(cs_cfg *c, struct fy_node *node, void **out)
{
    static const char *const keys[] = {"nodes", NULL};
    section *s = calloc(1, sizeof *s);
    if (!s)
        return CS_ENOMEM;
    int rc = cs_cfg_expect_map(c, node, "bitcoind", keys);
    struct fy_node *nodes = cs_cfg_get(node, "nodes");
    if (rc == 0 && (!nodes || !fy_node_is_sequence(nodes)))
        rc = cs_cfg_error(c, nodes ? nodes : node, "bitcoind.nodes", "a list of nodes is needed");
    if (rc == 0)
        rc = cs_cfg_unique(c, nodes, "bitcoind.nodes", "name");
    int count = rc == 0 ? fy_node_sequence_item_count(nodes) : 0;
    if (rc == 0 && !(s->nodes = calloc(count ? (size_t)count : 1, sizeof *s->nodes)))
        rc = CS_ENOMEM;
    void *it = NULL;
    struct fy_node *nd;
    while (rc == 0 && (nd = fy_node_sequence_iterate(nodes, &it))) {
        char path[64];
        snprintf(path, sizeof path, "bitcoind.nodes[%zu]", s->nnodes);
        rc = parse_node(c, nd, path, &s->nodes[s->nnodes++]);
    }
    if (rc) {
        cs_bitcoind_section_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int cs_bitcoind_section_start(cs_runtime *rt, void *conf, void **state)
{
    section *s = conf;
    return cs_btclog_start(rt, s->nodes, s->nnodes, (cs_btclog **)state);
}

void cs_bitcoind_section_stop(void *state, void (*done)(void *arg), void *arg)
{
    cs_btclog_stop(state, done, arg);
}
