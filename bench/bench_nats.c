/* The NATS bridge against a local nats-server (started here on a free
 * loopback port, JetStream in a temporary directory):
 *   - events/s published through the bridge beside a bare libnats
 *     publisher sending the same messages (subject, headers, record), the
 *     best of three runs of each, alternating;
 *   - end-to-end latency from publish on host A's bus to delivery on host
 *     B's bus (two buses and two bridges in this process, over loopback);
 *   - JetStream publish-with-ack rate through the bridge.
 *
 *   bench_nats [EVENTS]   (default 200,000; bench/run runs it as is)
 */
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bus/nats_int.h"
#include "core/bus.h"
#include "core/error.h"
#include "core/log.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (void *)&a, &len))
        return -1;
    close(fd);
    return ntohs(a.sin_port);
}

static pid_t server_start(int port, const char *dir)
{
    pid_t pid = fork();
    if (pid == 0) {
        char p[16];
        snprintf(p, sizeof p, "%d", port);
        freopen("/dev/null", "w", stderr);
        freopen("/dev/null", "w", stdout);
        execl("/usr/sbin/nats-server", "nats-server", "-a", "127.0.0.1", "-p", p, "-js", "-sd", dir,
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

static char **strv(const char *s)
{
    char **v = calloc(2, sizeof *v);
    v[0] = strdup(s);
    return v;
}

static cs_nats_conf *conf_new(const char *url)
{
    cs_nats_conf *c = calloc(1, sizeof *c);
    c->servers = strv(url);
    c->nservers = 1;
    c->prefix = strdup("chainscope");
    c->connect_timeout_ms = 2000;
    c->reconnect_wait_ms = 100;
    c->max_reconnect_wait_ms = 1000;
    c->buffer = 1u << 20;
    c->buffer_bytes = 1u << 30;
    c->js_create = true;
    c->replicas = 1;
    c->duplicates_ms = 120000;
    c->ack_wait_ms = 30000;
    c->batch = 256;
    return c;
}

/* A P2P-like event: an addr message with 10 addresses. */
static cs_event *sample(cs_publisher *p, uint64_t seq)
{
    cs_vw *w = cs_publisher_begin(p);
    cs_vw_kv_str(w, "peer", "203.0.113.7:8333");
    cs_vw_key(w, "addresses");
    cs_vw_array_begin(w);
    for (int i = 0; i < 10; i++) {
        cs_vw_object_begin(w);
        cs_vw_kv_u64(w, "time", 1700000000 + (uint64_t)i);
        cs_vw_kv_str(w, "addr", "198.51.100.23");
        cs_vw_kv_u64(w, "port", 8333);
        cs_vw_object_end(w);
    }
    cs_vw_array_end(w);
    cs_event *ev = NULL;
    (void)seq;
    cs_publisher_emit(p, "p2p.msg.addr", NULL, "203.0.113.7:8333", &ev);
    return ev;
}

/* The bare publisher: the same messages straight through libnats. */
static double bare_rate(const char *url, cs_event *ev, long n)
{
    natsConnection *nc;
    if (natsConnection_ConnectTo(&nc, url) != NATS_OK)
        return 0;
    char subj[CS_NATS_MAX_SUBJECT], seq[24], id[300];
    cs_nats_subject(subj, sizeof subj, "chainscope", ev->network, ev->type);
    double t0 = now();
    for (long i = 0; i < n; i++) {
        natsMsg *m;
        natsMsg_Create(&m, subj, NULL, (const char *)ev->wire, (int)ev->wire_len);
        snprintf(seq, sizeof seq, "%ld", i);
        snprintf(id, sizeof id, "%s:%ld", ev->origin, i);
        natsMsgHeader_Set(m, "Chainscope-Origin", ev->origin);
        natsMsgHeader_Set(m, "Chainscope-Seq", seq);
        natsMsgHeader_Set(m, "Chainscope-Encoding", "binary");
        natsMsgHeader_Set(m, "Nats-Msg-Id", id);
        natsConnection_PublishMsg(nc, m);
        natsMsg_Destroy(m);
    }
    natsConnection_FlushTimeout(nc, 10000);
    double r = (double)n / (now() - t0);
    natsConnection_Destroy(nc);
    return r;
}

typedef struct side {
    uv_loop_t *loop;
    cs_bus *bus;
    cs_runtime rt;
    cs_nats_conf *conf;
    cs_nats *nats;
} side;

static int side_start(side *s, uv_loop_t *loop, cs_nats_conf *c, const char *node)
{
    s->loop = loop;
    s->conf = c;
    cs_bus_new(loop, &s->bus);
    s->rt = (cs_runtime){.loop = loop, .bus = s->bus, .node = node};
    void *st;
    int rc = cs_nats_start(&s->rt, c, &st);
    s->nats = st;
    return rc;
}

/* Stops the bridge and closes the bus; the loop frees them (uv_run after
 * every side sharing it has stopped). */
static void side_stop(side *s)
{
    cs_nats_stop(s->nats, NULL, NULL);
    cs_bus_close(s->bus);
}

static uint64_t sent(cs_nats *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t v = s->st.sent;
    pthread_mutex_unlock(&s->mu);
    return v;
}

static bool connected(cs_nats *s)
{
    pthread_mutex_lock(&s->mu);
    bool v = s->st.connected && (!s->c->js || s->js);
    pthread_mutex_unlock(&s->mu);
    return v;
}

static void wait_connected(side *s)
{
    double t0 = now();
    while (!connected(s->nats) && now() - t0 < 10)
        uv_run(s->loop, UV_RUN_NOWAIT), usleep(1000);
    usleep(100000); /* the stream set up */
}

/* Publishes n copies of ev on the bus (as fast as the bus takes them) and
 * returns the rate at which the bridge had them sent. */
static double bridge_rate(side *s, cs_publisher *p, long n)
{
    uint64_t base = sent(s->nats);
    double t0 = now();
    /* the same event n times: what is measured is the bus and the bridge,
     * not building events (the bare publisher reuses one too) */
    cs_event *ev = sample(p, 0);
    for (long i = 0; i < n; i++) {
        cs_bus_publish(s->bus, ev);
        if (i % 1024 == 0)
            uv_run(s->loop, UV_RUN_NOWAIT);
    }
    while (sent(s->nats) - base < (uint64_t)n && now() - t0 < 120) {
        uv_run(s->loop, UV_RUN_NOWAIT);
        usleep(200);
    }
    cs_event_unref(ev);
    return (double)(sent(s->nats) - base) / (now() - t0);
}

static double lat[200000];
static size_t nlat;

static void on_b(cs_sub *sub, cs_event *ev, void *arg)
{
    (void)sub;
    (void)arg;
    if (nlat < sizeof lat / sizeof *lat)
        lat[nlat++] = (double)(cs_now_ns() - ev->time_ns) / 1000.0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    cs_log_set_level(CS_LOG_WARN);
    long n = argc > 1 ? atol(argv[1]) : 200000;
    signal(SIGPIPE, SIG_IGN);
    char dir[] = "/tmp/bench-nats-XXXXXX";
    int port = free_port();
    if (!mkdtemp(dir) || port < 0)
        return 1;
    pid_t srv = server_start(port, dir);
    char url[64];
    snprintf(url, sizeof url, "nats://127.0.0.1:%d", port);
    natsConnection *probe = NULL;
    for (int i = 0; i < 100 && natsConnection_ConnectTo(&probe, url) != NATS_OK; i++)
        usleep(50000);
    if (!probe) {
        printf("# nats-server did not start\n");
        return 1;
    }
    natsConnection_Destroy(probe);
    uv_loop_t loop;
    uv_loop_init(&loop);

    /* publish rate, core NATS */
    side a = {0};
    cs_nats_conf *ca = conf_new(url);
    ca->pub = strv("p2p.>");
    ca->npub = 1;
    side_start(&a, &loop, ca, "bench-a");
    wait_connected(&a);
    cs_publisher pa;
    cs_publisher_init(&pa, a.bus, "connector@bench-a", "btc-main");
    cs_event *one = sample(&pa, 0);
    /* best of three, alternating (other processes share the cores) */
    double bare = 0, bridged = 0;
    for (int r = 0; r < 3; r++) {
        double x = bare_rate(url, one, n), y = bridge_rate(&a, &pa, n);
        bare = x > bare ? x : bare;
        bridged = y > bridged ? y : bridged;
    }
    printf("nats_bare_libnats_publish: %.0f events/s\n", bare);
    printf("nats_bridge_publish: %.0f events/s\n", bridged);
    printf("nats_bridge_vs_bare: %.0f %%\n", bare > 0 ? 100.0 * bridged / bare : 0);
    printf("nats_event_size: %zu bytes\n", one->wire_len);
    cs_event_unref(one);
    cs_publisher_free(&pa);
    side_stop(&a);
    uv_run(&loop, UV_RUN_DEFAULT);
    cs_nats_conf_free(ca);

    /* end-to-end latency: A's bus -> NATS -> B's bus, at 5,000 events/s */
    side a2 = {0}, b = {0};
    cs_nats_conf *c2 = conf_new(url);
    c2->pub = strv("p2p.>");
    c2->npub = 1;
    cs_nats_conf *cb = conf_new(url);
    cb->sub = strv("p2p.>");
    cb->nsub = 1;
    side_start(&a2, &loop, c2, "bench-a");
    side_start(&b, &loop, cb, "bench-b");
    wait_connected(&a2);
    wait_connected(&b);
    usleep(200000);
    cs_sub *bs;
    static const char *const pf[] = {"p2p.>"};
    cs_sub_opts so = {.filters = pf, .nfilters = 1, .cb = on_b, .name = "bench"};
    cs_bus_subscribe(b.bus, &so, &bs);
    cs_publisher p2;
    cs_publisher_init(&p2, a2.bus, "connector@bench-a", "btc-main");
    long m = 20000;
    double t0 = now();
    for (long i = 0; i < m; i++) {
        cs_event_unref(sample(&p2, (uint64_t)i));
        while (now() - t0 < (double)i / 5000.0)
            uv_run(&loop, UV_RUN_NOWAIT);
    }
    while (nlat < (size_t)m && now() - t0 < 30)
        uv_run(&loop, UV_RUN_NOWAIT);
    qsort(lat, nlat, sizeof *lat, cmp);
    if (nlat) {
        printf("nats_e2e_latency_p50: %.0f us\n", lat[nlat / 2]);
        printf("nats_e2e_latency_p99: %.0f us\n", lat[nlat * 99 / 100]);
    }
    printf("nats_e2e_delivered: %zu of %ld events\n", nlat, m);
    cs_bus_unsubscribe(bs);
    cs_publisher_free(&p2);
    side_stop(&b);
    side_stop(&a2);
    uv_run(&loop, UV_RUN_DEFAULT);
    cs_nats_conf_free(cb);
    cs_nats_conf_free(c2);

    /* JetStream publish with acks */
    side j = {0};
    cs_nats_conf *cj = conf_new(url);
    cj->pub = strv("p2p.>");
    cj->npub = 1;
    cj->js = true;
    cj->stream = strdup("BENCH");
    side_start(&j, &loop, cj, "bench-js");
    wait_connected(&j);
    cs_publisher pj;
    cs_publisher_init(&pj, j.bus, "connector@bench-js", "btc-main");
    long nj = n / 2;
    printf("nats_jetstream_publish_acked: %.0f events/s\n", bridge_rate(&j, &pj, nj));
    cs_publisher_free(&pj);
    side_stop(&j);
    uv_run(&loop, UV_RUN_DEFAULT);
    cs_nats_conf_free(cj);

    uv_loop_close(&loop);
    kill(srv, SIGTERM);
    waitpid(srv, NULL, 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 0;
    return 0;
}
