/* ABI log decoding throughput, beside ethers v6 on the same logs.
 *
 * 100,000 logs, deterministic: ERC-20 Transfer, a six-argument swap
 * (Uniswap V2's Swap) and an event with a string and a bytes32[]. Each log
 * starts as the hex text a JSON-RPC node returns; decoding includes the hex
 * and writes the event name and the args object into a value writer. The
 * same logs go to bench/abi_ethers.js (Interface.parseLog), run by this
 * program when node is installed.
 *
 * usage: bench_abi [N]    prints `name: value unit` lines */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/value.h"
#include "abi/abi.h"
#include "core/hex.h"
#include "abi/keccak.h"

static const char *abi_json =
    "[{\"type\":\"event\",\"name\":\"Transfer\",\"inputs\":["
    "{\"name\":\"from\",\"type\":\"address\",\"indexed\":true},"
    "{\"name\":\"to\",\"type\":\"address\",\"indexed\":true},"
    "{\"name\":\"value\",\"type\":\"uint256\"}]},"
    "{\"type\":\"event\",\"name\":\"Swap\",\"inputs\":["
    "{\"name\":\"sender\",\"type\":\"address\",\"indexed\":true},"
    "{\"name\":\"amount0In\",\"type\":\"uint256\"},{\"name\":\"amount1In\",\"type\":\"uint256\"},"
    "{\"name\":\"amount0Out\",\"type\":\"uint256\"},{\"name\":\"amount1Out\",\"type\":\"uint256\"},"
    "{\"name\":\"to\",\"type\":\"address\",\"indexed\":true}]},"
    "{\"type\":\"event\",\"name\":\"Tagged\",\"inputs\":["
    "{\"name\":\"id\",\"type\":\"uint256\",\"indexed\":true},"
    "{\"name\":\"label\",\"type\":\"string\"},{\"name\":\"hashes\",\"type\":\"bytes32[]\"}]}]";

typedef struct hexlog {
    char *topics[4];
    size_t ntopics;
    char *data;
} hexlog;

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
}

static char *hexdup(const uint8_t *p, size_t n)
{
    char *s = malloc(2 * n + 3);
    cs_hex_encode(p, n, s);
    return s;
}

static void word_u64(uint8_t *w, uint64_t v)
{
    memset(w, 0, 32);
    for (int i = 0; i < 8; i++)
        w[31 - i] = (uint8_t)(v >> (8 * i));
}

static void rand_word(uint8_t *w, int zero_high)
{
    for (int i = 0; i < 32; i += 8) {
        uint64_t x = next();
        memcpy(w + i, &x, 8);
    }
    memset(w, 0, (size_t)zero_high);
}

static void make_log(hexlog *l, const cs_abi *abi, int kind)
{
    uint8_t t[32], d[32 * 16];
    size_t dn = 0;
    const cs_abi_event *ev = cs_abi_event_at(abi, (size_t)kind);
    l->ntopics = 0;
    l->topics[l->ntopics++] = hexdup(ev->topic0, 32);
    if (kind == 0) {
        rand_word(t, 12);
        l->topics[l->ntopics++] = hexdup(t, 32);
        rand_word(t, 12);
        l->topics[l->ntopics++] = hexdup(t, 32);
        rand_word(d, 20);
        dn = 32;
    } else if (kind == 1) {
        rand_word(t, 12);
        l->topics[l->ntopics++] = hexdup(t, 32);
        rand_word(t, 12);
        l->topics[l->ntopics++] = hexdup(t, 32);
        for (int i = 0; i < 4; i++)
            rand_word(d + 32 * i, 16 + (int)(next() % 16));
        dn = 128;
    } else {
        word_u64(t, next() % 100000);
        l->topics[l->ntopics++] = hexdup(t, 32);
        static const char *labels[] = {"mint", "order filled", "a somewhat longer label here"};
        const char *lab = labels[next() % 3];
        size_t ll = strlen(lab), nh = 1 + next() % 4;
        word_u64(d, 64);
        word_u64(d + 32, 128);
        word_u64(d + 64, ll);
        memset(d + 96, 0, 32);
        memcpy(d + 96, lab, ll);
        word_u64(d + 128, nh);
        for (size_t i = 0; i < nh; i++)
            rand_word(d + 160 + 32 * i, 0);
        dn = 160 + 32 * nh;
    }
    l->data = hexdup(d, dn);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs bench/abi_ethers.js on the logs file; returns logs/s or 0. */
static double run_ethers(const char *logfile)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", __FILE__);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return 0;
    *slash = 0; /* .../bench */
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && NODE_PATH='%s/../tests/node/node_modules' node abi_ethers.js '%s' "
             "2>/dev/null",
             dir, dir, logfile);
    FILE *p = popen(cmd, "r");
    if (!p)
        return 0;
    double rate = 0;
    char line[256];
    while (fgets(line, sizeof line, p))
        sscanf(line, "abi_ethers_parselog: %lf", &rate);
    pclose(p);
    return rate;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 100000;
    cs_abi *abi;
    char err[512];
    if (cs_abi_parse(abi_json, strlen(abi_json), "bench", &abi, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    hexlog *logs = calloc(n, sizeof *logs);
    for (size_t i = 0; i < n; i++) {
        uint64_t r = next() % 10; /* 60% Transfer, 30% Swap, 10% Tagged */
        make_log(&logs[i], abi, r < 6 ? 0 : r < 9 ? 1 : 2);
    }

    cs_vw w;
    cs_vw_init(&w, 1u << 20);
    uint8_t topics[4][32], data[4096];
    size_t bytes = 0, failed = 0;
    double best = 1e9;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        for (size_t i = 0; i < n; i++) {
            hexlog *l = &logs[i];
            size_t got, dl;
            for (size_t k = 0; k < l->ntopics; k++)
                cs_hex_decode(l->topics[k], 66, topics[k], 32, &got);
            cs_hex_decode(l->data, strlen(l->data), data, sizeof data, &dl);
            cs_vw_reset(&w);
            cs_vw_object_begin(&w);
            const cs_abi_event *ev;
            if (cs_abi_decode_log(abi, (const uint8_t(*)[32])topics, l->ntopics, data, dl, 0, &w,
                                  "args", &ev, err, sizeof err))
                failed++;
            else
                cs_vw_kv_str(&w, "event", ev->name);
            cs_vw_object_end(&w);
            bytes += w.buf.len;
        }
        double dt = now() - t0;
        if (dt < best)
            best = dt;
    }
    double rate = (double)n / best;
    printf("abi_decode_logs: %.0f logs/s\n", rate);
    printf("abi_decode_ns_per_log: %.0f ns\n", best * 1e9 / (double)n);
    if (failed)
        printf("abi_decode_failed: %zu logs\n", failed);

    char path[] = "/tmp/chainscope-bench-abi-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f) {
        for (size_t i = 0; i < n; i++) {
            fprintf(f, "{\"topics\":[");
            for (size_t k = 0; k < logs[i].ntopics; k++)
                fprintf(f, "%s\"%s\"", k ? "," : "", logs[i].topics[k]);
            fprintf(f, "],\"data\":\"%s\"}\n", logs[i].data);
        }
        fclose(f);
        double er = run_ethers(path);
        if (er > 0) {
            printf("abi_ethers_parselog: %.0f logs/s\n", er);
            printf("abi_speedup_vs_ethers: %.0f x\n", rate / er);
        } else {
            printf("abi_ethers_parselog: skipped (node or ethers not found)\n");
        }
        unlink(path);
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < logs[i].ntopics; k++)
            free(logs[i].topics[k]);
        free(logs[i].data);
    }
    free(logs);
    cs_vw_free(&w);
    cs_abi_free(abi);
    return 0;
}
