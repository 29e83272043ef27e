/* What notifier.c (rendering, delivery) and notifier_db.c (the outbox
 * jobs on a worker) share. Loop thread, except where a comment says. */
#ifndef CS_NOTIFY_NOTIFIER_INT_H
#define CS_NOTIFY_NOTIFIER_INT_H

#include <pthread.h>

#include "notify/notifier.h"
#include "notify/outbox.h"

#define CS_NOTIFY_SWEEP_BATCH 64 /* due rows per job */
#define CS_NOTIFY_PRUNE_MS 60000 /* retention runs at most once a minute */

typedef struct chstate {
    const cs_channel_conf *conf;
    double tokens;
    int64_t refill_ms;
    size_t inflight;
} chstate;

/* One notification rendered for one channel, waiting for a job. */
typedef struct cs_notify_row {
    char key[33];
    char *channel, *subject, *text, *html;
    int added; /* the job's answer: 1 added, 0 already there, < 0 error */
} cs_notify_row;

enum { CS_NOTIFY_OP_ALERT, CS_NOTIFY_OP_MESSAGE, CS_NOTIFY_OP_MARK };

/* A write for the next job: an alert (recorded, and its rows), a message
 * (its rows) or the outcome of a delivery. */
typedef struct cs_notify_op {
    struct cs_notify_op *next;
    int kind;
    char *id, *monitor, *network, *alert;
    int64_t time_ns;
    cs_notify_row *rows;
    size_t nrows;
    /* CS_NOTIFY_OP_MARK */
    int64_t rowid, at_ms;
    uint32_t attempts;
    int state;
    char *error;
} cs_notify_op;

typedef struct cs_notify_job cs_notify_job;

struct cs_notifier {
    cs_notifier_opts o;
    cs_outbox *ob;      /* touched by one job at a time, or under mu */
    pthread_mutex_t mu; /* held while a job or cs_notifier_commit uses ob */
    bool have_mu;
    cs_notify_op *ops, **ops_tail; /* queued for the next job */
    cs_notify_job *job;            /* in flight, or NULL */
    bool again;                    /* a sweep came while the job ran */
    int64_t last_prune_ms;
    cs_http_client *client; /* webhooks and chat APIs (unless opts.http), and mail */
    chstate *ch;
    size_t nch;
    uv_timer_t timer;
    int64_t *inflight; /* rows being delivered, or settled but not yet written */
    size_t ninflight, capinflight;
    cs_notifier_stats st;
    bool closing;
    int holds; /* timer + deliveries and the job in flight */
    void (*done)(void *);
    void *done_arg;
    cs_buf json;
    /* cs_notifier_when_stored: ops queued and settled so far, and the
     * callbacks waiting for a count of settled ops (in call order) */
    uint64_t nqueued, nsettled;
    struct stored_wait {
        uint64_t upto;
        void (*cb)(void *);
        void *arg;
        struct stored_wait *next;
    } * waits, **waits_tail;
};

typedef struct delivery {
    cs_notifier *n;
    int64_t id;
    uint32_t attempts;
    size_t ch;
    char key[33];
} delivery;

void cs_notify_row_clear(cs_notify_row *r);
void cs_notify_op_free(cs_notify_op *op);

int cs_notifier_db_open(cs_notifier *n, const char *path, char *err, size_t errlen);
/* Writes what is still queued (on the calling thread) and closes the
 * outbox; cs_notifier_db_free also frees the rest (no job in flight). */
void cs_notifier_db_close(cs_notifier *n);
void cs_notifier_db_free(cs_notifier *n);
/* Takes op. */
void cs_notifier_db_queue(cs_notifier *n, cs_notify_op *op);
/* Records a delivery's outcome (state CS_OUTBOX_*); the row stays in the
 * in-flight list until the job that writes it is back. */
void cs_notifier_db_mark(cs_notifier *n, int64_t rowid, uint32_t attempts, int64_t at_ms, int state,
                         const char *error);
/* Starts a job unless one runs (then one more follows it). */
void cs_notifier_db_job(cs_notifier *n);

/* notifier.c: delivers the rows a job found due (and clears them). */
void cs_notifier_deliver_due(cs_notifier *n, cs_outbox_item *items, size_t cnt);
void cs_notifier_inflight_del(cs_notifier *n, int64_t id);
void cs_notifier_maybe_free(cs_notifier *n);
/* notifier_db.c: runs the when_stored callbacks that are due (all: at close). */
void cs_notifier_db_wake(cs_notifier *n, bool all);

#endif
