/* Antelope chain API calls (see chainapi.h). */
#include "antelope/chainapi.h"
#include "core/error.h"
#include "net/jsonr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct api_ctx {
    union {
        cs_ant_info_cb info;
        cs_ant_schedule_cb schedule;
    } cb;
    void *arg;
    uint32_t timeout_ms;
    const char *what; /* "get_info", "get_producer_schedule" */
} api_ctx;

/* The parsed body of a response, or why there is none (get_info's
 * transport errors as they are, the schedule's after its name). */
static int body_of(const api_ctx *p, const cs_http_response *res, cs_jsonr *j, char *why,
                   size_t len)
{
    const char *pre = strcmp(p->what, "get_info") == 0 ? "" : "get_producer_schedule: ";
    if (res->error == CS_ETIMEDOUT) {
        snprintf(why, len, "%stimed out after %u ms", pre, p->timeout_ms);
        return res->error;
    }
    if (res->error) {
        snprintf(why, len, "%s%s", pre, res->error_text);
        return res->error;
    }
    if (res->body_len == 0) {
        snprintf(why, len, "%sHTTP %ld with an empty body", pre, res->status);
        return CS_EPROTO;
    }
    if (cs_jsonr_parse(j, res->body, res->body_len)) {
        snprintf(why, len, "%sHTTP %ld, body is not JSON (%s)", pre, res->status, j->err);
        return CS_EPARSE;
    }
    /* nodeos' errors: {"code":500,"message":...,"error":{...}} */
    uint32_t code = cs_jsonr_get(j, 0, "code"), msg = cs_jsonr_get(j, 0, "message");
    if (code && !cs_jsonr_get(j, 0, "head_block_num") && !cs_jsonr_get(j, 0, "active")) {
        char m[160];
        cs_jsonr_copy(j, msg, m, sizeof m);
        snprintf(why, len, "%s: error: %s", p->what, m);
        return CS_EPROTO;
    }
    return 0;
}

static void on_info(const cs_http_response *res, void *arg)
{
    api_ctx *p = arg;
    cs_ant_info in = {0};
    cs_jsonr j;
    cs_jsonr_init(&j, 0, 0);
    if (!(in.error = body_of(p, res, &j, in.why, sizeof in.why))) {
        uint32_t t = cs_jsonr_get(&j, 0, "head_block_num");
        char tm[40];
        if (!t || cs_jsonr_u64(&j, t, &in.head)) {
            in.error = CS_EPROTO;
            snprintf(in.why, sizeof in.why, "get_info: no head_block_num");
        } else {
            if ((t = cs_jsonr_get(&j, 0, "last_irreversible_block_num")))
                cs_jsonr_u64(&j, t, &in.lib);
            cs_jsonr_copy(&j, cs_jsonr_get(&j, 0, "head_block_time"), tm, sizeof tm);
            if (cs_ant_time_parse(tm, &in.head_ms) != 0) {
                in.error = CS_EPROTO;
                snprintf(in.why, sizeof in.why, "get_info: bad head_block_time '%s'", tm);
            }
            cs_jsonr_copy(&j, cs_jsonr_get(&j, 0, "head_block_producer"), in.producer,
                          sizeof in.producer);
            cs_jsonr_copy(&j, cs_jsonr_get(&j, 0, "chain_id"), in.chain_id, sizeof in.chain_id);
            cs_jsonr_copy(&j, cs_jsonr_get(&j, 0, "server_version_string"), in.version,
                          sizeof in.version);
            if (!in.version[0])
                cs_jsonr_copy(&j, cs_jsonr_get(&j, 0, "server_version"), in.version,
                              sizeof in.version);
        }
    }
    cs_jsonr_free(&j);
    cs_ant_info_cb cb = p->cb.info;
    void *a = p->arg;
    free(p);
    cb(&in, a);
}

static void on_schedule(const cs_http_response *res, void *arg)
{
    api_ctx *p = arg;
    cs_ant_schedule *s = calloc(1, sizeof *s);
    cs_ant_schedule oom = {.error = CS_ENOMEM};
    cs_jsonr j;
    cs_jsonr_init(&j, 0, 0);
    if (!s) {
        s = &oom;
        snprintf(s->why, sizeof s->why, "get_producer_schedule: out of memory");
    } else if (!(s->error = body_of(p, res, &j, s->why, sizeof s->why))) {
        uint32_t prods = cs_jsonr_get(&j, cs_jsonr_get(&j, 0, "active"), "producers");
        if (!prods || cs_jsonr_at(&j, prods)->type != CS_JT_ARR || !cs_jsonr_at(&j, prods)->len) {
            s->error = CS_EPROTO;
            snprintf(s->why, sizeof s->why, "get_producer_schedule: no active producers");
        }
        for (uint32_t it = s->error ? 0 : cs_jsonr_first(&j, prods);
             it && s->n < CS_ANT_MAX_PRODUCERS; it = cs_jsonr_next_item(&j, prods, it)) {
            cs_jsonr_copy(&j, cs_jsonr_get(&j, it, "producer_name"), s->names[s->n],
                          sizeof s->names[0]);
            s->n++;
        }
    }
    cs_jsonr_free(&j);
    cs_ant_schedule_cb cb = p->cb.schedule;
    void *a = p->arg;
    free(p);
    cb(s, a);
    if (s != &oom)
        free(s);
}

int cs_ant_post(cs_http_client *http, const char *base, const char *path, const char *body,
                uint32_t timeout_ms, cs_http_cb cb, void *arg)
{
    char url[1200];
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    if (bl + strlen(path) >= sizeof url)
        return CS_EINVAL;
    memcpy(url, base, bl);
    memcpy(url + bl, path, strlen(path) + 1); /* fits: checked above */
    static const char *const headers[] = {"Content-Type: application/json", NULL};
    cs_http_opts o = {.url = url,
                      .method = "POST",
                      .headers = headers,
                      .body = body,
                      .body_len = strlen(body),
                      .timeout_ms = timeout_ms ? timeout_ms : 5000,
                      .max_response = CS_ANT_MAX_BODY};
    return cs_http_request_start(http, &o, cb, arg, NULL);
}

/* POSTs "{}" to base + path. */
static int post(cs_http_client *http, const char *base, const char *path, api_ctx *p, cs_http_cb on)
{
    int rc = cs_ant_post(http, base, path, "{}", p->timeout_ms, on, p);
    if (rc)
        free(p);
    return rc;
}

static api_ctx *ctx_new(void *arg, uint32_t timeout_ms, const char *what)
{
    api_ctx *p = calloc(1, sizeof *p);
    if (p) {
        p->arg = arg;
        p->timeout_ms = timeout_ms;
        p->what = what;
    }
    return p;
}

int cs_ant_get_info(cs_http_client *http, const char *base, uint32_t timeout_ms, cs_ant_info_cb cb,
                    void *arg)
{
    api_ctx *p = ctx_new(arg, timeout_ms, "get_info");
    if (!p)
        return CS_ENOMEM;
    p->cb.info = cb;
    return post(http, base, "/v1/chain/get_info", p, on_info);
}

int cs_ant_get_schedule(cs_http_client *http, const char *base, uint32_t timeout_ms,
                        cs_ant_schedule_cb cb, void *arg)
{
    api_ctx *p = ctx_new(arg, timeout_ms, "get_producer_schedule");
    if (!p)
        return CS_ENOMEM;
    p->cb.schedule = cb;
    return post(http, base, "/v1/chain/get_producer_schedule", p, on_schedule);
}
