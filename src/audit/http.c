/* cs_audit_http over the shared HTTP client (see http.h). */
#include "audit/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

typedef struct post_ctx {
    cs_audit_http_cb cb;
    void *arg;
} post_ctx;

static void on_response(const cs_http_response *res, void *arg)
{
    post_ctx p = *(post_ctx *)arg;
    free(arg);
    cs_audit_http_resp r = {.err = res->error, .body = ""};
    if (res->error) {
        r.errmsg =
            res->error_text && res->error_text[0] ? res->error_text : cs_strerror(res->error);
    } else {
        r.status = res->status;
        r.body = res->body ? res->body : "";
        r.len = res->body_len;
    }
    p.cb(p.arg, &r);
}

static int post(void *impl, const cs_audit_http_req *q, cs_audit_http_cb cb, void *arg)
{
    cs_http_client *c = impl;
    if (strncmp(q->url, CS_AUDIT_IPC_SCHEME, sizeof CS_AUDIT_IPC_SCHEME - 1) == 0)
        return cs_audit_ipc_post(cs_http_client_loop(c), q->url + sizeof CS_AUDIT_IPC_SCHEME - 1, q,
                                 cb, arg);
    char ct[160];
    snprintf(ct, sizeof ct, "Content-Type: %s",
             q->content_type ? q->content_type : "application/json");
    const char *headers[] = {ct, "User-Agent: chainscope-audit/" CS_VERSION, NULL};
    uint64_t to = q->timeout_ms ? q->timeout_ms : 5000;
    cs_http_opts o = {.url = q->url,
                      .method = "POST",
                      .headers = headers,
                      .body = q->body ? q->body : "",
                      .body_len = q->body ? q->len : 0,
                      .timeout_ms = to,
                      .max_response = CS_AUDIT_HTTP_MAX_BODY,
                      .userpwd = q->userpwd};
    post_ctx *p = malloc(sizeof *p);
    if (!p)
        return CS_ENOMEM;
    p->cb = cb;
    p->arg = arg;
    int rc = cs_http_request_start(c, &o, on_response, p, NULL);
    if (rc)
        free(p);
    return rc;
}

int cs_audit_http_client_new(uv_loop_t *loop, cs_http_client **out)
{
    int rc = cs_http_client_new(loop, CS_AUDIT_HTTP_MAX_PENDING, out);
    if (!rc)
        cs_http_client_set_max_connections(*out, CS_AUDIT_HTTP_MAX_CONNS);
    return rc;
}

void cs_audit_http_over(cs_http_client *c, cs_audit_http *http)
{
    http->impl = c;
    http->post = post;
}
