/* Archive benchmarks, printed as `name: value unit`:
 *   segment writing on one core (records into zstd frames, to a file),
 *   bytes per event on disk beside the raw records and beside the same
 *   events as JSON lines compressed by the zstd CLI at -19,
 *   reading back (frames decompressed, every record's head read and
 *   filtered), with and without decoding each event in full.
 *
 * The events are a P2P mix as the connector publishes them: inv with tx
 * hashes announced by many peers, ping/pong, addr, tx, headers and
 * connection events, from 1,000 peers. Usage: bench_archive [EVENTS];
 * CS_BENCH_FRAME_EVENTS sets the events per frame (default 8192). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bus/archive.h"
#include "bus/replay.h"
#include "core/event.h"
#include "core/json.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void hex32(char *out, uint64_t seed)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (int i = 0; i < 64; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        out[i] = "0123456789abcdef"[s & 15];
    }
    out[64] = 0;
}

static void peer(cs_vw *w, unsigned p)
{
    char addr[32];
    snprintf(addr, sizeof addr, "198.51.%u.%u", p / 250, p % 250 + 1);
    cs_vw_key(w, "peer");
    cs_vw_object_begin(w);
    cs_vw_kv_u64(w, "id", p + 1);
    cs_vw_kv_str(w, "addr", addr);
    cs_vw_kv_u64(w, "port", 8333);
    cs_vw_kv_str(w, "direction", p % 8 ? "out" : "in");
    cs_vw_object_end(w);
}

/* One event of the mix; i is its number, t its time. */
static cs_event *make(uint64_t i, int64_t t)
{
    static cs_vw w;
    static int init;
    if (!init) {
        cs_vw_init(&w, 0);
        init = 1;
    }
    cs_vw_reset(&w);
    cs_vw_object_begin(&w);
    unsigned p = (unsigned)(next() % 1000);
    peer(&w, p);
    uint64_t r = next() % 100;
    const char *type;
    char h[65];
    if (r < 40) { /* inv: recent txs, each announced by many peers */
        type = "p2p.msg.inv";
        unsigned n = 1 + (unsigned)(next() % 3);
        cs_vw_kv_str(&w, "direction", "in");
        cs_vw_kv_str(&w, "command", "inv");
        cs_vw_kv_u64(&w, "size", 1 + 36 * n);
        cs_vw_key(&w, "msg");
        cs_vw_object_begin(&w);
        cs_vw_key(&w, "inventory");
        cs_vw_array_begin(&w);
        for (unsigned k = 0; k < n; k++) {
            hex32(h, i / 64 + next() % 50); /* the ~50 newest txs: announced by every peer */
            cs_vw_object_begin(&w);
            cs_vw_kv_str(&w, "type", "wtx");
            cs_vw_kv_str(&w, "hash", h);
            cs_vw_object_end(&w);
        }
        cs_vw_array_end(&w);
        cs_vw_object_end(&w);
    } else if (r < 60) {
        bool ping = r < 50;
        type = ping ? "p2p.msg.ping" : "p2p.msg.pong";
        cs_vw_kv_str(&w, "direction", ping ? "in" : "out");
        cs_vw_kv_str(&w, "command", ping ? "ping" : "pong");
        cs_vw_kv_u64(&w, "size", 8);
        cs_vw_key(&w, "msg");
        cs_vw_object_begin(&w);
        cs_vw_kv_u64(&w, "nonce", next());
        cs_vw_object_end(&w);
    } else if (r < 75) {
        type = "p2p.msg.addrv2";
        unsigned n = 1 + (unsigned)(next() % 5);
        cs_vw_kv_str(&w, "direction", "in");
        cs_vw_kv_str(&w, "command", "addrv2");
        cs_vw_kv_u64(&w, "size", 1 + 18 * n);
        cs_vw_key(&w, "msg");
        cs_vw_object_begin(&w);
        cs_vw_key(&w, "addresses");
        cs_vw_array_begin(&w);
        for (unsigned k = 0; k < n; k++) {
            char a[32];
            uint64_t x = next();
            snprintf(a, sizeof a, "%u.%u.%u.%u", (unsigned)(x & 255), (unsigned)(x >> 8 & 255),
                     (unsigned)(x >> 16 & 255), (unsigned)(x >> 24 & 255));
            cs_vw_object_begin(&w);
            cs_vw_kv_i64(&w, "time", t / 1000000000 - (int64_t)(x >> 40 & 0xffff));
            cs_vw_kv_u64(&w, "services", 1033);
            cs_vw_kv_str(&w, "network", "ipv4");
            cs_vw_kv_str(&w, "addr", a);
            cs_vw_kv_u64(&w, "port", 8333);
            cs_vw_object_end(&w);
        }
        cs_vw_array_end(&w);
        cs_vw_object_end(&w);
    } else if (r < 90) {
        type = "p2p.msg.tx";
        hex32(h, i / 64 + next() % 50);
        cs_vw_kv_str(&w, "direction", "in");
        cs_vw_kv_str(&w, "command", "tx");
        cs_vw_kv_u64(&w, "size", 200 + next() % 400);
        cs_vw_key(&w, "msg");
        cs_vw_object_begin(&w);
        cs_vw_kv_str(&w, "txid", h);
        cs_vw_kv_u64(&w, "inputs", 1 + next() % 3);
        cs_vw_kv_u64(&w, "outputs", 1 + next() % 4);
        cs_vw_object_end(&w);
    } else if (r < 97) {
        type = "p2p.msg.headers";
        hex32(h, i / 5000);
        cs_vw_kv_str(&w, "direction", "in");
        cs_vw_kv_str(&w, "command", "headers");
        cs_vw_kv_u64(&w, "size", 82);
        cs_vw_key(&w, "msg");
        cs_vw_object_begin(&w);
        cs_vw_kv_u64(&w, "count", 1);
        cs_vw_kv_str(&w, "last", h);
        cs_vw_object_end(&w);
    } else {
        type = r < 99 ? "p2p.conn.open" : "p2p.conn.closed";
        cs_vw_kv_str(&w, "local_addr", "10.0.0.2");
        cs_vw_kv_u64(&w, "local_port", 40000 + next() % 20000);
    }
    cs_vw_object_end(&w);
    char key[48];
    snprintf(key, sizeof key, "%u/198.51.%u.%u:8333", p + 1, p / 250, p % 250 + 1);
    cs_event_hdr hd = {.seq = i + 1,
                       .time_ns = t,
                       .origin = "connector@host-a",
                       .network = "btc-main",
                       .type = type,
                       .key = key};
    return cs_event_new(&hd, w.buf.data, w.buf.len);
}

static uint32_t frame_events = 8192; /* CS_BENCH_FRAME_EVENTS changes it */

static uint64_t file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Writes events [0, n) into path; returns the seconds it took. */
static double write_seg(const char *path, cs_event **evs, size_t n, int level)
{
    unlink(path);
    cs_seg_writer w;
    double t0 = now();
    if (cs_seg_writer_open(&w, path, level))
        return -1;
    for (size_t i = 0; i < n; i++) {
        cs_seg_writer_add(&w, evs[i]->wire, evs[i]->wire_len);
        if (w.n == frame_events)
            cs_seg_writer_flush(&w);
    }
    cs_seg_writer_close(&w);
    return now() - t0;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000000;
    const char *fe = getenv("CS_BENCH_FRAME_EVENTS");
    if (fe && atoi(fe) > 0)
        frame_events = (uint32_t)atoi(fe);
    size_t json_n = n < 100000 ? n : 100000; /* zstd -19 is slow: a subset */
    cs_event **evs = malloc(n * sizeof *evs);
    int64_t t = 1796227200ll * 1000000000;
    uint64_t raw = 0;
    for (size_t i = 0; i < n; i++) {
        t += (int64_t)(next() % 2000) * 1000; /* ~1,000 events a second per ms of jitter */
        evs[i] = make(i, t);
        raw += evs[i]->wire_len;
    }
    char dir[] = "/tmp/cs-bench-archive-XXXXXX";
    if (!mkdtemp(dir))
        return 0;
    char seg[128], sub[128], jl[128], jz[128];
    snprintf(seg, sizeof seg, "%s/all.cseg", dir);
    snprintf(sub, sizeof sub, "%s/sub.cseg", dir);
    snprintf(jl, sizeof jl, "%s/sub.jsonl", dir);
    snprintf(jz, sizeof jz, "%s/sub.jsonl.zst", dir);

    double best = 1e9;
    for (int k = 0; k < 3; k++) {
        double s = write_seg(seg, evs, n, 3);
        if (s > 0 && s < best)
            best = s;
    }
    printf("archive_write_rate: %.0f events/s (one core, zstd level 3, %u events a frame)\n",
           (double)n / best, frame_events);
    double s1 = write_seg(sub, evs, n, 1);
    printf("archive_write_rate_level1: %.0f events/s\n", (double)n / s1);
    printf("archive_bytes_per_event_level1: %.2f bytes\n", (double)file_size(sub) / (double)n);
    write_seg(seg, evs, n, 3);
    printf("archive_raw_record_bytes_per_event: %.1f bytes\n", (double)raw / (double)n);
    printf("archive_bytes_per_event: %.2f bytes (level 3)\n", (double)file_size(seg) / (double)n);

    /* the subset: archive vs JSON lines + zstd -19 */
    write_seg(sub, evs, json_n, 3);
    FILE *f = fopen(jl, "w");
    cs_buf b;
    cs_buf_init(&b, 0);
    for (size_t i = 0; f && i < json_n; i++) {
        b.len = 0;
        cs_json_event(&b, evs[i]);
        cs_buf_putc(&b, '\n');
        fwrite(b.data, 1, b.len, f);
    }
    if (f)
        fclose(f);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "zstd -19 -T1 -q -f -o %s %s", jz, jl);
    int zrc = system(cmd);
    printf("archive_subset_events: %zu events\n", json_n);
    printf("archive_subset_bytes_per_event: %.2f bytes\n", (double)file_size(sub) / (double)json_n);
    double s19 = write_seg(sub, evs, json_n, 19);
    printf("archive_subset_level19_bytes_per_event: %.2f bytes (writing at %.0f events/s)\n",
           (double)file_size(sub) / (double)json_n, (double)json_n / s19);
    printf("json_lines_bytes_per_event: %.1f bytes (uncompressed)\n",
           (double)file_size(jl) / (double)json_n);
    if (zrc == 0)
        printf("json_lines_zstd19_bytes_per_event: %.2f bytes (zstd CLI -19)\n",
               (double)file_size(jz) / (double)json_n);
    else
        printf("# json_lines_zstd19: the zstd CLI did not run\n");

    /* reading back */
    const char *paths[] = {seg};
    const char *filters[] = {">"};
    for (int mode = 0; mode < 2; mode++) {
        double bestr = 1e9;
        uint64_t got = 0;
        for (int k = 0; k < 3; k++) {
            cs_replay_opts o = {.paths = paths,
                                .npaths = 1,
                                .from_ns = INT64_MIN,
                                .to_ns = INT64_MAX,
                                .filters = filters,
                                .nfilters = 1,
                                .mark = mode == 1};
            cs_replay *r;
            char err[256];
            if (cs_replay_open(&o, &r, err, sizeof err))
                break;
            const uint8_t *rec;
            size_t len;
            int64_t tt;
            got = 0;
            double t0 = now();
            while (cs_replay_next(r, &rec, &len, &tt) == 1) {
                if (mode == 1) {
                    cs_event *ev;
                    if (cs_event_decode(rec, len, &ev) == 0)
                        cs_event_unref(ev);
                }
                got++;
            }
            double s = now() - t0;
            if (s < bestr)
                bestr = s;
            cs_replay_close(r);
        }
        if (mode == 0)
            printf("archive_read_rate: %.0f events/s (decompress, filter, no decode)\n",
                   (double)got / bestr);
        else
            printf("archive_replay_decode_rate: %.0f events/s (marked and fully decoded, as "
                   "replay publishes them)\n",
                   (double)got / bestr);
    }
    unlink(seg);
    unlink(sub);
    unlink(jl);
    unlink(jz);
    rmdir(dir);
    cs_buf_free(&b);
    for (size_t i = 0; i < n; i++)
        cs_event_unref(evs[i]);
    free(evs);
    return 0;
}
