/* The NATS bridge's thread (nats_int.h): connects, publishes what the loop
 * queued, takes what NATS delivers onto the bus, acknowledges JetStream
 * messages once the bus has delivered them. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus/nats_int.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "core/subject.h"

#define EXPORT_BATCH 8192 /* events per flush (plain NATS) */
#define JS_BATCH 1024     /* events per wait for acks (JetStream: below MaxPending) */
#define FLUSH_MS 2000
#define JS_ACK_MS 5000
#define JS_MSG_ACK_MS 2000
#define CLOSE_WAIT_MS 5000
#define SETUP_AGAIN_MS 5000
#define WAIT_SLICE_MS 50 /* with a spool: how often a wait for acks looks at the buffer */

static bool stopping(cs_nats *s)
{
    pthread_mutex_lock(&s->mu);
    bool v = s->stopping;
    pthread_mutex_unlock(&s->mu);
    return v;
}

/* Waits up to ms for a signal (new events, stop); with idle, not at all
 * while events wait for export. */
static void wait_for(cs_nats *s, uint64_t ms, bool idle)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    if (!s->stopping && !(idle && s->len))
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    pthread_mutex_unlock(&s->mu);
}

/* libnats's reconnect delay: reconnect_wait doubled per attempt, capped. */
static int64_t reconnect_delay(natsConnection *nc, int attempts, void *closure)
{
    (void)nc;
    const cs_nats_conf *c = closure;
    uint64_t d = c->reconnect_wait_ms;
    for (int i = 1; i < attempts && d < c->max_reconnect_wait_ms; i++)
        d *= 2;
    return (int64_t)(d < c->max_reconnect_wait_ms ? d : c->max_reconnect_wait_ms);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    (void)nc;
    cs_nats *s = closure;
    pthread_mutex_lock(&s->mu);
    if (s->st.connected) {
        s->st.connected = false;
        s->st.disconnects++;
        snprintf(s->error, sizeof s->error, "connection to %s lost", s->url);
        cs_nats_notice(s, NOTICE_DISCONNECTED);
    }
    pthread_mutex_unlock(&s->mu);
}

/* libnats calls back from its own thread, after natsConnection_Close has
 * returned: the state must outlive the last callback, this one. */
static void on_closed(natsConnection *nc, void *closure)
{
    (void)nc;
    cs_nats *s = closure;
    pthread_mutex_lock(&s->mu);
    s->conns_closed++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Closes and frees the connection once libnats has made its last
 * callback for it (at most CLOSE_WAIT_MS). */
static void close_conn(cs_nats *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned before = s->conns_closed;
    pthread_mutex_unlock(&s->mu);
    natsConnection_Close(s->nc);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += CLOSE_WAIT_MS / 1000;
    pthread_mutex_lock(&s->mu);
    while (s->conns_closed == before)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &ts))
            break;
    pthread_mutex_unlock(&s->mu);
    natsConnection_Destroy(s->nc);
    s->nc = NULL;
}

static void on_connected(cs_nats *s, natsConnection *nc)
{
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof url);
    pthread_mutex_lock(&s->mu);
    s->st.connected = true;
    s->st.connects++;
    snprintf(s->url, sizeof s->url, "%s", url);
    cs_nats_notice(s, NOTICE_CONNECTED);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
    on_connected(closure, nc);
}

/* NKey: signs the server's nonce with the seed from the environment. */
static natsStatus sign_nonce(char **err, unsigned char **sig, int *siglen, const char *nonce,
                             void *closure)
{
    const cs_nats_conf *c = closure;
    const char *seed = getenv(c->nkey_seed_env);
    if (!seed) {
        *err = strdup("the NKey seed variable is not set");
        return NATS_ERR;
    }
    return nats_Sign(seed, nonce, sig, siglen);
}

int cs_nats_make_options(cs_nats *s, char *why, size_t whylen)
{
    natsOptions *o;
    int rc = cs_nats_options(s->c, s->name, &o, why, whylen);
    if (rc)
        return rc;
    natsStatus st = natsOptions_SetDisconnectedCB(o, on_disconnected, s);
    if (st == NATS_OK)
        st = natsOptions_SetReconnectedCB(o, on_reconnected, s);
    if (st == NATS_OK)
        st = natsOptions_SetClosedCB(o, on_closed, s);
    if (st != NATS_OK) {
        natsOptions_Destroy(o);
        return CS_ENOMEM;
    }
    s->opts = o;
    return 0;
}

int cs_nats_options(const cs_nats_conf *c, const char *name, natsOptions **out, char *why,
                    size_t whylen)
{
    natsOptions *o;
    void *cl = (void *)(uintptr_t)c; /* the callbacks only read it */
    if (natsOptions_Create(&o) != NATS_OK)
        return CS_ENOMEM;
    static const char *dflt[] = {"nats://127.0.0.1:4222"};
    natsStatus st = natsOptions_SetServers(o, c->nservers ? (const char **)c->servers : dflt,
                                           c->nservers ? (int)c->nservers : 1);
    if (st == NATS_OK)
        st = natsOptions_SetName(o, name);
    if (st == NATS_OK)
        st = natsOptions_SetTimeout(o, (int64_t)c->connect_timeout_ms);
    if (st == NATS_OK)
        st = natsOptions_SetMaxReconnect(o, -1);
    if (st == NATS_OK)
        st = natsOptions_SetCustomReconnectDelay(o, reconnect_delay, cl);
    if (st == NATS_OK)
        st = natsOptions_SetNoEcho(o, true);
    if (st == NATS_OK && c->user) {
        const char *pw = c->password_env ? getenv(c->password_env) : NULL;
        if (c->password_env && !pw) {
            snprintf(why, whylen, "nats.password_env: %s is not set", c->password_env);
            natsOptions_Destroy(o);
            return CS_ECONFIG;
        }
        st = natsOptions_SetUserInfo(o, c->user, pw);
    }
    if (st == NATS_OK && c->token_env) {
        const char *tok = getenv(c->token_env);
        if (!tok) {
            snprintf(why, whylen, "nats.token_env: %s is not set", c->token_env);
            natsOptions_Destroy(o);
            return CS_ECONFIG;
        }
        st = natsOptions_SetToken(o, tok);
    }
    if (st == NATS_OK && c->nkey) {
        if (!getenv(c->nkey_seed_env)) {
            snprintf(why, whylen, "nats.nkey_seed_env: %s is not set", c->nkey_seed_env);
            natsOptions_Destroy(o);
            return CS_ECONFIG;
        }
        st = natsOptions_SetNKey(o, c->nkey, sign_nonce, cl);
    }
    if (st == NATS_OK && c->creds)
        st = natsOptions_SetUserCredentialsFromFiles(o, c->creds, NULL);
    if (st == NATS_OK && c->tls)
        st = natsOptions_SetSecure(o, true);
    if (st == NATS_OK && c->tls_ca)
        st = natsOptions_LoadCATrustedCertificates(o, c->tls_ca);
    if (st == NATS_OK && c->tls_cert)
        st = natsOptions_LoadCertificatesChain(o, c->tls_cert, c->tls_key);
    if (st != NATS_OK) {
        snprintf(why, whylen, "%s", nats_GetLastError(NULL));
        natsOptions_Destroy(o);
        return CS_ECONFIG;
    }
    *out = o;
    return 0;
}

/* JetStream publish failures (the library frees the message). */
static void on_pub_error(jsCtx *js, jsPubAckErr *pae, void *closure)
{
    (void)js;
    (void)pae;
    cs_nats *s = closure;
    atomic_fetch_add(&s->pub_errors, 1);
}

int cs_nats_setup_stream(const cs_nats_conf *c, jsCtx *js)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus st = js_GetStreamInfo(&si, js, c->stream, NULL, &jerr);
    if (st == NATS_OK && !c->js_create) {
        jsStreamInfo_Destroy(si);
        return 0;
    }
    if (st != NATS_OK && st != NATS_NOT_FOUND) {
        CS_WARN("nats", "stream %s: %s", c->stream, natsStatus_GetText(st));
        return CS_EIO;
    }
    if (st == NATS_NOT_FOUND && !c->js_create) {
        CS_WARN("nats", "stream %s does not exist (and nats.jetstream.create is false)", c->stream);
        return CS_ENOTFOUND;
    }
    bool exists = st == NATS_OK;
    jsStreamInfo_Destroy(si);
    si = NULL;
    char dflt[CS_NATS_MAX_SUBJECT];
    snprintf(dflt, sizeof dflt, "%s.>", c->prefix);
    const char *one[] = {dflt};
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = c->stream;
    sc.Subjects = c->njs_subjects ? (const char **)c->js_subjects : one;
    sc.SubjectsLen = c->njs_subjects ? (int)c->njs_subjects : 1;
    sc.Storage = c->storage ? js_MemoryStorage : js_FileStorage;
    sc.Replicas = (int64_t)c->replicas;
    sc.MaxAge = (int64_t)c->max_age_ms * 1000000;
    sc.MaxBytes = c->max_bytes ? (int64_t)c->max_bytes : -1;
    sc.Duplicates = (int64_t)c->duplicates_ms * 1000000;
    st = exists ? js_UpdateStream(&si, js, &sc, NULL, &jerr)
                : js_AddStream(&si, js, &sc, NULL, &jerr);
    jsStreamInfo_Destroy(si);
    if (st != NATS_OK) {
        CS_WARN("nats", "stream %s: cannot %s it: %s (%d)", c->stream, exists ? "update" : "create",
                nats_GetLastError(NULL), (int)jerr);
        return exists ? 0 : CS_EIO; /* an existing stream is used as it is */
    }
    CS_INFO("nats", "stream %s %s", c->stream, exists ? "bound" : "created");
    return 0;
}

/* Takes a message from NATS: 0 published on the bus, 1 not for the bus
 * (ours, unmatched or malformed: acknowledge), -1 the bus inbox is full. */
static int import_msg(cs_nats *s, natsMsg *m)
{
    const char *enc = NULL;
    natsMsgHeader_Get(m, "Chainscope-Encoding", &enc);
    cs_event *ev;
    int rc = cs_nats_decode(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), enc, &ev);
    pthread_mutex_lock(&s->mu);
    if (rc) {
        s->st.bad++;
        pthread_mutex_unlock(&s->mu);
        return 1;
    }
    bool want = s->c->nsub == 1 || !s->js;
    for (size_t i = 0; !want && i < s->c->nsub; i++)
        want = cs_subject_match(s->c->sub[i], strlen(s->c->sub[i]), ev->type, strlen(ev->type));
    unsigned dir = want ? cs_nats_origin(s, ev->origin, ORIGIN_IN) : 0;
    if (!want || (dir & ORIGIN_OUT)) {
        if (want)
            s->st.looped++;
        pthread_mutex_unlock(&s->mu);
        cs_event_unref(ev);
        return 1;
    }
    s->st.received++;
    pthread_mutex_unlock(&s->mu);
    if (cs_bus_publish_threadsafe(s->rt->bus, ev)) {
        pthread_mutex_lock(&s->mu);
        s->st.import_dropped++;
        s->st.received--;
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    return 0;
}

/* Core NATS delivery (a libnats thread). */
static void on_core_msg(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
    (void)nc;
    (void)sub;
    import_msg(closure, m);
    natsMsg_Destroy(m);
}

/* Waits until the bus has delivered everything published so far. */
static bool wait_barrier(cs_nats *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t gen = ++s->barrier_req;
    cs_nats_notice(s, NOTICE_BARRIER);
    while (s->barrier_done < gen && !s->stopping)
        pthread_cond_wait(&s->cv, &s->mu);
    bool ok = s->barrier_done >= gen;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

/* One pull from the durable consumer; returns the messages taken. */
static int fetch_some(cs_nats *s, int64_t wait_ms)
{
    natsMsgList list = {0};
    jsErrCode jerr = 0;
    natsStatus st =
        natsSubscription_Fetch(&list, s->nsub, (int)s->c->batch, wait_ms > 0 ? wait_ms : 1, &jerr);
    if (st != NATS_OK) {
        natsMsgList_Destroy(&list);
        return 0;
    }
    int got = 0, *res = calloc((size_t)list.Count + 1, sizeof *res);
    for (int i = 0; i < list.Count; i++) {
        int r = import_msg(s, list.Msgs[i]);
        if (res)
            res[i] = r;
        if (r > 0)
            natsMsg_Ack(list.Msgs[i], NULL);
        else if (r < 0)
            natsMsg_NakWithDelay(list.Msgs[i], 200, NULL);
        else
            got++;
    }
    /* Handled means delivered to every subscriber (and for those with a
     * barrier seam, such as the notifier, committed): only then ack. */
    if (got && wait_barrier(s)) {
        uint64_t acked = 0;
        for (int i = 0; i < list.Count; i++)
            if ((!res || res[i] == 0) && natsMsg_Ack(list.Msgs[i], NULL) == NATS_OK)
                acked++;
        pthread_mutex_lock(&s->mu);
        s->st.acked += acked;
        pthread_mutex_unlock(&s->mu);
    }
    free(res);
    natsMsgList_Destroy(&list);
    return list.Count ? list.Count : got;
}

static int subscribe_all(cs_nats *s)
{
    const cs_nats_conf *c = s->c;
    char subj[CS_NATS_MAX_SUBJECT];
    if (c->js) {
        if (c->nsub == 1)
            cs_nats_filter_subject(subj, sizeof subj, c->prefix, c->sub[0]);
        else
            snprintf(subj, sizeof subj, "%s.>", c->prefix);
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = c->stream;
        so.Config.AckWait = (int64_t)c->ack_wait_ms * 1000000;
        so.Config.MaxAckPending = (int64_t)(c->batch * 4);
        jsErrCode jerr = 0;
        natsStatus st = js_PullSubscribe(&s->nsub, s->js, subj, c->durable, NULL, &so, &jerr);
        if (st != NATS_OK) {
            CS_WARN("nats", "durable consumer %s on %s: %s (%d)", c->durable, subj,
                    nats_GetLastError(NULL), (int)jerr);
            return CS_EIO;
        }
        CS_INFO("nats", "durable consumer %s pulls %s from stream %s", c->durable, subj, c->stream);
        return 0;
    }
    for (size_t i = 0; i < c->nsub; i++) {
        natsSubscription *sub;
        cs_nats_filter_subject(subj, sizeof subj, c->prefix, c->sub[i]);
        if (natsConnection_Subscribe(&sub, s->nc, subj, on_core_msg, s) != NATS_OK) {
            CS_WARN("nats", "subscribe %s: %s", subj, nats_GetLastError(NULL));
            return CS_EIO;
        }
        natsSubscription_SetPendingLimits(sub, 65536, 64 << 20);
        if (i == 0)
            s->nsub = sub; /* the others live as long as the connection */
    }
    return 0;
}

/* Connects, creates or binds the stream, subscribes. */
static int connect_all(cs_nats *s)
{
    natsStatus st = natsConnection_Connect(&s->nc, s->opts);
    if (st != NATS_OK) {
        s->nc = NULL;
        pthread_mutex_lock(&s->mu);
        bool tell = strcmp(s->error, nats_GetLastError(NULL)) != 0;
        snprintf(s->error, sizeof s->error, "%s", nats_GetLastError(NULL));
        if (tell)
            cs_nats_notice(s, NOTICE_DISCONNECTED);
        pthread_mutex_unlock(&s->mu);
        return CS_EIO;
    }
    on_connected(s, s->nc);
    int rc = 0;
    if (s->c->js) {
        jsOptions jo;
        jsOptions_Init(&jo);
        jo.PublishAsync.ErrHandler = on_pub_error;
        jo.PublishAsync.ErrHandlerClosure = s;
        jo.PublishAsync.MaxPending = 4096;
        if (natsConnection_JetStream(&s->js, s->nc, &jo) != NATS_OK)
            rc = CS_ENOMEM;
        if (!rc)
            rc = cs_nats_setup_stream(s->c, s->js);
    }
    if (!rc && s->c->nsub)
        rc = subscribe_all(s);
    if (rc) {
        if (s->nsub)
            natsSubscription_Destroy(s->nsub);
        s->nsub = NULL;
        jsCtx_Destroy(s->js);
        s->js = NULL;
        close_conn(s);
        pthread_mutex_lock(&s->mu);
        s->st.connected = false;
        pthread_mutex_unlock(&s->mu);
    }
    return rc;
}

static bool over_bound(const cs_nats *s);

static bool over_bound_now(cs_nats *s)
{
    pthread_mutex_lock(&s->mu);
    bool v = over_bound(s);
    pthread_mutex_unlock(&s->mu);
    return v;
}

/* Publishes batch[0..n) (NULL entries are skipped) and waits until the
 * server has them (a flush, or JetStream's acks). Returns 0, or -1 when
 * they must go again; *too_big counts those that can never be sent. */
static int publish_batch(cs_nats *s, cs_event *const *batch, size_t n, cs_buf *json,
                         uint64_t *too_big)
{
    uint64_t errs0 = atomic_load(&s->pub_errors);
    natsStatus st = NATS_OK;
    /* each message's ack is awaited at most this long (then it counts as
     * failed and the batch goes again) */
    jsPubOptions mo;
    jsPubOptions_Init(&mo);
    mo.MaxWait = JS_MSG_ACK_MS;
    *too_big = 0;
    for (size_t i = 0; i < n && st == NATS_OK; i++) {
        if (!batch[i])
            continue;
        natsMsg *m;
        int rc = cs_nats_msg(s->c, batch[i], json, &m);
        if (rc == CS_ELIMIT) {
            (*too_big)++;
            continue;
        }
        if (rc) {
            st = NATS_NO_MEMORY;
            break;
        }
        st = s->js ? js_PublishMsgAsync(s->js, &m, &mo) : natsConnection_PublishMsg(s->nc, m);
        if (st == NATS_MAX_PAYLOAD || st == NATS_INVALID_SUBJECT) {
            (*too_big)++; /* can never be sent: dropped */
            st = NATS_OK;
        }
        natsMsg_Destroy(m); /* NULL after an async publish took it */
    }
    /* waits in slices: with a spool, a buffer filling up meanwhile (NATS
     * gone) gives up the wait, so that the events go to the spool (the
     * batch too: JetStream drops the copy it may have by Nats-Msg-Id) */
    for (int waited = 0; st == NATS_OK;) {
        int slice = s->spooling ? WAIT_SLICE_MS : s->js ? JS_ACK_MS : FLUSH_MS;
        if (s->js) {
            jsPubOptions po;
            jsPubOptions_Init(&po);
            po.MaxWait = slice;
            st = js_PublishAsyncComplete(s->js, &po);
            if (st == NATS_OK && atomic_load(&s->pub_errors) != errs0)
                st = NATS_ERR;
        } else {
            st = natsConnection_FlushTimeout(s->nc, slice);
        }
        if (st != NATS_TIMEOUT)
            break;
        waited += slice;
        bool spill_now = s->spooling && over_bound_now(s);
        if (waited >= (s->js ? JS_ACK_MS : FLUSH_MS) || spill_now || stopping(s))
            break;
        st = NATS_OK;
    }
    return st == NATS_OK ? 0 : -1;
}

/* Under mu: the memory buffer is full enough to go to the spool: past half
 * its bound while NATS is unreachable, past three quarters while connected
 * (NATS slower than the events). */
static bool over_bound(const cs_nats *s)
{
    size_t num = s->st.connected ? 3 : 1, den = s->st.connected ? 4 : 2;
    return s->len >= s->cap / den * num || s->qbytes >= s->c->buffer_bytes / den * num;
}

/* Under mu: takes n events off the head of the memory buffer. */
static void ring_pop(cs_nats *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cs_event *ev = s->q[s->head];
        s->qbytes -= ev->wire_len;
        cs_event_unref(ev);
        s->head = (s->head + 1) % s->cap;
        s->len--;
    }
}

/* Under mu: references to up to max events at the head of the buffer. */
static size_t ring_peek(cs_nats *s, cs_event **batch, size_t max)
{
    size_t n = 0;
    for (; n < s->len && n < max; n++)
        batch[n] = cs_event_ref(s->q[(s->head + n) % s->cap]);
    return n;
}

/* Publishes the oldest events that wait: those of the disk spool first,
 * then the memory buffer's (up to EXPORT_BATCH, JS_BATCH); they stay where
 * they are until the server has them. Returns the count sent, 0 when
 * nothing waits, -1 on failure (kept for the next try). */
static int export_some(cs_nats *s, cs_buf *json)
{
    static _Thread_local cs_event *batch[EXPORT_BATCH];
    size_t n, max = s->js ? JS_BATCH : EXPORT_BATCH;
    bool spooled = s->spooling && s->spool.events;
    if (spooled) {
        n = cs_nats_spool_peek(&s->spool, batch, max);
    } else {
        pthread_mutex_lock(&s->mu);
        n = ring_peek(s, batch, max);
        pthread_mutex_unlock(&s->mu);
    }
    if (!n)
        return 0;
    uint64_t too_big = 0, bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += !batch[i];
    int rc = publish_batch(s, batch, n, json, &too_big);
    for (size_t i = 0; i < n; i++)
        if (batch[i])
            cs_event_unref(batch[i]);
    if (rc)
        return -1; /* kept: sent again (JetStream drops what it has by Nats-Msg-Id) */
    uint64_t spool_was = s->spool.bytes;
    if (spooled)
        cs_nats_spool_consume(&s->spool, n);
    pthread_mutex_lock(&s->mu);
    if (spooled) {
        if (s->spool.bytes < spool_was)
            s->st.spool_full = false; /* room again: the next append says */
        s->st.unspooled += n - too_big - bad;
        s->st.spool_events = s->spool.events;
        s->st.spool_bytes = s->spool.bytes;
    } else {
        ring_pop(s, n);
    }
    s->st.sent += n - too_big - bad;
    s->st.dropped += too_big + bad;
    pthread_mutex_unlock(&s->mu);
    return (int)n;
}

/* With a disk spool: moves the oldest events of the memory buffer to the
 * spool's end while the buffer is half full or more (three quarters while
 * connected; all of them with all, at stop). The spool holds only events older than the buffer's,
 * so sending the spool first keeps the order. */
static void spill(cs_nats *s, bool all)
{
    static _Thread_local cs_event *batch[EXPORT_BATCH];
    if (!s->spooling)
        return;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        size_t n = all || over_bound(s) ? ring_peek(s, batch, EXPORT_BATCH) : 0;
        pthread_mutex_unlock(&s->mu);
        if (!n)
            return;
        size_t done = cs_nats_spool_append(&s->spool, batch, n);
        pthread_mutex_lock(&s->mu);
        ring_pop(s, done);
        s->st.spooled += done;
        s->st.spool_events = s->spool.events;
        s->st.spool_bytes = s->spool.bytes;
        s->st.spool_full = done < n;
        pthread_mutex_unlock(&s->mu);
        for (size_t i = 0; i < n; i++)
            cs_event_unref(batch[i]);
        if (done < n)
            return; /* at nats.spool.max: the memory buffer's bound applies */
    }
}

static void teardown(cs_nats *s)
{
    if (s->nsub)
        natsSubscription_Destroy(s->nsub);
    s->nsub = NULL;
    jsCtx_Destroy(s->js);
    s->js = NULL;
    if (s->nc)
        close_conn(s);
}

void *cs_nats_run(void *arg)
{
    cs_nats *s = arg;
    cs_buf json;
    cs_buf_init(&json, 0);
    uint64_t delay = s->c->reconnect_wait_ms;
    bool failing = false;
    uint64_t setup_connects = 1; /* connect_all set the stream up */
    int64_t setup_at = 0;
    while (!stopping(s)) {
        spill(s, false);
        if (!s->nc) {
            if (connect_all(s)) {
                wait_for(s, delay, false);
                delay = delay * 2 < s->c->max_reconnect_wait_ms ? delay * 2
                                                                : s->c->max_reconnect_wait_ms;
                continue;
            }
            delay = s->c->reconnect_wait_ms;
        }
        int did = 0;
        bool up = natsConnection_Status(s->nc) == NATS_CONN_STATUS_CONNECTED;
        if (up) {
            int n = export_some(s, &json);
            if (n < 0) {
                if (!failing)
                    CS_WARN("nats", "publishing failed; the events are kept and sent again");
                failing = true;
                spill(s, false);
                /* the stream may have gone with the server's storage: looked
                 * at once per connection, and again every few seconds while
                 * publishing keeps failing (a blocking request) */
                pthread_mutex_lock(&s->mu);
                uint64_t connects = s->st.connects;
                pthread_mutex_unlock(&s->mu);
                int64_t now = nats_Now();
                if (s->js && natsConnection_Status(s->nc) == NATS_CONN_STATUS_CONNECTED &&
                    (connects != setup_connects || now - setup_at > SETUP_AGAIN_MS)) {
                    setup_connects = connects;
                    setup_at = now;
                    cs_nats_setup_stream(s->c, s->js);
                }
                if (!s->spooling || !over_bound_now(s))
                    wait_for(s, delay, false); /* else: to the spool at once */
                continue;
            }
            failing = false;
            did += n;
            if (s->js && s->nsub)
                did += fetch_some(s, did ? 1 : 100);
        }
        if (!did)
            wait_for(s, up && s->js && s->nsub ? 1 : 50, up);
    }
    /* A last try for what waits, then close; with a spool, what is left
     * waits there for the next run. */
    for (int i = 0; s->nc && i < 8 && natsConnection_Status(s->nc) == NATS_CONN_STATUS_CONNECTED;
         i++)
        if (export_some(s, &json) <= 0)
            break;
    spill(s, true);
    if (s->spooling && s->spool.events)
        CS_INFO("nats", "%llu events stay in the spool %s for the next start",
                (unsigned long long)s->spool.events, s->c->spool_dir);
    teardown(s);
    cs_buf_free(&json);
    return NULL;
}
