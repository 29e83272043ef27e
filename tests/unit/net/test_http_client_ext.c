/* Tests what src/net/http_client.c offers past plain requests, against a
 * scripted TCP server on the same loop: HTTP basic auth on the wire,
 * response headers (Retry-After as seconds and as an HTTP date), and mail
 * over SMTP (src/net/mail.c) on the same client: the dialogue and message
 * on the wire, a refused recipient's reply code, a server that hangs after
 * the message (the loop keeps running, the mail times out), and the bound
 * on mails at once (two run, the rest wait their turn, closing stops all).
 * The servers share the client's loop: a mail that blocked the loop would
 * block its own server and fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/error.h"
#include "net/http_client.h"
#include "net/mail.h"

/* ---- a scripted server on the test's loop --------------------------------- */

#define SRV_MAX_CONN 8 /* connections past it wait in the backlog */

typedef struct srv srv;

typedef struct srv_conn {
    uv_tcp_t h;
    srv *s;
    size_t line_start; /* SMTP: where the current line begins in s->seen */
    bool in_data;
} srv_conn;

struct srv {
    uv_loop_t *loop;
    uv_tcp_t listener;
    srv_conn conn[SRV_MAX_CONN];
    int accepted;         /* connections so far */
    bool smtp;            /* speak SMTP, else answer one HTTP request */
    bool hang_after_data; /* SMTP: take the message, then never answer */
    bool mute;            /* accept, then never say a word (no SMTP greeting) */
    const char *answer;   /* HTTP: the whole response */
    cs_buf seen;          /* every byte the clients sent, one connection after another */
    int port;
};

static uv_loop_t loop;

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    (void)h;
    static char buf[65536];
    (void)sz;
    *b = uv_buf_init(buf, sizeof buf);
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void send_str(srv_conn *k, const char *text)
{
    uv_write_t *w = malloc(sizeof *w);
    uv_buf_t b = uv_buf_init((char *)text, (unsigned)strlen(text));
    uv_write(w, (uv_stream_t *)&k->h, &b, 1, on_written);
}

/* SMTP: answers each complete line of what arrived. */
static void smtp_lines(srv_conn *k)
{
    srv *s = k->s;
    for (;;) {
        const char *base = (const char *)s->seen.data + k->line_start;
        size_t avail = s->seen.len - k->line_start;
        const char *nl = memchr(base, '\n', avail);
        if (!nl)
            return;
        size_t n = (size_t)(nl - base) + 1;
        k->line_start += n;
        if (k->in_data) {
            if (n == 3 && memcmp(base, ".\r\n", 3) == 0) {
                k->in_data = false;
                if (!s->hang_after_data)
                    send_str(k, "250 queued\r\n");
            }
        } else if (strncmp(base, "EHLO", 4) == 0) {
            send_str(k, "250-fake\r\n250 SIZE 100000\r\n");
        } else if (strncmp(base, "MAIL", 4) == 0) {
            send_str(k, "250 sender ok\r\n");
        } else if (strncmp(base, "RCPT", 4) == 0) {
            send_str(k, memmem(base, n, "nobody@", 7) ? "550 no such user\r\n"
                                                      : "250 recipient ok\r\n");
        } else if (strncmp(base, "DATA", 4) == 0) {
            k->in_data = true;
            send_str(k, "354 go ahead\r\n");
        } else if (strncmp(base, "QUIT", 4) == 0) {
            send_str(k, "221 bye\r\n");
        } else {
            send_str(k, "250 ok\r\n");
        }
    }
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    srv_conn *k = st->data;
    srv *s = k->s;
    if (n < 0) {
        uv_close((uv_handle_t *)st, NULL);
        return;
    }
    cs_buf_append(&s->seen, b->base, (size_t)n);
    if (s->smtp) {
        smtp_lines(k);
    } else if (memmem(s->seen.data, s->seen.len, "\r\n\r\n", 4)) {
        send_str(k, s->answer);
    }
}

static void on_accept(uv_stream_t *l, int status)
{
    srv *s = l->data;
    if (status < 0 || s->accepted == SRV_MAX_CONN)
        return;
    srv_conn *k = &s->conn[s->accepted++];
    k->s = s;
    uv_tcp_init(s->loop, &k->h);
    k->h.data = k;
    uv_accept(l, (uv_stream_t *)&k->h);
    k->line_start = s->seen.len;
    if (s->mute)
        return;
    if (s->smtp)
        send_str(k, "220 fake ESMTP\r\n");
    uv_read_start((uv_stream_t *)&k->h, on_alloc, on_read);
}

static void srv_start(srv *s)
{
    s->loop = &loop;
    cs_buf_init(&s->seen, 1u << 20);
    uv_tcp_init(s->loop, &s->listener);
    s->listener.data = s;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&s->listener, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->listener, 8, on_accept), 0);
    struct sockaddr_in got;
    int len = sizeof got;
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&got, &len);
    s->port = ntohs(got.sin_port);
}

static void srv_close(srv *s)
{
    uv_close((uv_handle_t *)&s->listener, NULL);
    for (int i = 0; i < s->accepted; i++)
        if (!uv_is_closing((uv_handle_t *)&s->conn[i].h))
            uv_close((uv_handle_t *)&s->conn[i].h, NULL);
}

static void srv_stop(srv *s)
{
    srv_close(s);
    uv_run(s->loop, UV_RUN_DEFAULT);
    cs_buf_free(&s->seen);
}

/* ---- the client side -------------------------------------------------- */

typedef struct got {
    int calls;
    int error;
    long status;
    long retry_after;
    char header[64];
    char error_text[256];
} got;

static void on_res(const cs_http_response *res, void *arg)
{
    got *g = arg;
    g->calls++;
    g->error = res->error;
    g->status = res->status;
    g->retry_after = res->retry_after;
    const char *h = cs_http_response_header(res, "x-served-by");
    snprintf(g->header, sizeof g->header, "%s", h ? h : "(none)");
    snprintf(g->error_text, sizeof g->error_text, "%s", res->error_text ? res->error_text : "");
}

static void run_until(got *g)
{
    uint64_t start = uv_now(&loop);
    while (g->calls < 1 && uv_now(&loop) - start < 5000)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(g->calls, 1);
}

static void test_basic_auth_and_retry_after(void **st)
{
    (void)st;
    uv_loop_init(&loop);
    cs_http_client *c;
    assert_int_equal(cs_http_client_new(&loop, 0, &c), 0);
    srv s = {.answer = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\n"
                       "X-Served-By: fake-1\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow"};
    srv_start(&s);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/rpc", s.port);
    cs_http_opts o = {.url = url, .body = "{}", .body_len = 2, .userpwd = "audit:s3cret"};
    got g = {0};
    assert_int_equal(cs_http_request_start(c, &o, on_res, &g, NULL), 0);
    run_until(&g);
    assert_int_equal(g.error, 0);
    assert_int_equal(g.status, 429);
    assert_int_equal(g.retry_after, 7);
    assert_string_equal(g.header, "fake-1");
    /* base64("audit:s3cret") */
    assert_non_null(
        memmem(s.seen.data, s.seen.len, "Authorization: Basic YXVkaXQ6czNjcmV0\r\n", 39));
    srv_stop(&s);

    /* Retry-After as an HTTP date, 120 s from now; no auth header sent. */
    char date[64], answer[256];
    time_t t = time(NULL) + 120;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    snprintf(answer, sizeof answer,
             "HTTP/1.1 503 Service Unavailable\r\nRetry-After: %s\r\nContent-Length: 0\r\n"
             "Connection: close\r\n\r\n",
             date);
    srv s2 = {.answer = answer};
    srv_start(&s2);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", s2.port);
    cs_http_opts o2 = {.url = url};
    got g2 = {0};
    assert_int_equal(cs_http_request_start(c, &o2, on_res, &g2, NULL), 0);
    run_until(&g2);
    assert_int_equal(g2.status, 503);
    assert_in_range(g2.retry_after, 115, 120);
    assert_string_equal(g2.header, "(none)");
    assert_null(memmem(s2.seen.data, s2.seen.len, "Authorization:", 14));
    srv_stop(&s2);
    cs_http_client_close(c, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_mail(void **st)
{
    (void)st;
    uv_loop_init(&loop);
    cs_http_client *c;
    assert_int_equal(cs_http_client_new(&loop, 0, &c), 0);
    srv sv = {.smtp = true};
    srv_start(&sv);
    srv *sp = &sv;
    char url[64];
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", sp->port);
    static const char msg[] = "From: a@example.org\r\nTo: ops@example.org\r\nSubject: hi\r\n\r\n"
                              "first line\r\n.leading dot\r\n";
    const char *to[] = {"ops@example.org", "oncall@example.org"};
    cs_mail_opts o = {.url = url,
                      .from = "a@example.org",
                      .to = to,
                      .nto = 2,
                      .msg = msg,
                      .len = sizeof msg - 1,
                      .timeout_ms = 3000};
    got g = {0};
    assert_int_equal(cs_mail_send(c, &o, on_res, &g, NULL), 0);
    run_until(&g);
    assert_int_equal(g.error, 0);
    assert_int_equal(g.status, 250);
    const char *w = (const char *)sp->seen.data;
    assert_non_null(strstr(w, "MAIL FROM:<a@example.org>"));
    assert_non_null(strstr(w, "RCPT TO:<ops@example.org>\r\n"));
    assert_non_null(strstr(w, "RCPT TO:<oncall@example.org>\r\n"));
    assert_non_null(strstr(w, "Subject: hi\r\n\r\nfirst line\r\n..leading dot\r\n.\r\n"));

    /* A refused recipient: the mail fails with the server's code. */
    const char *bad[] = {"nobody@example.org"};
    o.to = bad;
    o.nto = 1;
    got g2 = {0};
    assert_int_equal(cs_mail_send(c, &o, on_res, &g2, NULL), 0);
    run_until(&g2);
    assert_int_equal(g2.error, CS_EIO);
    assert_int_equal(g2.status, 550);

    /* Arguments checked before anything starts. */
    got g3 = {0};
    o.url = "http://127.0.0.1:1/";
    assert_int_equal(cs_mail_send(c, &o, on_res, &g3, NULL), CS_EINVAL);
    o.url = url;
    o.nto = CS_MAIL_MAX_RCPT + 1;
    assert_int_equal(cs_mail_send(c, &o, on_res, &g3, NULL), CS_ELIMIT);
    assert_int_equal(g3.calls, 0);
    cs_http_client_close(c, NULL, NULL);
    srv_stop(sp);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A client and an SMTP server on the test's loop, and a one-line mail
 * for it. */
typedef struct mail_fx {
    cs_http_client *c;
    srv sv;
    char url[64];
    const char *to[1];
    cs_mail_opts o;
} mail_fx;

static void fx_start(mail_fx *f, srv sv, uint64_t timeout_ms)
{
    uv_loop_init(&loop);
    assert_int_equal(cs_http_client_new(&loop, 0, &f->c), 0);
    f->sv = sv;
    srv_start(&f->sv);
    snprintf(f->url, sizeof f->url, "smtp://127.0.0.1:%d", f->sv.port);
    f->to[0] = "ops@example.org";
    f->o = (cs_mail_opts){.url = f->url,
                          .from = "a@example.org",
                          .to = f->to,
                          .nto = 1,
                          .msg = "x",
                          .len = 1,
                          .timeout_ms = timeout_ms};
}

/* After the test closed the client: stops the server, runs the loop out. */
static void fx_stop(mail_fx *f)
{
    srv_stop(&f->sv);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* Counts the loop's turns while a mail runs, and the longest gap between
 * two of them. */
typedef struct ticker {
    uv_timer_t t;
    int ticks;
    uint64_t last, max_gap;
} ticker;

static void on_tick(uv_timer_t *t)
{
    ticker *k = t->data;
    uint64_t now = uv_now(t->loop);
    if (k->ticks++ && now - k->last > k->max_gap)
        k->max_gap = now - k->last;
    k->last = now;
}

static void ticker_start(ticker *k)
{
    uv_timer_init(&loop, &k->t);
    k->t.data = k;
    uv_timer_start(&k->t, on_tick, 20, 20);
}

static void ticker_stop(ticker *k)
{
    uv_timer_stop(&k->t);
    uv_close((uv_handle_t *)&k->t, NULL);
}

/* A server that takes the whole message and then never answers: the loop
 * keeps turning (its timer fires every 20 ms, the server on the same loop
 * keeps reading) and the mail fails at its timeout. */
static void test_mail_server_hangs_after_data(void **st)
{
    (void)st;
    mail_fx f;
    fx_start(&f, (srv){.smtp = true, .hang_after_data = true}, 800);
    static const char msg[] = "Subject: stuck\r\n\r\nbody\r\n";
    f.o.msg = msg;
    f.o.len = sizeof msg - 1;
    ticker k = {0};
    ticker_start(&k);
    got g = {0};
    uv_update_time(&loop);
    uint64_t t0 = uv_now(&loop);
    assert_int_equal(cs_mail_send(f.c, &f.o, on_res, &g, NULL), 0);
    assert_int_equal(g.calls, 0); /* never from inside cs_mail_send */
    run_until(&g);
    uint64_t took = uv_now(&loop) - t0;
    assert_int_equal(g.error, CS_ETIMEDOUT);
    assert_int_equal(g.status, 354); /* the last reply it got: DATA's */
    assert_in_range(took, 700, 3000);
    /* the server, on this loop, got the whole message while the mail waited */
    assert_non_null(memmem(f.sv.seen.data, f.sv.seen.len, "body\r\n.\r\n", 9));
    /* the loop turned all along: at least half of the 20 ms ticks, no gap
     * anywhere near the timeout */
    assert_true(k.ticks >= (int)(took / 40));
    assert_true(k.max_gap < 300);
    ticker_stop(&k);
    cs_http_client_close(f.c, NULL, NULL);
    fx_stop(&f);
}

typedef struct order {
    int n;
    int error[CS_MAIL_MAX_QUEUED + 4];
    uint64_t at[CS_MAIL_MAX_QUEUED + 4];
} order;

typedef struct slot {
    order *o;
    int i;
} slot;

static void on_ordered(const cs_http_response *res, void *arg)
{
    slot *s = arg;
    s->o->n++;
    s->o->error[s->i] = res->error;
    s->o->at[s->i] = uv_now(&loop);
}

static void on_run_ms(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Runs the loop for ms. */
static void run_ms(uint64_t ms)
{
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    uv_timer_start(&t, on_run_ms, ms, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
}

/* Two mails run at once, the third waits for a free slot: against a server
 * that accepts and never greets, two connections arrive, and the third
 * only once the first two have timed out. */
static void test_mail_two_at_once(void **st)
{
    (void)st;
    mail_fx f;
    fx_start(&f, (srv){.smtp = true, .mute = true}, 500);
    order ord = {0};
    slot sl[3];
    uv_update_time(&loop);
    uint64_t t0 = uv_now(&loop);
    for (int i = 0; i < 3; i++) {
        sl[i] = (slot){&ord, i};
        assert_int_equal(cs_mail_send(f.c, &f.o, on_ordered, &sl[i], NULL), 0);
    }
    assert_int_equal(cs_http_client_inflight(f.c), 3);
    run_ms(300);
    assert_int_equal(f.sv.accepted, 2);
    assert_int_equal(ord.n, 0);
    while (ord.n < 3 && uv_now(&loop) - t0 < 5000)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(ord.n, 3);
    assert_int_equal(f.sv.accepted, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ord.error[i], CS_ETIMEDOUT);
    assert_in_range(ord.at[0] - t0, 400, 900);
    assert_in_range(ord.at[1] - t0, 400, 900);
    assert_in_range(ord.at[2] - t0, 900, 2000); /* its 500 ms began at a free slot */
    cs_http_client_close(f.c, NULL, NULL);
    fx_stop(&f);
}

static void on_client_closed(void *arg)
{
    *(bool *)arg = true;
}

/* The queue's bound, cancelling a waiting mail, and closing the client:
 * every mail still pending gets CS_ECLOSED at once, the two running stop
 * within about a second, and only then is the client gone. */
static void test_mail_queue_bound_and_close(void **st)
{
    (void)st;
    mail_fx f;
    fx_start(&f, (srv){.smtp = true, .mute = true}, 20000);
    enum { N = CS_MAIL_MAX_RUNNING + CS_MAIL_MAX_QUEUED };
    order ord = {0};
    slot sl[N + 1];
    cs_http_request *req[N];
    for (int i = 0; i < N; i++) {
        sl[i] = (slot){&ord, i};
        assert_int_equal(cs_mail_send(f.c, &f.o, on_ordered, &sl[i], &req[i]), 0);
    }
    sl[N] = (slot){&ord, N};
    assert_int_equal(cs_mail_send(f.c, &f.o, on_ordered, &sl[N], NULL), CS_ELIMIT);
    run_ms(200);
    assert_int_equal(f.sv.accepted, 2);
    /* a waiting mail cancelled never calls back, and frees its place */
    cs_http_request_cancel(req[5]);
    assert_int_equal(cs_mail_send(f.c, &f.o, on_ordered, &sl[N], NULL), 0);
    assert_int_equal(cs_http_client_inflight(f.c), N);
    bool closed = false;
    uv_update_time(&loop);
    uint64_t t0 = uv_now(&loop);
    cs_http_client_close(f.c, on_client_closed, &closed);
    assert_int_equal(ord.n, N); /* all at once, from the close */
    for (int i = 0; i <= N; i++)
        if (i != 5)
            assert_int_equal(ord.error[i], CS_ECLOSED);
    assert_int_equal(ord.error[5], 0);
    assert_false(closed); /* two pool threads are still in libcurl */
    /* the server still holds both connections open: the two mails stop
     * because they were told to, not because the server went away */
    while (!closed && uv_now(&loop) - t0 < 5000)
        uv_run(&loop, UV_RUN_ONCE);
    assert_true(closed);
    assert_in_range(uv_now(&loop) - t0, 0, 2500);
    assert_int_equal(f.sv.accepted, 2); /* the waiting mails never started */
    fx_stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_auth_and_retry_after),
        cmocka_unit_test(test_mail),
        cmocka_unit_test(test_mail_server_hangs_after_data),
        cmocka_unit_test(test_mail_two_at_once),
        cmocka_unit_test(test_mail_queue_bound_and_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
