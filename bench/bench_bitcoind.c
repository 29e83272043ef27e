/* The Bitcoin Core extractor's CPU per poll and the fork watch's update
 * time, on answers generated in Core's shapes (tests/data/bitcoind/):
 *  - getpeerinfo with 125 peers: JSON parse + what the component does
 *    with the answer (decode, the diff by id with its peer events, the
 *    summary event, list lookups, the peer metrics), 10 peers replaced
 *    between answers (goal: under 5 ms);
 *  - getrawaddrman with 65,536 entries (~13 MB): JSON parse (done on the
 *    libuv thread pool by the JSON-RPC client), decode into table
 *    positions, comparison with the previous snapshot (goal: under 100 ms
 *    in all; what runs on the loop is decode + compare);
 *  - fork watch: 20 nodes on 1,000-header trees, the time to apply one
 *    node's new tip, and a round where every node moves.
 * Each figure is the best of several passes.
 *
 * usage: bench_bitcoind    prints `name: value unit` lines */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "btc/bitcoind_comp.h"
#include "btc/wire.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void peers_json(cs_buf *b, int n, int first)
{
    static const char *const types[] = {
        "inbound", "outbound-full-relay", "block-relay-only", "feeler", "manual", "addr-fetch"};
    cs_buf_putc(b, '[');
    for (int i = first; i < first + n; i++)
        cs_buf_printf(
            b,
            "%s{\"id\":%d,\"addr\":\"%d.%d.%d.%d:8333\",\"addrbind\":\"10.0.0.1:8333\","
            "\"network\":\"ipv4\",\"services\":\"0000000000000c09\",\"servicesnames\":["
            "\"NETWORK\",\"WITNESS\",\"NETWORK_LIMITED\",\"P2P_V2\"],\"relaytxes\":true,"
            "\"lastsend\":1764672000,\"lastrecv\":1764672001,\"last_transaction\":1764671000,"
            "\"last_block\":1764670000,\"bytessent\":%d,\"bytesrecv\":%d,\"conntime\":1764600000,"
            "\"timeoffset\":0,\"pingtime\":0.%03d,\"minping\":0.%03d,\"version\":70016,"
            "\"subver\":\"/Satoshi:2%d.0.0/\",\"inbound\":%s,\"bip152_hb_to\":false,"
            "\"bip152_hb_from\":false,\"startingheight\":870000,\"presynced_headers\":-1,"
            "\"synced_headers\":870001,\"synced_blocks\":870001,\"inflight\":[],"
            "\"addr_relay_enabled\":true,\"addr_processed\":%d,\"addr_rate_limited\":0,"
            "\"permissions\":[],\"minfeefilter\":0.00001000,\"bytessent_per_msg\":{\"addrv2\":"
            "%d,\"feefilter\":32,\"getdata\":%d,\"headers\":106,\"inv\":%d,\"ping\":%d,\"pong\":"
            "%d,\"sendcmpct\":33,\"sendheaders\":24,\"tx\":%d,\"verack\":24,\"version\":127,"
            "\"wtxidrelay\":24},\"bytesrecv_per_msg\":{\"addrv2\":%d,\"feefilter\":32,\"inv\":%d,"
            "\"ping\":%d,\"pong\":%d,\"sendaddrv2\":24,\"tx\":%d,\"verack\":24,\"version\":126},"
            "\"connection_type\":\"%s\",\"transport_protocol_type\":\"%s\",\"session_id\":\"%s\"}",
            i > first ? "," : "", i, 11 + i % 200, i % 251, (i * 7) % 253, 1 + i % 250,
            100000 + i * 37, 900000 + i * 91, 10 + i % 900, 5 + i % 900, 7 + i % 3,
            i % 3 ? "false" : "true", i * 11, i * 40, i * 1000, i * 5000, i * 32, i * 32, i * 20000,
            i * 40, i * 6000, i * 32, i * 32, i * 15000, types[i % 6], i % 2 ? "v2" : "v1",
            i % 2 ? "1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988" : "");
    cs_buf_putc(b, ']');
}

static void addrman_json(cs_buf *b, int nnew, int ntried, unsigned salt)
{
    cs_buf_append_str(b, "{\"new\":{");
    for (int t = 0; t < 2; t++) {
        int n = t ? ntried : nnew;
        for (int i = 0; i < n; i++) {
            unsigned a = (unsigned)i * 2654435761u + salt * (i % 97 == 0);
            cs_buf_printf(b,
                          "%s\"%d/%d\":{\"address\":\"%u.%u.%u.%u\",\"port\":8333,\"services\":"
                          "3081,\"time\":%d,\"network\":\"ipv4\",\"source\":\"%u.%u.%u.%u\","
                          "\"source_network\":\"ipv4\"}",
                          i ? "," : "", i / 64, i % 64, a >> 24, (a >> 16) & 255, (a >> 8) & 255,
                          a & 255, 1764000000 + i, (a >> 3) & 255, (a >> 11) & 255, 7, 9);
        }
        cs_buf_append_str(b, t ? "}}" : "},\"tried\":{");
    }
}

static size_t delivered;
static void on_event(cs_sub *sub, cs_event *ev, void *arg)
{
    (void)sub;
    (void)ev;
    (void)arg;
    delivered++;
}

static void bench_peers(void)
{
    cs_buf b[2];
    cs_buf_init(&b[0], 0);
    cs_buf_init(&b[1], 0);
    peers_json(&b[0], 125, 0);
    peers_json(&b[1], 125, 10); /* ids 10..134: 10 gone, 10 new */
    cs_bus *bus;
    cs_bus_new(NULL, &bus);
    cs_sub *sub;
    cs_sub_opts so = {.cb = on_event, .name = "bench"};
    cs_bus_subscribe(bus, &so, &sub);
    cs_metrics *m;
    cs_metrics_new(&m);
    uv_loop_t loop;
    uv_loop_init(&loop);
    cs_runtime rt = {.loop = &loop, .bus = bus, .metrics = m};
    btcd s;
    memset(&s, 0, sizeof s);
    s.rt = &rt;
    cs_publisher_init(&s.pub, bus, "bitcoind@bench", "");
    cs_btcd_metrics_init(&s, m);
    char err[128];
    cs_buf lt;
    cs_buf_init(&lt, 0);
    for (int i = 0; i < 1000; i++)
        cs_buf_printf(&lt, "%d.%d.%d.0/24\n", 11 + i % 200, i % 250, (i * 3) % 250);
    cs_buf_putc(&lt, 0);
    s.lists[0].name = strdup("spy");
    cs_btcd_list_parse(&s.lists[0], (const char *)lt.data, err, sizeof err);
    s.nlists = 1;
    cs_bitcoind_node_conf nc = {.name = "node-a", .network = "btc-main"};
    bnode n;
    memset(&n, 0, sizeof n);
    n.s = &s;
    n.c = &nc;
    cs_btcd_peers_metrics_init(&s, &n);
    cs_jsonr j;
    cs_jsonr_init(&j, 0, 0);
    double best = 1e9;
    for (int pass = 0; pass < 60; pass++) {
        const cs_buf *in = &b[pass % 2];
        double t0 = now_ms();
        cs_jsonr_parse(&j, (const char *)in->data, in->len);
        cs_btcd_on_peers(&n, &j, 0);
        double dt = now_ms() - t0;
        cs_bus_drain(bus, 0);
        if (pass > 1 && dt < best)
            best = dt;
    }
    printf("bitcoind_getpeerinfo_bytes: %zu bytes\n", b[0].len);
    printf("bitcoind_getpeerinfo_125_poll: %.3f ms (goal < 5 ms; parse, decode, 20 peer events, "
           "summary, 1000-prefix list, metrics; %zu events in all)\n",
           best, delivered);
    cs_jsonr_free(&j);
    free(n.peers);
    for (int k = 0; k < LG_N; k++)
        lg_free(&n.lg[k]);
    cs_btcd_list_free(&s.lists[0]);
    cs_publisher_free(&s.pub);
    cs_metrics_free(m);
    cs_bus_unsubscribe(sub);
    cs_bus_close(bus);
    uv_loop_close(&loop);
    cs_buf_free(&lt);
    cs_buf_free(&b[0]);
    cs_buf_free(&b[1]);
}

static void bench_addrman(void)
{
    cs_buf b1, b2;
    cs_buf_init(&b1, 0);
    cs_buf_init(&b2, 0);
    addrman_json(&b1, 65536 - 16384, 16384, 0);
    addrman_json(&b2, 65536 - 16384, 16384, 77);
    cs_btcd_addrman a, c;
    cs_btcd_addrman_init(&a);
    cs_btcd_addrman_init(&c);
    cs_jsonr j1, j2;
    cs_jsonr_init(&j1, 0, 0);
    cs_jsonr_init(&j2, 0, 0);
    cs_jsonr_parse(&j1, (const char *)b1.data, b1.len);
    cs_btcd_addrman_parse(&j1, 0, &a);
    double bparse = 1e9, bdecode = 1e9;
    cs_btcd_addrman_diff d = {0};
    for (int pass = 0; pass < 5; pass++) {
        double t0 = now_ms();
        cs_jsonr_parse(&j2, (const char *)b2.data, b2.len);
        double t1 = now_ms();
        cs_btcd_addrman_parse(&j2, 0, &c);
        cs_btcd_addrman_compare(&a, &c, &d);
        double t2 = now_ms();
        if (t1 - t0 < bparse)
            bparse = t1 - t0;
        if (t2 - t1 < bdecode)
            bdecode = t2 - t1;
    }
    printf("bitcoind_getrawaddrman_bytes: %zu bytes\n", b2.len);
    printf("bitcoind_getrawaddrman_65536_parse: %.2f ms (JSON reader, off the loop)\n", bparse);
    printf("bitcoind_getrawaddrman_65536_decode_compare: %.2f ms (on the loop; %llu replaced)\n",
           bdecode, (unsigned long long)d.new_replaced + d.tried_replaced);
    printf("bitcoind_getrawaddrman_65536_poll: %.2f ms (goal < 100 ms)\n", bparse + bdecode);
    cs_btcd_addrman_free(&a);
    cs_btcd_addrman_free(&c);
    cs_jsonr_free(&j1);
    cs_jsonr_free(&j2);
    cs_buf_free(&b1);
    cs_buf_free(&b2);
}

static size_t nevents;
static void count(const cs_forks_event *ev, void *arg)
{
    (void)ev;
    (void)arg;
    nevents++;
}

static void hash_of(char *out, unsigned branch, unsigned h)
{
    snprintf(out, 65, "%08x%056u", branch, h);
}

static void bench_forks(void)
{
    enum { NODES = 20, DEPTH = 1000, ROUNDS = 200 };
    static char names_buf[NODES][16];
    const char *names[NODES];
    for (int i = 0; i < NODES; i++) {
        snprintf(names_buf[i], sizeof names_buf[i], "node-%02d", i);
        names[i] = names_buf[i];
    }
    cs_forks_opts o = {.network = "btc-main",
                       .nodes = names,
                       .nnodes = NODES,
                       .max_headers = 4 * DEPTH,
                       .lag_blocks = 2,
                       .stale_after_ms = 1800000,
                       .emit = count};
    cs_forks *f;
    cs_forks_new(&o, &f);
    char h[65], p[65];
    /* 1,000 shared headers, then each node on its own 1-block fork of the
     * shared tip's parent every 50 heights (so trees branch) */
    for (unsigned i = 0; i < DEPTH; i++) {
        hash_of(h, 0, i);
        hash_of(p, 0, i - 1);
        cs_forks_add(f, h, i, i ? p : NULL);
    }
    cs_btcd_tip t = {.branchlen = 0};
    strcpy(t.status, "active");
    for (int n = 0; n < NODES; n++) {
        hash_of(t.hash, 0, DEPTH - 1);
        t.height = DEPTH - 1;
        cs_forks_tips(f, (size_t)n, &t, 1, 0);
    }
    double one = 1e9, round = 1e9;
    for (unsigned r = 0; r < ROUNDS; r++) {
        unsigned height = DEPTH + r;
        hash_of(h, 0, height);
        hash_of(p, 0, height - 1);
        double t0 = now_ms();
        cs_forks_add(f, h, height, p);
        snprintf(t.hash, 65, "%s", h);
        t.height = height;
        cs_forks_tips(f, 0, &t, 1, r);
        double t1 = now_ms();
        for (int n = 1; n < NODES; n++)
            cs_forks_tips(f, (size_t)n, &t, 1, r);
        double t2 = now_ms();
        if (t1 - t0 < one)
            one = t1 - t0;
        if (t2 - t0 < round)
            round = t2 - t0;
    }
    /* a lagging node far behind: the worst walk */
    double far = 1e9;
    for (int pass = 0; pass < 20; pass++) {
        hash_of(t.hash, 0, DEPTH / 2);
        t.height = DEPTH / 2;
        double t0 = now_ms();
        cs_forks_tips(f, NODES - 1, &t, 1, 0);
        double dt = now_ms() - t0;
        hash_of(t.hash, 0, DEPTH + ROUNDS - 1);
        t.height = DEPTH + ROUNDS - 1;
        cs_forks_tips(f, NODES - 1, &t, 1, 0);
        if (dt < far)
            far = dt;
    }
    cs_buf b;
    cs_buf_init(&b, 0);
    double t0 = now_ms();
    cs_forks_json(f, 1000, &b);
    double js = now_ms() - t0;
    printf("forkwatch_20x1000_new_tip: %.1f us (one node's new best tip)\n", one * 1000);
    printf("forkwatch_20x1000_round: %.1f us (all 20 nodes move to the new tip)\n", round * 1000);
    printf("forkwatch_20x1000_node_500_behind: %.1f us\n", far * 1000);
    printf("forkwatch_api_forks_1000_headers: %.2f ms (%zu bytes)\n", js, b.len);
    cs_buf_free(&b);
    cs_forks_free(f);
}

int main(void)
{
    bench_peers();
    bench_addrman();
    bench_forks();
    return 0;
}
