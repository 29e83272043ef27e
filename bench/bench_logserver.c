/* Log server fan-out: one publisher process, a `chainscope run` log server,
 * and 4 subscriber processes on its unix socket. Prints the rate at which
 * each subscriber received every event (the slowest of the four), then the
 * rate one reader gets beside 1,000 clients holding the same 64 filters.
 *
 *   bench_logserver PATH/TO/chainscope [EVENTS]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chainscope/client.h"
#include "core/error.h"
#include "core/event.h"

#define SUBS 4

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A subscriber: counts n events, writes its rate to fd. */
static int subscriber(const char *sock, long n, int fd, int ready)
{
    cs_client *c;
    if (cs_client_connect(sock, "bench-sub", NULL, &c) || cs_client_subscribe(c, "p2p.>") ||
        cs_client_flush(c, 5000))
        return 1;
    if (write(ready, "r", 1) != 1)
        return 1;
    long got = 0;
    double t0 = 0;
    while (got < n) {
        const uint8_t *rec;
        size_t len;
        int rc = cs_client_next(c, &rec, &len, 30000);
        if (rc) {
            fprintf(stderr, "subscriber: %s after %ld events (%s)\n", cs_strerror(rc), got,
                    cs_client_error(c));
            return 1;
        }
        if (got == 0)
            t0 = now();
        got++;
    }
    double rate = (double)(n - 1) / (now() - t0);
    dprintf(fd, "%.0f\n", rate);
    cs_client_close(c);
    return 0;
}

#define IDLE_CLIENTS 1000
#define IDLE_FILTERS 64

/* Many clients holding the same 64 filters (none matching what is
 * published) beside one reader: measures what matching costs the server
 * per event. Prints the reader's rate. */
static void bench_overlapping(const char *sock, long n)
{
    static cs_client *idle[IDLE_CLIENTS];
    char f[64];
    for (int i = 0; i < IDLE_CLIENTS; i++) {
        if (cs_client_connect(sock, "bench-idle", NULL, &idle[i])) {
            fprintf(stderr, "cannot connect idle client %d\n", i);
            return;
        }
        for (int k = 0; k < IDLE_FILTERS; k++) {
            snprintf(f, sizeof f, "p2p.f%d.>", k);
            cs_client_subscribe(idle[i], f);
        }
    }
    for (int i = 0; i < IDLE_CLIENTS; i++)
        cs_client_flush(idle[i], 30000);
    cs_client *rd, *pub;
    if (cs_client_connect(sock, "bench-reader", NULL, &rd) || cs_client_subscribe(rd, "p2p.>") ||
        cs_client_flush(rd, 30000) || cs_client_connect(sock, "bench-pub2", NULL, &pub))
        return;
    pid_t child = fork();
    if (child == 0) {
        cs_vw w;
        cs_vw_init(&w, 0);
        cs_event_hdr h = {.origin = "connector@bench",
                          .network = "btc-main",
                          .type = "p2p.msg.ping",
                          .key = "1 203.0.113.7:8333",
                          .time_ns = 1};
        for (long i = 0; i < n; i++) {
            cs_vw_reset(&w);
            cs_vw_object_begin(&w);
            cs_vw_kv_u64(&w, "nonce", (uint64_t)i);
            cs_vw_object_end(&w);
            h.seq = (uint64_t)i + 1;
            cs_event *e = cs_event_new(&h, w.buf.data, w.buf.len);
            cs_client_publish(pub, e->wire, e->wire_len);
            cs_event_unref(e);
        }
        cs_client_flush(pub, 120000);
        _exit(0);
    }
    long got = 0;
    double t0 = now();
    while (got < n) {
        const uint8_t *rec;
        size_t len;
        if (cs_client_next(rd, &rec, &len, 60000))
            break;
        got++;
    }
    double dt = now() - t0;
    waitpid(child, NULL, 0);
    printf("logserver_fanout_%d_clients_%d_overlapping_filters: %.0f events/s (%ld of %ld)\n",
           IDLE_CLIENTS, IDLE_FILTERS, got == n ? (double)n / dt : 0.0, got, n);
    cs_client_close(rd);
    cs_client_close(pub);
    for (int i = 0; i < IDLE_CLIENTS; i++)
        cs_client_close(idle[i]);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_logserver CHAINSCOPE [EVENTS]\n");
        return 2;
    }
    long n = argc > 2 ? atol(argv[2]) : 2000000;
    char dir[] = "/tmp/cs-bench-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char sock[256], cfg[256];
    snprintf(sock, sizeof sock, "%s/bus.sock", dir);
    snprintf(cfg, sizeof cfg, "%s/bench.yaml", dir);
    FILE *f = fopen(cfg, "w");
    fprintf(f, "node: bench\nlog:\n  level: warn\nlogserver:\n  socket: %s\n  buffer: 64MiB\n",
            sock);
    fclose(f);
    pid_t server = fork();
    if (server == 0) {
        execl(argv[1], argv[1], "run", "-c", cfg, (char *)NULL);
        _exit(127);
    }
    struct stat st;
    for (int i = 0; i < 500 && stat(sock, &st) != 0; i++)
        usleep(10000);
    int rates[2], ready[2];
    if (pipe(rates) || pipe(ready))
        return 1;
    pid_t subs[SUBS];
    for (int i = 0; i < SUBS; i++) {
        subs[i] = fork();
        if (subs[i] == 0)
            _exit(subscriber(sock, n, rates[1], ready[1]));
    }
    for (int i = 0; i < SUBS; i++) {
        char ch;
        if (read(ready[0], &ch, 1) != 1)
            return 1;
    }
    cs_client *pub;
    if (cs_client_connect(sock, "bench-pub", NULL, &pub)) {
        fprintf(stderr, "cannot connect to the log server\n");
        kill(server, SIGTERM);
        return 1;
    }
    cs_vw w;
    cs_vw_init(&w, 0);
    cs_event_hdr h = {.origin = "connector@bench",
                      .network = "btc-main",
                      .type = "p2p.msg.ping",
                      .key = "1 203.0.113.7:8333"};
    double t0 = now();
    size_t bytes = 0;
    for (long i = 0; i < n; i++) {
        cs_vw_reset(&w);
        cs_vw_object_begin(&w);
        cs_vw_kv_str(&w, "direction", "in");
        cs_vw_kv_u64(&w, "nonce", (uint64_t)i * 2654435761u);
        cs_vw_object_end(&w);
        h.seq = (uint64_t)i + 1;
        h.time_ns = 1;
        cs_event *e = cs_event_new(&h, w.buf.data, w.buf.len);
        bytes += e->wire_len;
        cs_client_publish(pub, e->wire, e->wire_len);
        cs_event_unref(e);
    }
    cs_client_flush(pub, 120000);
    double pub_rate = (double)n / (now() - t0);
    double min = -1;
    for (int i = 0; i < SUBS; i++) {
        int status;
        waitpid(subs[i], &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            min = 0;
    }
    close(rates[1]);
    FILE *rf = fdopen(rates[0], "r");
    double r;
    int got = 0;
    while (fscanf(rf, "%lf", &r) == 1) {
        got++;
        if (min < 0 || r < min)
            min = r;
    }
    if (got < SUBS)
        min = 0;
    printf("logserver_publish_into_server: %.0f events/s\n", pub_rate);
    printf("logserver_fanout_4_subscriber_processes: %.0f events/s each (slowest)\n", min);
    printf("logserver_event_record_size: %.1f bytes/event\n", (double)bytes / (double)n);
    bench_overlapping(sock, n / 10);
    cs_client_close(pub);
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
    unlink(cfg);
    rmdir(dir);
    cs_vw_free(&w);
    return 0;
}
