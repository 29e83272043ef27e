/* Benchmark of the monitor engine, printed as `name: value unit`:
 *   1,000 contract monitors (one per token contract, each with a Transfer
 *   condition, a third also with a function condition and a transaction
 *   condition) against blocks of 1,000 transactions, each calling one of
 *   2,000 contracts (half of them watched) and emitting 1 to 3 logs.
 *   - block_to_queued: from the block's last event to every notification
 *     in the outbox (engine + notifier + SQLite), per block
 *   - pairs_per_sec: monitor x transaction pairs settled per second, one
 *     core (engine alone; the index settles most pairs without looking)
 *   - event_monitor_events_per_sec: P2P events through 100 event monitors
 *     (conditions and per-peer count windows) over 20 message types
 *   - block_eval_monitor_abi: the same blocks as the follower publishes them
 *     without an ABI (topics, data, input), decoded by the monitors' own
 *     `abi` */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/event.h"
#include "core/log.h"
#include "notify/notifier.h"
#include "rules/monitor.h"

#define NMON 1000
#define NTX 1000
#define NCONTRACTS 2000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char addr[NCONTRACTS][43];
static uint64_t matches;

static void count_match(const cs_match *m, void *arg)
{
    (void)m;
    (void)arg;
    matches++;
}

static cs_event *mk(const char *type, cs_vw *w)
{
    cs_event_hdr h = {.time_ns = 1700000000000000000ll,
                      .origin = "bench",
                      .network = "eth-main",
                      .type = type,
                      .key = "node"};
    return cs_event_new(&h, w->buf.data, w->buf.len);
}

static void put_word(cs_vw *w, const char *key, uint64_t v)
{
    uint8_t b[32] = {0};
    for (int i = 0; i < 8; i++)
        b[31 - i] = (uint8_t)(v >> (8 * i));
    cs_vw_kv_bytes(w, key, b, 32);
}

/* The events of one block: for each tx an evm.tx and its logs, then
 * evm.block; decoded as with an ABI, or raw (topics, data, input). */
static cs_event **make_block(uint64_t number, size_t *n, bool decoded)
{
    cs_event **evs = calloc(NTX * 5 + 1, sizeof *evs);
    size_t k = 0;
    cs_vw w;
    cs_vw_init(&w, 0);
    srand((unsigned)number);
    for (int t = 0; t < NTX; t++) {
        char hash[80];
        snprintf(hash, sizeof hash, "0x%016llx%04d", (unsigned long long)number, t);
        const char *to = addr[rand() % NCONTRACTS];
        cs_vw_reset(&w);
        cs_vw_object_begin(&w);
        cs_vw_kv_str(&w, "hash", hash);
        cs_vw_kv_str(&w, "from", "0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad");
        cs_vw_kv_str(&w, "to", to);
        cs_vw_kv_u64(&w, "value", 0);
        cs_vw_kv_u64(&w, "gas_price", 30000000000ull + (uint64_t)t);
        cs_vw_kv_u64(&w, "gas_used", 50000);
        cs_vw_kv_str(&w, "status", "success");
        cs_vw_kv_u64(&w, "block_number", number);
        uint64_t amount = (uint64_t)rand();
        if (decoded) {
            cs_vw_kv_str(&w, "function", "transfer");
            cs_vw_kv_str(&w, "signature", "transfer(address,uint256)");
            cs_vw_key(&w, "args");
            cs_vw_object_begin(&w);
            cs_vw_kv_str(&w, "to", "0x00000000000000000000000000000000000000b0");
            cs_vw_kv_u64(&w, "amount", amount);
            cs_vw_object_end(&w);
        } else {
            uint8_t in[68] = {0xa9, 0x05, 0x9c, 0xbb};
            in[35] = 0xb0;
            for (int i = 0; i < 8; i++)
                in[67 - i] = (uint8_t)(amount >> (8 * i));
            cs_vw_kv_bytes(&w, "input", in, sizeof in);
        }
        cs_vw_object_end(&w);
        evs[k++] = mk("evm.tx", &w);
        int nlogs = 1 + rand() % 3;
        for (int l = 0; l < nlogs; l++) {
            cs_vw_reset(&w);
            cs_vw_object_begin(&w);
            cs_vw_kv_str(&w, "address", l == 0 ? to : addr[rand() % NCONTRACTS]);
            cs_vw_kv_u64(&w, "block_number", number);
            cs_vw_kv_str(&w, "tx_hash", hash);
            cs_vw_kv_u64(&w, "log_index", (uint64_t)l);
            uint64_t value = (uint64_t)rand() % 1000000;
            if (decoded) {
                cs_vw_kv_str(&w, "event", "Transfer");
                cs_vw_kv_str(&w, "signature", "Transfer(address,address,uint256)");
                cs_vw_key(&w, "args");
                cs_vw_object_begin(&w);
                cs_vw_kv_str(&w, "from", "0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad");
                cs_vw_kv_str(&w, "to", "0x00000000000000000000000000000000000000b0");
                cs_vw_kv_u64(&w, "value", value);
                cs_vw_object_end(&w);
            } else {
                cs_vw_key(&w, "topics");
                cs_vw_array_begin(&w);
                cs_vw_cstr(&w,
                           "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");
                cs_vw_cstr(&w,
                           "0x000000000000000000000000d5180d374b6d1961ba24d0a4dbf26d696fda4cad");
                cs_vw_cstr(&w,
                           "0x00000000000000000000000000000000000000000000000000000000000000b0");
                cs_vw_array_end(&w);
                put_word(&w, "data", value);
            }
            cs_vw_object_end(&w);
            evs[k++] = mk("evm.log", &w);
        }
    }
    cs_vw_reset(&w);
    cs_vw_object_begin(&w);
    cs_vw_kv_u64(&w, "number", number);
    cs_vw_object_end(&w);
    evs[k++] = mk("evm.block", &w);
    cs_vw_free(&w);
    *n = k;
    return evs;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void bench_event_monitors(void)
{
    enum { NEVMON = 100, NTYPES = 20, NPEERS = 1000, NEV = 500000 };
    static cs_monitor_def d[NEVMON];
    static char names[NEVMON][32], subj[NEVMON][40];
    static char *subjp[NEVMON];
    for (int i = 0; i < NEVMON; i++) {
        snprintf(names[i], sizeof names[i], "p2p-%d", i);
        snprintf(subj[i], sizeof subj[i], "p2p.msg.t%d", i % NTYPES);
        subjp[i] = subj[i];
        d[i] = (cs_monitor_def){.name = names[i],
                                .kind = CS_MONITOR_EVENT,
                                .subjects = &subjp[i],
                                .nsubjects = 1,
                                .condition = "size > 290 AND count >= 1"};
        if (i % 2 == 0)
            d[i].window = (cs_monitor_window){.enabled = true,
                                              .kind = CS_WINDOW_COUNT,
                                              .window_ns = 60ll * 1000000000,
                                              .threshold = 1000,
                                              .group_by = "key"};
    }
    cs_monitor_engine_opts o = {.on_match = count_match};
    cs_monitor_engine *e;
    char err[200];
    if (cs_monitor_engine_new(&o, d, NEVMON, &e, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    enum { NPRE = 4096 };
    static cs_event *evs[NPRE];
    cs_vw w;
    cs_vw_init(&w, 0);
    for (int i = 0; i < NPRE; i++) {
        char type[32], key[48];
        snprintf(type, sizeof type, "p2p.msg.t%d", i % (NTYPES + 5)); /* some unwatched */
        snprintf(key, sizeof key, "%d 10.0.%d.%d:8333", i % NPEERS, (i / 256) % 256, i % 256);
        cs_vw_reset(&w);
        cs_vw_object_begin(&w);
        cs_vw_kv_u64(&w, "size", (uint64_t)(i * 7919 + i / 25) % 300);
        cs_vw_kv_u64(&w, "count", 3);
        cs_vw_kv_str(&w, "command", "addr");
        cs_vw_object_end(&w);
        cs_event_hdr h = {.time_ns = 1700000000000000000ll + i * 1000000ll,
                          .origin = "bench",
                          .network = "btc-main",
                          .type = type,
                          .key = key};
        evs[i] = cs_event_new(&h, w.buf.data, w.buf.len);
    }
    cs_vw_free(&w);
    matches = 0;
    double t0 = now();
    for (int i = 0; i < NEV; i++)
        cs_monitor_engine_feed(e, evs[i % NPRE]);
    double dt = now() - t0;
    printf("event_monitors: %d monitors\n", NEVMON);
    printf("event_monitor_events_per_sec: %.0f events/s\n", NEV / dt);
    printf("event_monitor_matches: %llu matches\n", (unsigned long long)matches);
    cs_monitor_engine_close(e);
    for (int i = 0; i < NPRE; i++)
        cs_event_unref(evs[i]);
}

/* What the notify component does with an alert.fired, without the bus. */
static void to_notifier(const cs_match *m, void *arg)
{
    if (!m->notify)
        return;
    cs_notify_alert a = {.id = m->id,
                         .monitor = m->def->name,
                         .network = m->network,
                         .time_ns = m->time_ns,
                         .severity = cs_severity_name(m->def->severity),
                         .channels = m->channels,
                         .nchannels = m->nchannels,
                         .title = m->def->title,
                         .message = m->def->message,
                         .doc = m->doc};
    cs_notifier_alert(arg, &a);
}

int main(void)
{
    cs_log_set_level(CS_LOG_ERROR);
    for (int i = 0; i < NCONTRACTS; i++)
        snprintf(addr[i], sizeof addr[i], "0x%040x", 0x100000 + i * 7919);
    static cs_monitor_def defs[NMON];
    static char names[NMON][32];
    static char *addrs[NMON];
    static cs_monitor_sig ev = {"Transfer(address indexed from, address indexed to, uint256 "
                                "value)",
                                "value > 990000"};
    static cs_monitor_sig fn = {"transfer(address,uint256)", "amount > 2000000000"};
    for (int i = 0; i < NMON; i++) {
        snprintf(names[i], sizeof names[i], "token-%d", i);
        addrs[i] = addr[i * 2]; /* every other contract is watched */
        defs[i] = (cs_monitor_def){.name = names[i],
                                   .kind = CS_MONITOR_CONTRACT,
                                   .severity = CS_SEV_HIGH,
                                   .addresses = &addrs[i],
                                   .naddresses = 1,
                                   .events = &ev,
                                   .nevents = 1};
        if (i % 3 == 0) {
            defs[i].functions = &fn;
            defs[i].nfunctions = 1;
            defs[i].tx_condition = "gasPrice > 1000 AND status == \"success\"";
        }
    }
    const int blocks = 20;
    size_t nev[20];
    cs_event **bl[20];
    for (int b = 0; b < blocks; b++)
        bl[b] = make_block(1000 + (uint64_t)b, &nev[b], true);

    /* the engine alone: pairs per second */
    cs_monitor_engine_opts o = {.on_match = count_match};
    cs_monitor_engine *e;
    char err[256];
    if (cs_monitor_engine_new(&o, defs, NMON, &e, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    double eval_time = 0;
    for (int b = 0; b < blocks; b++) {
        for (size_t i = 0; i + 1 < nev[b]; i++)
            cs_monitor_engine_feed(e, bl[b][i]);
        double t0 = now();
        cs_monitor_engine_feed(e, bl[b][nev[b] - 1]); /* evm.block: evaluate */
        eval_time += now() - t0;
    }
    cs_monitor_engine_stats st;
    cs_monitor_engine_get_stats(e, &st);
    cs_monitor_engine_close(e);
    printf("monitors: %d monitors\n", NMON);
    printf("block_txs: %d transactions\n", NTX);
    printf("events_per_block: %.0f events\n", (double)st.events / blocks);
    printf("matches_per_block: %.1f matches\n", (double)matches / blocks);
    printf("pairs_evaluated_per_block: %.0f pairs\n", (double)st.evaluated / blocks);
    printf("block_eval: %.3f ms\n", eval_time / blocks * 1e3);
    printf("pairs_per_sec: %.0f pairs/s\n", (double)st.pairs / eval_time);

    /* with the notifier and its SQLite outbox: block to notifications queued */
    char dir[] = "/tmp/cs-bench-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char db[300];
    snprintf(db, sizeof db, "%s/outbox.db", dir);
    uv_loop_t loop;
    uv_loop_init(&loop);
    cs_channel_conf ch = {.name = "hook", .type = CS_CH_WEBHOOK, .url = "http://127.0.0.1:9/"};
    cs_channels_conf cc = {&ch, 1};
    cs_notifier_opts no = {.loop = &loop, .outbox_path = db, .channels = &cc};
    cs_notifier *n;
    if (cs_notifier_new(&no, &n, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    static const char *chans[] = {"hook"};
    cs_monitor_engine_opts o2 = {.on_match = to_notifier, .arg = n};
    o2.default_channels[CS_SEV_HIGH] = chans;
    o2.ndefault_channels[CS_SEV_HIGH] = 1;
    if (cs_monitor_engine_new(&o2, defs, NMON, &e, err, sizeof err))
        return 1;
    double lat[20];
    for (int b = 0; b < blocks; b++) {
        for (size_t i = 0; i + 1 < nev[b]; i++)
            cs_monitor_engine_feed(e, bl[b][i]);
        double t0 = now();
        cs_monitor_engine_feed(e, bl[b][nev[b] - 1]);
        /* what the sweep does first: commit the queued rows */
        cs_notifier_commit(n); /* queued: in the outbox, committed */
        lat[b] = now() - t0;
    }
    cs_notifier_stats ns;
    cs_notifier_get_stats(n, &ns);
    qsort(lat, blocks, sizeof *lat, cmpd);
    printf("notifications_per_block: %.1f notifications\n", (double)ns.queued / blocks);
    printf("block_to_queued_median: %.3f ms\n", lat[blocks / 2] * 1e3);
    printf("block_to_queued_max: %.3f ms\n", lat[blocks - 1] * 1e3);
    cs_monitor_engine_close(e);
    cs_notifier_close(n, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    for (int b = 0; b < blocks; b++) {
        for (size_t i = 0; i < nev[b]; i++)
            cs_event_unref(bl[b][i]);
        free(bl[b]);
    }
    bench_event_monitors();

    /* undecoded blocks, decoded by the monitors' own ABI */
    char abi[300];
    snprintf(abi, sizeof abi, "%s/token.json", dir);
    FILE *f = fopen(abi, "w");
    if (!f)
        return 1;
    fputs("[{\"type\":\"event\",\"name\":\"Transfer\",\"inputs\":[{\"name\":\"from\","
          "\"type\":\"address\",\"indexed\":true},{\"name\":\"to\",\"type\":\"address\","
          "\"indexed\":true},{\"name\":\"value\",\"type\":\"uint256\"}]},{\"type\":"
          "\"function\",\"name\":\"transfer\",\"inputs\":[{\"name\":\"to\",\"type\":"
          "\"address\"},{\"name\":\"amount\",\"type\":\"uint256\"}]}]",
          f);
    fclose(f);
    for (int i = 0; i < NMON; i++)
        defs[i].abi = abi;
    for (int b = 0; b < blocks; b++)
        bl[b] = make_block(1000 + (uint64_t)b, &nev[b], false);
    uint64_t before = matches;
    if (cs_monitor_engine_new(&o, defs, NMON, &e, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    eval_time = 0;
    for (int b = 0; b < blocks; b++) {
        for (size_t i = 0; i + 1 < nev[b]; i++)
            cs_monitor_engine_feed(e, bl[b][i]);
        double t0 = now();
        cs_monitor_engine_feed(e, bl[b][nev[b] - 1]);
        eval_time += now() - t0;
    }
    cs_monitor_engine_close(e);
    printf("matches_per_block_monitor_abi: %.1f matches\n", (double)(matches - before) / blocks);
    printf("block_eval_monitor_abi: %.3f ms\n", eval_time / blocks * 1e3);
    for (int b = 0; b < blocks; b++) {
        for (size_t i = 0; i < nev[b]; i++)
            cs_event_unref(bl[b][i]);
        free(bl[b]);
    }
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return 0;
}
