/* A blocking NATS connection for the commands (bus/nats.h: cs_nats_link),
 * and the message the bridge and the commands publish (cs_nats_msg). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/nats_int.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"

#define LINK_PUB_ACK_MS 5000 /* JetStream: one message's ack at most */

int cs_nats_msg(const cs_nats_conf *c, const cs_event *ev, cs_buf *json, natsMsg **out)
{
    char subj[CS_NATS_MAX_SUBJECT], seq[24], id[300];
    *out = NULL;
    if (cs_nats_subject(subj, sizeof subj, c->prefix, ev->network, ev->type) < 0)
        return CS_ELIMIT;
    const void *data = ev->wire;
    size_t len = ev->wire_len;
    if (c->encoding == CS_NATS_JSON) {
        json->len = 0;
        if (cs_json_event(json, ev))
            return CS_ELIMIT;
        data = json->data;
        len = json->len;
    }
    natsMsg *m;
    if (natsMsg_Create(&m, subj, NULL, data, (int)len) != NATS_OK)
        return CS_ENOMEM;
    snprintf(seq, sizeof seq, "%" PRIu64, ev->seq);
    snprintf(id, sizeof id, "%s:%" PRIu64, ev->origin, ev->seq);
    natsStatus st = natsMsgHeader_Set(m, "Chainscope-Origin", ev->origin);
    if (st == NATS_OK)
        st = natsMsgHeader_Set(m, "Chainscope-Seq", seq);
    if (st == NATS_OK)
        st = natsMsgHeader_Set(m, "Chainscope-Encoding",
                               c->encoding == CS_NATS_JSON ? "json" : "binary");
    if (st == NATS_OK)
        st = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
    if (st != NATS_OK) {
        natsMsg_Destroy(m);
        return CS_ENOMEM;
    }
    *out = m;
    return 0;
}

struct cs_nats_link {
    const cs_nats_conf *c;
    natsOptions *opts;
    natsConnection *nc;
    jsCtx *js;
    natsSubscription *sub;
    bool pull;        /* a JetStream durable pull consumer */
    natsMsgList list; /* the last fetch (pull) */
    int at;           /* handed out of list */
    int acked;        /* acknowledged of list */
    uint64_t bad;     /* not valid events */
    uint64_t dups;    /* redeliveries of events already handed out */
    /* ids (origin:seq, hashed) handed out lately: two generations of
     * seen_cap each, so at least the last seen_cap are always known */
    uint64_t *seen[2];
    size_t nseen[2], seen_cap;
    atomic_uint_fast64_t js_errors; /* failed asynchronous publishes */
    cs_buf json;
};

static void on_pub_error(jsCtx *js, jsPubAckErr *pae, void *closure)
{
    (void)js;
    (void)pae;
    cs_nats_link *l = closure;
    atomic_fetch_add(&l->js_errors, 1); /* a libnats thread */
}

int cs_nats_link_open(const cs_nats_conf *c, const char *name, cs_nats_link **out, char *err,
                      size_t errlen)
{
    *out = NULL;
    cs_nats_link *l = calloc(1, sizeof *l);
    if (!l)
        return CS_ENOMEM;
    l->c = c;
    cs_buf_init(&l->json, 0);
    int rc = cs_nats_options(c, name, &l->opts, err, errlen);
    if (rc) {
        cs_nats_link_close(l);
        return rc;
    }
    if (natsConnection_Connect(&l->nc, l->opts) != NATS_OK) {
        snprintf(err, errlen, "cannot connect to NATS: %s", nats_GetLastError(NULL));
        l->nc = NULL;
        cs_nats_link_close(l);
        return CS_EIO;
    }
    if (c->js) {
        jsOptions jo;
        jsOptions_Init(&jo);
        jo.PublishAsync.ErrHandler = on_pub_error;
        jo.PublishAsync.ErrHandlerClosure = l;
        jo.PublishAsync.MaxPending = 4096;
        if (natsConnection_JetStream(&l->js, l->nc, &jo) != NATS_OK) {
            snprintf(err, errlen, "JetStream: %s", nats_GetLastError(NULL));
            cs_nats_link_close(l);
            return CS_ENOMEM;
        }
        if ((rc = cs_nats_setup_stream(c, l->js))) {
            snprintf(err, errlen, "JetStream stream %s: %s", c->stream, cs_strerror(rc));
            cs_nats_link_close(l);
            return rc;
        }
    }
    *out = l;
    return 0;
}

int cs_nats_link_publish(cs_nats_link *l, const cs_event *ev)
{
    natsMsg *m;
    int rc = cs_nats_msg(l->c, ev, &l->json, &m);
    if (rc)
        return rc;
    natsStatus st;
    if (l->js) {
        jsPubOptions mo;
        jsPubOptions_Init(&mo);
        mo.MaxWait = LINK_PUB_ACK_MS;
        st = js_PublishMsgAsync(l->js, &m, &mo);
    } else {
        st = natsConnection_PublishMsg(l->nc, m);
    }
    natsMsg_Destroy(m); /* NULL after an async publish took it */
    if (st == NATS_MAX_PAYLOAD || st == NATS_INVALID_SUBJECT)
        return CS_ELIMIT;
    return st == NATS_OK ? 0 : CS_EIO;
}

int cs_nats_link_flush(cs_nats_link *l, int64_t timeout_ms)
{
    natsStatus st;
    if (l->js) {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = timeout_ms;
        st = js_PublishAsyncComplete(l->js, &po);
        if (st == NATS_OK && atomic_load(&l->js_errors))
            return CS_EIO;
    } else {
        st = natsConnection_FlushTimeout(l->nc, timeout_ms);
    }
    return st == NATS_OK ? 0 : st == NATS_TIMEOUT ? CS_ETIMEDOUT : CS_EIO;
}

/* A durable consumer left with messages delivered and not acknowledged (its
 * last reader stopped between fetch and ack) would hand out newer messages
 * first and the old ones again only after ack_wait: out of order. So it is
 * made again, to start right after its ack floor. *start gets that stream
 * sequence, 0 when the consumer is used as it is. */
static int reset_consumer(cs_nats_link *l, uint64_t *start)
{
    const cs_nats_conf *c = l->c;
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    *start = 0;
    natsStatus st = js_GetConsumerInfo(&ci, l->js, c->stream, c->durable, NULL, &jerr);
    if (st == NATS_NOT_FOUND)
        return 0;
    if (st != NATS_OK) {
        CS_WARN("nats", "consumer %s: %s", c->durable, nats_GetLastError(NULL));
        return CS_EIO;
    }
    int64_t pending = ci->NumAckPending;
    uint64_t floor = ci->AckFloor.Stream;
    jsConsumerInfo_Destroy(ci);
    if (pending <= 0)
        return 0;
    if (js_DeleteConsumer(l->js, c->stream, c->durable, NULL, &jerr) != NATS_OK) {
        CS_WARN("nats", "consumer %s: cannot reset it: %s", c->durable, nats_GetLastError(NULL));
        return CS_EIO;
    }
    CS_INFO("nats",
            "consumer %s had %" PRId64 " messages unacknowledged: it starts again after "
            "stream sequence %" PRIu64,
            c->durable, pending, floor);
    *start = floor + 1;
    return 0;
}

int cs_nats_link_subscribe(cs_nats_link *l, const char *subject)
{
    const cs_nats_conf *c = l->c;
    natsStatus st;
    if (l->js && c->durable) {
        uint64_t start;
        if (reset_consumer(l, &start))
            return CS_EIO;
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = c->stream;
        if (start) {
            so.Config.DeliverPolicy = js_DeliverByStartSequence;
            so.Config.OptStartSeq = start;
        }
        so.Config.AckWait = (int64_t)c->ack_wait_ms * 1000000;
        so.Config.MaxAckPending = (int64_t)(c->batch * 4);
        jsErrCode jerr = 0;
        st = js_PullSubscribe(&l->sub, l->js, subject, c->durable, NULL, &so, &jerr);
        if (st != NATS_OK) {
            CS_WARN("nats", "durable consumer %s on %s: %s (%d)", c->durable, subject,
                    nats_GetLastError(NULL), (int)jerr);
            return CS_EIO;
        }
        l->pull = true;
        return 0;
    }
    st = natsConnection_SubscribeSync(&l->sub, l->nc, subject);
    if (st == NATS_OK)
        st = natsSubscription_SetPendingLimits(l->sub, 65536, 64 << 20);
    if (st == NATS_OK)
        st = natsConnection_FlushTimeout(l->nc, 5000);
    if (st != NATS_OK) {
        CS_WARN("nats", "subscribe %s: %s", subject, nats_GetLastError(NULL));
        return CS_EIO;
    }
    return 0;
}

/* ---- the ids handed out: a bounded memory of origin:seq ---------------------------- */

static uint64_t id_hash(const char *origin, uint64_t seq)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = origin; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    for (int i = 0; i < 8; i++)
        h = (h ^ ((seq >> (8 * i)) & 0xff)) * 1099511628211ull;
    return h ? h : 1; /* 0 marks an empty slot */
}

/* Open addressing in a table of 2 * seen_cap slots (half full at most). */
static bool seen_in(uint64_t *t, size_t slots, uint64_t h, bool add)
{
    size_t i = (size_t)(h & (slots - 1));
    for (; t[i]; i = (i + 1) & (slots - 1))
        if (t[i] == h)
            return true;
    if (add)
        t[i] = h;
    return false;
}

/* Whether the id was seen; adds it when not. The newer generation fills
 * up to seen_cap, then becomes the older one. */
static bool seen_check(cs_nats_link *l, uint64_t h)
{
    if (!l->seen_cap) {
        size_t want = (size_t)l->c->batch * 4;
        size_t cap = 1024;
        while (cap < want)
            cap *= 2;
        uint64_t *a = calloc(2 * cap, sizeof *a), *b = calloc(2 * cap, sizeof *b);
        if (!a || !b) {
            free(a);
            free(b);
            return false; /* without memory, no dedupe: at least once */
        }
        l->seen[0] = a;
        l->seen[1] = b;
        l->seen_cap = cap;
    }
    size_t slots = 2 * l->seen_cap;
    if (seen_in(l->seen[1], slots, h, false))
        return true;
    if (l->nseen[0] == l->seen_cap) {
        uint64_t *old = l->seen[1];
        l->seen[1] = l->seen[0];
        l->nseen[1] = l->nseen[0];
        memset(old, 0, slots * sizeof *old);
        l->seen[0] = old;
        l->nseen[0] = 0;
    }
    if (seen_in(l->seen[0], slots, h, true))
        return true;
    l->nseen[0]++;
    return false;
}

/* Decodes m; NULL (counted) when it is not an event. */
static cs_event *decode(cs_nats_link *l, natsMsg *m)
{
    const char *enc = NULL;
    natsMsgHeader_Get(m, "Chainscope-Encoding", &enc);
    cs_event *ev;
    if (cs_nats_decode(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), enc, &ev)) {
        l->bad++;
        return NULL;
    }
    return ev;
}

static int next_pull(cs_nats_link *l, cs_event **out, int timeout_ms)
{
    for (;;) {
        while (l->at < l->list.Count) {
            natsMsg *m = l->list.Msgs[l->at++];
            if ((*out = decode(l, m))) {
                if (!seen_check(l, id_hash((*out)->origin, (*out)->seq)))
                    return 0;
                /* handed out before (its ack was lost, or the recorder
                 * stopped between writing and acking): acked with the batch */
                l->dups++;
                cs_event_unref(*out);
                *out = NULL;
                continue;
            }
            /* not an event: never will be; taken out of the stream's way */
            natsMsg_Term(m, NULL);
        }
        if (cs_nats_link_unacked(l))
            return CS_ELIMIT; /* the batch handed out waits for its acks */
        natsMsgList_Destroy(&l->list);
        memset(&l->list, 0, sizeof l->list);
        l->at = l->acked = 0;
        jsErrCode jerr = 0;
        natsStatus st = natsSubscription_Fetch(&l->list, l->sub, (int)l->c->batch,
                                               timeout_ms > 0 ? timeout_ms : 1, &jerr);
        if (st == NATS_TIMEOUT)
            return CS_ETIMEDOUT;
        if (st != NATS_OK)
            return natsConnection_IsClosed(l->nc) ? CS_EIO : CS_ETIMEDOUT;
    }
}

int cs_nats_link_next(cs_nats_link *l, cs_event **out, int timeout_ms)
{
    *out = NULL;
    if (!l->sub)
        return CS_EINVAL;
    if (l->pull)
        return next_pull(l, out, timeout_ms);
    for (;;) {
        natsMsg *m = NULL;
        natsStatus st = natsSubscription_NextMsg(&m, l->sub, timeout_ms > 0 ? timeout_ms : 1);
        if (st == NATS_TIMEOUT)
            return CS_ETIMEDOUT;
        if (st != NATS_OK)
            return natsConnection_IsClosed(l->nc) ? CS_EIO : CS_ETIMEDOUT;
        *out = decode(l, m);
        natsMsg_Destroy(m);
        if (*out)
            return 0;
    }
}

size_t cs_nats_link_unacked(const cs_nats_link *l)
{
    return l->pull ? (size_t)(l->at - l->acked) : 0;
}

size_t cs_nats_link_ack(cs_nats_link *l)
{
    size_t failed = 0;
    for (; l->pull && l->acked < l->at; l->acked++)
        if (natsMsg_Ack(l->list.Msgs[l->acked], NULL) != NATS_OK)
            failed++;
    return failed;
}

uint64_t cs_nats_link_bad(const cs_nats_link *l)
{
    return l->bad;
}

uint64_t cs_nats_link_dups(const cs_nats_link *l)
{
    return l->dups;
}

void cs_nats_link_remember(cs_nats_link *l, const char *origin, uint64_t seq)
{
    seen_check(l, id_hash(origin, seq));
}

void cs_nats_link_close(cs_nats_link *l)
{
    if (!l)
        return;
    if (l->nc && !natsConnection_IsClosed(l->nc))
        cs_nats_link_flush(l, 2000);
    natsMsgList_Destroy(&l->list);
    if (l->sub)
        natsSubscription_Destroy(l->sub);
    jsCtx_Destroy(l->js);
    if (l->nc) {
        natsConnection_Close(l->nc);
        natsConnection_Destroy(l->nc);
    }
    if (l->opts)
        natsOptions_Destroy(l->opts);
    cs_buf_free(&l->json);
    free(l->seen[0]);
    free(l->seen[1]);
    free(l);
}
