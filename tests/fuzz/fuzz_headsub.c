/* Fuzzes what the newHeads subscription does with a node's bytes: framing,
 * the answer to eth_subscribe (a subscription id or an error) and
 * eth_subscription notifications, with the 64 KiB message bound. Includes
 * headsub.c to reach its static functions.
 *
 * Input: byte 0 picks the state (even: waiting for the subscribe answer,
 * odd: subscribed as "0x1") and the size of the reads (byte 0 >> 1, times
 * 97, plus 1); the rest is the stream from the node. */
#include "../../src/evm/headsub.c"

static unsigned heads, states;

static void on_head(uint64_t number, void *arg)
{
    (void)number;
    (void)arg;
    heads++;
}

static void on_state(bool live, void *arg)
{
    (void)live;
    (void)arg;
    states++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static uv_loop_t *loop;
    if (!loop) {
        loop = uv_default_loop();
        cs_log_set_level(CS_LOG_OFF);
    }
    cs_headsub_opts o = {
        .path = "/nonexistent", .name = "fuzz", .on_head = on_head, .on_state = on_state};
    cs_headsub *h;
    if (cs_headsub_new(loop, &o, &h))
        return 0;
    if (data[0] & 1) {
        h->state = HS_LIVE;
        strcpy(h->sub_id, "0x1");
    } else {
        h->state = HS_SUBSCRIBING;
    }
    size_t chunk = (size_t)(data[0] >> 1) * 97 + 1;
    const uint8_t *p = data + 1;
    size_t left = size - 1;
    while (left && (h->state == HS_SUBSCRIBING || h->state == HS_LIVE)) {
        uv_buf_t b;
        hs_alloc((uv_handle_t *)&h->timer, 0, &b);
        if (!b.base)
            abort(); /* hs_take drops a connection before its buffer is full */
        size_t n = left < chunk ? left : chunk;
        if (n > b.len)
            n = b.len;
        memcpy(b.base, p, n);
        h->rbuf.len += n;
        if (h->rbuf.len > h->o.max_message + 1)
            abort();
        hs_take(h);
        p += n;
        left -= n;
    }
    cs_headsub_close(h, NULL, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return 0;
}
