/* cs_notify_http_client: notification requests over the shared HTTP client
 * (see transport.h). */
#include "notify/transport.h"

#include <stdlib.h>

#include "core/error.h"

#define MAX_HEADERS 32

typedef struct req_ctx {
    cs_notify_http_cb cb;
    void *arg;
} req_ctx;

static void on_response(const cs_http_response *res, void *arg)
{
    req_ctx c = *(req_ctx *)arg;
    free(arg);
    cs_notify_http_resp r = {.err = res->error,
                             .status = res->status,
                             .body = res->body ? res->body : "",
                             .len = res->body_len,
                             .errmsg = res->error ? res->error_text : NULL,
                             .retry_after_s = res->retry_after};
    c.cb(c.arg, &r);
}

int cs_notify_http_client(void *impl, const cs_notify_http_req *req, cs_notify_http_cb cb,
                          void *arg)
{
    if (req->nheaders > MAX_HEADERS)
        return CS_ELIMIT;
    const char *headers[MAX_HEADERS + 1];
    for (size_t i = 0; i < req->nheaders; i++)
        headers[i] = req->headers[i];
    headers[req->nheaders] = NULL;
    cs_http_opts o = {.url = req->url,
                      .method = req->method ? req->method : "POST",
                      .headers = headers,
                      .body = req->body ? req->body : "",
                      .body_len = req->body ? req->body_len : 0,
                      .timeout_ms = req->timeout_ms ? req->timeout_ms : 10000,
                      .connect_timeout_ms = 5000,
                      .max_response = CS_NOTIFY_MAX_RESPONSE};
    req_ctx *c = malloc(sizeof *c);
    if (!c)
        return CS_ENOMEM;
    c->cb = cb;
    c->arg = arg;
    int rc = cs_http_request_start(impl, &o, on_response, c, NULL);
    if (rc)
        free(c);
    return rc;
}
