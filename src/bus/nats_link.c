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
    bool pull;          /* a JetStream durable pull consumer */
    natsMsgList list;   /* the last fetch (pull) */
    int at;             /* handed out of list */
    int acked;          /* acknowledged of list */
    uint64_t bad;       /* not valid events */
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

int cs_nats_link_subscribe(cs_nats_link *l, const char *subject)
{
    const cs_nats_conf *c = l->c;
    natsStatus st;
    if (l->js && c->durable) {
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = c->stream;
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
            if ((*out = decode(l, m)))
                return 0;
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
    free(l);
}
