/* Fuzzes what the JSON-RPC client does with a node's bytes: the IPC stream
 * framer, and the matching of single and batch responses (ids, results,
 * error envelopes) to calls. Includes rpc.c to reach its static functions.
 *
 * Input: byte 0 picks single (even) or batch (odd) and the batch size; the
 * rest is the response body. */
#include "../../src/net/jsonrpc.c"
#include "../../src/net/jsonrpc_ipc.c"

static int calls;

static void on_res(const cs_rpc_result *res, void *arg)
{
    (void)arg;
    calls++;
    if (!res->error && res->n) {
        for (size_t i = 0; i < res->n; i++)
            if (res->results[i] && res->results[i] >= res->json->ntok)
                abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool batch = data[0] & 1;
    size_t n = batch ? 1 + (data[0] >> 1) % 8 : 1;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;

    /* The IPC framer over the whole stream. */
    size_t off = 0, skip, fl;
    while (off < len && (fl = cs_jsonr_frame(body + off, len - off, &skip)) > 0) {
        if (fl > len - off || skip > fl)
            abort();
        off += fl;
    }

    static uv_loop_t *loop;
    if (!loop) {
        loop = uv_default_loop();
        cs_log_set_level(CS_LOG_OFF);
    }
    cs_rpc r;
    memset(&r, 0, sizeof r);
    r.loop = loop;
    r.o.retries = 0;
    r.o.offload_bytes = SIZE_MAX;
    r.o.backoff_ms = 1;
    r.o.backoff_max_ms = 1;
    endpoint ep;
    memset(&ep, 0, sizeof ep);
    ep.url = "http://fuzz";
    ep.rpc = &r;
    r.neps = 1;
    call *c = calloc(1, sizeof *c);
    c->rpc = &r;
    c->ep = &ep;
    c->attempts = 1;
    c->id_base = 1;
    c->n = n;
    c->batch = batch;
    c->cb = on_res;
    c->body = strdup("[]"); /* the request, named in warnings; freed with the call */
    cs_jsonr_init(&c->json, 1u << 16, 64);
    r.calls = c;
    r.ncalls = 1;
    calls = 0;
    cs_rpc_got_body(c, body, len); /* parses, delivers, finishes: c is freed */
    if (calls != 1)
        abort();
    return 0;
}
