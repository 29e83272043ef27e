/* Typed node probes (see probe.h): one call or batch each on the shared
 * JSON-RPC client, the answer read into a plain struct for the caller to
 * judge. Each probe owns a small context from its start to its callback. */
#include "core/error.h"
#include "core/json.h"
#include "evm/probe.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pctx {
    union {
        cs_evm_status_cb status;
        cs_evm_admin_cb admin;
        cs_evm_seals_cb seals;
        cs_evm_add_peer_cb add_peer;
    } cb;
    void *arg;
    uint64_t timeout_ms;
    bool peers, clique; /* admin: the parts asked */
    uint64_t from;      /* seals */
    size_t n;
} pctx;

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* Copies n bytes of s into out, cut at len - 1. */
static void copy_cut(char *out, size_t len, const char *s, size_t n)
{
    if (n >= len)
        n = len - 1;
    memcpy(out, s, n);
    out[n] = 0;
}

void cs_evm_enode_id(const char *enode, char *out, size_t len)
{
    out[0] = 0;
    const char *p = strstr(enode, "enode://");
    if (!p)
        return;
    p += 8;
    const char *at = strchr(p, '@');
    copy_cut(out, len, p, at ? (size_t)(at - p) : strlen(p));
    lower(out);
}

/* "1.2.3.4:30303" or "[::1]:30303" -> the address. */
static void addr_host(const char *a, char *out, size_t len)
{
    if (*a == '[') {
        const char *e = strchr(a, ']');
        copy_cut(out, len, a + 1, e ? (size_t)(e - a - 1) : strlen(a + 1));
        return;
    }
    const char *c = strrchr(a, ':');
    copy_cut(out, len, a, c && strchr(a, ':') == c ? (size_t)(c - a) : strlen(a));
}

static pctx *ctx_new(void *arg, uint64_t timeout_ms)
{
    pctx *p = calloc(1, sizeof *p);
    if (p) {
        p->arg = arg;
        p->timeout_ms = timeout_ms;
    }
    return p;
}

/* Starts the batch, freeing p when it cannot start. */
static int start(cs_rpc *rpc, const cs_rpc_req *reqs, size_t n, pctx *p, cs_rpc_cb on)
{
    if (!p)
        return CS_ENOMEM;
    int rc = cs_rpc_batch(rpc, reqs, n, p->timeout_ms, on, p);
    if (rc)
        free(p);
    return rc;
}

/* ---- status ----------------------------------------------------------- */

static void on_status(const cs_rpc_result *res, void *arg)
{
    pctx *p = arg;
    cs_evm_status st = {0};
    const cs_jsonr *j = res->json;
    uint32_t blk, t;
    uint64_t v;
    if (res->error) {
        st.error = res->error;
        cs_rpc_why(res, p->timeout_ms, st.why, sizeof st.why);
    } else if (cs_rpc_item(res, 0, "eth_getBlockByNumber", &blk, st.why, sizeof st.why)) {
        st.error = CS_EPROTO;
    } else if (!(t = cs_jsonr_get(j, blk, "number")) || cs_jsonr_u64(j, t, &st.height)) {
        st.error = CS_EPROTO;
        snprintf(st.why, sizeof st.why, "eth_getBlockByNumber: no block number");
    } else {
        if ((t = cs_jsonr_get(j, blk, "timestamp")) && cs_jsonr_u64(j, t, &v) == 0)
            st.time = (int64_t)v;
        char e[64];
        if (cs_rpc_item(res, 1, "net_peerCount", &t, e, sizeof e) == 0 &&
            cs_jsonr_u64(j, t, &st.peers) == 0)
            st.has_peers = true;
        if (cs_rpc_item(res, 2, "web3_clientVersion", &t, e, sizeof e) == 0)
            cs_jsonr_copy(j, t, st.client, sizeof st.client);
    }
    cs_evm_status_cb cb = p->cb.status;
    void *a = p->arg;
    free(p);
    cb(&st, a);
}

int cs_evm_probe_status(cs_rpc *rpc, uint64_t timeout_ms, cs_evm_status_cb cb, void *arg)
{
    static const cs_rpc_req reqs[] = {{"eth_getBlockByNumber", "[\"latest\",false]"},
                                      {"net_peerCount", NULL},
                                      {"web3_clientVersion", NULL}};
    pctx *p = ctx_new(arg, timeout_ms);
    if (p)
        p->cb.status = cb;
    return start(rpc, reqs, 3, p, on_status);
}

/* ---- admin_peers and clique_status -------------------------------------- */

static void read_peers(const cs_jsonr *j, uint32_t arr, cs_evm_peer *out, size_t *n)
{
    for (uint32_t it = cs_jsonr_first(j, arr); it && *n < CS_EVM_MAX_PEERS;
         it = cs_jsonr_next_item(j, arr, it)) {
        cs_evm_peer *ps = &out[*n];
        char enode[600], remote[128];
        cs_jsonr_copy(j, cs_jsonr_get(j, it, "enode"), enode, sizeof enode);
        cs_evm_enode_id(enode, ps->id, sizeof ps->id);
        cs_jsonr_copy(j, cs_jsonr_get(j, cs_jsonr_get(j, it, "network"), "remoteAddress"), remote,
                      sizeof remote);
        addr_host(remote, ps->ip, sizeof ps->ip);
        if (ps->id[0])
            (*n)++;
    }
}

static void read_sealers(const cs_jsonr *j, uint32_t act, cs_evm_sealer *out, size_t *n)
{
    for (uint32_t k = cs_jsonr_first(j, act); k && *n < CS_EVM_MAX_SEALERS;
         k = cs_jsonr_next_key(j, act, k)) {
        cs_evm_sealer *se = &out[(*n)++];
        cs_jsonr_copy(j, k, se->addr, sizeof se->addr);
        lower(se->addr);
        cs_jsonr_u64(j, k + 1, &se->count);
    }
}

static void on_admin(const cs_rpc_result *res, void *arg)
{
    pctx *p = arg;
    cs_evm_admin ad = {.peers_error = p->peers ? 0 : CS_EINVAL,
                       .clique_error = p->clique ? 0 : CS_EINVAL};
    const cs_jsonr *j = res->json;
    cs_evm_peer *peers = NULL;
    cs_evm_sealer *sealers = NULL;
    char why[256];
    if (res->error) {
        cs_rpc_why(res, p->timeout_ms, why, sizeof why);
        ad.peers_error = ad.clique_error = res->error;
        snprintf(ad.peers_why, sizeof ad.peers_why, "%s", why);
        snprintf(ad.clique_why, sizeof ad.clique_why, "%s", why);
    } else {
        uint32_t t, act;
        size_t k = 0;
        if (p->peers) {
            if (cs_rpc_item(res, k, "admin_peers", &t, ad.peers_why, sizeof ad.peers_why)) {
                ad.peers_error = CS_EPROTO;
            } else if (cs_jsonr_at(j, t)->type != CS_JT_ARR) {
                ad.peers_error = CS_EPROTO;
                snprintf(ad.peers_why, sizeof ad.peers_why, "admin_peers: not an array");
            } else {
                size_t want = cs_jsonr_at(j, t)->len;
                peers =
                    calloc(want < CS_EVM_MAX_PEERS ? want + 1 : CS_EVM_MAX_PEERS, sizeof *peers);
                if (!peers) {
                    ad.peers_error = CS_ENOMEM;
                    snprintf(ad.peers_why, sizeof ad.peers_why, "admin_peers: out of memory");
                } else {
                    read_peers(j, t, peers, &ad.npeers);
                    ad.peers = peers;
                }
            }
            k++;
        }
        if (p->clique) {
            if (cs_rpc_item(res, k, "clique_status", &t, ad.clique_why, sizeof ad.clique_why)) {
                ad.clique_error = CS_EPROTO;
            } else if (!(act = cs_jsonr_get(j, t, "sealerActivity")) ||
                       cs_jsonr_at(j, act)->type != CS_JT_OBJ) {
                ad.clique_error = CS_EPROTO;
                snprintf(ad.clique_why, sizeof ad.clique_why, "clique_status: no sealerActivity");
            } else {
                size_t want = cs_jsonr_at(j, act)->len;
                sealers = calloc(want ? want : 1, sizeof *sealers);
                if (!sealers) {
                    ad.clique_error = CS_ENOMEM;
                    snprintf(ad.clique_why, sizeof ad.clique_why, "clique_status: out of memory");
                } else {
                    uint32_t nb = cs_jsonr_get(j, t, "numBlocks");
                    if (nb)
                        cs_jsonr_u64(j, nb, &ad.window);
                    read_sealers(j, act, sealers, &ad.nsealers);
                    ad.sealers = sealers;
                }
            }
        }
    }
    cs_evm_admin_cb cb = p->cb.admin;
    void *a = p->arg;
    free(p);
    cb(&ad, a);
    free(peers);
    free(sealers);
}

int cs_evm_probe_admin(cs_rpc *rpc, bool peers, bool clique, uint64_t timeout_ms,
                       cs_evm_admin_cb cb, void *arg)
{
    if (!peers && !clique)
        return CS_EINVAL;
    cs_rpc_req reqs[2];
    size_t n = 0;
    if (peers)
        reqs[n++] = (cs_rpc_req){"admin_peers", NULL};
    if (clique)
        reqs[n++] = (cs_rpc_req){"clique_status", NULL};
    pctx *p = ctx_new(arg, timeout_ms);
    if (p) {
        p->cb.admin = cb;
        p->peers = peers;
        p->clique = clique;
    }
    return start(rpc, reqs, n, p, on_admin);
}

/* ---- signers of recent blocks -------------------------------------------- */

static void on_seals(const cs_rpc_result *res, void *arg)
{
    pctx *p = arg;
    cs_evm_seal blocks[CS_EVM_MAX_SEALS];
    cs_evm_seals se = {.from = p->from, .n = p->n, .blocks = blocks};
    const cs_jsonr *j = res->json;
    memset(blocks, 0, sizeof blocks);
    if (res->error) {
        se.error = res->error;
        cs_rpc_why(res, p->timeout_ms, se.why, sizeof se.why);
    }
    for (size_t i = 0; i < p->n && !se.error; i++) {
        uint32_t sg, blk, t;
        uint64_t ts;
        char e[128] = "";
        if (cs_rpc_item(res, 2 * i, "clique_getSigner", &sg, e, sizeof e) ||
            cs_jsonr_at(j, sg)->type != CS_JT_STR ||
            cs_rpc_item(res, 2 * i + 1, "eth_getBlockByNumber", &blk, e, sizeof e) ||
            !(t = cs_jsonr_get(j, blk, "timestamp")) || cs_jsonr_u64(j, t, &ts)) {
            se.error = CS_EPROTO;
            snprintf(se.why, sizeof se.why, "block %llu: %s", (unsigned long long)(p->from + i),
                     e[0] ? e : "malformed");
            break;
        }
        cs_jsonr_copy(j, sg, blocks[i].signer, sizeof blocks[i].signer);
        lower(blocks[i].signer);
        blocks[i].time = (int64_t)ts;
    }
    cs_evm_seals_cb cb = p->cb.seals;
    void *a = p->arg;
    free(p);
    cb(&se, a);
}

int cs_evm_probe_seals(cs_rpc *rpc, uint64_t from, size_t n, uint64_t timeout_ms,
                       cs_evm_seals_cb cb, void *arg)
{
    if (n == 0 || n > CS_EVM_MAX_SEALS)
        return CS_EINVAL;
    cs_rpc_req reqs[2 * CS_EVM_MAX_SEALS];
    char params[2 * CS_EVM_MAX_SEALS][40];
    for (size_t i = 0; i < n; i++) {
        snprintf(params[2 * i], sizeof params[0], "[\"0x%llx\"]", (unsigned long long)(from + i));
        snprintf(params[2 * i + 1], sizeof params[0], "[\"0x%llx\",false]",
                 (unsigned long long)(from + i));
        reqs[2 * i] = (cs_rpc_req){"clique_getSigner", params[2 * i]};
        reqs[2 * i + 1] = (cs_rpc_req){"eth_getBlockByNumber", params[2 * i + 1]};
    }
    pctx *p = ctx_new(arg, timeout_ms);
    if (p) {
        p->cb.seals = cb;
        p->from = from;
        p->n = n;
    }
    return start(rpc, reqs, 2 * n, p, on_seals);
}

/* ---- admin_addPeer -------------------------------------------------------- */

static void on_add_peer(const cs_rpc_result *res, void *arg)
{
    pctx *p = arg;
    char why[256] = "";
    bool accepted = false;
    if (res->error)
        cs_rpc_why(res, p->timeout_ms, why, sizeof why);
    else
        accepted = cs_jsonr_at(res->json, res->result)->type == CS_JT_TRUE;
    cs_evm_add_peer_cb cb = p->cb.add_peer;
    void *a = p->arg;
    free(p);
    cb(res->error, why, accepted, a);
}

int cs_evm_probe_add_peer(cs_rpc *rpc, const char *enode, uint64_t timeout_ms,
                          cs_evm_add_peer_cb cb, void *arg)
{
    cs_buf b;
    cs_buf_init(&b, 4096);
    int rc = cs_buf_putc(&b, '[');
    if (!rc)
        rc = cs_json_string(&b, enode, strlen(enode));
    if (!rc)
        rc = cs_buf_putc(&b, ']');
    pctx *p = rc ? NULL : ctx_new(arg, timeout_ms);
    if (p)
        p->cb.add_peer = cb;
    if (p && (rc = cs_rpc_call(rpc, "admin_addPeer", cs_buf_cstr(&b), timeout_ms, on_add_peer, p)))
        free(p);
    else if (!p && !rc)
        rc = CS_ENOMEM;
    cs_buf_free(&b);
    return rc;
}
