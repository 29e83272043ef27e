/* The notifier's outbox work on a worker thread (see notifier_int.h): a
 * job writes the queued alerts, messages and delivery outcomes in one
 * transaction, prunes old rows now and then, and reads the due rows. One
 * job at a time; the loop thread touches the outbox only in
 * cs_notifier_commit and at close, under the same mutex. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/event.h"
#include "core/log.h"
#include "notify/notifier_int.h"

struct cs_notify_job {
    uv_work_t req;
    cs_notifier *n;
    cs_notify_op *ops;
    int64_t now_ms;
    int64_t *skip;
    size_t nskip;
    bool prune;
    bool applied; /* its ops are written (by the worker, or by the close) */
    uint64_t pruned, db_bytes;
    cs_outbox_item items[CS_NOTIFY_SWEEP_BATCH];
    size_t cnt;
};

void cs_notify_row_clear(cs_notify_row *r)
{
    free(r->channel);
    free(r->subject);
    free(r->text);
    free(r->html);
    memset(r, 0, sizeof *r);
}

void cs_notify_op_free(cs_notify_op *op)
{
    if (!op)
        return;
    for (size_t i = 0; i < op->nrows; i++)
        cs_notify_row_clear(&op->rows[i]);
    free(op->rows);
    free(op->id);
    free(op->monitor);
    free(op->network);
    free(op->alert);
    free(op->error);
    free(op);
}

int cs_notifier_db_open(cs_notifier *n, const char *path, char *err, size_t errlen)
{
    n->ops_tail = &n->ops;
    int rc = cs_outbox_open(path, &n->ob, err, errlen);
    if (rc)
        return rc;
    pthread_mutex_init(&n->mu, NULL);
    n->have_mu = true;
    return 0;
}

/* Worker thread (or the loop under mu): writes ops in one transaction. */
static void apply(cs_outbox *ob, cs_notify_op *ops)
{
    for (cs_notify_op *op = ops; op; op = op->next) {
        if (op->kind == CS_NOTIFY_OP_MARK) {
            if (op->state == CS_OUTBOX_SENT)
                cs_outbox_mark_sent(ob, op->rowid, op->at_ms);
            else
                cs_outbox_mark_failed(ob, op->rowid, op->attempts, op->at_ms,
                                      op->state == CS_OUTBOX_DEAD, op->error);
            continue;
        }
        if (op->kind == CS_NOTIFY_OP_ALERT)
            cs_outbox_record_match(ob, op->id, op->monitor, op->network, op->time_ns, true, NULL,
                                   op->alert);
        for (size_t i = 0; i < op->nrows; i++) {
            cs_notify_row *r = &op->rows[i];
            r->added = cs_outbox_add(ob, r->key, r->channel, op->monitor, r->subject, r->text,
                                     r->html, op->alert, op->at_ms);
        }
    }
    cs_outbox_commit(ob);
}

/* Loop thread: counts what a job (or a commit) wrote, tells the owner
 * which ids are stored, frees the ops. */
static void settle_ops(cs_notifier *n, cs_notify_op *ops)
{
    while (ops) {
        cs_notify_op *op = ops;
        ops = op->next;
        n->nsettled++;
        if (op->kind == CS_NOTIFY_OP_MARK) {
            cs_notifier_inflight_del(n, op->rowid);
        } else {
            bool ok = true;
            for (size_t i = 0; i < op->nrows; i++) {
                const cs_notify_row *r = &op->rows[i];
                if (r->added == 1) {
                    n->st.queued++;
                } else if (r->added == 0) {
                    n->st.duplicates++;
                } else {
                    ok = false;
                    CS_ERROR("notify", "outbox: cannot queue %s for %s: %s", op->id, r->channel,
                             cs_strerror(r->added));
                }
            }
            if (ok && n->o.on_stored)
                n->o.on_stored(op->id, n->o.arg);
        }
        cs_notify_op_free(op);
    }
    cs_notifier_db_wake(n, false);
}

void cs_notifier_db_wake(cs_notifier *n, bool all)
{
    while (n->waits && (all || n->waits->upto <= n->nsettled)) {
        struct stored_wait *w = n->waits;
        n->waits = w->next;
        if (!n->waits)
            n->waits_tail = &n->waits;
        w->cb(w->arg);
        free(w);
    }
}

int cs_notifier_when_stored(cs_notifier *n, void (*cb)(void *), void *arg)
{
    if (!n->waits_tail)
        n->waits_tail = &n->waits;
    if (n->nsettled >= n->nqueued && !n->waits) {
        cb(arg);
        return 0;
    }
    struct stored_wait *w = malloc(sizeof *w);
    if (!w)
        return CS_ENOMEM;
    *w = (struct stored_wait){n->nqueued, cb, arg, NULL};
    *n->waits_tail = w;
    n->waits_tail = &w->next;
    return 0;
}

static cs_notify_op *take_ops(cs_notifier *n)
{
    cs_notify_op *ops = n->ops;
    n->ops = NULL;
    n->ops_tail = &n->ops;
    return ops;
}

void cs_notifier_db_queue(cs_notifier *n, cs_notify_op *op)
{
    n->nqueued++;
    op->next = NULL;
    *n->ops_tail = op;
    n->ops_tail = &op->next;
}

void cs_notifier_db_mark(cs_notifier *n, int64_t rowid, uint32_t attempts, int64_t at_ms, int state,
                         const char *error)
{
    cs_notify_op *op = calloc(1, sizeof *op);
    if (!op) {
        cs_notifier_inflight_del(n, rowid); /* the row stays as it was: sent again */
        return;
    }
    op->kind = CS_NOTIFY_OP_MARK;
    op->rowid = rowid;
    op->attempts = attempts;
    op->at_ms = at_ms;
    op->state = state;
    op->error = error ? strdup(error) : NULL;
    cs_notifier_db_queue(n, op);
}

int cs_notifier_commit(cs_notifier *n)
{
    if (!n->ob)
        return CS_ECLOSED;
    cs_notify_op *ops = take_ops(n);
    pthread_mutex_lock(&n->mu);
    apply(n->ob, ops);
    pthread_mutex_unlock(&n->mu);
    settle_ops(n, ops);
    return 0;
}

/* At close, on the loop: waits for a job that is writing, writes the ops
 * of a job not yet started and what is queued, and closes the outbox (a
 * job that starts later finds it closed). */
void cs_notifier_db_close(cs_notifier *n)
{
    if (!n->have_mu) {
        cs_outbox_close(n->ob);
        n->ob = NULL;
        return;
    }
    cs_notify_op *ops = take_ops(n);
    pthread_mutex_lock(&n->mu);
    if (n->ob) {
        if (n->job && !n->job->applied) {
            apply(n->ob, n->job->ops);
            n->job->applied = true;
        }
        apply(n->ob, ops);
        cs_outbox_close(n->ob);
        n->ob = NULL;
    }
    pthread_mutex_unlock(&n->mu);
    settle_ops(n, ops);
}

void cs_notifier_db_free(cs_notifier *n)
{
    cs_notifier_db_close(n);
    cs_notifier_db_wake(n, true);
    if (n->have_mu)
        pthread_mutex_destroy(&n->mu);
    n->have_mu = false;
}

static void job_work(uv_work_t *req)
{
    cs_notify_job *j = req->data;
    cs_notifier *n = j->n;
    pthread_mutex_lock(&n->mu);
    if (!n->ob) { /* closed meanwhile: the close wrote the ops */
        pthread_mutex_unlock(&n->mu);
        return;
    }
    apply(n->ob, j->ops);
    j->applied = true;
    if (j->prune) {
        if (cs_outbox_prune(n->ob, j->now_ms - (int64_t)n->o.keep_ms, n->o.keep_rows, &j->pruned))
            j->pruned = 0;
        cs_outbox_size(n->ob, &j->db_bytes);
    }
    if (cs_outbox_due(n->ob, j->now_ms, j->skip, j->nskip, j->items, CS_NOTIFY_SWEEP_BATCH,
                      &j->cnt))
        j->cnt = 0;
    pthread_mutex_unlock(&n->mu);
}

static void job_done(uv_work_t *req, int status)
{
    (void)status;
    cs_notify_job *j = req->data;
    cs_notifier *n = j->n;
    n->job = NULL;
    settle_ops(n, j->ops);
    if (j->prune) {
        n->st.pruned += j->pruned;
        n->st.db_bytes = j->db_bytes;
        if (j->pruned)
            CS_INFO("notify", "outbox: %llu old row%s deleted (notify.keep, notify.keep_rows)",
                    (unsigned long long)j->pruned, j->pruned == 1 ? "" : "s");
    }
    cs_notifier_deliver_due(n, j->items, j->cnt);
    free(j->skip);
    free(j);
    n->holds--;
    if (n->again && !n->closing) {
        n->again = false;
        cs_notifier_db_job(n);
    }
    cs_notifier_maybe_free(n);
}

void cs_notifier_db_job(cs_notifier *n)
{
    if (n->job) {
        n->again = true;
        return;
    }
    cs_notify_job *j = calloc(1, sizeof *j);
    int64_t *skip = n->ninflight ? malloc(n->ninflight * sizeof *skip) : NULL;
    if (!j || (n->ninflight && !skip)) {
        free(j);
        free(skip);
        return; /* the next sweep tries again */
    }
    j->n = n;
    j->req.data = j;
    j->now_ms = cs_now_ns() / 1000000;
    j->skip = skip;
    j->nskip = n->ninflight;
    if (skip)
        memcpy(skip, n->inflight, n->ninflight * sizeof *skip);
    if (j->now_ms - n->last_prune_ms >=
        (int64_t)(n->o.prune_ms ? n->o.prune_ms : CS_NOTIFY_PRUNE_MS)) {
        j->prune = true;
        n->last_prune_ms = j->now_ms;
    }
    j->ops = take_ops(n);
    if (uv_queue_work(n->o.loop, &j->req, job_work, job_done)) {
        n->ops = j->ops; /* put back: the next sweep tries again */
        cs_notify_op **t = &n->ops;
        while (*t)
            t = &(*t)->next;
        n->ops_tail = t;
        free(skip);
        free(j);
        return;
    }
    n->job = j;
    n->holds++;
}
