/* Many peers on one loop, and a crawl, against a simulated network running
 * in another process (`chainscope simnet`, path from $CHAINSCOPE).
 *
 * usage: bench_btc_peers [--peers N] [--crawl-nodes N]   (defaults 10000)
 *
 * 1. N connector peers to an N-node simnet: connect time, RSS per
 *    connection in this process (and in simnet's), ping RTT p50/p99 over a
 *    keep-alive round with every peer connected.
 * 2. `chainscope crawl` of an N-node simnet: wall time and nodes/s.
 * Prints `name: value unit` lines; never fails on a number. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "btc/connector.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long v = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            v = atol(line + 6);
    fclose(f);
    return v;
}

/* Starts `chainscope simnet`; returns its pid and the first node's port. */
static pid_t start_simnet(const char *bin, size_t nodes, const char *seed, int *port)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        char n[32];
        snprintf(n, sizeof n, "%zu", nodes);
        execl(bin, bin, "simnet", "--nodes", n, "--fanout", "20", "--seed", seed, (char *)NULL);
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
    /* keep reading its stderr in the background is not needed: it prints
     * one line; leave the pipe open so it never gets SIGPIPE */
    return pid;
}

static void stop_simnet(pid_t pid)
{
    kill(pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(100000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

typedef struct bench {
    uv_loop_t *loop;
    cs_connector *c;
    size_t want, started, ready, closed;
    int port;
    uv_idle_t idle;
    double t0, t_ready;
} bench;

static void on_handshake(cs_connector *c, cs_peer *p, void *arg)
{
    bench *b = arg;
    (void)c;
    (void)p;
    if (++b->ready == b->want)
        b->t_ready = now_s();
}

static void on_close(cs_connector *c, cs_peer *p, bool failed, const char *reason, void *arg)
{
    bench *b = arg;
    (void)c;
    (void)p;
    if (b->closed++ < 5)
        fprintf(stderr, "# peer closed (%s): %s\n", failed ? "failed" : "closed", reason);
}

/* Opens connections in slices so the listener's backlog keeps up. */
static void on_idle(uv_idle_t *h)
{
    bench *b = h->data;
    size_t pending = b->started - b->ready - b->closed;
    for (int k = 0; k < 256 && b->started < b->want && pending < 2000; k++, pending++) {
        char hp[64];
        uint32_t ip = 0x7f010001u + (uint32_t)b->started;
        snprintf(hp, sizeof hp, "%u.%u.%u.%u:%d", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
                 ip & 255, b->port);
        if (cs_connector_connect(b->c, hp, NULL) != 0)
            break;
        b->started++;
    }
    if (b->started == b->want)
        uv_idle_stop(h);
}

static void on_timer(uv_timer_t *t)
{
    uv_stop(t->loop);
}

static void run_for(uv_loop_t *loop, double seconds, bool (*until)(bench *), bench *b)
{
    uv_timer_t t;
    uv_timer_init(loop, &t);
    double end = now_s() + seconds;
    while (now_s() < end) {
        uv_timer_start(&t, on_timer, 100, 0);
        uv_run(loop, UV_RUN_DEFAULT);
        if (until && until(b))
            break;
    }
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static bool all_ready(bench *b)
{
    return b->ready + b->closed >= b->want;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void on_closed(void *arg)
{
    (void)arg;
}

static void peers_bench(const char *bin, size_t n)
{
    int port;
    pid_t sim = start_simnet(bin, n, "1", &port);
    if (sim < 0) {
        printf("# peers: simnet did not start\n");
        return;
    }
    bench b = {.loop = uv_default_loop(), .want = n, .port = port};
    cs_connector_opts o = {.net = cs_wire_net_find("regtest"),
                           .max_peers = n + 16,
                           .no_events = true,
                           .ping_interval_ms = 5000,
                           .connect_timeout_ms = 30000,
                           .handshake_timeout_ms = 60000,
                           .sweep_ms = 100};
    long rss0 = rss_kib(getpid());
    if (cs_connector_new(b.loop, NULL, &o, &b.c) != 0) {
        stop_simnet(sim);
        return;
    }
    long sim_rss0 = rss_kib(sim);
    cs_connector_hooks h = {.arg = &b, .on_handshake = on_handshake, .on_close = on_close};
    cs_connector_set_hooks(b.c, &h);
    uv_idle_init(b.loop, &b.idle);
    b.idle.data = &b;
    uv_idle_start(&b.idle, on_idle);
    b.t0 = now_s();
    run_for(b.loop, 120, all_ready, &b);
    double t_conn = (b.t_ready ? b.t_ready : now_s()) - b.t0;
    printf("peers_connected: %zu peers\n", b.ready);
    printf("peers_failed: %zu peers\n", b.closed);
    printf("peers_connect_time: %.2f s\n", t_conn);
    printf("peers_handshake_rate: %.0f peers/s\n", (double)b.ready / t_conn);
    /* idle a moment, then one keep-alive round for everybody */
    run_for(b.loop, 6.5, NULL, &b);
    long rss1 = rss_kib(getpid()), sim_rss1 = rss_kib(sim);
    size_t np = cs_connector_count(b.c);
    cs_peer_info *info = calloc(np ? np : 1, sizeof *info);
    np = cs_connector_peers(b.c, info, np);
    double *rtt = calloc(np ? np : 1, sizeof *rtt);
    size_t nr = 0;
    for (size_t i = 0; i < np; i++)
        if (info[i].rtt_ms >= 0)
            rtt[nr++] = info[i].rtt_ms;
    qsort(rtt, nr, sizeof *rtt, cmp_d);
    if (np) {
        printf("connector_rss_per_connection: %.0f bytes\n",
               (double)(rss1 - rss0) * 1024.0 / (double)np);
        printf("simnet_rss_per_connection: %.0f bytes\n",
               (double)(sim_rss1 - sim_rss0) * 1024.0 / (double)np);
    }
    if (nr) {
        printf("ping_rtt_p50: %.3f ms\n", rtt[nr / 2]);
        printf("ping_rtt_p99: %.3f ms\n", rtt[nr * 99 / 100]);
        printf("ping_rtt_samples: %zu peers\n", nr);
    }
    free(info);
    free(rtt);
    uv_close((uv_handle_t *)&b.idle, NULL);
    cs_connector_close(b.c, on_closed, NULL);
    uv_run(b.loop, UV_RUN_DEFAULT);
    stop_simnet(sim);
}

static void crawl_bench(const char *bin, size_t n)
{
    int port;
    pid_t sim = start_simnet(bin, n, "2", &port);
    if (sim < 0) {
        printf("# crawl: simnet did not start\n");
        return;
    }
    char seed[64], cmd[512];
    snprintf(seed, sizeof seed, "127.1.0.1:%d", port);
    snprintf(cmd, sizeof cmd,
             "%s crawl --network regtest --seed %s --concurrency 1000 --timeout 10 "
             "--getaddr-wait 5 --quiet 2>&1 | tail -1",
             bin, seed);
    double t0 = now_s();
    FILE *p = popen(cmd, "r");
    char line[512] = "";
    if (p) {
        if (!fgets(line, sizeof line, p))
            line[0] = 0;
        pclose(p);
    }
    double t = now_s() - t0;
    stop_simnet(sim);
    size_t known = 0, reach = 0;
    const char *k = strstr(line, " s: ");
    if (k)
        known = strtoul(k + 4, NULL, 10);
    const char *r = strstr(line, " tried, ");
    if (r)
        reach = strtoul(r + 8, NULL, 10);
    printf("crawl_nodes: %zu nodes\n", known);
    printf("crawl_reachable: %zu nodes\n", reach);
    printf("crawl_wall_time: %.2f s\n", t);
    printf("crawl_rate: %.0f nodes/s\n", t > 0 ? (double)known / t : 0.0);
}

int main(int argc, char **argv)
{
    size_t peers = 10000, crawl = 10000;
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--peers") == 0)
            peers = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--crawl-nodes") == 0)
            crawl = strtoul(argv[++i], NULL, 10);
    }
    const char *bin = getenv("CHAINSCOPE");
    if (!bin)
        bin = "build/chainscope";
    signal(SIGPIPE, SIG_IGN);
    long fds = cs_connector_raise_nofile();
    printf("# open files allowed: %ld\n", fds);
    if (fds > 0 && (size_t)fds < peers + 64) {
        peers = (size_t)fds - 64;
        printf("# peers limited to %zu by RLIMIT_NOFILE\n", peers);
    }
    if (peers)
        peers_bench(bin, peers);
    if (crawl)
        crawl_bench(bin, crawl);
    return 0;
}
