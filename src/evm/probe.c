#include "evm/probe.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const cs_probe_default_methods[] = {"eth_blockNumber", "eth_syncing", "net_peerCount",
                                                "web3_clientVersion", "eth_chainId"};
const size_t cs_probe_ndefault = sizeof cs_probe_default_methods / sizeof *cs_probe_default_methods;

typedef struct probe_run probe_run;

typedef struct probe {
    probe_run *run;
    char method[64];
    char *params;
    uint64_t t0;
} probe;

struct probe_run {
    cs_publisher *pub;
    char *key;
    unsigned left, failed;
    cs_probe_done_cb done;
    void *arg;
    probe probes[CS_PROBE_MAX_METHODS];
};

static void finish_one(probe_run *run)
{
    if (--run->left)
        return;
    cs_probe_done_cb done = run->done;
    void *arg = run->arg;
    unsigned failed = run->failed;
    for (unsigned i = 0; i < CS_PROBE_MAX_METHODS; i++)
        free(run->probes[i].params);
    free(run->key);
    free(run);
    if (done)
        done(arg, failed);
}

/* Fields derived from well-known results, so rules need not parse them. */
static void derived(cs_vw *w, const char *method, const cs_jsonr *j, uint32_t r)
{
    const cs_jtok *t = cs_jsonr_at(j, r);
    uint64_t v;
    if (strcmp(method, "eth_syncing") == 0) {
        cs_vw_kv_bool(w, "syncing", t->type == CS_JT_OBJ);
        if (t->type == CS_JT_OBJ) {
            uint32_t cur = cs_jsonr_get(j, r, "currentBlock"),
                     hi = cs_jsonr_get(j, r, "highestBlock");
            if (cur && cs_jsonr_u64(j, cur, &v) == 0)
                cs_vw_kv_u64(w, "current_block", v);
            if (hi && cs_jsonr_u64(j, hi, &v) == 0)
                cs_vw_kv_u64(w, "highest_block", v);
        }
        return;
    }
    if (t->type == CS_JT_STR && t->len > 2 && cs_jsonr_ptr(j, r)[0] == '0' &&
        cs_jsonr_ptr(j, r)[1] == 'x' && t->len <= 18 && cs_jsonr_u64(j, r, &v) == 0 &&
        strcmp(method, "web3_clientVersion") != 0) {
        cs_vw_kv_u64(w, "value", v); /* eth_blockNumber, net_peerCount, eth_chainId */
        return;
    }
    if (t->type == CS_JT_ARR) {
        cs_vw_kv_u64(w, "count", t->len); /* admin_peers, clique_getSigners */
        return;
    }
    if (strcmp(method, "clique_status") == 0 && t->type == CS_JT_OBJ) {
        uint32_t sa = cs_jsonr_get(j, r, "sealerActivity");
        if (sa && cs_jsonr_at(j, sa)->type == CS_JT_OBJ)
            cs_vw_kv_u64(w, "count", cs_jsonr_at(j, sa)->len);
    }
}

static void on_probe(const cs_rpc_result *res, void *arg)
{
    probe *p = arg;
    probe_run *run = p->run;
    if (res->error == CS_ECLOSED) {
        run->failed++;
        finish_one(run);
        return;
    }
    double ms = (double)(uv_hrtime() - p->t0) / 1e6;
    cs_vw *w = cs_publisher_begin(run->pub);
    cs_vw_kv_str(w, "method", p->method);
    cs_vw_kv_bool(w, "ok", res->error == 0);
    cs_vw_kv_double(w, "latency_ms", ms);
    cs_vw_kv_str(w, "endpoint", res->endpoint ? res->endpoint : "");
    if (res->error) {
        char buf[256];
        cs_vw_kv_str(w, "error", cs_rpc_strerror(res, buf, sizeof buf));
        if (res->error == CS_EPROTO)
            cs_vw_kv_i64(w, "code", res->code);
        run->failed++;
    } else {
        size_t mark = w->buf.len;
        int depth = w->depth;
        uint32_t cnt = w->count[depth - 1];
        cs_vw_key(w, "result");
        if (cs_jsonr_value(res->json, res->result, w)) {
            /* Not representable (bad UTF-8, too deep): say so instead. */
            w->buf.len = mark;
            w->depth = depth;
            w->count[depth - 1] = cnt;
            w->err = 0;
            cs_vw_kv_str(w, "error", "result could not be converted");
        } else {
            derived(w, p->method, res->json, res->result);
        }
    }
    int rc = cs_publisher_emit(run->pub, "evm.probe", NULL, run->key, NULL);
    if (rc)
        CS_WARN("evm.probe", "%s: cannot publish: %s", p->method, cs_strerror(rc));
    finish_one(run);
}

int cs_probe_run(cs_rpc *rpc, cs_publisher *pub, const char *const *methods, size_t n,
                 uint64_t timeout_ms, const char *key, cs_probe_done_cb done, void *arg)
{
    if (n == 0 || n > CS_PROBE_MAX_METHODS)
        return CS_EINVAL;
    probe_run *run = calloc(1, sizeof *run);
    if (!run)
        return CS_ENOMEM;
    run->pub = pub;
    run->key = strdup(key ? key : "");
    run->done = done;
    run->arg = arg;
    for (size_t i = 0; i < n; i++) {
        probe *p = &run->probes[i];
        p->run = run;
        const char *eq = strchr(methods[i], '=');
        size_t ml = eq ? (size_t)(eq - methods[i]) : strlen(methods[i]);
        if (ml == 0 || ml >= sizeof p->method) {
            for (size_t k = 0; k < i; k++)
                free(run->probes[k].params);
            free(run->key);
            free(run);
            return CS_EINVAL;
        }
        memcpy(p->method, methods[i], ml);
        p->method[ml] = 0;
        if (eq) {
            cs_buf b;
            cs_buf_init(&b, 0);
            cs_buf_putc(&b, '[');
            cs_json_string(&b, eq + 1, strlen(eq + 1));
            cs_buf_putc(&b, ']');
            size_t len;
            cs_buf_putc(&b, 0);
            p->params = (char *)cs_buf_steal(&b, &len);
        }
    }
    /* Every probe starts at once; a call refused at once counts as failed. */
    run->left = (unsigned)n + 1;
    for (size_t i = 0; i < n; i++) {
        probe *p = &run->probes[i];
        p->t0 = uv_hrtime();
        if (cs_rpc_call(rpc, p->method, p->params, timeout_ms, on_probe, p)) {
            cs_rpc_result res = {
                .error = CS_ELIMIT, .message = "too many calls in flight", .endpoint = ""};
            run->left++;
            on_probe(&res, p);
            run->left--;
        }
    }
    finish_one(run); /* the +1 held while starting */
    return 0;
}
