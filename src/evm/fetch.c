/* One block through the follower, on a private loop (see fetch.h). */
#include "evm/fetch.h"
#include "evm/events.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "evm/follower.h"
#include "net/http_client.h"
#include "net/jsonr.h"

typedef struct fetch {
    const cs_evm_fetch_opts *o;
    uv_loop_t loop;
    cs_bus *bus;
    cs_http_client *http;
    cs_rpc *rpc;
    cs_follower *f;
    uv_timer_t timer;
    bool finishing;
    bool cut; /* the queue's hard bound was passed */
    int rc;
    uint64_t head;
    char *err;
    size_t errlen;
} fetch;

static void finish(fetch *c, int rc);

/* Forwards the block's events; its evm.block is the last one. */
static void on_event(cs_sub *sub, cs_event *ev, void *arg)
{
    fetch *c = arg;
    (void)sub;
    if (c->finishing)
        return; /* the follower went on (block 0 has no until_block) */
    c->o->on_event(NULL, ev, c->o->arg);
    cs_val v;
    if (strcmp(ev->type, CS_EVT_BLOCK) == 0 &&
        cs_event_field(ev, CS_EVF_NUMBER, strlen(CS_EVF_NUMBER), &v) == 0 && v.kind == CS_VAL_INT &&
        v.u == c->o->number)
        finish(c, 0);
}

static void on_timeout(uv_timer_t *t);

/* The block's events passed the queue's hard bound: the answer would be
 * incomplete, so there is none. Runs inside the follower's publish, so the
 * end comes from the timer. */
static void on_cutoff(cs_sub *sub, void *arg)
{
    fetch *c = arg;
    (void)sub;
    if (c->finishing)
        return;
    snprintf(c->err, c->errlen, "%s: block %llu has more events than the queue holds",
             c->o->network, (unsigned long long)c->o->number);
    c->cut = true;
    uv_timer_start(&c->timer, on_timeout, 0, 0);
}

static void http_closed(void *arg)
{
    (void)arg;
}

static void rpc_closed(void *arg)
{
    fetch *c = arg;
    cs_http_client_close(c->http, http_closed, c);
}

static void follower_closed(void *arg)
{
    fetch *c = arg;
    c->f = NULL;
    cs_rpc_close(c->rpc, rpc_closed, c);
}

/* Closes everything; the loop then runs out. */
static void finish(fetch *c, int rc)
{
    if (c->finishing)
        return;
    c->finishing = true;
    c->rc = rc;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, NULL);
    if (c->f)
        cs_follower_close(c->f, follower_closed, c);
    else
        cs_rpc_close(c->rpc, rpc_closed, c);
}

static void on_timeout(uv_timer_t *t)
{
    fetch *c = t->data;
    if (c->cut) {
        finish(c, CS_ELIMIT);
        return;
    }
    snprintf(c->err, c->errlen, "%s: block %llu did not arrive within %llu s (see the warnings)",
             c->o->network, (unsigned long long)c->o->number,
             (unsigned long long)(c->o->timeout_ms ? c->o->timeout_ms / 1000 : 60));
    finish(c, CS_ETIMEDOUT);
}

static void on_head(const cs_rpc_result *res, void *arg)
{
    fetch *c = arg;
    if (c->finishing)
        return;
    char buf[256];
    if (res->error || !res->result || cs_jsonr_u64(res->json, res->result, &c->head)) {
        snprintf(c->err, c->errlen, "%s: eth_blockNumber: %s", c->o->network,
                 res->error ? cs_rpc_strerror(res, buf, sizeof buf) : "not a quantity");
        finish(c, CS_EIO);
        return;
    }
    if (c->head < c->o->number) {
        snprintf(c->err, c->errlen, "%s: block %llu is beyond the node's head (%llu)",
                 c->o->network, (unsigned long long)c->o->number, (unsigned long long)c->head);
        finish(c, CS_ERANGE);
        return;
    }
    cs_follower_opts fo = {.network = c->o->network,
                           .origin = c->o->origin ? c->o->origin : "evm-fetch",
                           .key = c->o->network,
                           .from_set = true,
                           .from_block = c->o->number,
                           .until_block = c->o->number,
                           .mode = CS_FOLLOW_DEPTH,
                           .poll_ms = 250,
                           .concurrency = 1,
                           .receipts_per_tx = c->o->receipts_per_tx};
    int rc = cs_follower_new(&c->loop, c->bus, c->rpc, c->o->abis, &fo, &c->f, c->err, c->errlen);
    if (rc) {
        finish(c, rc);
        return;
    }
    cs_follower_start(c->f);
}

int cs_evm_fetch_block(const cs_evm_fetch_opts *o, uint64_t *head, char *err, size_t errlen)
{
    fetch c = {.o = o, .err = err, .errlen = errlen};
    if (errlen)
        err[0] = 0;
    int rc = uv_loop_init(&c.loop);
    if (rc) {
        snprintf(err, errlen, "cannot make a loop: %s", uv_strerror(rc));
        return CS_EIO;
    }
    if ((rc = cs_bus_new(&c.loop, &c.bus)))
        goto out_loop;
    cs_sub *sub;
    /* A whole block is published at once: lossless, so nothing of it is
     * lost up to the hard bound (CS_BUS_LOSSLESS_HARD times the default
     * marks); the queue grows only as far as the block needs. */
    cs_sub_opts so = {.policy = CS_SUB_LOSSLESS,
                      .cb = on_event,
                      .on_cutoff = on_cutoff,
                      .arg = &c,
                      .name = "fetch"};
    if ((rc = cs_bus_subscribe(c.bus, &so, &sub)))
        goto out_bus;
    if ((rc = cs_http_client_new(&c.loop, 0, &c.http))) {
        snprintf(err, errlen, "cannot make an HTTP client: %s", cs_strerror(rc));
        goto out_bus;
    }
    if ((rc = cs_rpc_new(&c.loop, c.http, o->rpc, &c.rpc))) {
        snprintf(err, errlen, "%s: bad endpoints: %s", o->network, cs_strerror(rc));
        cs_http_client_close(c.http, http_closed, &c);
        goto out_run;
    }
    uv_timer_init(&c.loop, &c.timer);
    c.timer.data = &c;
    uv_timer_start(&c.timer, on_timeout, o->timeout_ms ? o->timeout_ms : 60000, 0);
    if ((rc = cs_rpc_call(c.rpc, "eth_blockNumber", NULL, 0, on_head, &c))) {
        snprintf(err, errlen, "%s: cannot ask the node: %s", o->network, cs_strerror(rc));
        finish(&c, rc);
    }
out_run:
    uv_run(&c.loop, UV_RUN_DEFAULT);
    if (!rc)
        rc = c.rc;
    if (head)
        *head = c.head;
out_bus:
    cs_bus_close(c.bus);
    uv_run(&c.loop, UV_RUN_DEFAULT);
out_loop:
    uv_loop_close(&c.loop);
    return rc;
}
