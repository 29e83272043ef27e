/* The console sink of `chainscope run` (console.h). */
#include "cli/console.h"

#include <stdlib.h>
#include <string.h>

#include "cli/render.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"

#define STOP_FLUSH_MS 2000
/* a burst of drops ends once everything is written and nothing was dropped
 * for this long: one warning and one "caught up" line per burst, however
 * often a slow reader fills and empties the buffer within it */
#define BURST_QUIET_MS 2000

struct cs_console {
    uv_loop_t *loop;
    cs_sub *sub;
    bool json;
    int fd;
    bool stream;      /* writes go through h; else fd is written by uv_fs_write */
    bool handle_open; /* h was initialized (and must be closed) */
    union {
        uv_handle_t handle;
        uv_stream_t s;
        uv_pipe_t pipe;
        uv_tty_t tty;
        uv_tcp_t tcp;
    } h;
    uv_write_t wreq;
    uv_fs_t freq;
    uv_timer_t stop_timer;
    uv_timer_t burst_timer; /* runs during a burst of drops */
    uint64_t last_drop;     /* loop ms */
    /* `pend` collects lines while `fly` is being written; both together
     * hold at most `bound` bytes */
    cs_buf pend, fly;
    size_t fly_off;
    bool busy;   /* a write of fly is under way */
    bool broken; /* stdout failed (its reader went away): lines are dropped */
    bool stopping, flushed;
    size_t bound;
    cs_buf line;
    uint64_t dropped, burst;
    bool in_burst;
    cs_mseries *m_dropped, *m_lines;
    int closing; /* handles still to close */
};

static void write_fly(cs_console *c);

static void free_console(cs_console *c)
{
    cs_buf_free(&c->pend);
    cs_buf_free(&c->fly);
    cs_buf_free(&c->line);
    free(c);
}

static void on_closed(uv_handle_t *h)
{
    cs_console *c = h->data;
    if (--c->closing == 0)
        free_console(c);
}

/* The end of stop: closes what is open (a write under way on a stream is
 * cancelled; one in the thread pool is waited for by on_fs_write). */
static void finish(cs_console *c)
{
    if (c->flushed)
        return;
    c->flushed = true;
    c->closing = 2;
    uv_close((uv_handle_t *)&c->stop_timer, on_closed);
    uv_close((uv_handle_t *)&c->burst_timer, on_closed);
    if (c->handle_open) {
        c->closing++;
        uv_close(&c->h.handle, on_closed);
    }
    if (!c->stream && c->busy) {
        c->closing++; /* released by on_fs_write */
    }
}

static void on_burst_timer(uv_timer_t *t)
{
    cs_console *c = t->data;
    if (c->busy || c->pend.len || uv_now(c->loop) - c->last_drop < BURST_QUIET_MS)
        return;
    uv_timer_stop(t);
    c->in_burst = false;
    CS_INFO("console", "stdout caught up; %llu event%s dropped while it was slow (%llu in all)",
            (unsigned long long)c->burst, c->burst == 1 ? "" : "s", (unsigned long long)c->dropped);
    c->burst = 0;
}

/* Starts writing what is pending, if nothing is being written. */
static void kick(cs_console *c)
{
    if (c->busy || c->broken)
        return;
    if (c->pend.len == 0) {
        if (c->stopping)
            finish(c);
        return;
    }
    cs_buf t = c->fly;
    c->fly = c->pend;
    c->pend = t;
    c->pend.len = 0;
    c->fly_off = 0;
    c->busy = true;
    write_fly(c);
}

static void failed(cs_console *c, int err)
{
    c->busy = false;
    if (c->broken)
        return;
    c->broken = true;
    CS_WARN("console", "cannot write to stdout: %s; events are no longer printed",
            uv_strerror(err));
    c->pend.len = c->fly.len = 0;
    if (c->stopping)
        finish(c);
}

static void on_write(uv_write_t *req, int status)
{
    cs_console *c = req->data;
    if (status == UV_ECANCELED)
        return; /* closing */
    if (status < 0) {
        failed(c, status);
        return;
    }
    c->busy = false;
    c->fly.len = 0;
    if (!c->flushed)
        kick(c);
}

static void on_fs_write(uv_fs_t *req)
{
    cs_console *c = req->data;
    ssize_t n = req->result;
    uv_fs_req_cleanup(req);
    if (c->flushed) { /* stopped meanwhile: this was the last thing open */
        c->busy = false;
        if (--c->closing == 0)
            free_console(c);
        return;
    }
    if (n < 0) {
        failed(c, (int)n);
        return;
    }
    c->fly_off += (size_t)n;
    if (c->fly_off < c->fly.len) {
        write_fly(c);
        return;
    }
    c->busy = false;
    c->fly.len = 0;
    kick(c);
}

static void write_fly(cs_console *c)
{
    uv_buf_t b = uv_buf_init((char *)c->fly.data + c->fly_off, (unsigned)(c->fly.len - c->fly_off));
    int rc = c->stream ? uv_write(&c->wreq, &c->h.s, &b, 1, on_write)
                       : uv_fs_write(c->loop, &c->freq, c->fd, &b, 1, -1, on_fs_write);
    if (rc)
        failed(c, rc);
}

static void drop(cs_console *c)
{
    c->dropped++;
    c->burst++;
    c->last_drop = uv_now(c->loop);
    if (c->m_dropped)
        cs_mseries_inc(c->m_dropped, 1);
    if (c->in_burst || c->broken)
        return;
    c->in_burst = true;
    uv_timer_start(&c->burst_timer, on_burst_timer, BURST_QUIET_MS / 4, BURST_QUIET_MS / 4);
    CS_WARN("console",
            "stdout does not keep up (%zu bytes waiting); dropping events until it "
            "does (chainscope_console_dropped_total)",
            c->pend.len + c->fly.len);
}

static void on_event(cs_sub *sub, cs_event *ev, void *arg)
{
    cs_console *c = arg;
    (void)sub;
    if (c->stopping)
        return;
    c->line.len = 0;
    int rc = c->json ? cs_json_event(&c->line, ev) : cs_render_human(&c->line, ev);
    if (!rc && c->json)
        rc = cs_buf_putc(&c->line, '\n');
    if (rc || c->broken || c->pend.len + c->fly.len + c->line.len > c->bound) {
        drop(c);
        return;
    }
    if (cs_buf_append(&c->pend, c->line.data, c->line.len) != 0) {
        drop(c);
        return;
    }
    if (c->m_lines)
        cs_mseries_inc(c->m_lines, 1);
    kick(c);
}

/* A handle for fd: a stream for pipes, terminals and sockets (libuv makes
 * the descriptor non-blocking), none for files and devices. */
static int open_fd(cs_console *c)
{
    int rc;
    c->h.handle.data = c;
    switch (uv_guess_handle(c->fd)) {
    case UV_NAMED_PIPE:
        if ((rc = uv_pipe_init(c->loop, &c->h.pipe, 0)))
            return rc;
        c->handle_open = true;
        rc = uv_pipe_open(&c->h.pipe, c->fd);
        break;
    case UV_TTY:
        if ((rc = uv_tty_init(c->loop, &c->h.tty, c->fd, 0)) == 0)
            c->handle_open = true;
        break;
    case UV_TCP:
        if ((rc = uv_tcp_init(c->loop, &c->h.tcp)))
            return rc;
        c->handle_open = true;
        rc = uv_tcp_open(&c->h.tcp, c->fd);
        break;
    default:
        return 0;
    }
    c->h.handle.data = c;
    c->stream = rc == 0;
    return rc;
}

int cs_console_start(uv_loop_t *loop, cs_bus *bus, cs_metrics *metrics, const cs_console_opts *o,
                     cs_console **out)
{
    cs_console *c = calloc(1, sizeof *c);
    if (!c)
        return CS_ENOMEM;
    c->loop = loop;
    c->json = o->json;
    c->fd = o->fd;
    c->bound = o->buffer ? o->buffer : CS_CONSOLE_DEFAULT_BUFFER;
    cs_buf_init(&c->pend, c->bound);
    cs_buf_init(&c->fly, c->bound);
    cs_buf_init(&c->line, 0);
    c->wreq.data = c->freq.data = c;
    int rc = open_fd(c);
    if (rc)
        CS_WARN("console", "stdout: %s; written through the thread pool", uv_strerror(rc));
    uv_timer_init(loop, &c->stop_timer);
    uv_timer_init(loop, &c->burst_timer);
    c->stop_timer.data = c->burst_timer.data = c;
    uv_unref((uv_handle_t *)&c->burst_timer);
    if (metrics) {
        c->m_dropped =
            cs_metrics_counter(metrics, "chainscope_console_dropped_total",
                               "Events the console did not print because stdout did not keep up.");
        c->m_lines = cs_metrics_counter(metrics, "chainscope_console_printed_total",
                                        "Events the console queued for stdout.");
    }
    cs_sub_opts so = {.filters = o->filters,
                      .nfilters = o->nfilters,
                      .queue_max = o->queue_max,
                      .cb = on_event,
                      .arg = c,
                      .name = "console"};
    if ((rc = cs_bus_subscribe(bus, &so, &c->sub))) {
        c->stopping = true;
        finish(c);
        return rc;
    }
    *out = c;
    return 0;
}

static void on_stop_timer(uv_timer_t *t)
{
    cs_console *c = t->data;
    if (c->pend.len || c->busy)
        CS_WARN("console", "stdout did not take the last %zu bytes within %d s",
                c->pend.len + c->fly.len - c->fly_off, STOP_FLUSH_MS / 1000);
    finish(c);
}

void cs_console_stop(cs_console *c)
{
    if (c->stopping)
        return;
    c->stopping = true;
    cs_bus_unsubscribe(c->sub);
    c->sub = NULL;
    uv_timer_start(&c->stop_timer, on_stop_timer, STOP_FLUSH_MS, 0);
    kick(c);
}
