#include "net/jsonrpc.h"
#include "net/jsonrpc_int.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rnd(cs_rpc *r)
{
    r->rng ^= r->rng >> 12;
    r->rng ^= r->rng << 25;
    r->rng ^= r->rng >> 27;
    return r->rng * 0x2545f4914f6cdd1dull;
}

static void start_attempt(call *c);
static void call_free(call *c);

/* ---- lifecycle ------------------------------------------------------------ */

void cs_rpc_maybe_free(cs_rpc *r)
{
    if (!r->closing || r->open_handles)
        return;
    for (size_t i = 0; i < r->neps; i++) {
        free(r->eps[i].url);
        free(r->eps[i].path);
        cs_buf_free(&r->eps[i].rbuf);
    }
    free(r->name);
    free(r->userpwd);
    void (*done)(void *) = r->done;
    void *arg = r->done_arg;
    free(r);
    if (done)
        done(arg);
}

static void on_handle_closed(uv_handle_t *h)
{
    cs_rpc *r = h->data;
    r->open_handles--;
    cs_rpc_maybe_free(r);
}

static void on_http_closed(void *arg)
{
    cs_rpc *r = arg;
    r->open_handles--;
    cs_rpc_maybe_free(r);
}

static void sweep_cb(uv_timer_t *t);

int cs_rpc_new(uv_loop_t *loop, cs_http_client *http, const cs_rpc_opts *o, cs_rpc **out)
{
    if (!o->nendpoints || o->nendpoints > CS_RPC_MAX_ENDPOINTS)
        return CS_EINVAL;
    cs_rpc *r = calloc(1, sizeof *r);
    if (!r)
        return CS_ENOMEM;
    r->loop = loop;
    r->o = *o;
    r->o.endpoints = NULL;
    if (!r->o.timeout_ms)
        r->o.timeout_ms = 10000;
    if (!r->o.retries)
        r->o.retries = 3;
    else if (r->o.retries == (unsigned)-1)
        r->o.retries = 0;
    if (!r->o.backoff_ms)
        r->o.backoff_ms = 250;
    if (!r->o.backoff_max_ms)
        r->o.backoff_max_ms = 8000;
    if (!r->o.max_response)
        r->o.max_response = 128u << 20;
    if (!r->o.offload_bytes)
        r->o.offload_bytes = 256u << 10;
    if (!r->o.max_inflight)
        r->o.max_inflight = 256;
    r->name = strdup(o->name ? o->name : "rpc");
    r->o.userpwd = NULL;
    if (o->userpwd && !(r->userpwd = strdup(o->userpwd))) {
        free(r->name);
        free(r);
        return CS_ENOMEM;
    }
    r->rng = (uint64_t)uv_hrtime() | 1;
    r->next_id = 1;
    int rc = 0;
    for (size_t i = 0; i < o->nendpoints; i++) {
        endpoint *e = &r->eps[r->neps];
        const char *u = o->endpoints[i].url;
        e->rpc = r;
        e->weight = o->endpoints[i].weight ? o->endpoints[i].weight : 1;
        e->url = strdup(u);
        cs_buf_init(&e->rbuf, IPC_MAX_MESSAGE);
        r->neps++;
        if (!e->url) {
            rc = CS_ENOMEM;
            break;
        }
        if (strncmp(u, "ipc://", 6) == 0)
            e->path = strdup(u + 6);
        else if (u[0] == '/' || strncmp(u, "./", 2) == 0)
            e->path = strdup(u);
        else if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
            rc = CS_EINVAL;
    }
    if (!rc && !http) {
        rc = cs_http_client_new(loop, 0, &r->http);
        r->own_http = rc == 0;
    } else {
        r->http = http;
    }
    if (rc) {
        for (size_t i = 0; i < r->neps; i++) {
            free(r->eps[i].url);
            free(r->eps[i].path);
            cs_buf_free(&r->eps[i].rbuf);
        }
        free(r->name);
        free(r->userpwd);
        free(r);
        return rc;
    }
    uv_timer_init(loop, &r->sweep);
    r->sweep.data = r;
    r->open_handles = 1;
    *out = r;
    return 0;
}

static void finish(call *c, const cs_rpc_result *res)
{
    c->state = C_DONE;
    c->cb(res, c->arg);
    call_free(c);
}

static void fail_final(call *c, int error, const char *msg)
{
    cs_rpc_result res = {.error = error,
                         .code = c->last_code,
                         .message = msg ? msg : "",
                         .endpoint = c->ep ? c->ep->url : "",
                         .attempts = c->attempts};
    finish(c, &res);
}

void cs_rpc_close(cs_rpc *r, void (*done)(void *), void *arg)
{
    if (r->closing)
        return;
    r->closing = true;
    r->done = done;
    r->done_arg = arg;
    call *c = r->calls;
    while (c) {
        call *nx = c->next;
        if (c->state == C_DONE) {
            /* Its callback is running (and closed us): freed when it returns. */
        } else if (c->state == C_PARSING) {
            c->closing = true; /* finished from the work's completion */
        } else {
            if (c->http) {
                cs_http_request_cancel(c->http);
                c->http = NULL;
            }
            cs_rpc_ipc_unlink(c);
            c->last_code = 0;
            fail_final(c, CS_ECLOSED, "client closed");
        }
        c = nx;
    }
    for (size_t i = 0; i < r->neps; i++)
        cs_rpc_ipc_close(&r->eps[i]);
    uv_timer_stop(&r->sweep);
    uv_close((uv_handle_t *)&r->sweep, on_handle_closed);
    if (r->own_http) {
        r->open_handles++;
        cs_http_client_close(r->http, on_http_closed, r);
    }
}

int cs_rpc_take(const cs_rpc_result *res, cs_jsonr *json, char **text)
{
    call *c = res->call_;
    if (!c || !c->resp || res->json != &c->json)
        return CS_EINVAL;
    cs_jsonr_free(json);
    *json = c->json;
    cs_jsonr_init(&c->json, 0, 0);
    *text = c->resp;
    c->resp = NULL;
    return 0;
}

size_t cs_rpc_inflight(const cs_rpc *r)
{
    return r->ncalls;
}

static void call_free(call *c)
{
    cs_rpc *r = c->rpc;
    if (c->prev)
        c->prev->next = c->next;
    else
        r->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    r->ncalls--;
    free(c->body);
    free(c->resp);
    cs_jsonr_free(&c->json);
    free(c);
    if (!r->ncalls && r->sweeping) {
        uv_timer_stop(&r->sweep);
        r->sweeping = false;
    }
}

/* ---- endpoints and retries -------------------------------------------------- */

static uint64_t backoff(const cs_rpc *r, unsigned n)
{
    uint64_t d = r->o.backoff_ms;
    for (unsigned i = 1; i < n && d < r->o.backoff_max_ms; i++)
        d *= 2;
    return d < r->o.backoff_max_ms ? d : r->o.backoff_max_ms;
}

/* Weighted choice among healthy endpoints, avoiding `avoid` when another is
 * healthy; with none healthy, the one that recovers first. */
static endpoint *pick(cs_rpc *r, endpoint *avoid)
{
    uint64_t now = uv_now(r->loop);
    unsigned total = 0;
    for (size_t i = 0; i < r->neps; i++)
        if (r->eps[i].down_until <= now && (&r->eps[i] != avoid || r->neps == 1))
            total += r->eps[i].weight;
    if (total) {
        unsigned x = (unsigned)(rnd(r) % total);
        for (size_t i = 0; i < r->neps; i++) {
            endpoint *e = &r->eps[i];
            if (e->down_until > now || (e == avoid && r->neps > 1))
                continue;
            if (x < e->weight)
                return e;
            x -= e->weight;
        }
    }
    endpoint *best = &r->eps[0];
    for (size_t i = 1; i < r->neps; i++)
        if (r->eps[i].down_until < best->down_until && (&r->eps[i] != avoid || r->neps == 1))
            best = &r->eps[i];
    if (best == avoid && r->neps > 1)
        best = &r->eps[avoid == &r->eps[0] ? 1 : 0];
    return best;
}

void cs_rpc_arm_sweep(cs_rpc *r)
{
    if (!r->sweeping && !r->closing) {
        uv_timer_start(&r->sweep, sweep_cb, RPC_SWEEP_MS, RPC_SWEEP_MS);
        r->sweeping = true;
    }
}

/* An attempt failed: mark the endpoint, then retry after a backoff with
 * jitter, or give up. */
void cs_rpc_fail_attempt(call *c, int error, int64_t code, const char *msg)
{
    cs_rpc *r = c->rpc;
    endpoint *e = c->ep;
    c->last_error = error;
    c->last_code = code;
    snprintf(c->last_msg, sizeof c->last_msg, "%s", msg ? msg : cs_strerror(error));
    if (error == CS_EPARSE) /* bad data from a node deserves a word, retried or not */
        CS_WARN("rpc", "%s: %s (request %.*s)", r->name, c->last_msg,
                (int)(c->body_len < 160 ? c->body_len : 160), c->body); /* not NUL-terminated */
    if (e) {
        e->fails++;
        e->down_until = uv_now(r->loop) + backoff(r, e->fails);
        CS_DEBUG("rpc", "%s: %s failed (%s), avoided for %llu ms", r->name, e->url, c->last_msg,
                 (unsigned long long)backoff(r, e->fails));
    }
    free(c->resp);
    c->resp = NULL;
    if (c->attempts > r->o.retries) {
        if (r->starting) { /* never call back from inside cs_rpc_call */
            c->state = C_FAILED;
            cs_rpc_arm_sweep(r);
            return;
        }
        fail_final(c, error, c->last_msg);
        return;
    }
    uint64_t d = backoff(r, c->attempts);
    d = d / 2 + rnd(r) % (d / 2 + 1); /* jitter: [d/2, d] */
    c->state = C_WAITING;
    c->due = uv_now(r->loop) + d;
    cs_rpc_arm_sweep(r);
}

static void endpoint_ok(endpoint *e)
{
    e->fails = 0;
    e->down_until = 0;
}

/* ---- responses --------------------------------------------------------------- */

static int64_t err_code(const cs_jsonr *j, uint32_t err, const char **msg, size_t *mlen)
{
    uint32_t code = cs_jsonr_get(j, err, "code"), m = cs_jsonr_get(j, err, "message");
    int64_t v = 0;
    if (code && cs_jsonr_at(j, code)->type == CS_JT_NUM) {
        const char *s = cs_jsonr_ptr(j, code);
        v = strtoll(s, NULL, 10);
    }
    *msg = "";
    *mlen = 0;
    if (m && cs_jsonr_at(j, m)->type == CS_JT_STR) {
        *msg = cs_jsonr_ptr(j, m);
        *mlen = cs_jsonr_at(j, m)->len;
    }
    return v;
}

static bool retryable_code(int64_t code)
{
    return code == -32005 || code == -32603 || code == 429;
}

static void deliver(call *c)
{
    cs_jsonr *j = &c->json;
    char msg[200];
    if (c->parse_rc) {
        snprintf(msg, sizeof msg, "malformed response from %s: %s", c->ep->url,
                 j->err[0] ? j->err : cs_strerror(c->parse_rc));
        cs_rpc_fail_attempt(c, CS_EPARSE, 0, msg);
        return;
    }
    const cs_jtok *root = cs_jsonr_at(j, 0);
    cs_rpc_result res = {
        .json = j, .endpoint = c->ep->url, .attempts = c->attempts, .message = "", .call_ = c};
    if (!c->batch || root->type == CS_JT_OBJ) {
        uint32_t e = root->type == CS_JT_OBJ ? cs_jsonr_get(j, 0, "error") : 0;
        uint32_t result = root->type == CS_JT_OBJ ? cs_jsonr_get(j, 0, "result") : 0;
        if (e && cs_jsonr_at(j, e)->type == CS_JT_OBJ) {
            const char *m;
            size_t ml;
            int64_t code = err_code(j, e, &m, &ml);
            snprintf(msg, sizeof msg, "%.*s", (int)ml, m);
            endpoint_ok(c->ep);
            if (retryable_code(code)) {
                cs_rpc_fail_attempt(c, CS_EPROTO, code, msg);
                return;
            }
            res.error = CS_EPROTO;
            res.code = code;
            res.message = msg;
            finish(c, &res);
            return;
        }
        if (!result || c->batch) {
            snprintf(msg, sizeof msg, "response from %s has no %s", c->ep->url,
                     c->batch ? "array" : "\"result\"");
            cs_rpc_fail_attempt(c, CS_EPARSE, 0, msg);
            return;
        }
        endpoint_ok(c->ep);
        res.result = result;
        finish(c, &res);
        return;
    }
    /* A batch: match each answer to its call by id. */
    uint32_t *results = calloc(c->n, sizeof *results);
    int64_t *codes = calloc(c->n, sizeof *codes);
    bool *seen = calloc(c->n, sizeof *seen);
    if (!results || !codes || !seen) {
        free(results);
        free(codes);
        free(seen);
        cs_rpc_fail_attempt(c, CS_ENOMEM, 0, "out of memory");
        return;
    }
    size_t got = 0;
    bool retry = false;
    for (uint32_t it = cs_jsonr_first(j, 0); it; it = cs_jsonr_next_item(j, 0, it)) {
        uint64_t id;
        uint32_t idt = cs_jsonr_get(j, it, "id");
        if (!idt || cs_jsonr_u64(j, idt, &id) || id < c->id_base || id - c->id_base >= c->n ||
            seen[id - c->id_base])
            continue;
        size_t k = (size_t)(id - c->id_base);
        seen[k] = true;
        got++;
        uint32_t e = cs_jsonr_get(j, it, "error");
        if (e && cs_jsonr_at(j, e)->type != CS_JT_NULL) { /* Bitcoin Core: "error": null */
            const char *m;
            size_t ml;
            codes[k] = err_code(j, e, &m, &ml);
            if (!codes[k])
                codes[k] = -32603;
            retry |= retryable_code(codes[k]);
        } else {
            results[k] = cs_jsonr_get(j, it, "result");
        }
    }
    free(seen);
    if (got != c->n || retry) {
        free(results);
        free(codes);
        snprintf(msg, sizeof msg,
                 retry ? "%s asked to retry part of a batch"
                       : "batch response from %s lacks answers",
                 c->ep->url);
        cs_rpc_fail_attempt(c, retry ? CS_EPROTO : CS_EPARSE, 0, msg);
        return;
    }
    endpoint_ok(c->ep);
    res.n = c->n;
    res.results = results;
    res.codes = codes;
    finish(c, &res);
    free(results);
    free(codes);
}

static void parse_work(uv_work_t *w)
{
    call *c = w->data;
    c->parse_rc = cs_jsonr_parse(&c->json, c->resp, c->resp_len);
}

static void parse_done(uv_work_t *w, int status)
{
    call *c = w->data;
    cs_rpc *r = c->rpc;
    r->open_handles--;
    if (c->closing || status == UV_ECANCELED) {
        c->last_code = 0;
        fail_final(c, CS_ECLOSED, "client closed");
        cs_rpc_maybe_free(r);
        return;
    }
    deliver(c);
}

/* Takes a copy of a complete response body and parses it, off the loop when
 * it is big. */
void cs_rpc_got_body(call *c, const char *body, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy) {
        cs_rpc_fail_attempt(c, CS_ENOMEM, 0, "out of memory");
        return;
    }
    memcpy(copy, body, len);
    copy[len] = 0;
    cs_rpc_got_owned_body(c, copy, len);
}

void cs_rpc_got_owned_body(call *c, char *body, size_t len)
{
    cs_rpc *r = c->rpc;
    c->resp = body;
    c->resp_len = len;
    if (len > r->o.offload_bytes) {
        c->state = C_PARSING;
        c->work.data = c;
        if (uv_queue_work(r->loop, &c->work, parse_work, parse_done) == 0) {
            r->open_handles++;
            return;
        }
    }
    c->parse_rc = cs_jsonr_parse(&c->json, c->resp, c->resp_len);
    deliver(c);
}

/* ---- HTTP transport -------------------------------------------------------- */

static void on_http(const cs_http_response *res, void *arg)
{
    call *c = arg;
    c->http = NULL;
    if (res->error == CS_ECLOSED)
        return; /* the client is closing: cs_rpc_close finishes the call */
    char msg[200];
    if (res->error) {
        snprintf(msg, sizeof msg, "%s: %s", c->ep->url, res->error_text);
        cs_rpc_fail_attempt(c, res->error, 0, msg);
        return;
    }
    if (res->status == 429 || res->status >= 500 || res->status < 200 || res->status >= 300) {
        snprintf(msg, sizeof msg, "%s answered HTTP %ld%s", c->ep->url, res->status,
                 res->body_len ? "" : " with an empty body");
        cs_rpc_fail_attempt(c, res->status == 429 ? CS_ELIMIT : CS_EIO, res->status, msg);
        return;
    }
    char *body = cs_http_response_take_body(res); /* a big body is not copied */
    if (body)
        cs_rpc_got_owned_body(c, body, res->body_len);
    else
        cs_rpc_got_body(c, res->body, res->body_len);
}

static void send_http(call *c)
{
    cs_rpc *r = c->rpc;
    static const char *const hdrs[] = {"Content-Type: application/json", "Accept: application/json",
                                       NULL};
    cs_http_opts o = {.url = c->ep->url,
                      .method = "POST",
                      .headers = hdrs,
                      .body = c->body,
                      .body_len = c->body_len,
                      .timeout_ms = c->timeout_ms,
                      .max_response = r->o.max_response,
                      .userpwd = r->userpwd};
    int rc = cs_http_request_start(r->http, &o, on_http, c, &c->http);
    if (rc)
        cs_rpc_fail_attempt(c, rc, 0, "cannot start the HTTP request");
}

/* ---- calls -------------------------------------------------------------------- */

static void start_attempt(call *c)
{
    cs_rpc *r = c->rpc;
    c->attempts++;
    c->ep = pick(r, c->attempts > 1 ? c->ep : NULL);
    c->state = C_SENDING;
    if (c->ep->path)
        cs_rpc_ipc_send(c);
    else
        send_http(c);
}

static void sweep_cb(uv_timer_t *t)
{
    cs_rpc *r = t->data;
    uint64_t now = uv_now(r->loop);
    /* Collect first: starting an attempt may fail at once and free calls. */
    call *due[64];
    size_t nd = 0;
    for (call *c = r->calls; c && nd < 64; c = c->next) {
        if ((c->state == C_WAITING && c->due <= now) || c->state == C_FAILED)
            due[nd++] = c;
        else if (c->state == C_SENDING && c->on_ipc && c->due <= now)
            due[nd++] = c;
    }
    for (size_t i = 0; i < nd; i++) {
        call *c = due[i];
        if (c->state == C_FAILED) {
            fail_final(c, c->last_error, c->last_msg);
        } else if (c->state == C_WAITING) {
            start_attempt(c);
        } else {
            char msg[200];
            snprintf(msg, sizeof msg, "%s: no answer in %llu ms", c->ep->url,
                     (unsigned long long)c->timeout_ms);
            cs_rpc_ipc_unlink(c);
            cs_rpc_fail_attempt(c, CS_ETIMEDOUT, 0, msg);
        }
    }
}

static int new_call(cs_rpc *r, const cs_rpc_req *reqs, size_t n, bool batch, uint64_t timeout_ms,
                    cs_rpc_cb cb, void *arg)
{
    if (r->closing || !cb || n == 0 || n > CS_RPC_MAX_BATCH)
        return CS_EINVAL;
    if (r->ncalls >= r->o.max_inflight)
        return CS_ELIMIT;
    call *c = calloc(1, sizeof *c);
    if (!c)
        return CS_ENOMEM;
    cs_buf b;
    cs_buf_init(&b, 64u << 20);
    c->id_base = r->next_id;
    r->next_id += n;
    int rc = batch ? cs_buf_putc(&b, '[') : 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (!reqs[i].method) {
            rc = CS_EINVAL;
            break;
        }
        rc = cs_buf_printf(&b, "%s{\"jsonrpc\":\"2.0\",\"id\":%llu,\"method\":", i ? "," : "",
                           (unsigned long long)(c->id_base + i));
        if (!rc)
            rc = cs_json_string(&b, reqs[i].method, strlen(reqs[i].method));
        if (!rc)
            rc = cs_buf_printf(&b, ",\"params\":%s}", reqs[i].params ? reqs[i].params : "[]");
    }
    if (!rc && batch)
        rc = cs_buf_putc(&b, ']');
    if (rc) {
        cs_buf_free(&b);
        free(c);
        return rc;
    }
    c->body = (char *)cs_buf_steal(&b, &c->body_len);
    c->rpc = r;
    c->n = n;
    c->batch = batch;
    c->cb = cb;
    c->arg = arg;
    c->timeout_ms = timeout_ms ? timeout_ms : r->o.timeout_ms;
    cs_jsonr_init(&c->json, 0, 0);
    c->next = r->calls;
    if (r->calls)
        r->calls->prev = c;
    r->calls = c;
    r->ncalls++;
    r->starting = true;
    start_attempt(c);
    r->starting = false;
    return 0;
}

int cs_rpc_call(cs_rpc *r, const char *method, const char *params, uint64_t timeout_ms,
                cs_rpc_cb cb, void *arg)
{
    cs_rpc_req q = {method, params};
    return new_call(r, &q, 1, false, timeout_ms, cb, arg);
}

int cs_rpc_batch(cs_rpc *r, const cs_rpc_req *reqs, size_t n, uint64_t timeout_ms, cs_rpc_cb cb,
                 void *arg)
{
    return new_call(r, reqs, n, true, timeout_ms, cb, arg);
}

const char *cs_rpc_strerror(const cs_rpc_result *res, char *buf, size_t len)
{
    if (!res->error)
        snprintf(buf, len, "ok");
    else if (res->error == CS_EPROTO && res->code)
        snprintf(buf, len, "JSON-RPC error %lld: %s", (long long)res->code, res->message);
    else
        snprintf(buf, len, "%s (%u attempt%s)",
                 res->message[0] ? res->message : cs_strerror(res->error), res->attempts,
                 res->attempts == 1 ? "" : "s");
    return buf;
}
