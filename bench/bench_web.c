/* The dashboard's live feed under load, in one process as `chainscope run`
 * holds it: a connector with 1,000 peers to a simulated network (`chainscope
 * simnet`, path from $CHAINSCOPE), 10,000 events/s published on the bus, the
 * dashboard on the HTTP server, and 100 Server-Sent Events clients in a
 * child process. The loop's latency is a 10 ms timer's lag; printed for the
 * same load without clients and with them, beside events/s each client got.
 * Prints `name: value unit` lines; never fails on a number. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "btc/connector.h"
#include "btc/wire.h"
#include "config/config.h"
#include "core/bus.h"
#include "core/metrics.h"
#include "net/http_server.h"
#include "web/assets.h"
#include "web/component.h"

#define PEERS 1000
#define CLIENTS 100
#define RATE 10000
#define PHASE_S 5.0
#define MAX_LAGS 4096

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct bench {
    uv_loop_t *loop;
    cs_bus *bus;
    cs_connector *c;
    cs_publisher pub;
    size_t started, ready, closed;
    int sim_port;
    uv_idle_t idle;
    uv_timer_t tick, pubt;
    double expect;
    double lags[MAX_LAGS];
    size_t nlags;
    bool measure;
} bench;

static void on_handshake(cs_connector *c, cs_peer *p, void *arg)
{
    (void)c;
    (void)p;
    ((bench *)arg)->ready++;
}

static void on_close(cs_connector *c, cs_peer *p, bool failed, const char *reason, void *arg)
{
    (void)c;
    (void)p;
    (void)failed;
    (void)reason;
    ((bench *)arg)->closed++;
}

static void on_idle(uv_idle_t *h)
{
    bench *b = h->data;
    for (int k = 0; k < 128 && b->started < PEERS; k++) {
        char hp[64];
        uint32_t ip = 0x7f010001u + (uint32_t)b->started;
        snprintf(hp, sizeof hp, "%u.%u.%u.%u:%d", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
                 ip & 255, b->sim_port);
        if (cs_connector_connect(b->c, hp, NULL) != 0)
            break;
        b->started++;
    }
    if (b->started == PEERS)
        uv_idle_stop(h);
}

/* A 10 ms timer: how late it runs is how long the loop was busy. */
static void on_tick(uv_timer_t *t)
{
    bench *b = t->data;
    double now = now_s();
    if (b->measure && b->expect > 0 && b->nlags < MAX_LAGS)
        b->lags[b->nlags++] = (now - b->expect) * 1000;
    b->expect = now + 0.010;
}

/* 10,000 events a second: 100 each 10 ms. */
static void on_pub(uv_timer_t *t)
{
    bench *b = t->data;
    for (int i = 0; i < RATE / 100; i++) {
        cs_vw *w = cs_publisher_begin(&b->pub);
        cs_vw_kv_u64(w, "n", b->pub.seq);
        cs_vw_kv_str(w, "text", "a sample event of the bench, about the size of a small one");
        cs_publisher_emit(&b->pub, "demo.sample", NULL, "bench", NULL);
    }
}

static void run_for(uv_loop_t *loop, double seconds)
{
    double end = now_s() + seconds;
    while (now_s() < end)
        uv_run(loop, UV_RUN_ONCE);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double p99(bench *b)
{
    if (!b->nlags)
        return 0;
    qsort(b->lags, b->nlags, sizeof *b->lags, cmp_d);
    return b->lags[b->nlags * 99 / 100];
}

/* The child: CLIENTS SSE readers for seconds; writes the events each got. */
static void readers(int port, double seconds, int out)
{
    struct pollfd fds[CLIENTS];
    unsigned long got[CLIENTS] = {0};
    for (int i = 0; i < CLIENTS; i++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(s, (struct sockaddr *)&a, sizeof a) != 0)
            _exit(1);
        const char req[] = "GET /api/events?filter=demo.* HTTP/1.1\r\nHost: x\r\n\r\n";
        if (write(s, req, sizeof req - 1) < 0)
            _exit(1);
        fds[i] = (struct pollfd){.fd = s, .events = POLLIN};
    }
    static char buf[1 << 16];
    double end = now_s() + seconds;
    while (now_s() < end) {
        if (poll(fds, CLIENTS, 100) <= 0)
            continue;
        for (int i = 0; i < CLIENTS; i++) {
            if (!(fds[i].revents & POLLIN))
                continue;
            ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n <= 0) {
                fds[i].fd = -1;
                continue;
            }
            for (ssize_t k = 0; k + 3 < n; k++)
                got[i] +=
                    buf[k] == '\n' && buf[k + 1] == 'i' && buf[k + 2] == 'd' && buf[k + 3] == ':';
        }
    }
    if (write(out, got, sizeof got) < 0)
        _exit(1);
    _exit(0);
}

static pid_t start_simnet(const char *bin, int *port)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        execl(bin, bin, "simnet", "--nodes", "1000", "--fanout", "20", "--seed", "3", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[256] = "";
    if (!f || !fgets(line, sizeof line, f)) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    char *c = strrchr(line, ':');
    *port = c ? atoi(c + 1) : 0;
    return pid;
}

int main(void)
{
    size_t weight = 0;
    for (size_t i = 0; i < cs_web_nassets; i++)
        weight += cs_web_assets[i].len;
    printf("dashboard_page_weight: %zu bytes (goal < 300000)\n", weight);
    const char *bin = getenv("CHAINSCOPE") ? getenv("CHAINSCOPE") : "build/chainscope";
    cs_connector_raise_nofile();
    bench b = {.loop = uv_default_loop()};
    pid_t sim = start_simnet(bin, &b.sim_port);
    if (sim < 0) {
        printf("# web fan-out: simnet did not start\n");
        return 0;
    }
    cs_metrics *m;
    cs_metrics_new(&m);
    cs_bus_new(b.loop, &b.bus);
    cs_http_server *http;
    cs_http_server_opts ho = {.listen = "127.0.0.1:0", .max_per_ip = 256, .metrics = m};
    if (cs_http_server_start(b.loop, &ho, &http)) {
        printf("# web fan-out: no http server\n");
        return 0;
    }
    cs_runtime rt = {.loop = b.loop, .bus = b.bus, .metrics = m, .http = http, .node = "bench"};
    cs_web_conf wc = {.ring = 1024,
                      .ring_bytes = 8u << 20,
                      .client_buffer = 4u << 20,
                      .max_clients = 200,
                      .queue = 65536,
                      .sla = 99};
    void *web;
    if (cs_web_start(&rt, &wc, &web)) {
        printf("# web fan-out: the dashboard did not start\n");
        return 0;
    }
    cs_connector_opts o = {.net = cs_wire_net_find("regtest"),
                           .max_peers = PEERS + 16,
                           .ping_interval_ms = 5000,
                           .connect_timeout_ms = 30000,
                           .handshake_timeout_ms = 60000,
                           .sweep_ms = 100};
    cs_connector_new(b.loop, b.bus, &o, &b.c);
    cs_connector_hooks h = {.arg = &b, .on_handshake = on_handshake, .on_close = on_close};
    cs_connector_set_hooks(b.c, &h);
    uv_idle_init(b.loop, &b.idle);
    b.idle.data = &b;
    uv_idle_start(&b.idle, on_idle);
    double t0 = now_s();
    while (b.ready + b.closed < PEERS && now_s() - t0 < 60)
        run_for(b.loop, 0.2);
    printf("web_connector_peers: %zu peers\n", b.ready);
    cs_publisher_init(&b.pub, b.bus, "bench", "");
    uv_timer_init(b.loop, &b.tick);
    b.tick.data = &b;
    uv_timer_start(&b.tick, on_tick, 10, 10);
    uv_timer_init(b.loop, &b.pubt);
    b.pubt.data = &b;
    uv_timer_start(&b.pubt, on_pub, 10, 10);
    run_for(b.loop, 1);

    /* without clients */
    b.measure = true;
    run_for(b.loop, PHASE_S);
    b.measure = false;
    double lag0 = p99(&b);
    /* with CLIENTS clients in a child process */
    int port = atoi(strrchr(cs_http_server_address(http), ':') + 1);
    int fds[2];
    if (pipe(fds) != 0)
        return 0;
    pid_t child = fork();
    if (child == 0) {
        close(fds[0]);
        readers(port, PHASE_S + 2, fds[1]);
    }
    close(fds[1]);
    run_for(b.loop, 1); /* they connect */
    uint64_t pub0 = b.pub.seq;
    b.nlags = 0;
    b.expect = 0;
    b.measure = true;
    run_for(b.loop, PHASE_S);
    b.measure = false;
    uint64_t published = b.pub.seq - pub0;
    double lag1 = p99(&b);
    unsigned long got[CLIENTS] = {0};
    while (waitpid(child, NULL, WNOHANG) == 0)
        run_for(b.loop, 0.1); /* keep serving while the child finishes */
    if (read(fds[0], got, sizeof got) != (ssize_t)sizeof got)
        printf("# web fan-out: the readers reported nothing\n");
    unsigned long min = ~0ul, sum = 0;
    for (int i = 0; i < CLIENTS; i++) {
        sum += got[i];
        min = got[i] < min ? got[i] : min;
    }
    double secs = PHASE_S + 2;
    printf("web_published_rate: %.0f events/s\n", (double)published / PHASE_S);
    printf("web_sse_rate_per_client_mean: %.0f events/s (%d clients, over %.0f s)\n",
           (double)sum / CLIENTS / secs, CLIENTS, secs);
    printf("web_sse_rate_per_client_min: %.0f events/s\n", (double)min / secs);
    printf("web_loop_lag_p99_without_clients: %.2f ms\n", lag0);
    printf("web_loop_lag_p99_with_clients: %.2f ms (goal: under 5 ms more)\n", lag1);
    kill(sim, SIGTERM);
    waitpid(sim, NULL, 0);
    return 0;
}
