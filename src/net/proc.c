/* Helper programs (see proc.h). The run ends when the process has exited
 * and every handle is closed; then the callback runs once. */
#include "net/proc.h"

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "net/sigpipe.h"

typedef struct run {
    uv_process_t proc;
    uv_pipe_t in, out;
    uv_timer_t timer;
    uv_write_t wr;
    char *input;
    size_t inlen;
    cs_buf output;
    int open; /* handles not yet closed */
    bool exited;
    int err;
    int64_t status;
    int sig;
    cs_proc_cb cb;
    void *arg;
} run;

static void closed(uv_handle_t *h)
{
    run *r = h->data;
    if (--r->open > 0)
        return;
    if (r->cb)
        r->cb(r->arg, r->err, r->status, r->sig, (const char *)r->output.data, r->output.len);
    cs_buf_free(&r->output);
    free(r->input);
    free(r);
}

static void close_one(run *r, uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, closed);
}

static void kill_it(run *r, int err)
{
    if (!r->err)
        r->err = err;
    if (!r->exited)
        uv_process_kill(&r->proc, SIGKILL);
}

static void proc_exited(uv_process_t *p, int64_t status, int sig)
{
    run *r = p->data;
    r->exited = true;
    r->status = status;
    r->sig = sig;
    uv_timer_stop(&r->timer);
    close_one(r, (uv_handle_t *)&r->timer);
    close_one(r, (uv_handle_t *)p);
    close_one(r, (uv_handle_t *)&r->in);
}

static void on_timeout(uv_timer_t *t)
{
    kill_it(t->data, CS_ETIMEDOUT);
}

static void on_alloc(uv_handle_t *h, size_t sugg, uv_buf_t *b)
{
    (void)h;
    static char scratch[65536];
    (void)sugg;
    b->base = scratch;
    b->len = sizeof scratch;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    run *r = s->data;
    if (n > 0) {
        if (cs_buf_append(&r->output, b->base, (size_t)n)) {
            kill_it(r, CS_ELIMIT);
            uv_read_stop(s);
            close_one(r, (uv_handle_t *)s);
        }
    } else if (n < 0) {
        uv_read_stop(s);
        close_one(r, (uv_handle_t *)s);
    }
}

static void on_written(uv_write_t *w, int status)
{
    run *r = w->data;
    (void)status; /* a program that does not read its input is its own business */
    close_one(r, (uv_handle_t *)&r->in);
}

int cs_proc_run(uv_loop_t *loop, char *const *argv, const void *in, size_t inlen,
                uint64_t timeout_ms, size_t max_out, cs_proc_cb cb, void *arg)
{
    cs_ignore_sigpipe(); /* a program that exits without reading its input */
    if (!argv || !argv[0])
        return CS_EINVAL;
    run *r = calloc(1, sizeof *r);
    if (!r)
        return CS_ENOMEM;
    r->input = malloc(inlen ? inlen : 1);
    if (!r->input) {
        free(r);
        return CS_ENOMEM;
    }
    if (inlen)
        memcpy(r->input, in, inlen);
    r->inlen = inlen;
    cs_buf_init(&r->output, max_out);
    r->cb = cb;
    r->arg = arg;
    uv_pipe_init(loop, &r->in, 0);
    uv_pipe_init(loop, &r->out, 0);
    r->in.data = r->out.data = r->proc.data = r;
    uv_stdio_container_t io[3];
    io[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    io[0].data.stream = (uv_stream_t *)&r->in;
    io[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    io[1].data.stream = (uv_stream_t *)&r->out;
    io[2].flags = UV_INHERIT_FD;
    io[2].data.fd = 2;
    uv_process_options_t po;
    memset(&po, 0, sizeof po);
    po.file = argv[0];
    po.args = (char **)argv;
    po.exit_cb = proc_exited;
    po.stdio = io;
    po.stdio_count = 3;
    int rc = uv_spawn(loop, &r->proc, &po);
    r->proc.data = r;
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    r->open = 4; /* proc, in, out, timer */
    if (rc) {
        /* every handle is closed, the process handle too; no callback */
        r->cb = NULL;
        close_one(r, (uv_handle_t *)&r->proc);
        close_one(r, (uv_handle_t *)&r->in);
        close_one(r, (uv_handle_t *)&r->out);
        close_one(r, (uv_handle_t *)&r->timer);
        return rc;
    }
    if (timeout_ms)
        uv_timer_start(&r->timer, on_timeout, timeout_ms, 0);
    uv_read_start((uv_stream_t *)&r->out, on_alloc, on_read);
    uv_buf_t b = uv_buf_init(r->input, (unsigned)r->inlen);
    r->wr.data = r;
    if (r->inlen == 0 || uv_write(&r->wr, (uv_stream_t *)&r->in, &b, 1, on_written))
        close_one(r, (uv_handle_t *)&r->in);
    return 0;
}
