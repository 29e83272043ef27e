/* The producer table, documents and API probes through the HTTP client
 * (see endpoint.h). */
#include "antelope/endpoint.h"
#include "core/error.h"
#include "net/jsonr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY (4u << 20) /* bytes of an answer; beyond: CS_ELIMIT */

typedef struct call {
    union {
        cs_ant_api_cb api;
        cs_ant_producers_cb producers;
    } cb;
    void *arg;
    uint32_t timeout_ms;
} call;

/* base (trailing slashes dropped) + path into out; CS_EINVAL when it does
 * not fit. */
static int join(const char *base, const char *path, char *out, size_t len)
{
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    if (bl + strlen(path) >= len)
        return CS_EINVAL;
    memcpy(out, base, bl);
    memcpy(out + bl, path, strlen(path) + 1);
    return 0;
}

static call *call_new(void *arg, uint32_t timeout_ms)
{
    call *c = calloc(1, sizeof *c);
    if (c) {
        c->arg = arg;
        c->timeout_ms = timeout_ms ? timeout_ms : 5000;
    }
    return c;
}

/* Transport errors as people read them. */
static int transport(const call *c, const cs_http_response *res, char *why, size_t len)
{
    if (res->error == CS_ETIMEDOUT)
        snprintf(why, len, "timed out after %u ms", c->timeout_ms);
    else if (res->error)
        snprintf(why, len, "%s", res->error_text[0] ? res->error_text : cs_strerror(res->error));
    return res->error;
}

int cs_ant_api_parse(const char *body, size_t len, cs_ant_api_result *r)
{
    cs_jsonr j;
    cs_jsonr_init(&j, 0, 0);
    int rc = 0;
    if (cs_jsonr_parse(&j, body, len) || !cs_jsonr_get(&j, 0, "head_block_num")) {
        rc = CS_EPROTO;
        snprintf(r->why, sizeof r->why, "get_info: not a get_info answer");
    } else {
        cs_jsonr_copy(&j, cs_jsonr_get(&j, 0, "chain_id"), r->chain_id, sizeof r->chain_id);
        cs_jsonr_copy(&j, cs_jsonr_get(&j, 0, "server_version_string"), r->version,
                      sizeof r->version);
        if (!r->version[0])
            cs_jsonr_copy(&j, cs_jsonr_get(&j, 0, "server_version"), r->version, sizeof r->version);
        snprintf(r->why, sizeof r->why, "get_info answered");
    }
    cs_jsonr_free(&j);
    return rc;
}

static void on_api(const cs_http_response *res, void *arg)
{
    call *c = arg;
    cs_ant_api_result r = {.status = res->status, .seconds = res->seconds};
    const char *h;
    if ((h = cs_http_response_header(res, "Access-Control-Allow-Origin")))
        snprintf(r.cors, sizeof r.cors, "%s", h);
    if (transport(c, res, r.why, sizeof r.why)) {
        r.error = res->error;
    } else if (res->status >= 300 && res->status < 400) {
        h = cs_http_response_header(res, "Location");
        snprintf(r.location, sizeof r.location, "%s", h ? h : "");
        snprintf(r.why, sizeof r.why, "HTTP %ld to %s", res->status, h ? h : "(no Location)");
    } else if (res->status != 200) {
        r.error = CS_EPROTO;
        snprintf(r.why, sizeof r.why, "get_info: HTTP %ld", res->status);
    } else {
        r.error = cs_ant_api_parse(res->body, res->body_len, &r);
    }
    cs_ant_api_cb cb = c->cb.api;
    void *a = c->arg;
    free(c);
    cb(&r, a);
}

int cs_ant_api_probe(cs_http_client *http, const char *base, const char *ca_file,
                     uint32_t timeout_ms, cs_ant_api_cb cb, void *arg)
{
    char url[CS_ANT_URL_MAX + 32];
    if (join(base, "/v1/chain/get_info", url, sizeof url))
        return CS_EINVAL;
    call *c = call_new(arg, timeout_ms);
    if (!c)
        return CS_ENOMEM;
    c->cb.api = cb;
    /* the Origin of a page elsewhere, as a wallet or explorer would ask */
    static const char *const headers[] = {"Content-Type: application/json",
                                          "Origin: https://chainscope.invalid", NULL};
    cs_http_opts o = {.url = url,
                      .method = "POST",
                      .headers = headers,
                      .body = "{}",
                      .body_len = 2,
                      .timeout_ms = c->timeout_ms,
                      .max_response = MAX_BODY,
                      .ca_file = ca_file};
    int rc = cs_http_request_start(http, &o, on_api, c, NULL);
    if (rc)
        free(c);
    return rc;
}

int cs_ant_producers_parse(const char *body, size_t len, cs_ant_producers *p)
{
    cs_jsonr j;
    cs_jsonr_init(&j, 0, 0);
    uint32_t rows = 0;
    p->n = 0;
    p->rows = NULL;
    p->error = 0;
    if (cs_jsonr_parse(&j, body, len)) {
        p->error = CS_EPROTO;
        snprintf(p->why, sizeof p->why, "get_producers: HTTP 200, body is not JSON");
    } else if (!(rows = cs_jsonr_get(&j, 0, "rows")) || cs_jsonr_at(&j, rows)->type != CS_JT_ARR) {
        p->error = CS_EPROTO;
        snprintf(p->why, sizeof p->why, "get_producers: no rows");
    } else if (!(p->rows = calloc(cs_jsonr_at(&j, rows)->len + 1u, sizeof *p->rows))) {
        p->error = CS_ENOMEM;
        snprintf(p->why, sizeof p->why, "get_producers: out of memory");
    } else {
        char num[64];
        cs_jsonr_copy(&j, cs_jsonr_get(&j, 0, "total_producer_vote_weight"), num, sizeof num);
        p->total_votes = strtod(num, NULL);
        cs_jsonr_copy(&j, cs_jsonr_get(&j, 0, "more"), p->more, sizeof p->more);
        for (uint32_t it = cs_jsonr_first(&j, rows); it && p->n < CS_ANT_MAX_ROWS;
             it = cs_jsonr_next_item(&j, rows, it)) {
            cs_ant_producer_row *r = &p->rows[p->n];
            cs_jsonr_copy(&j, cs_jsonr_get(&j, it, "owner"), r->owner, sizeof r->owner);
            if (!r->owner[0])
                continue;
            cs_jsonr_copy(&j, cs_jsonr_get(&j, it, "url"), r->url, sizeof r->url);
            cs_jsonr_copy(&j, cs_jsonr_get(&j, it, "total_votes"), num, sizeof num);
            r->votes = strtod(num, NULL);
            uint32_t act = cs_jsonr_get(&j, it, "is_active");
            uint64_t a = 1;
            if (act && cs_jsonr_at(&j, act)->type == CS_JT_NUM)
                cs_jsonr_u64(&j, act, &a);
            else if (act)
                a = cs_jsonr_at(&j, act)->type == CS_JT_TRUE;
            r->active = a != 0;
            p->n++;
        }
    }
    cs_jsonr_free(&j);
    return p->error;
}

static void on_producers(const cs_http_response *res, void *arg)
{
    call *c = arg;
    cs_ant_producers p = {0};
    if (transport(c, res, p.why, sizeof p.why)) {
        p.error = res->error;
    } else if (res->status != 200) {
        p.error = CS_EPROTO;
        snprintf(p.why, sizeof p.why, "get_producers: HTTP %ld", res->status);
    } else {
        cs_ant_producers_parse(res->body, res->body_len, &p);
    }
    cs_ant_producers_cb cb = c->cb.producers;
    void *a = c->arg;
    free(c);
    cb(&p, a);
    free(p.rows);
}

int cs_ant_get_producers(cs_http_client *http, const char *base, const char *lower_bound,
                         uint32_t limit, uint32_t timeout_ms, cs_ant_producers_cb cb, void *arg)
{
    char url[1200], body[96 + CS_ANT_NAME_MAX];
    if (join(base, "/v1/chain/get_producers", url, sizeof url))
        return CS_EINVAL;
    if (!lower_bound)
        lower_bound = "";
    /* an account name: a-z, 1-5 and '.', at most 13 characters */
    if (strlen(lower_bound) >= CS_ANT_NAME_MAX ||
        strspn(lower_bound, "abcdefghijklmnopqrstuvwxyz12345.") != strlen(lower_bound))
        return CS_EINVAL;
    if (limit == 0 || limit > CS_ANT_MAX_ROWS)
        limit = CS_ANT_MAX_ROWS;
    call *c = call_new(arg, timeout_ms);
    if (!c)
        return CS_ENOMEM;
    c->cb.producers = cb;
    int bl = snprintf(body, sizeof body, "{\"json\":true,\"limit\":%u,\"lower_bound\":\"%s\"}",
                      limit, lower_bound);
    static const char *const headers[] = {"Content-Type: application/json", NULL};
    cs_http_opts o = {.url = url,
                      .method = "POST",
                      .headers = headers,
                      .body = body,
                      .body_len = (size_t)bl,
                      .timeout_ms = c->timeout_ms,
                      .max_response = MAX_BODY};
    int rc = cs_http_request_start(http, &o, on_producers, c, NULL);
    if (rc)
        free(c);
    return rc;
}

int cs_ant_fetch(cs_http_client *http, const char *url, const char *ca_file, uint32_t timeout_ms,
                 cs_http_cb cb, void *arg)
{
    cs_http_opts o = {.url = url,
                      .timeout_ms = timeout_ms ? timeout_ms : 5000,
                      .max_response = MAX_BODY,
                      .ca_file = ca_file};
    return cs_http_request_start(http, &o, cb, arg, NULL);
}
