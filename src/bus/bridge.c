/* Bus to log server and back, on a thread (see bridge.h). */
#include "bus/bridge.h"

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chainscope/client.h"
#include "core/error.h"
#include "core/event.h"
#include "core/log.h"

#define MAX_FILTERS 32

struct cs_bridge {
    cs_bus *bus;
    cs_sub *sub;
    char *address, *name;
    char *import[MAX_FILTERS];
    size_t nimport;
    pthread_t thread;
    pthread_mutex_t mu;
    cs_event **q; /* ring of references waiting for export */
    size_t head, len, cap;
    bool stopping;
    cs_bridge_stats st;
};

/* Loop thread: queue a reference; never blocks. */
static void on_export(cs_sub *sub, cs_event *ev, void *arg)
{
    (void)sub;
    cs_bridge *b = arg;
    pthread_mutex_lock(&b->mu);
    if (b->len == b->cap) {
        b->st.dropped++;
    } else {
        b->q[(b->head + b->len) % b->cap] = cs_event_ref(ev);
        b->len++;
    }
    pthread_mutex_unlock(&b->mu);
}

static bool stopping(cs_bridge *b)
{
    pthread_mutex_lock(&b->mu);
    bool s = b->stopping;
    pthread_mutex_unlock(&b->mu);
    return s;
}

static cs_client *connect_once(cs_bridge *b)
{
    cs_client *c;
    if (cs_client_connect(b->address, b->name, getenv("CHAINSCOPE_TOKEN"), &c))
        return NULL;
    for (size_t i = 0; i < b->nimport; i++)
        if (cs_client_subscribe(c, b->import[i])) {
            cs_client_close(c);
            return NULL;
        }
    return c;
}

/* Writes what waits for export; the events stay queued until written. */
static int export_some(cs_bridge *b, cs_client *c)
{
    cs_event *batch[256];
    size_t n = 0;
    pthread_mutex_lock(&b->mu);
    for (; n < b->len && n < sizeof batch / sizeof *batch; n++)
        batch[n] = b->q[(b->head + n) % b->cap];
    pthread_mutex_unlock(&b->mu);
    if (!n)
        return 0;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = cs_client_publish(c, batch[i]->wire, batch[i]->wire_len);
    if (!rc)
        rc = cs_client_flush(c, 5000);
    if (rc)
        return rc; /* kept: written again on the next connection */
    pthread_mutex_lock(&b->mu);
    for (size_t i = 0; i < n; i++) {
        cs_event_unref(b->q[b->head]);
        b->head = (b->head + 1) % b->cap;
        b->len--;
    }
    b->st.exported += n;
    pthread_mutex_unlock(&b->mu);
    return 0;
}

/* Reads what arrived (without waiting) onto the bus. */
static int import_some(cs_bridge *b, cs_client *c)
{
    for (int i = 0; i < 1024; i++) {
        const uint8_t *rec;
        size_t len;
        int rc = cs_client_next(c, &rec, &len, 0);
        if (rc == CS_ETIMEDOUT)
            return 0;
        if (rc)
            return rc;
        cs_event *ev;
        if (cs_event_decode(rec, len, &ev))
            continue;
        pthread_mutex_lock(&b->mu);
        b->st.imported++;
        pthread_mutex_unlock(&b->mu);
        cs_bus_publish_threadsafe(b->bus, ev);
    }
    return 0;
}

static void *run(void *arg)
{
    cs_bridge *b = arg;
    cs_client *c = NULL;
    bool said = false;
    while (!stopping(b)) {
        if (!c) {
            if (!(c = connect_once(b))) {
                if (!said)
                    CS_WARN("bridge", "cannot reach the log server at %s; trying every second",
                            b->address);
                said = true;
                struct timespec ts = {1, 0};
                nanosleep(&ts, NULL);
                continue;
            }
            said = false;
            pthread_mutex_lock(&b->mu);
            b->st.connects++;
            pthread_mutex_unlock(&b->mu);
            CS_INFO("bridge", "connected to %s", b->address);
        }
        struct pollfd p = {.fd = cs_client_fd(c), .events = POLLIN};
        if (!cs_client_pending(c))
            poll(&p, 1, 20);
        int rc = import_some(b, c);
        if (!rc)
            rc = export_some(b, c);
        if (rc) {
            CS_WARN("bridge", "log server %s: %s%s%s; connecting again", b->address,
                    cs_strerror(rc), cs_client_error(c)[0] ? ": " : "", cs_client_error(c));
            cs_client_close(c);
            c = NULL;
        }
    }
    if (c) {
        export_some(b, c); /* a last try for what waits */
        cs_client_close(c);
    }
    return NULL;
}

static void free_bridge(cs_bridge *b)
{
    for (size_t i = 0; i < b->nimport; i++)
        free(b->import[i]);
    while (b->len) {
        cs_event_unref(b->q[b->head]);
        b->head = (b->head + 1) % b->cap;
        b->len--;
    }
    free(b->q);
    free(b->address);
    free(b->name);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

int cs_bridge_start(cs_bus *bus, const cs_bridge_opts *o, cs_bridge **out)
{
    if (o->nimport > MAX_FILTERS)
        return CS_ELIMIT;
    cs_bridge *b = calloc(1, sizeof *b);
    if (!b)
        return CS_ENOMEM;
    pthread_mutex_init(&b->mu, NULL);
    b->bus = bus;
    b->cap = o->queue_max ? o->queue_max : 65536;
    b->q = calloc(b->cap, sizeof *b->q);
    b->address = strdup(o->address);
    b->name = strdup(o->name ? o->name : "chainscope");
    int rc = b->q && b->address && b->name ? 0 : CS_ENOMEM;
    for (size_t i = 0; !rc && i < o->nimport; i++)
        rc = (b->import[b->nimport++] = strdup(o->import[i])) ? 0 : CS_ENOMEM;
    if (!rc && o->nexport) {
        cs_sub_opts so = {.filters = o->export_,
                          .nfilters = o->nexport,
                          .cb = on_export,
                          .arg = b,
                          .name = "bridge"};
        rc = cs_bus_subscribe(bus, &so, &b->sub);
    }
    if (!rc && pthread_create(&b->thread, NULL, run, b) != 0) {
        rc = CS_ENOMEM;
        if (b->sub)
            cs_bus_unsubscribe(b->sub);
    }
    if (rc) {
        free_bridge(b);
        return rc;
    }
    *out = b;
    return 0;
}

void cs_bridge_stop(cs_bridge *b, cs_bridge_stats *stats)
{
    if (!b)
        return;
    if (b->sub)
        cs_bus_unsubscribe(b->sub);
    pthread_mutex_lock(&b->mu);
    b->stopping = true;
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    if (stats)
        *stats = b->st;
    free_bridge(b);
}
