/* The notifier (see notifier.h). One repeating timer sweeps the outbox;
 * each due row becomes one delivery: an HTTP request, a mail or a script
 * run. */
#include "notify/notifier.h"

#include <libfyaml.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "net/mail.h"
#include "net/proc.h"
#include "notify/outbox.h"

#define SWEEP_BATCH 64

/* ---- the notify: section ------------------------------------------------ */

void cs_notify_conf_free(void *conf)
{
    cs_notify_conf *c = conf;
    if (!c)
        return;
    free(c->outbox);
    for (int i = 0; i < CS_SEV_COUNT; i++)
        cs_cfg_strv_free(c->defaults[i]);
    for (size_t i = 0; i < c->nexplorers; i++) {
        free(c->explorer_net[i]);
        free(c->explorer_url[i]);
    }
    free(c->explorer_net);
    free(c->explorer_url);
    free(c);
}

int cs_notify_conf_parse(cs_cfg *c, struct fy_node *n, void **out)
{
    static const char *const allowed[] = {"outbox",  "defaults",    "explorers", "retries",
                                          "backoff", "max_backoff", NULL};
    static const char *const sev_keys[] = {"low", "medium", "high", NULL};
    *out = NULL;
    cs_notify_conf *nc = calloc(1, sizeof *nc);
    if (!nc)
        return CS_ENOMEM;
    uint64_t u = 12;
    nc->backoff_ms = 1000;
    nc->max_backoff_ms = 600000;
    int rc;
    if ((rc = cs_cfg_expect_map(c, n, "notify", allowed)) ||
        (rc = cs_cfg_str(c, n, "notify", "outbox", &nc->outbox, false)) ||
        (rc = cs_cfg_uint(c, n, "notify", "retries", &u, 1, 1000, false)) ||
        (rc = cs_cfg_duration_ms(c, n, "notify", "backoff", &nc->backoff_ms, false)) ||
        (rc = cs_cfg_duration_ms(c, n, "notify", "max_backoff", &nc->max_backoff_ms, false)))
        goto fail;
    nc->max_attempts = (uint32_t)u;
    struct fy_node *d = cs_cfg_get(n, "defaults");
    if (d) {
        if ((rc = cs_cfg_expect_map(c, d, "notify.defaults", sev_keys)))
            goto fail;
        for (int i = 0; i < CS_SEV_COUNT; i++)
            if ((rc = cs_cfg_strv(c, d, "notify.defaults", sev_keys[i], &nc->defaults[i],
                                  &nc->ndefaults[i], false)))
                goto fail;
    }
    struct fy_node *ex = cs_cfg_get(n, "explorers");
    if (ex) {
        if (!fy_node_is_mapping(ex)) {
            rc = cs_cfg_error(c, ex, "notify.explorers",
                              "expected a mapping of networks to explorer URLs");
            goto fail;
        }
        if ((rc = cs_cfg_unique_keys(c, ex, "notify.explorers")))
            goto fail;
        size_t cnt = (size_t)fy_node_mapping_item_count(ex);
        nc->explorer_net = calloc(cnt + 1, sizeof(char *));
        nc->explorer_url = calloc(cnt + 1, sizeof(char *));
        if (!nc->explorer_net || !nc->explorer_url) {
            rc = CS_ENOMEM;
            goto fail;
        }
        void *it = NULL;
        struct fy_node_pair *p;
        while ((p = fy_node_mapping_iterate(ex, &it))) {
            char *k = cs_cfg_scalar(c, fy_node_pair_key(p), "notify.explorers");
            char *v = k ? cs_cfg_scalar(c, fy_node_pair_value(p), "notify.explorers") : NULL;
            if (!k || !v) {
                free(k);
                rc = CS_ECONFIG;
                goto fail;
            }
            size_t vl = strlen(v);
            while (vl && v[vl - 1] == '/')
                v[--vl] = 0;
            nc->explorer_net[nc->nexplorers] = k;
            nc->explorer_url[nc->nexplorers++] = v;
        }
    }
    *out = nc;
    return 0;
fail:
    cs_notify_conf_free(nc);
    return rc;
}

/* ---- the notifier ----------------------------------------------------------- */

typedef struct chstate {
    const cs_channel_conf *conf;
    double tokens;
    int64_t refill_ms;
    size_t inflight;
} chstate;

struct cs_notifier {
    cs_notifier_opts o;
    cs_outbox *ob;
    cs_http_client *client; /* webhooks and chat APIs (unless opts.http), and mail */
    chstate *ch;
    size_t nch;
    uv_timer_t timer;
    int64_t *inflight;
    size_t ninflight, capinflight;
    cs_notifier_stats st;
    bool closing;
    int holds; /* timer + script runs in flight */
    void (*done)(void *);
    void *done_arg;
    cs_buf json;
};

typedef struct delivery {
    cs_notifier *n;
    int64_t id;
    uint32_t attempts;
    size_t ch;
    char key[33];
} delivery;

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

static void maybe_free(cs_notifier *n)
{
    if (!n->closing || n->holds > 0)
        return;
    void (*done)(void *) = n->done;
    void *arg = n->done_arg;
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
    maybe_free(n);
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
    int rc = cs_outbox_open(o->outbox_path, &n->ob, err, errlen);
    if (!rc && (rc = cs_http_client_new(o->loop, 0, &n->client)))
        snprintf(err, errlen, "notify: cannot start the HTTP client: %s", cs_strerror(rc));
    if (rc) {
        cs_outbox_close(n->ob);
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
    cs_outbox_close(n->ob);
    n->ob = NULL;
    maybe_free(n);
}

int cs_notifier_commit(cs_notifier *n)
{
    return n->ob ? cs_outbox_commit(n->ob) : CS_ECLOSED;
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

void cs_notifier_on_match(const cs_match *m, void *arg)
{
    cs_notifier *n = arg;
    if (n->closing)
        return;
    n->st.matches++;
    n->json.len = 0;
    cs_json_value(&n->json, &m->doc);
    const char *alert = cs_buf_cstr(&n->json);
    cs_outbox_record_match(n->ob, m->id, m->def->name, m->network, m->time_ns, m->notify,
                           m->notify ? NULL : cs_suppress_name(m->suppressed), alert);
    if (!m->notify)
        return;
    for (size_t i = 0; i < m->nchannels; i++) {
        const char *name = m->channels[i];
        const cs_channel_conf *ch = find_channel(n, name, NULL);
        if (!ch) {
            n->st.unknown_channel++;
            CS_WARN("notify", "monitor %s: no channel named '%s' (see channels: in the config)",
                    m->def->name, name);
            continue;
        }
        cs_rendered r;
        cs_rendered_init(&r);
        char err[300];
        if (cs_channel_render(ch, m->def->title, m->def->message, &m->doc, &r, err, sizeof err)) {
            n->st.render_errors++;
            CS_WARN("notify", "monitor %s, channel %s: template: %s", m->def->name, name, err);
            cs_rendered_free(&r);
            continue;
        }
        char key[33];
        cs_notify_key(m->id, name, key);
        int rc = cs_outbox_add(
            n->ob, key, name, m->def->name, cs_buf_cstr(&r.subject), cs_buf_cstr(&r.text),
            ch->type == CS_CH_EMAIL ? cs_buf_cstr(&r.html) : NULL, alert, now_ms());
        if (rc == 1)
            n->st.queued++;
        else if (rc == 0)
            n->st.duplicates++;
        else
            CS_ERROR("notify", "outbox: cannot queue for %s: %s", name, cs_strerror(rc));
        cs_rendered_free(&r);
    }
    cs_notifier_kick(n);
}

int cs_notifier_send(cs_notifier *n, const cs_notify_msg *m)
{
    if (n->closing)
        return CS_ECLOSED;
    int queued = 0, err = 0;
    for (size_t i = 0; i < m->nchannels; i++) {
        const cs_channel_conf *ch = find_channel(n, m->channels[i], NULL);
        if (!ch) {
            n->st.unknown_channel++;
            CS_WARN("notify", "%s: no channel named '%s' (see channels: in the config)", m->source,
                    m->channels[i]);
            continue;
        }
        cs_rendered r;
        cs_rendered_init(&r);
        int rc = cs_channel_render_message(ch, m->subject, m->text, m->html, &r);
        char key[33];
        cs_notify_key(m->id, ch->name, key);
        if (!rc)
            rc = cs_outbox_add(n->ob, key, ch->name, m->source, cs_buf_cstr(&r.subject),
                               cs_buf_cstr(&r.text),
                               ch->type == CS_CH_EMAIL ? cs_buf_cstr(&r.html) : NULL,
                               m->json ? m->json : "{}", now_ms());
        cs_rendered_free(&r);
        if (rc == 1) {
            n->st.queued++;
            queued++;
        } else if (rc == 0) {
            n->st.duplicates++;
        } else {
            CS_ERROR("notify", "%s: cannot queue for %s: %s", m->source, ch->name, cs_strerror(rc));
            err = rc;
        }
    }
    cs_notifier_commit(n);
    cs_notifier_kick(n);
    return queued ? queued : err;
}

/* ---- delivery ------------------------------------------------------------------ */

static void inflight_del(cs_notifier *n, int64_t id)
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
    inflight_del(n, d->id);
    if (n->closing) { /* stays pending in the outbox: resumed after a restart */
        free(d);
        return;
    }
    const char *chname = n->ch[d->ch].conf->name;
    uint32_t attempts = d->attempts + 1;
    if (ok) {
        n->st.sent++;
        cs_outbox_mark_sent(n->ob, d->id, now_ms());
    } else if (!retry || attempts >= n->o.max_attempts) {
        n->st.dead++;
        CS_ERROR("notify", "channel %s: notification %s given up after %u attempt%s: %s", chname,
                 d->key, attempts, attempts == 1 ? "" : "s", why);
        cs_outbox_mark_failed(n->ob, d->id, attempts, 0, true, why);
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
        cs_outbox_mark_failed(n->ob, d->id, attempts, now_ms() + (int64_t)delay, false, why);
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
    maybe_free(n);
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
    maybe_free(n);
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
    maybe_free(n);
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
    if (n->closing)
        return;
    cs_outbox_item items[SWEEP_BATCH];
    size_t cnt = 0;
    int64_t now = now_ms();
    if (cs_outbox_due(n->ob, now, n->inflight, n->ninflight, items, SWEEP_BATCH, &cnt))
        return;
    for (size_t i = 0; i < cnt; i++) {
        size_t chi;
        if (!find_channel(n, items[i].channel, &chi)) {
            n->st.dead++;
            CS_ERROR("notify", "notification %s: channel '%s' is no longer configured",
                     items[i].key, items[i].channel);
            cs_outbox_mark_failed(n->ob, items[i].id, items[i].attempts, 0, true,
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
