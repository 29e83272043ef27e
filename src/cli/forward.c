/* Bus to log server forwarding on a thread (forward.h). */
#include "cli/forward.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainscope/client.h"
#include "core/error.h"

struct cs_forward {
    cs_client *client;
    cs_sub *sub;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    cs_event **q; /* ring of event references */
    size_t head, len, cap;
    bool finishing;
    int timeout_ms;
    int err; /* first error of the thread; then everything is dropped */
    char reason[160];
    cs_forward_stats st;
};

/* Loop thread: queue a reference; never blocks on the server. */
static void on_event(cs_sub *sub, cs_event *ev, void *arg)
{
    cs_forward *f = arg;
    (void)sub;
    pthread_mutex_lock(&f->mu);
    if (f->len == f->cap || f->err) {
        f->st.dropped++;
    } else {
        f->q[(f->head + f->len) % f->cap] = cs_event_ref(ev);
        f->len++;
        pthread_cond_signal(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
}

static void fail(cs_forward *f, int rc, const char *what)
{
    f->err = rc;
    const char *srv = cs_client_error(f->client);
    snprintf(f->reason, sizeof f->reason, "%s: %s%s%s", what, cs_strerror(rc), srv[0] ? ": " : "",
             srv);
}

/* The thread: writes events in batches, flushes when the queue runs dry
 * (so that subscribers see them soon), and once more at the end. */
static void *run(void *arg)
{
    cs_forward *f = arg;
    cs_event *batch[256];
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (f->len == 0 && !f->finishing)
            pthread_cond_wait(&f->cv, &f->mu);
        size_t n = 0;
        while (f->len && n < sizeof batch / sizeof *batch) {
            batch[n++] = f->q[f->head];
            f->head = (f->head + 1) % f->cap;
            f->len--;
        }
        bool last = f->finishing && f->len == 0;
        bool dry = f->len == 0;
        int failed = f->err;
        pthread_mutex_unlock(&f->mu);
        int rc = 0;
        uint64_t sent = 0;
        for (size_t i = 0; i < n; i++) {
            if (!failed && rc == 0)
                rc = cs_client_publish(f->client, batch[i]->wire, batch[i]->wire_len);
            if (!failed && rc == 0)
                sent++;
            cs_event_unref(batch[i]);
        }
        if (!failed && rc == 0 && dry)
            rc = cs_client_flush(f->client, last ? f->timeout_ms : 5000);
        pthread_mutex_lock(&f->mu);
        f->st.sent += sent;
        f->st.dropped += n - sent;
        if (rc && !f->err)
            fail(f, rc, "publish");
        if (last)
            break;
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

int cs_forward_start(cs_bus *bus, const char *const *filters, size_t nfilters, const char *address,
                     const char *name, size_t queue_max, cs_forward **out, char *err, size_t errlen)
{
    cs_forward *f = calloc(1, sizeof *f);
    if (!f)
        return CS_ENOMEM;
    f->cap = queue_max ? queue_max : 65536;
    f->q = calloc(f->cap, sizeof *f->q);
    char reason[CS_CLIENT_REASON_MAX] = "";
    int rc = f->q ? cs_client_connect_reason(address, name, getenv("CHAINSCOPE_TOKEN"), reason,
                                             sizeof reason, &f->client)
                  : CS_ENOMEM;
    if (rc) {
        if (reason[0])
            snprintf(err, errlen, "cannot connect to %s: refused by the server: %s", address,
                     reason);
        else
            snprintf(err, errlen, "cannot connect to %s: %s", address, cs_strerror(rc));
        free(f->q);
        free(f);
        return rc;
    }
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    cs_sub_opts so = {.filters = filters,
                      .nfilters = nfilters,
                      .queue_max = f->cap,
                      .cb = on_event,
                      .arg = f,
                      .name = name};
    if ((rc = cs_bus_subscribe(bus, &so, &f->sub)) != 0)
        snprintf(err, errlen, "bad filter");
    else if (pthread_create(&f->thread, NULL, run, f) != 0) {
        cs_bus_unsubscribe(f->sub);
        rc = CS_ENOMEM;
        snprintf(err, errlen, "cannot start a thread");
    }
    if (rc) {
        cs_client_close(f->client);
        pthread_mutex_destroy(&f->mu);
        pthread_cond_destroy(&f->cv);
        free(f->q);
        free(f);
        return rc;
    }
    *out = f;
    return 0;
}

int cs_forward_finish(cs_forward *f, int timeout_ms, cs_forward_stats *stats, char *err,
                      size_t errlen)
{
    uint64_t bus_dropped = cs_sub_dropped(f->sub); /* at the bus queue's bound */
    cs_bus_unsubscribe(f->sub);
    pthread_mutex_lock(&f->mu);
    f->finishing = true;
    f->timeout_ms = timeout_ms;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    int rc = f->err;
    if (rc && err)
        snprintf(err, errlen, "%s", f->reason);
    if (stats) {
        *stats = f->st;
        stats->dropped += bus_dropped;
    }
    cs_client_close(f->client);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f->q);
    free(f);
    return rc;
}
