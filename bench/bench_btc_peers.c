/* Many peers on one loop, and a crawl, against a simulated network running
 * in another process (`chainscope simnet`, path from $CHAINSCOPE).
 *
 * usage: bench_btc_peers [--peers N] [--crawl-nodes N] [--logserver-peers N]
 *        (defaults 10000)
 *
 * 1. N connector peers to an N-node simnet: connect time, RSS per
 *    connection in this process (and in simnet's), ping RTT p50/p99 over a
 *    keep-alive round with every peer connected.
 * 2. `chainscope crawl` of an N-node simnet: wall time and nodes/s.
 * 3. `chainscope run` with a connector to an N-node simnet, every message
 *    event on, and a log server client on `p2p.>`: version messages
 *    received (published) beside version events the client got.
 * Prints `name: value unit` lines; never fails on a number. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "btc/connector.h"
#include "chainscope/client.h"
#include "core/error.h"
#include "core/event.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

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

/* A free TCP port on 127.0.0.1 (bound, read, released). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int port = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* The value of the metric line starting with `name` in /metrics, -1 if
 * none. */
static double metric(int port, const char *name)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    static char buf[1 << 20];
    size_t n = 0;
    double v = -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        dprintf(fd, "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
        ssize_t k;
        while (n < sizeof buf - 1 && (k = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
            n += (size_t)k;
    }
    close(fd);
    buf[n] = 0;
    for (char *l = strstr(buf, name); l; l = strstr(l + 1, name))
        if (l == buf || l[-1] == '\n') {
            v = atof(l + strlen(name));
            break;
        }
    return v;
}

/* Runs `chainscope ctl --socket S connect` for peers [from, to). */
static void ctl_connect(const char *bin, const char *sock, int port, size_t from, size_t to)
{
    static char addrs[1000][32];
    char *argv[1010];
    int a = 0;
    argv[a++] = (char *)bin;
    argv[a++] = "ctl";
    argv[a++] = "--socket";
    argv[a++] = (char *)sock;
    argv[a++] = "connect";
    for (size_t i = from; i < to && i - from < 1000; i++) {
        uint32_t ip = 0x7f010001u + (uint32_t)i;
        snprintf(addrs[i - from], sizeof addrs[0], "%u.%u.%u.%u:%d", ip >> 24, (ip >> 16) & 255,
                 (ip >> 8) & 255, ip & 255, port);
        argv[a++] = addrs[i - from];
    }
    argv[a] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execv(bin, argv);
        _exit(127);
    }
    waitpid(pid, NULL, 0);
}

static void logserver_bench(const char *bin, size_t n)
{
    int port;
    pid_t sim = start_simnet(bin, n, "1", &port);
    if (sim < 0)
        return;
    char dir[] = "/tmp/cs-bench-XXXXXX";
    if (!mkdtemp(dir))
        return;
    char sock[256], ctl[256], cfg[256];
    snprintf(sock, sizeof sock, "%s/bus.sock", dir);
    snprintf(ctl, sizeof ctl, "%s/control.sock", dir);
    snprintf(cfg, sizeof cfg, "%s/run.yaml", dir);
    int http = free_port();
    FILE *f = fopen(cfg, "w");
    fprintf(f,
            "node: bench\nlog:\n  level: warn\nlogserver:\n  socket: %s\nhttp:\n  listen: "
            "127.0.0.1:%d\nconnector:\n  network: regtest\n  control: %s\n  max_peers: %zu\n"
            "  msg_events: true\n",
            sock, http, ctl, n + 100);
    fclose(f);
    pid_t run = fork();
    if (run == 0) {
        execl(bin, bin, "run", "-c", cfg, (char *)NULL);
        _exit(127);
    }
    struct stat st;
    for (int i = 0; i < 1000 && (stat(sock, &st) != 0 || stat(ctl, &st) != 0); i++)
        usleep(10000);
    cs_client *cl;
    if (cs_client_connect(sock, "bench-tail", NULL, &cl) || cs_client_subscribe(cl, "p2p.>") ||
        cs_client_flush(cl, 10000)) {
        fprintf(stderr, "# cannot subscribe to the log server\n");
        goto out;
    }
    double t0 = now_s();
    for (size_t i = 0; i < n; i += 1000)
        ctl_connect(bin, ctl, port, i, i + 1000 < n ? i + 1000 : n);
    uint64_t versions = 0, handshakes = 0, total = 0;
    /* Until the handshakes are in, or nothing came for 10 s. */
    while (handshakes < n) {
        const uint8_t *rec;
        size_t len;
        const char *type;
        size_t tlen;
        int rc = cs_client_next(cl, &rec, &len, 10000);
        if (rc) {
            fprintf(stderr, "# log client: %s (%s)\n", cs_strerror(rc), cs_client_error(cl));
            break;
        }
        total++;
        if (cs_event_check(rec, len, &type, &tlen) != 0)
            continue;
        if (tlen == 13 && memcmp(type, "p2p.handshake", 13) == 0)
            handshakes++;
        else if (tlen == 15 && memcmp(type, "p2p.msg.version", 15) == 0)
            versions++;
    }
    double dt = now_s() - t0;
    /* The version events published: a version message received per peer,
     * and the one we sent. */
    double in = metric(http, "chainscope_p2p_messages_total{command=\"version\",direction=\"in\"}");
    double out =
        metric(http, "chainscope_p2p_messages_total{command=\"version\",direction=\"out\"}");
    printf("logserver_%zu_peers_version_events_published: %.0f events\n", n, in + out);
    printf("logserver_%zu_peers_version_events_delivered: %llu events\n", n,
           (unsigned long long)versions);
    printf("logserver_%zu_peers_handshake_events_delivered: %llu of %zu\n", n,
           (unsigned long long)handshakes, n);
    printf("logserver_%zu_peers_events_delivered: %llu events in %.1f s\n", n,
           (unsigned long long)total, dt);
    cs_client_close(cl);
out:
    kill(run, SIGTERM);
    waitpid(run, NULL, 0);
    stop_simnet(sim);
    unlink(cfg);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    size_t peers = 10000, crawl = 10000, logserver = 10000;
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--peers") == 0)
            peers = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--crawl-nodes") == 0)
            crawl = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--logserver-peers") == 0)
            logserver = strtoul(argv[++i], NULL, 10);
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
    if (logserver)
        logserver_bench(bin, logserver);
    return 0;
}
