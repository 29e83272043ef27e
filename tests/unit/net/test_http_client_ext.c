/* Tests what src/net/http_client.c offers past plain requests, against a
 * scripted TCP server on the same loop: HTTP basic auth on the wire,
 * response headers (Retry-After as seconds and as an HTTP date), and mail
 * over SMTP (src/net/mail.c) on the same client: the dialogue and message
 * on the wire, and a refused recipient's reply code. */
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

/* ---- a scripted server: one connection at a time ------------------------ */

typedef struct srv {
    uv_loop_t *loop; /* the client's, or the server thread's own */
    uv_tcp_t listener;
    uv_tcp_t conn;
    bool smtp;          /* speak SMTP, else answer one HTTP request */
    const char *answer; /* HTTP: the whole response */
    cs_buf seen;        /* every byte the client sent */
    size_t line_start;  /* SMTP: where the current line begins in seen */
    bool in_data;
    int port;
} srv;

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

static void send_str(srv *s, const char *text)
{
    uv_write_t *w = malloc(sizeof *w);
    uv_buf_t b = uv_buf_init((char *)text, (unsigned)strlen(text));
    uv_write(w, (uv_stream_t *)&s->conn, &b, 1, on_written);
}

/* SMTP: answers each complete line of what arrived. */
static void smtp_lines(srv *s)
{
    for (;;) {
        const char *base = (const char *)s->seen.data + s->line_start;
        size_t avail = s->seen.len - s->line_start;
        const char *nl = memchr(base, '\n', avail);
        if (!nl)
            return;
        size_t n = (size_t)(nl - base) + 1;
        s->line_start += n;
        if (s->in_data) {
            if (n == 3 && memcmp(base, ".\r\n", 3) == 0) {
                s->in_data = false;
                send_str(s, "250 queued\r\n");
            }
        } else if (strncmp(base, "EHLO", 4) == 0) {
            send_str(s, "250-fake\r\n250 SIZE 100000\r\n");
        } else if (strncmp(base, "MAIL", 4) == 0) {
            send_str(s, "250 sender ok\r\n");
        } else if (strncmp(base, "RCPT", 4) == 0) {
            send_str(s, memmem(base, n, "nobody@", 7) ? "550 no such user\r\n"
                                                      : "250 recipient ok\r\n");
        } else if (strncmp(base, "DATA", 4) == 0) {
            s->in_data = true;
            send_str(s, "354 go ahead\r\n");
        } else if (strncmp(base, "QUIT", 4) == 0) {
            send_str(s, "221 bye\r\n");
        } else {
            send_str(s, "250 ok\r\n");
        }
    }
}

static void on_conn_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    srv *s = st->data;
    if (n < 0) {
        uv_close((uv_handle_t *)st, on_conn_closed);
        return;
    }
    cs_buf_append(&s->seen, b->base, (size_t)n);
    if (s->smtp) {
        smtp_lines(s);
    } else if (memmem(s->seen.data, s->seen.len, "\r\n\r\n", 4)) {
        send_str(s, s->answer);
    }
}

static void on_accept(uv_stream_t *l, int status)
{
    srv *s = l->data;
    if (status < 0)
        return;
    uv_tcp_init(s->loop, &s->conn);
    s->conn.data = s;
    uv_accept(l, (uv_stream_t *)&s->conn);
    s->line_start = s->seen.len;
    if (s->smtp)
        send_str(s, "220 fake ESMTP\r\n");
    uv_read_start((uv_stream_t *)&s->conn, on_alloc, on_read);
}

static void srv_start(srv *s)
{
    if (!s->loop)
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
    if (!uv_is_closing((uv_handle_t *)&s->conn) && s->conn.type == UV_TCP)
        uv_close((uv_handle_t *)&s->conn, on_conn_closed);
}

static void srv_stop(srv *s)
{
    srv_close(s);
    uv_run(s->loop, UV_RUN_DEFAULT);
    cs_buf_free(&s->seen);
}

/* The SMTP fake runs on a thread of its own: libcurl (7.88) waits for the
 * reply to the end of a message inside curl, so a server on the client's
 * loop could not answer it. */
typedef struct srv_thread {
    srv s;
    uv_loop_t loop;
    uv_async_t stop;
    uv_thread_t tid;
} srv_thread;

static void on_stop(uv_async_t *a)
{
    srv_thread *t = a->data;
    srv_close(&t->s);
    uv_close((uv_handle_t *)&t->stop, NULL);
}

static void srv_thread_main(void *arg)
{
    srv_thread *t = arg;
    uv_run(&t->loop, UV_RUN_DEFAULT);
}

static void srv_thread_start(srv_thread *t)
{
    uv_loop_init(&t->loop);
    t->s.loop = &t->loop;
    srv_start(&t->s);
    uv_async_init(&t->loop, &t->stop, on_stop);
    t->stop.data = t;
    uv_thread_create(&t->tid, srv_thread_main, t);
}

static void srv_thread_stop(srv_thread *t)
{
    uv_async_send(&t->stop);
    uv_thread_join(&t->tid);
    assert_int_equal(uv_loop_close(&t->loop), 0);
    cs_buf_free(&t->s.seen);
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
    srv_thread t = {.s = {.smtp = true}};
    srv_thread_start(&t);
    srv *sp = &t.s;
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
    const char *w = (const char *)sp->seen.data; /* the thread wrote it before its reply */
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
    uv_run(&loop, UV_RUN_DEFAULT);
    srv_thread_stop(&t);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_auth_and_retry_after),
        cmocka_unit_test(test_mail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
