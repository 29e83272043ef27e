/* JSON-RPC response reading: a 1,000-transaction eth_getBlockReceipts
 * response (~2.2 MB, generated deterministically in the shape geth writes)
 * read by json-c, by chainscope's JSON reader alone, and turned into evm.tx
 * and evm.log events (with and without ABI decoding); V8's JSON.parse on the
 * same body (bench/rpc_json_parse.js) is printed beside, when node is there.
 *
 * usage: bench_rpc_json [TXS]    prints `name: value unit` lines */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/bus.h"
#include "evm/abi.h"
#include "evm/chain.h"
#include "evm/hex.h"
#include "net/jsonr.h"

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint64_t next(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
}

static void hex(cs_buf *b, size_t bytes, size_t zero_prefix)
{
    static const char d[] = "0123456789abcdef";
    cs_buf_append_str(b, "0x");
    for (size_t i = 0; i < bytes; i++) {
        uint8_t v = i < zero_prefix ? 0 : (uint8_t)next();
        cs_buf_putc(b, d[v >> 4]);
        cs_buf_putc(b, d[v & 15]);
    }
}

static const char *transfer_topic =
    "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";

/* The response body; block hash and number are shared by every receipt. */
static void make_body(cs_buf *b, size_t ntx, cs_evm_blockref *blk)
{
    blk->number = 19000000;
    cs_buf hb;
    cs_buf_init(&hb, 0);
    hex(&hb, 32, 0);
    memcpy(blk->hash, hb.data, 66);
    blk->hash[66] = 0;
    cs_buf_free(&hb);
    size_t log_index = 0;
    cs_buf_append_str(b, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":[");
    for (size_t i = 0; i < ntx; i++) {
        if (i)
            cs_buf_putc(b, ',');
        cs_buf tx;
        cs_buf_init(&tx, 0);
        hex(&tx, 32, 0);
        cs_buf_printf(b,
                      "{\"blockHash\":\"%s\",\"blockNumber\":\"0x%llx\",\"contractAddress\":null,"
                      "\"cumulativeGasUsed\":\"0x%llx\",\"effectiveGasPrice\":\"0x%llx\","
                      "\"from\":\"",
                      blk->hash, (unsigned long long)blk->number,
                      (unsigned long long)(21000 * (i + 1) + next() % 100000),
                      (unsigned long long)(10000000000ull + next() % 50000000000ull));
        hex(b, 20, 0);
        cs_buf_printf(b, "\",\"gasUsed\":\"0x%llx\",\"logs\":[",
                      (unsigned long long)(21000 + next() % 200000));
        size_t nlogs = next() % 10 < 3 ? 0 : 1 + next() % 4;
        for (size_t l = 0; l < nlogs; l++) {
            if (l)
                cs_buf_putc(b, ',');
            cs_buf_append_str(b, "{\"address\":\"");
            hex(b, 20, 0);
            cs_buf_append_str(b, "\",\"topics\":[");
            bool transfer = next() % 2;
            size_t nt = transfer ? 3 : 1 + next() % 4;
            for (size_t t = 0; t < nt; t++) {
                if (t)
                    cs_buf_putc(b, ',');
                cs_buf_putc(b, '"');
                if (t == 0 && transfer)
                    cs_buf_append_str(b, transfer_topic);
                else
                    hex(b, 32, transfer ? 12 : 0);
                cs_buf_putc(b, '"');
            }
            cs_buf_append_str(b, "],\"data\":\"");
            hex(b, transfer ? 32 : 32 * (next() % 6), transfer ? 20 : 0);
            cs_buf_printf(b,
                          "\",\"blockNumber\":\"0x%llx\",\"transactionHash\":\"%.*s\","
                          "\"transactionIndex\":\"0x%zx\",\"blockHash\":\"%s\","
                          "\"logIndex\":\"0x%zx\",\"removed\":false}",
                          (unsigned long long)blk->number, (int)tx.len, (const char *)tx.data, i,
                          blk->hash, log_index++);
        }
        cs_buf_append_str(b, "],\"logsBloom\":\"");
        hex(b, 256, 0);
        cs_buf_printf(b, "\",\"status\":\"0x1\",\"to\":\"");
        hex(b, 20, 0);
        cs_buf_printf(b,
                      "\",\"transactionHash\":\"%.*s\",\"transactionIndex\":\"0x%zx\","
                      "\"type\":\"0x2\"}",
                      (int)tx.len, (const char *)tx.data, i);
        cs_buf_free(&tx);
    }
    cs_buf_append_str(b, "]}");
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double run_node(const char *file)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", __FILE__);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return 0;
    *slash = 0;
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && node rpc_json_parse.js '%s' 2>/dev/null", dir, file);
    FILE *p = popen(cmd, "r");
    if (!p)
        return 0;
    double rate = 0;
    char line[256];
    while (fgets(line, sizeof line, p))
        sscanf(line, "rpc_json_v8_parse: %lf", &rate);
    pclose(p);
    return rate;
}

static const char *transfer_abi = "[{\"type\":\"event\",\"name\":\"Transfer\",\"inputs\":["
                                  "{\"name\":\"from\",\"type\":\"address\",\"indexed\":true},"
                                  "{\"name\":\"to\",\"type\":\"address\",\"indexed\":true},"
                                  "{\"name\":\"value\",\"type\":\"uint256\"}]}]";

/* Reads the body into events; returns seconds for the best of reps. */
static double to_events(const cs_buf *body, const cs_evm_blockref *blk, const cs_evm_abis *abis,
                        int reps, cs_evm_counts *out)
{
    cs_jsonr r;
    cs_jsonr_init(&r, 0, 0);
    cs_publisher pub;
    cs_publisher_init(&pub, NULL, "bench", "eth-main");
    double best = 1e9;
    char err[256];
    cs_buf scratch;
    cs_buf_init(&scratch, CS_EVENT_MAX_SIZE);
    for (int rep = 0; rep < reps; rep++) {
        cs_evm_counts c = {0};
        double t0 = now();
        if (cs_jsonr_parse(&r, (const char *)body->data, body->len)) {
            fprintf(stderr, "parse: %s\n", r.err);
            exit(1);
        }
        uint32_t res = cs_jsonr_get(&r, 0, "result");
        for (uint32_t it = cs_jsonr_first(&r, res); it; it = cs_jsonr_next_item(&r, res, it))
            if (cs_evm_emit_receipt(&pub, &r, it, NULL, 0, blk, abis, &scratch, &c, err,
                                    sizeof err)) {
                fprintf(stderr, "emit: %s\n", err);
                exit(1);
            }
        double dt = now() - t0;
        if (dt < best)
            best = dt;
        *out = c;
    }
    cs_buf_free(&scratch);
    cs_publisher_free(&pub);
    cs_jsonr_free(&r);
    return best;
}

int main(int argc, char **argv)
{
    size_t ntx = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000;
    cs_buf body;
    cs_buf_init(&body, 0);
    cs_evm_blockref blk = {0};
    make_body(&body, ntx, &blk);
    double mb = (double)body.len / 1e6;
    printf("rpc_json_body: %.2f MB\n", mb);
    const int reps = 20;

    /* json-c: parse into its object tree. */
    double best = 1e9;
    for (int rep = 0; rep < reps; rep++) {
        double t0 = now();
        struct json_tokener *tok = json_tokener_new();
        struct json_object *o = json_tokener_parse_ex(tok, (const char *)body.data, (int)body.len);
        double dt = now() - t0;
        if (!o)
            return 1;
        json_object_put(o);
        json_tokener_free(tok);
        if (dt < best)
            best = dt;
    }
    printf("rpc_json_jsonc_parse: %.0f MB/s\n", mb / best);

    /* The reader alone. */
    cs_jsonr r;
    cs_jsonr_init(&r, 0, 0);
    best = 1e9;
    for (int rep = 0; rep < reps; rep++) {
        double t0 = now();
        if (cs_jsonr_parse(&r, (const char *)body.data, body.len))
            return 1;
        double dt = now() - t0;
        if (dt < best)
            best = dt;
    }
    printf("rpc_json_jsonr_parse: %.0f MB/s\n", mb / best);
    printf("rpc_json_jsonr_tokens: %u tokens\n", r.ntok);
    cs_jsonr_free(&r);

    /* Into events. */
    cs_evm_counts c;
    double dt = to_events(&body, &blk, NULL, reps, &c);
    printf("rpc_json_to_events: %.0f MB/s\n", mb / dt);
    printf("rpc_json_to_events_rate: %.0f events/s\n", (double)(c.txs + c.logs) / dt);
    printf("rpc_json_events_per_body: %llu events\n", (unsigned long long)(c.txs + c.logs));
    cs_evm_abis *abis;
    cs_abi *abi;
    char err[256];
    cs_evm_abis_new(&abis);
    cs_abi_parse(transfer_abi, strlen(transfer_abi), "bench", &abi, err, sizeof err);
    cs_evm_abis_add(abis, NULL, abi);
    dt = to_events(&body, &blk, abis, reps, &c);
    printf("rpc_json_to_events_decoded: %.0f MB/s\n", mb / dt);
    printf("rpc_json_decoded_logs: %llu logs\n", (unsigned long long)c.decoded_logs);
    cs_evm_abis_free(abis);

    char path[] = "/tmp/chainscope-bench-rpc-XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) {
        if (write(fd, body.data, body.len) == (ssize_t)body.len) {
            double v8 = run_node(path);
            if (v8 > 0)
                printf("rpc_json_v8_parse: %.0f MB/s\n", v8);
            else
                printf("rpc_json_v8_parse: skipped (node not found)\n");
        }
        close(fd);
        unlink(path);
    }
    cs_buf_free(&body);
    return 0;
}
