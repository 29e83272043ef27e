/* Bitcoin Core's JSON-RPC calls of the audit (see corerpc.h). */
#include "btc/corerpc.h"
#include "core/error.h"
#include "core/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct core_ctx {
    union {
        cs_btc_core_status_cb status;
        cs_btc_core_time_cb time;
    } cb;
    void *arg;
    uint64_t timeout_ms;
} core_ctx;

static core_ctx *ctx_new(void *arg, uint64_t timeout_ms)
{
    core_ctx *p = calloc(1, sizeof *p);
    if (p) {
        p->arg = arg;
        p->timeout_ms = timeout_ms;
    }
    return p;
}

static void u64_of(const cs_jsonr *j, uint32_t obj, const char *key, uint64_t *out)
{
    uint32_t t = cs_jsonr_get(j, obj, key);
    if (t)
        cs_jsonr_u64(j, t, out);
}

static void read_chain(const cs_jsonr *j, uint32_t v, cs_btc_core_status *st)
{
    uint32_t t;
    u64_of(j, v, "headers", &st->headers);
    st->ibd =
        (t = cs_jsonr_get(j, v, "initialblockdownload")) && cs_jsonr_at(j, t)->type == CS_JT_TRUE;
    if ((t = cs_jsonr_get(j, v, "verificationprogress")))
        cs_jsonr_double(j, t, &st->progress);
    uint64_t x = 0;
    u64_of(j, v, "time", &x);
    st->time = (int64_t)x;
    cs_jsonr_copy(j, cs_jsonr_get(j, v, "bestblockhash"), st->best, sizeof st->best);
}

static void read_net(const cs_jsonr *j, uint32_t v, cs_btc_core_status *st)
{
    st->net_ok = true;
    cs_jsonr_copy(j, cs_jsonr_get(j, v, "subversion"), st->version, sizeof st->version);
    u64_of(j, v, "connections_in", &st->in);
    if (cs_jsonr_get(j, v, "connections_out"))
        u64_of(j, v, "connections_out", &st->out);
    else
        u64_of(j, v, "connections", &st->out); /* before 0.21: no split */
}

static void read_tips(const cs_jsonr *j, uint32_t v, cs_btc_core_status *st)
{
    st->tips_ok = true;
    for (uint32_t it = cs_jsonr_first(j, v); it; it = cs_jsonr_next_item(j, v, it)) {
        if (st->ntips < CS_BTC_CORE_MAX_TIPS) {
            cs_btc_core_tip *tp = &st->tips[st->ntips];
            u64_of(j, it, "height", &tp->height);
            u64_of(j, it, "branchlen", &tp->branchlen);
            cs_jsonr_copy(j, cs_jsonr_get(j, it, "status"), tp->status, sizeof tp->status);
        }
        st->ntips++;
    }
}

static void on_status(const cs_rpc_result *res, void *arg)
{
    core_ctx *p = arg;
    cs_btc_core_status *st = calloc(1, sizeof *st);
    cs_btc_core_status oom = {.error = CS_ENOMEM};
    const cs_jsonr *j = res->json;
    uint32_t v, f;
    char e[128];
    if (!st) {
        st = &oom;
        snprintf(st->why, sizeof st->why, "out of memory");
    } else if (res->error) {
        st->error = res->error;
        cs_rpc_why(res, p->timeout_ms, st->why, sizeof st->why);
    } else if (cs_rpc_item(res, 0, "getblockchaininfo", &v, st->why, sizeof st->why)) {
        st->error = CS_EPROTO;
    } else if (!(f = cs_jsonr_get(j, v, "blocks")) || cs_jsonr_u64(j, f, &st->blocks)) {
        st->error = CS_EPROTO;
        snprintf(st->why, sizeof st->why, "getblockchaininfo: no blocks");
    } else {
        read_chain(j, v, st);
        if (cs_rpc_item(res, 1, "getnetworkinfo", &v, e, sizeof e) == 0 &&
            cs_jsonr_at(j, v)->type == CS_JT_OBJ)
            read_net(j, v, st);
        if (cs_rpc_item(res, 2, "getchaintips", &v, e, sizeof e) == 0 &&
            cs_jsonr_at(j, v)->type == CS_JT_ARR)
            read_tips(j, v, st);
    }
    cs_btc_core_status_cb cb = p->cb.status;
    void *a = p->arg;
    free(p);
    cb(st, a);
    if (st != &oom)
        free(st);
}

int cs_btc_core_status_probe(cs_rpc *rpc, uint64_t timeout_ms, cs_btc_core_status_cb cb, void *arg)
{
    static const cs_rpc_req reqs[] = {
        {"getblockchaininfo", NULL}, {"getnetworkinfo", NULL}, {"getchaintips", NULL}};
    core_ctx *p = ctx_new(arg, timeout_ms);
    if (!p)
        return CS_ENOMEM;
    p->cb.status = cb;
    int rc = cs_rpc_batch(rpc, reqs, 3, timeout_ms, on_status, p);
    if (rc)
        free(p);
    return rc;
}

static void on_header(const cs_rpc_result *res, void *arg)
{
    core_ctx *p = arg;
    uint64_t t = 0;
    int err = res->error;
    uint32_t f = err ? 0 : cs_jsonr_get(res->json, res->result, "time");
    if (!err && (!f || cs_jsonr_u64(res->json, f, &t)))
        err = CS_EPROTO;
    cs_btc_core_time_cb cb = p->cb.time;
    void *a = p->arg;
    free(p);
    cb(err, err ? 0 : (int64_t)t, a);
}

int cs_btc_core_header_time(cs_rpc *rpc, const char *hash, uint64_t timeout_ms,
                            cs_btc_core_time_cb cb, void *arg)
{
    char params[160];
    cs_buf b;
    cs_buf_init(&b, sizeof params);
    int rc = cs_buf_putc(&b, '[');
    if (!rc)
        rc = cs_json_string(&b, hash, strlen(hash));
    if (!rc)
        rc = cs_buf_putc(&b, ']');
    core_ctx *p = rc ? NULL : ctx_new(arg, timeout_ms);
    if (!rc && !p)
        rc = CS_ENOMEM;
    if (p) {
        p->cb.time = cb;
        if ((rc = cs_rpc_call(rpc, "getblockheader", cs_buf_cstr(&b), timeout_ms, on_header, p)))
            free(p);
    }
    cs_buf_free(&b);
    return rc;
}

int cs_btc_core_cookie(const char *path, char *out, size_t len, char *why, size_t whylen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, whylen, "cannot read cookie file %s", path);
        return CS_EIO;
    }
    size_t n = fread(out, 1, len - 1, f);
    fclose(f);
    out[n] = 0;
    out[strcspn(out, "\r\n")] = 0;
    if (!strchr(out, ':')) {
        snprintf(why, whylen, "cookie file %s is not user:password", path);
        return CS_EPARSE;
    }
    return 0;
}
