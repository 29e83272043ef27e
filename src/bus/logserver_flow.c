/* The log server's side toward the bus: each event matched once per
 * distinct filter and queued to the clients that want it, back-pressure
 * (the lossless subscription paused while clients are behind, stuck clients
 * cut off) and barriers (done once what was queued before them is written).
 * The connections themselves are logserver.c's. */
#include "bus/logserver_int.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>

/* Collects each client an event matches once, whatever number of its
 * filters match. */
static void hit(void *holder, void *arg)
{
    struct client *c = holder;
    cs_logserver *ls = arg;
    if (c->stamp == ls->stamp || !c->hello)
        return;
    c->stamp = ls->stamp;
    if (ls->nhits == ls->hits_cap) {
        size_t cap = ls->hits_cap ? ls->hits_cap * 2 : 64;
        struct client **h = realloc(ls->hits, cap * sizeof *h);
        if (!h)
            return; /* this client misses the event: out of memory */
        ls->hits = h;
        ls->hits_cap = cap;
    }
    ls->hits[ls->nhits++] = c;
}

/* Matches the event once per distinct filter, then queues it to the
 * clients collected (a client cut off meanwhile only closes: its memory
 * stays until its close callback). */
static void on_bus_event(cs_sub *sub, cs_event *ev, void *arg)
{
    cs_logserver *ls = arg;
    (void)sub;
    ls->delivered++;
    ls->stamp++;
    ls->nhits = 0;
    cs_ftab_match(&ls->filters, ev->type, strlen(ev->type), hit, ls);
    for (size_t i = 0; i < ls->nhits; i++) {
        cs_ls_enqueue(ls->hits[i], CS_FRAME_EVENT, ev->wire, ev->wire_len);
        cs_mseries_inc(ls->m_out, 1);
    }
    if (ls->npings)
        cs_ls_arm_check(ls);
}

/* ---- back-pressure and barriers ------------------------------------------
 *
 * The server's bus subscription is lossless: instead of dropping, the
 * server pauses it while any client's unsent output is above half its bound
 * (the high mark) and resumes it once every client is back under a quarter.
 * A paused lossless queue presses the bus, and the sources slow down. A
 * client above its high mark for STUCK_MS is cut off. */

/* Notes a change of c's unsent output. */
void cs_ls_output_changed(struct client *c)
{
    cs_logserver *ls = c->ls;
    size_t unsent = c->out.len + c->wbuf.len;
    if (!c->high && unsent > ls->client_buffer / 2 && !c->closing) {
        c->high = true;
        c->high_since = uv_now(ls->loop);
        if (ls->nhigh++ == 0 && ls->sub)
            cs_sub_pause(ls->sub);
        if (!uv_is_active((uv_handle_t *)&ls->stuck))
            uv_timer_start(&ls->stuck, cs_ls_on_stuck, 1000, 1000);
    } else if (c->high && unsent <= ls->client_buffer / 4) {
        c->high = false;
        if (--ls->nhigh == 0) {
            uv_timer_stop(&ls->stuck);
            if (ls->sub)
                cs_sub_resume(ls->sub);
        }
    }
}

/* Once a second while some client is above its high mark. */
void cs_ls_on_stuck(uv_timer_t *t)
{
    cs_logserver *ls = t->data;
    uint64_t now = uv_now(ls->loop);
    struct client *c = ls->clients;
    while (c) {
        struct client *next = c->next;
        if (c->high && now - c->high_since >= STUCK_MS) {
            cs_mseries_inc(ls->m_cutoffs, 1);
            cs_ls_client_fail(
                c, "too slow: %zu bytes unsent, above the high mark of %zu bytes for %d s",
                c->out.len + c->wbuf.len, ls->client_buffer / 2, STUCK_MS / 1000);
        }
        c = next;
    }
}

/* A bus barrier: done once every client it waits for has written what was
 * queued to it before, or is gone. */
struct lbarrier {
    struct lbarrier *next;
    cs_sub_barrier *sb;
    size_t n;
    struct {
        struct client *c; /* NULL once gone or written */
        uint64_t target;
    } w[];
};

static void on_barrier(cs_sub *sub, cs_sub_barrier *sb, void *arg)
{
    cs_logserver *ls = arg;
    (void)sub;
    size_t n = 0;
    for (struct client *c = ls->clients; c; c = c->next)
        n += c->written_total < c->queued_total;
    struct lbarrier *b = n ? calloc(1, sizeof *b + n * sizeof b->w[0]) : NULL;
    if (!b) {
        if (n)
            CS_WARN("logserver", "out of memory: a barrier did not wait for %zu clients", n);
        cs_sub_barrier_done(sb);
        return;
    }
    b->sb = sb;
    for (struct client *c = ls->clients; c; c = c->next)
        if (c->written_total < c->queued_total) {
            b->w[b->n].c = c;
            b->w[b->n++].target = c->queued_total;
        }
    b->next = ls->barriers;
    ls->barriers = b;
}

/* Forgets client gone (NULL: none) and ends the barriers nothing holds. */
void cs_ls_barriers_forget(cs_logserver *ls, struct client *gone)
{
    struct lbarrier **pp = &ls->barriers;
    while (*pp) {
        struct lbarrier *b = *pp;
        bool wait = false;
        for (size_t i = 0; i < b->n; i++) {
            struct client *c = b->w[i].c;
            if (c && (c == gone || c->written_total >= b->w[i].target))
                b->w[i].c = NULL;
            wait |= b->w[i].c != NULL;
        }
        if (wait) {
            pp = &b->next;
            continue;
        }
        *pp = b->next;
        cs_sub_barrier_done(b->sb);
        free(b);
    }
}

/* The hard bound of the bus queue was passed (the clients stalled and the
 * sources did not slow down): the loss is logged and counted by the bus;
 * the server subscribes again so that it goes on serving. */
static void on_sub_cutoff(cs_sub *sub, void *arg);

int cs_ls_subscribe(cs_logserver *ls)
{
    cs_sub_opts so = {.queue_max = ls->bus_queue,
                      .policy = CS_SUB_LOSSLESS,
                      .cb = on_bus_event,
                      .on_cutoff = on_sub_cutoff,
                      .on_barrier = on_barrier,
                      .arg = ls,
                      .name = "logserver"};
    int rc = cs_bus_subscribe(ls->bus, &so, &ls->sub);
    if (rc)
        ls->sub = NULL;
    else if (ls->nhigh)
        cs_sub_pause(ls->sub);
    return rc;
}

static void on_sub_cutoff(cs_sub *sub, void *arg)
{
    cs_logserver *ls = arg;
    (void)sub;
    ls->sub = NULL;
    if (ls->stopping)
        return;
    CS_ERROR("logserver", "events lost: the bus queue passed its hard bound; subscribing again");
    cs_ls_subscribe(ls);
}
