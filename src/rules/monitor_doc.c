/* The alert document and the end of a match's way: custom filter, alert
 * policy, alert.fired, the on_match callback (see engine_int.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "rules/engine_int.h"
#include "core/u256.h"
#include "rules/evm_fields.h"
#include "bus/spool.h"

/* ---- the alert document --------------------------------------------------- */

void cs_mon_w_monitor(cs_vw *w, const cs_monitor *m, const char *network)
{
    const cs_monitor_def *d = &m->def;
    cs_vw_key(w, "monitor");
    cs_vw_object_begin(w);
    cs_vw_kv_str(w, "name", d->name);
    cs_vw_kv_str(w, "kind", d->kind == CS_MONITOR_CONTRACT ? "contract" : "event");
    cs_vw_kv_str(w, "severity", cs_severity_name(d->severity));
    cs_vw_kv_str(w, "risk", cs_risk_name(d->risk));
    cs_vw_kv_str(w, "network", network);
    if (d->kind == CS_MONITOR_CONTRACT) {
        cs_vw_key(w, "addresses");
        cs_vw_array_begin(w);
        for (size_t i = 0; i < d->naddresses; i++)
            cs_vw_cstr(w, d->addresses[i]);
        cs_vw_array_end(w);
        cs_vw_kv_u64(w, "confirmBlocks", d->confirmations);
        if (d->abi)
            cs_vw_kv_str(w, "abi", d->abi);
    } else {
        cs_vw_key(w, "subjects");
        cs_vw_array_begin(w);
        for (size_t i = 0; i < d->nsubjects; i++)
            cs_vw_cstr(w, d->subjects[i]);
        cs_vw_array_end(w);
    }
    cs_vw_object_end(w);
    cs_vw_kv_str(w, "network", network);
    cs_vw_kv_str(w, "severity", cs_severity_name(d->severity));
    cs_vw_kv_str(w, "risk", cs_risk_name(d->risk));
}

/* Copies the members of an object value into the open object. */
void cs_mon_w_members(cs_vw *w, const cs_val *obj)
{
    cs_val_iter it;
    cs_val_iter_init(&it, obj);
    const char *k;
    size_t kl;
    cs_val v;
    while (cs_val_next(&it, &k, &kl, &v) == 1) {
        cs_vw_keyn(w, k, kl);
        cs_vw_raw(w, v.raw, v.raw_len);
    }
}

void cs_mon_w_field(cs_vw *w, const char *key, const cs_event *ev, const char *name)
{
    cs_val v;
    if (ev && cs_event_field(ev, name, strlen(name), &v) == 0) {
        cs_vw_key(w, key);
        cs_vw_raw(w, v.raw, v.raw_len);
    }
}

/* Appends "k: v" text for the formatted reasons. */
static void fmt_val(cs_buf *b, const cs_val *v)
{
    char t[200];
    if (cs_mon_val_text(v, t, sizeof t) >= 0)
        cs_buf_append_str(b, t);
    else
        cs_json_value(b, v);
}

static const char *reason_type[] = {"event", "function", "transaction"};

/* Copies an ABI value into the alert document with every integer as a
 * decimal string (arrays and tuples too), so that a JSON reader with
 * doubles (JavaScript) sees every digit (docs/monitors.md, "The alert
 * document"). */
void cs_mon_w_abi(cs_vw *w, const cs_val *v, int depth)
{
    char dec[80];
    if (v->kind == CS_VAL_INT) {
        if (v->neg)
            snprintf(dec, sizeof dec, "%lld", (long long)v->i);
        else
            snprintf(dec, sizeof dec, "%llu", (unsigned long long)v->u);
        cs_vw_cstr(w, dec);
    } else if (v->kind == CS_VAL_BIG) {
        cs_u256 x;
        cs_u256_from_be(&x, v->p, v->n);
        dec[0] = '-';
        size_t off = v->neg ? 1 : 0;
        size_t n = cs_u256_to_dec(&x, dec + off);
        cs_vw_str(w, dec, off + n);
    } else if ((v->kind == CS_VAL_ARRAY || v->kind == CS_VAL_OBJECT) && depth < 16) {
        cs_val_iter it;
        const char *k;
        size_t kl;
        cs_val item;
        bool obj = v->kind == CS_VAL_OBJECT;
        obj ? cs_vw_object_begin(w) : cs_vw_array_begin(w);
        cs_val_iter_init(&it, v);
        while (cs_val_next(&it, &k, &kl, &item) == 1) {
            if (obj)
                cs_vw_keyn(w, k, kl);
            cs_mon_w_abi(w, &item, depth + 1);
        }
        obj ? cs_vw_object_end(w) : cs_vw_array_end(w);
    } else {
        cs_vw_raw(w, v->raw, v->raw_len);
    }
}

void cs_mon_w_reasons(cs_vw *w, cs_buf *fmt, const reason *r, size_t nr, const cs_monitor *m)
{
    cs_vw_key(w, "matchReasons");
    cs_vw_array_begin(w);
    for (size_t i = 0; i < nr; i++) {
        cs_buf_printf(fmt, "%sMatch reason %zu\nType: %s\n", i ? "\n" : "", i + 1,
                      reason_type[r[i].type]);
        cs_vw_object_begin(w);
        cs_vw_kv_str(w, "type", reason_type[r[i].type]);
        if (r[i].type == 2) {
            cs_vw_kv_str(w, "condition", m->def.tx_condition);
            cs_buf_printf(fmt, "Condition: %s\n", m->def.tx_condition);
            cs_vw_object_end(w);
            continue;
        }
        const cs_event *ev = r[i].ev;
        const char *addrf = r[i].type == 0 ? CS_EVF_LOG_ADDRESS : CS_EVF_TX_TO;
        cs_mon_w_field(w, "address", ev, addrf);
        cs_val v;
        if (cs_event_field(ev, addrf, strlen(addrf), &v) == 0) {
            cs_buf_append_str(fmt, "Address: ");
            fmt_val(fmt, &v);
            cs_buf_putc(fmt, '\n');
        }
        const char *sigf = r[i].type == 0 ? CS_EVF_LOG_SIGNATURE : CS_EVF_TX_SIGNATURE;
        if (cs_event_field(ev, sigf, strlen(sigf), &v) == 0 && v.kind == CS_VAL_STR) {
            cs_vw_key(w, "signature");
            cs_vw_raw(w, v.raw, v.raw_len);
            cs_buf_printf(fmt, "Signature: %.*s\n", (int)v.n, (const char *)v.p);
        } else {
            cs_vw_kv_str(w, "signature", r[i].sig->canon);
            cs_buf_printf(fmt, "Signature: %s\n", r[i].sig->canon);
        }
        cs_mon_w_field(w, "name", ev, r[i].type == 0 ? CS_EVF_LOG_EVENT : CS_EVF_TX_FUNCTION);
        if (r[i].type == 0)
            cs_mon_w_field(w, "log_index", ev, CS_EVF_LOG_INDEX);
        if (r[i].sig->src->condition) {
            cs_vw_kv_str(w, "condition", r[i].sig->src->condition);
            cs_buf_printf(fmt, "Condition: %s\n", r[i].sig->src->condition);
        }
        cs_val args;
        if (cs_event_field(ev, CS_EVF_ARGS, strlen(CS_EVF_ARGS), &args) == 0 &&
            (args.kind == CS_VAL_OBJECT || args.kind == CS_VAL_ARRAY)) {
            cs_val_iter it;
            const char *k;
            size_t kl;
            cs_vw_key(w, "args");
            cs_vw_array_begin(w);
            cs_val_iter_init(&it, &args);
            while (cs_val_next(&it, &k, &kl, &v) == 1)
                cs_mon_w_abi(w, &v, 0);
            cs_vw_array_end(w);
            if (args.kind == CS_VAL_OBJECT) {
                cs_vw_key(w, "params");
                cs_mon_w_abi(w, &args, 0);
                cs_buf_append_str(fmt, "Params:");
                cs_val_iter_init(&it, &args);
                while (cs_val_next(&it, &k, &kl, &v) == 1) {
                    cs_buf_printf(fmt, " %.*s=", (int)kl, k);
                    fmt_val(fmt, &v);
                }
                cs_buf_putc(fmt, '\n');
            }
        }
        cs_vw_object_end(w);
    }
    cs_vw_array_end(w);
}

const char *cs_mon_explorer(const cs_monitor_engine *e, const char *network)
{
    for (size_t i = 0; i < e->nexplorers; i++)
        if (strcmp(e->explorer_net[i], network) == 0)
            return e->explorer_url[i];
    return NULL;
}

/* ---- delivery: filter, policy, callback ------------------------------------ */

/* The end of a match's way: policy (unless the filter dropped it), record,
 * publish, callback. */
static void finish(cs_monitor *m, const char *id, const char *network, int64_t t,
                   const uint8_t *doc, size_t len, const char *dedup, bool filtered_out)
{
    cs_monitor_engine *e = m->eng;
    m->st.matches++;
    cs_suppress s = filtered_out ? CS_SUPPRESS_FILTER : cs_policy_decide(&m->pol, t, dedup);
    if (s == CS_SUPPRESS_NONE)
        m->st.notified++;
    else
        m->st.suppressed[s]++;
    cs_match mt = {.def = &m->def,
                   .id = id,
                   .network = network,
                   .time_ns = t,
                   .notify = s == CS_SUPPRESS_NONE,
                   .suppressed = s,
                   .channels = m->chans,
                   .nchannels = m->nchans,
                   .doc_raw = doc,
                   .doc_len = len};
    if (cs_val_read(doc, len, &mt.doc, NULL))
        return;
    if (mt.notify && e->has_pub && !e->closing) {
        cs_vw *w = cs_publisher_begin(&e->pub);
        cs_mon_w_members(w, &mt.doc);
        cs_vw_key(w, "channels");
        cs_vw_array_begin(w);
        for (size_t i = 0; i < m->nchans; i++)
            cs_vw_cstr(w, m->chans[i]);
        cs_vw_array_end(w);
        if (m->def.title)
            cs_vw_kv_str(w, "title", m->def.title);
        if (m->def.message)
            cs_vw_kv_str(w, "message", m->def.message);
        cs_event *ev = NULL;
        if (cs_publisher_emit(&e->pub, "alert.fired", network, m->def.name,
                              e->o.spool ? &ev : NULL) == 0 &&
            ev) {
            cs_spool_keep(e->o.spool, id, ev); /* until a notifier acknowledges it */
            cs_event_unref(ev);
        }
    }
    if (e->o.on_match)
        e->o.on_match(&mt, e->o.arg);
}

void cs_pmatch_clear(cs_pmatch *p)
{
    free(p->id);
    free(p->network);
    free(p->dedup);
    free(p->doc);
    memset(p, 0, sizeof *p);
}

typedef struct fctx {
    cs_monitor_engine *e;
    uint32_t mon;
    cs_pmatch batch[CS_FILTER_BATCH];
    size_t n;
} fctx;

static void filter_done(void *arg, cs_pmatch *batch, size_t n, const bool *keep,
                        const char *outcome)
{
    fctx *f = arg;
    cs_monitor_engine *e = f->e;
    cs_monitor *m = &e->mons[f->mon];
    if (strcmp(outcome, "ok") != 0)
        CS_WARN("monitors", "monitor %s: custom filter %s: %s the batch of %zu", m->def.name,
                outcome, keep[0] ? "keeping" : "dropping", n);
    for (size_t i = 0; i < n; i++) {
        if (!e->closing)
            finish(m, batch[i].id, batch[i].network, batch[i].t, batch[i].doc, batch[i].len,
                   batch[i].dedup, !keep[i]);
        cs_pmatch_clear(&batch[i]);
    }
    free(f);
    e->busy--;
    cs_mon_maybe_free(e);
}

void cs_mon_flush_filter(cs_monitor *m)
{
    cs_monitor_engine *e = m->eng;
    if (!m->fn)
        return;
    fctx *f = calloc(1, sizeof *f);
    int rc = CS_ENOMEM;
    if (f) {
        f->e = e;
        f->mon = m->idx;
        f->n = m->fn;
        memcpy(f->batch, m->fbatch, m->fn * sizeof *m->fbatch);
        rc = e->o.loop ? cs_filter_start(e->o.loop, &m->def.filter, f->batch, f->n, filter_done, f)
                       : CS_EUNSUPPORTED;
    }
    if (rc == 0) {
        e->busy++;
        m->fn = 0;
        return;
    }
    /* could not run the filter: its error policy decides */
    CS_WARN("monitors", "monitor %s: custom filter did not start (%s): %s the batch", m->def.name,
            cs_strerror(rc), m->def.filter.keep_on_error ? "keeping" : "dropping");
    for (size_t i = 0; i < m->fn; i++) {
        finish(m, m->fbatch[i].id, m->fbatch[i].network, m->fbatch[i].t, m->fbatch[i].doc,
               m->fbatch[i].len, m->fbatch[i].dedup, !m->def.filter.keep_on_error);
        cs_pmatch_clear(&m->fbatch[i]);
    }
    m->fn = 0;
    free(f);
}

static char *dupn(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = 0;
    }
    return s;
}

/* A match is built in e->doc: send it on its way. */
void cs_mon_deliver(cs_monitor *m, const char *id, const char *network, int64_t t,
                    const cs_event *trigger)
{
    cs_monitor_engine *e = m->eng;
    if (cs_vw_error(&e->doc)) {
        m->st.errors++;
        CS_WARN("monitors", "monitor %s: alert document: %s", m->def.name,
                cs_strerror(cs_vw_error(&e->doc)));
        return;
    }
    char dk[CS_WINDOW_MAX_KEY * 2];
    const char *dedup = NULL;
    if (m->dedup && trigger) {
        int n = cs_expr_eval_text(m->dedup, trigger, dk, sizeof dk);
        if (n >= 0)
            dedup = dk;
        else
            m->st.errors++;
    }
    if (!m->def.filter.argv) {
        finish(m, id, network, t, e->doc.buf.data, e->doc.buf.len, dedup, false);
        return;
    }
    cs_pmatch *p = &m->fbatch[m->fn];
    p->id = strdup(id);
    p->network = strdup(network);
    p->dedup = dedup ? strdup(dedup) : NULL;
    p->doc = (uint8_t *)dupn(e->doc.buf.data, e->doc.buf.len);
    p->len = e->doc.buf.len;
    p->t = t;
    if (!p->id || !p->network || !p->doc || (dedup && !p->dedup)) {
        cs_pmatch_clear(p);
        m->st.errors++;
        return;
    }
    if (++m->fn == CS_FILTER_BATCH)
        cs_mon_flush_filter(m);
}
