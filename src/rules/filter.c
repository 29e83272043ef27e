/* Custom filters (see monitor_int.h and docs/monitors.md): the program gets
 *   {"matches":[ALERT, ...]}            (at most 25 alert documents)
 * on stdin and answers on stdout
 *   {"matches":[{"id":"...","metadata":{...}}, ...]}
 * naming the matches to keep (by their "id", or by "hash": the transaction
 * hash, as Defender's filters do). "metadata" is added to that alert. An
 * exit status other than 0, a malformed answer or the timeout apply the
 * monitor's on_error / on_timeout choice to the whole batch. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "net/proc.h"
#include "rules/monitor_int.h"

typedef struct frun {
    cs_pmatch *batch;
    size_t n;
    const cs_monitor_filter *f;
    cs_filter_done_cb cb;
    void *arg;
} frun;

static bool str_is(const cs_val *v, const char *s, size_t n)
{
    return v->kind == CS_VAL_STR && v->n == n && memcmp(v->p, s, n) == 0;
}

/* Rebuilds p's document with "metadata" added. */
static void add_metadata(cs_pmatch *p, const cs_val *meta)
{
    cs_val doc;
    if (cs_val_read(p->doc, p->len, &doc, NULL))
        return;
    cs_vw w;
    cs_vw_init(&w, 0);
    cs_vw_object_begin(&w);
    cs_val_iter it;
    cs_val_iter_init(&it, &doc);
    const char *k;
    size_t kl;
    cs_val v;
    while (cs_val_next(&it, &k, &kl, &v) == 1) {
        if (kl == 8 && memcmp(k, "metadata", 8) == 0)
            continue;
        cs_vw_keyn(&w, k, kl);
        cs_vw_raw(&w, v.raw, v.raw_len);
    }
    cs_vw_key(&w, "metadata");
    cs_vw_raw(&w, meta->raw, meta->raw_len);
    cs_vw_object_end(&w);
    if (!cs_vw_error(&w)) {
        free(p->doc);
        p->doc = cs_buf_steal(&w.buf, &p->len);
    }
    cs_vw_free(&w);
}

static int decide(frun *r, const char *out, size_t outlen, bool *keep)
{
    cs_vw w;
    cs_vw_init(&w, CS_FILTER_MAX_OUTPUT * 2);
    char err[200];
    int rc = cs_json_parse_value(out, outlen, &w, err, sizeof err);
    cs_val root, list;
    if (rc == 0)
        rc = cs_val_read(w.buf.data, w.buf.len, &root, NULL);
    if (rc == 0 && root.kind != CS_VAL_OBJECT)
        rc = CS_EPARSE;
    if (rc == 0 && cs_val_get(&root, "matches", 7, &list) != 0) {
        memset(keep, 0, r->n * sizeof *keep); /* {}: nothing matched */
        cs_vw_free(&w);
        return 0;
    }
    if (rc == 0 && list.kind != CS_VAL_ARRAY)
        rc = CS_EPARSE;
    if (rc) {
        cs_vw_free(&w);
        return rc;
    }
    memset(keep, 0, r->n * sizeof *keep);
    cs_val_iter it;
    cs_val_iter_init(&it, &list);
    cs_val item;
    while (cs_val_next(&it, NULL, NULL, &item) == 1) {
        cs_val id, hash, meta;
        bool has_id = item.kind == CS_VAL_OBJECT && cs_val_get(&item, "id", 2, &id) == 0;
        bool has_hash = item.kind == CS_VAL_OBJECT && cs_val_get(&item, "hash", 4, &hash) == 0;
        bool has_meta = item.kind == CS_VAL_OBJECT && cs_val_get(&item, "metadata", 8, &meta) == 0;
        for (size_t i = 0; i < r->n; i++) {
            bool hit = has_id && str_is(&id, r->batch[i].id, strlen(r->batch[i].id));
            if (!hit && has_hash) {
                cs_val doc, th;
                hit = cs_val_read(r->batch[i].doc, r->batch[i].len, &doc, NULL) == 0 &&
                      cs_val_path(&doc, "transaction.hash", 16, &th) == 0 &&
                      th.kind == CS_VAL_STR && str_is(&hash, (const char *)th.p, th.n);
            }
            if (hit) {
                keep[i] = true;
                if (has_meta)
                    add_metadata(&r->batch[i], &meta);
            }
        }
    }
    cs_vw_free(&w);
    return 0;
}

static void done(void *arg, int err, int64_t status, int sig, const char *out, size_t outlen)
{
    frun *r = arg;
    bool keep[CS_FILTER_BATCH];
    const char *outcome = "ok";
    if (err == CS_ETIMEDOUT) {
        outcome = "timeout";
        for (size_t i = 0; i < r->n; i++)
            keep[i] = r->f->keep_on_timeout;
    } else if (err || status != 0 || sig || decide(r, out, outlen, keep)) {
        outcome = "error";
        if (err)
            CS_WARN("monitors", "custom filter %s: %s", r->f->argv[0], cs_strerror(err));
        else if (status || sig)
            CS_WARN("monitors", "custom filter %s exited with status %lld signal %d", r->f->argv[0],
                    (long long)status, sig);
        else
            CS_WARN("monitors", "custom filter %s: answer is not {\"matches\": [...]}",
                    r->f->argv[0]);
        for (size_t i = 0; i < r->n; i++)
            keep[i] = r->f->keep_on_error;
    }
    r->cb(r->arg, r->batch, r->n, keep, outcome);
    free(r);
}

int cs_filter_start(uv_loop_t *loop, const cs_monitor_filter *f, cs_pmatch *batch, size_t n,
                    cs_filter_done_cb cb, void *arg)
{
    if (n == 0 || n > CS_FILTER_BATCH || !f->argv)
        return CS_EINVAL;
    cs_buf in;
    cs_buf_init(&in, 0);
    cs_buf_append_str(&in, "{\"matches\":[");
    for (size_t i = 0; i < n; i++) {
        cs_val doc;
        if (i)
            cs_buf_putc(&in, ',');
        if (cs_val_read(batch[i].doc, batch[i].len, &doc, NULL) == 0)
            cs_json_value(&in, &doc);
        else
            cs_buf_append_str(&in, "null");
    }
    cs_buf_append_str(&in, "]}\n");
    frun *r = calloc(1, sizeof *r);
    if (!r) {
        cs_buf_free(&in);
        return CS_ENOMEM;
    }
    *r = (frun){batch, n, f, cb, arg};
    uint64_t ms = f->timeout_ns > 0 ? (uint64_t)(f->timeout_ns / 1000000) : 10000;
    int rc =
        cs_proc_run(loop, f->argv, in.data, in.len, ms ? ms : 1, CS_FILTER_MAX_OUTPUT, done, r);
    cs_buf_free(&in);
    if (rc)
        free(r);
    return rc;
}
