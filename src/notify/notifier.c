/* The notifier (see notifier.h). One repeating timer starts an outbox job
 * (notifier_db.c) on a worker; its completion hands back the due rows, and
 * each becomes one delivery: an HTTP request, a mail or a script run. */
#include "notify/notifier.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "net/mail.h"
#include "net/proc.h"
#include "notify/notifier_int.h"
#include "notify/outbox.h"

static int64_t now_ms(void)
{
    return cs_now_ns() / 1000000;
}

void cs_notify_key(const char *match_id, const char *channel, char out[33])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    size_t a = strlen(match_id), b = strlen(channel);
    char *buf = malloc(a + b + 2);
    if (buf) {
        memcpy(buf, match_id, a);
        buf[a] = '\n';
        memcpy(buf + a + 1, channel, b);
        EVP_Digest(buf, a + b + 1, md, &mdlen, EVP_sha256(), NULL);
        free(buf);
    } else {
        memset(md, 0, sizeof md);
    }
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hx[md[i] >> 4];
        out[2 * i + 1] = hx[md[i] & 15];
    }
    out[32] = 0;
}

void cs_notifier_maybe_free(cs_notifier *n)
{
    if (!n->closing || n->holds > 0)
        return;
    void (*done)(void *) = n->done;
    void *arg = n->done_arg;
    cs_notifier_db_free(n);
    free(n->ch);
    free(n->inflight);
    cs_buf_free(&n->json);
    free(n);
    if (done)
        done(arg);
}

static void timer_closed(uv_handle_t *h)
{
    cs_notifier *n = h->data;
    n->holds--;
    cs_notifier_maybe_free(n);
}

static void sweep_cb(uv_timer_t *t);

int cs_notifier_new(const cs_notifier_opts *o, cs_notifier **out, char *err, size_t errlen)
{
    *out = NULL;
    cs_notifier *n = calloc(1, sizeof *n);
    if (!n)
        return CS_ENOMEM;
    n->o = *o;
    if (!n->o.max_attempts)
        n->o.max_attempts = 12;
    if (!n->o.backoff_ms)
        n->o.backoff_ms = 1000;
    if (!n->o.max_backoff_ms)
        n->o.max_backoff_ms = 600000;
    if (!n->o.sweep_ms)
        n->o.sweep_ms = 200;
    if (!n->o.max_in_flight)
        n->o.max_in_flight = 4;
    if (!n->o.keep_ms)
        n->o.keep_ms = CS_NOTIFY_KEEP_MS;
    if (!n->o.keep_rows)
        n->o.keep_rows = CS_NOTIFY_KEEP_ROWS;
    cs_buf_init(&n->json, 4u << 20);
    size_t nch = o->channels ? o->channels->n : 0;
    n->ch = calloc(nch + 1, sizeof *n->ch);
    if (!n->ch) {
        free(n);
        return CS_ENOMEM;
    }
    int64_t now = now_ms();
    for (size_t i = 0; i < nch; i++) {
        n->ch[i].conf = &o->channels->ch[i];
        n->ch[i].tokens = n->ch[i].conf->burst ? n->ch[i].conf->burst : 5;
        n->ch[i].refill_ms = now;
    }
    n->nch = nch;
    int rc = cs_notifier_db_open(n, o->outbox_path, err, errlen);
    if (!rc && (rc = cs_http_client_new(o->loop, 0, &n->client)))
        snprintf(err, errlen, "notify: cannot start the HTTP client: %s", cs_strerror(rc));
    if (rc) {
        cs_notifier_db_free(n);
        free(n->ch);
        cs_buf_free(&n->json);
        free(n);
        return rc;
    }
    if (!n->o.http) {
        n->o.http = cs_notify_http_client;
        n->o.http_impl = n->client;
    }
    uv_timer_init(o->loop, &n->timer);
    n->timer.data = n;
    n->holds = 1;
    uv_timer_start(&n->timer, sweep_cb, 0, n->o.sweep_ms); /* resume what is pending */
    *out = n;
    return 0;
}

/* Stops the timer and the HTTP client; what is queued is written once the
 * job in flight (if any) is back (cs_notifier_maybe_free). */
void cs_notifier_close(cs_notifier *n, void (*done)(void *), void *arg)
{
    if (!n)
        return;
    n->closing = true;
    n->done = done;
    n->done_arg = arg;
    uv_timer_stop(&n->timer);
    uv_close((uv_handle_t *)&n->timer, timer_closed);
    /* in-flight requests fail with CS_ECLOSED: they stay pending */
    cs_http_client_close(n->client, NULL, NULL);
    n->client = NULL;
    cs_notifier_db_close(n); /* what is queued is in the outbox when this returns */
    cs_notifier_maybe_free(n);
}

void cs_notifier_kick(cs_notifier *n)
{
    if (!n->closing)
        uv_timer_start(&n->timer, sweep_cb, 0, n->o.sweep_ms);
}

void cs_notifier_get_stats(const cs_notifier *n, cs_notifier_stats *out)
{
    *out = n->st;
    out->in_flight = n->ninflight;
}

static const cs_channel_conf *find_channel(const cs_notifier *n, const char *name, size_t *idx)
{
    for (size_t i = 0; i < n->nch; i++)
        if (strcmp(n->ch[i].conf->name, name) == 0) {
            if (idx)
                *idx = i;
            return n->ch[i].conf;
        }
    return NULL;
}

/* Renders each channel of an alert or message into a queued op; the
 * outbox rows are written by the next job. */
typedef int (*render_fn)(const cs_channel_conf *ch, const void *src, cs_rendered *r, char *err,
                         size_t errlen);

static int queue_rows(cs_notifier *n, cs_notify_op *op, const char *who, const char *const *chans,
                      size_t nchans, render_fn render, const void *src)
{
    op->rows = calloc(nchans + 1, sizeof *op->rows);
    if (!op->rows)
        return CS_ENOMEM;
    for (size_t i = 0; i < nchans; i++) {
        const cs_channel_conf *ch = find_channel(n, chans[i], NULL);
        if (!ch) {
            n->st.unknown_channel++;
            CS_WARN("notify", "%s: no channel named '%s' (see channels: in the config)", who,
                    chans[i]);
            continue;
        }
        cs_rendered r;
        cs_rendered_init(&r);
        char err[300];
        if (render(ch, src, &r, err, sizeof err)) {
            n->st.render_errors++;
            CS_WARN("notify", "%s, channel %s: template: %s", who, ch->name, err);
            cs_rendered_free(&r);
            continue;
        }
        cs_notify_row *row = &op->rows[op->nrows];
        cs_notify_key(op->id, ch->name, row->key);
        row->channel = strdup(ch->name);
        row->subject = strdup(cs_buf_cstr(&r.subject));
        row->text = strdup(cs_buf_cstr(&r.text));
        row->html = ch->type == CS_CH_EMAIL ? strdup(cs_buf_cstr(&r.html)) : NULL;
        cs_rendered_free(&r);
        if (!row->channel || !row->subject || !row->text ||
            (ch->type == CS_CH_EMAIL && !row->html)) {
            cs_notify_row_clear(row);
            return CS_ENOMEM;
        }
        op->nrows++;
    }
    return 0;
}

static int render_alert(const cs_channel_conf *ch, const void *src, cs_rendered *r, char *err,
                        size_t errlen)
{
    const cs_notify_alert *a = src;
    return cs_channel_render(ch, a->title, a->message, &a->doc, r, err, errlen);
}

static int render_msg(const cs_channel_conf *ch, const void *src, cs_rendered *r, char *err,
                      size_t errlen)
{
    const cs_notify_msg *m = src;
    (void)errlen;
    err[0] = 0;
    return cs_channel_render_message(ch, m->subject, m->text, m->html, r);
}

int cs_notifier_alert(cs_notifier *n, const cs_notify_alert *a)
{
    if (n->closing)
        return CS_ECLOSED;
    n->st.matches++;
    const char *const *chans = a->channels;
    size_t nchans = a->nchannels;
    int sev = cs_notify_severity_index(a->severity);
    if (!nchans && sev >= 0 && n->o.defaults) {
        chans = (const char *const *)n->o.defaults[sev];
        nchans = n->o.ndefaults[sev];
    }
    n->json.len = 0;
    cs_json_value(&n->json, &a->doc);
    cs_notify_op *op = calloc(1, sizeof *op);
    if (!op)
        return CS_ENOMEM;
    op->kind = CS_NOTIFY_OP_ALERT;
    op->time_ns = a->time_ns;
    op->at_ms = now_ms();
    op->id = strdup(a->id);
    op->monitor = strdup(a->monitor ? a->monitor : "");
    op->network = a->network ? strdup(a->network) : NULL;
    op->alert = strdup(cs_buf_cstr(&n->json));
    int rc = !op->id || !op->monitor || !op->alert || (a->network && !op->network) ? CS_ENOMEM : 0;
    char who[200];
    snprintf(who, sizeof who, "monitor %s", op->monitor ? op->monitor : "?");
    if (!rc)
        rc = queue_rows(n, op, who, chans, nchans, render_alert, a);
    if (rc) {
        CS_ERROR("notify", "%s: alert %s not queued: %s", who, a->id, cs_strerror(rc));
        cs_notify_op_free(op);
        return rc;
    }
    int rendered = (int)op->nrows;
    cs_notifier_db_queue(n, op);
    cs_notifier_kick(n);
    return rendered;
}

int cs_notifier_send(cs_notifier *n, const cs_notify_msg *m)
{
    if (n->closing)
        return CS_ECLOSED;
    cs_notify_op *op = calloc(1, sizeof *op);
    if (!op)
        return CS_ENOMEM;
    op->kind = CS_NOTIFY_OP_MESSAGE;
    op->at_ms = now_ms();
    op->id = strdup(m->id);
    op->monitor = strdup(m->source ? m->source : "");
    op->alert = strdup(m->json ? m->json : "{}");
    int rc = !op->id || !op->monitor || !op->alert ? CS_ENOMEM : 0;
    if (!rc)
        rc = queue_rows(n, op, m->source ? m->source : "message", m->channels, m->nchannels,
                        render_msg, m);
    if (rc) {
        CS_ERROR("notify", "%s: %s not queued: %s", m->source, m->id, cs_strerror(rc));
        cs_notify_op_free(op);
        return rc;
    }
    int rendered = (int)op->nrows;
    cs_notifier_db_queue(n, op);
    cs_notifier_kick(n);
    return rendered;
}

/* ---- delivery ------------------------------------------------------------------ */

void cs_notifier_inflight_del(cs_notifier *n, int64_t id)
{
    for (size_t i = 0; i < n->ninflight; i++)
        if (n->inflight[i] == id) {
            n->inflight[i] = n->inflight[--n->ninflight];
            return;
        }
}

static int inflight_add(cs_notifier *n, int64_t id)
{
    if (n->ninflight == n->capinflight) {
        size_t cap = n->capinflight ? n->capinflight * 2 : 16;
        int64_t *p = realloc(n->inflight, cap * sizeof *p);
        if (!p)
            return CS_ENOMEM;
        n->inflight = p;
        n->capinflight = cap;
    }
    n->inflight[n->ninflight++] = id;
    return 0;
}

/* Records the outcome of a delivery. retry: a failure worth retrying;
 * not_before_ms: the least delay the receiver asked for (Retry-After), 0
 * when it did not. */
static void settle(delivery *d, bool ok, bool retry, const char *why, int64_t not_before_ms)
{
    cs_notifier *n = d->n;
    n->ch[d->ch].inflight--;
    if (n->closing) { /* stays pending in the outbox: resumed after a restart */
        cs_notifier_inflight_del(n, d->id);
        free(d);
        return;
    }
    const char *chname = n->ch[d->ch].conf->name;
    uint32_t attempts = d->attempts + 1;
    if (ok) {
        n->st.sent++;
        cs_notifier_db_mark(n, d->id, attempts, now_ms(), CS_OUTBOX_SENT, NULL);
    } else if (!retry || attempts >= n->o.max_attempts) {
        n->st.dead++;
        CS_ERROR("notify", "channel %s: notification %s given up after %u attempt%s: %s", chname,
                 d->key, attempts, attempts == 1 ? "" : "s", why);
        cs_notifier_db_mark(n, d->id, attempts, 0, CS_OUTBOX_DEAD, why);
    } else {
        n->st.retries++;
        double delay = (double)n->o.backoff_ms;
        for (uint32_t i = 1; i < attempts && delay < (double)n->o.max_backoff_ms; i++)
            delay *= 2;
        if (delay > (double)n->o.max_backoff_ms)
            delay = (double)n->o.max_backoff_ms;
        delay *= 0.5 + (double)random() / ((double)RAND_MAX + 1.0); /* jitter: 0.5x .. 1.5x */
        if ((double)not_before_ms > delay)
            delay = (double)not_before_ms;
        CS_WARN("notify", "channel %s: attempt %u failed (%s); next in %.1f s", chname, attempts,
                why, delay / 1000);
        cs_notifier_db_mark(n, d->id, attempts, now_ms() + (int64_t)delay, CS_OUTBOX_PENDING, why);
    }
    free(d);
}

static void http_settle(delivery *d, const cs_notify_http_resp *r)
{
    char why[300];
    if (r->err) {
        snprintf(why, sizeof why, "%s", r->errmsg ? r->errmsg : cs_strerror(r->err));
        settle(d, false, true, why, 0);
        return;
    }
    long status = r->status;
    if (status >= 200 && status < 300) {
        settle(d, true, false, NULL, 0);
        return;
    }
    size_t len = r->len > 200 ? 200 : r->len;
    snprintf(why, sizeof why, "HTTP %ld: %.*s", status, (int)len, r->body ? r->body : "");
    bool retry = status == 408 || status == 425 || status == 429 || status >= 500;
    /* RFC 9110 10.2.3: 429 and 503 may say when to come back */
    int64_t not_before = 0;
    if ((status == 429 || status == 503) && r->retry_after_s > 0) {
        long s = r->retry_after_s > CS_NOTIFY_MAX_RETRY_AFTER_S ? CS_NOTIFY_MAX_RETRY_AFTER_S
                                                                : r->retry_after_s;
        not_before = (int64_t)s * 1000;
        size_t l = strlen(why);
        snprintf(why + l, sizeof why - l, " (Retry-After: %ld s)", r->retry_after_s);
    }
    settle(d, false, retry, why, not_before);
}

/* HTTP and mail deliveries hold the notifier until their callback: a
 * plugged-in client may answer after cs_notifier_close. */
static void http_done(void *arg, const cs_notify_http_resp *r)
{
    delivery *d = arg;
    cs_notifier *n = d->n;
    http_settle(d, r);
    n->holds--;
    cs_notifier_maybe_free(n);
}

static void mail_done(const cs_http_response *res, void *arg)
{
    delivery *d = arg;
    cs_notifier *n = d->n;
    char why[300];
    if (!res->error) {
        settle(d, true, false, NULL, 0);
    } else {
        long status = res->status;
        snprintf(why, sizeof why, "SMTP %ld: %s", status,
                 res->error_text && res->error_text[0] ? res->error_text : cs_strerror(res->error));
        /* a 5xx reply is permanent (bad address); everything else may pass later */
        settle(d, false, !(status >= 500 && status < 600), why, 0);
    }
    n->holds--;
    cs_notifier_maybe_free(n);
}

static void script_done(void *arg, int err, int64_t status, int sig, const char *out, size_t outlen)
{
    (void)out;
    (void)outlen;
    delivery *d = arg;
    cs_notifier *n = d->n;
    n->holds--;
    char why[200];
    if (!err && status == 0 && !sig) {
        settle(d, true, false, NULL, 0);
    } else {
        if (err)
            snprintf(why, sizeof why, "%s", cs_strerror(err));
        else
            snprintf(why, sizeof why, "exit status %lld, signal %d", (long long)status, sig);
        settle(d, false, true, why, 0);
    }
    cs_notifier_maybe_free(n);
}

static bool take_token(chstate *c, int64_t now)
{
    double rate = c->conf->rate_per_minute;
    if (rate <= 0)
        return true;
    double burst = c->conf->burst ? c->conf->burst : 5;
    c->tokens += (double)(now - c->refill_ms) * rate / 60000.0;
    if (c->tokens > burst)
        c->tokens = burst;
    c->refill_ms = now;
    if (c->tokens < 1)
        return false;
    c->tokens -= 1;
    return true;
}

static void deliver(cs_notifier *n, const cs_outbox_item *it, size_t chi)
{
    chstate *c = &n->ch[chi];
    const cs_channel_conf *ch = c->conf;
    delivery *d = calloc(1, sizeof *d);
    if (!d || inflight_add(n, it->id)) {
        free(d);
        return;
    }
    d->n = n;
    d->id = it->id;
    d->attempts = it->attempts;
    d->ch = chi;
    snprintf(d->key, sizeof d->key, "%s", it->key);
    c->inflight++;
    int64_t now_s = cs_now_ns() / 1000000000;
    int rc;
    char why[200];
    const char *subject = it->subject ? it->subject : "";
    const char *text = it->text ? it->text : "";
    const char *alert = it->alert ? it->alert : "{}";
    switch (ch->type) {
    case CS_CH_EMAIL: {
        cs_buf msg;
        cs_buf_init(&msg, CS_LIMIT_EMAIL * 3);
        rc = cs_channel_build_mail(ch, it->key, subject, text, it->html ? it->html : "", now_s,
                                   &msg);
        if (!rc) {
            cs_mail_opts mo = {.url = ch->smtp,
                               .username = ch->username,
                               .password = ch->password,
                               .require_tls = ch->starttls,
                               .ca_file = ch->ca_file,
                               .insecure = ch->insecure,
                               .from = ch->from,
                               .to = (const char *const *)ch->to,
                               .nto = ch->nto,
                               .msg = msg.data,
                               .len = msg.len,
                               .timeout_ms = ch->timeout_ms ? ch->timeout_ms : 30000,
                               .connect_timeout_ms = 5000};
            rc = cs_mail_send(n->client, &mo, mail_done, d, NULL);
            if (!rc)
                n->holds++;
        }
        cs_buf_free(&msg);
        break;
    }
    case CS_CH_SCRIPT: {
        /* the document and a newline: line-oriented programs (tee -a, jq,
         * a shell's read) see one alert a line */
        size_t len = strlen(alert);
        char *in = malloc(len + 1);
        rc = in ? 0 : CS_ENOMEM;
        if (in) {
            memcpy(in, alert, len);
            in[len] = '\n';
            rc = cs_proc_run(n->o.loop, ch->command, in, len + 1, ch->timeout_ms, 1u << 16,
                             script_done, d);
            free(in);
        }
        if (!rc)
            n->holds++;
        break;
    }
    default: {
        cs_channel_req req;
        rc = cs_channel_build_http(ch, it->key, subject, text, alert, now_s, &req);
        if (!rc) {
            cs_notify_http_req hr = {.method = req.method,
                                     .url = req.url,
                                     .headers = (const char *const *)req.headers,
                                     .nheaders = req.nheaders,
                                     .body = req.body.data,
                                     .body_len = req.body.len,
                                     .timeout_ms = (uint32_t)ch->timeout_ms};
            n->holds++; /* before: a client may answer at once */
            rc = n->o.http(n->o.http_impl, &hr, http_done, d);
            if (rc)
                n->holds--;
        }
        cs_channel_req_free(&req);
        break;
    }
    }
    if (rc) {
        snprintf(why, sizeof why, "cannot start: %s", cs_strerror(rc));
        settle(d, false, true, why, 0);
    }
}

static void sweep_cb(uv_timer_t *t)
{
    cs_notifier *n = t->data;
    if (!n->closing)
        cs_notifier_db_job(n);
}

/* The job's due rows, back on the loop: each one is delivered unless its
 * channel is gone, busy or out of tokens (then the next sweep sees it). */
void cs_notifier_deliver_due(cs_notifier *n, cs_outbox_item *items, size_t cnt)
{
    int64_t now = now_ms();
    for (size_t i = 0; i < cnt; i++) {
        size_t chi;
        if (n->closing) {
            /* stays pending */
        } else if (!find_channel(n, items[i].channel, &chi)) {
            n->st.dead++;
            CS_ERROR("notify", "notification %s: channel '%s' is no longer configured",
                     items[i].key, items[i].channel);
            cs_notifier_db_mark(n, items[i].id, items[i].attempts, 0, CS_OUTBOX_DEAD,
                                "channel no longer configured");
        } else if (n->ch[chi].inflight >= n->o.max_in_flight) {
            /* busy: next sweep */
        } else if (!take_token(&n->ch[chi], now)) {
            n->st.rate_limited++;
        } else {
            deliver(n, &items[i], chi);
        }
        cs_outbox_item_clear(&items[i]);
    }
}
