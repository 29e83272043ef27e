/* debug.log parsing speed: a log file read through the follower in its
 * bounded chunks, every line split into Core's prefixes, matched against
 * the kinds table and its event payload written (what `chainscope run`
 * does before publishing): the fastest of 3 passes, and their mean.
 * bench/btclog.sh runs it on a generated mixed log of 1,000,000 lines
 * beside Python's re and grep -cE.
 *
 * usage: bench_btclog FILE      prints `name: value unit` lines
 *        bench_btclog --patterns  prints the table: kind TAB pattern TAB
 *                                 field:type,... (for the Python peer) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "btc/btclog.h"
#include "btc/btclog_follow.h"
#include "btc/btclog_int.h"
#include "core/value.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct count {
    cs_vw w;
    uint64_t lines, matched, bytes;
} count;

static void on_line(void *arg, const char *s, size_t n)
{
    count *c = arg;
    c->lines++;
    cs_btclog_line l;
    cs_btclog_split(s, n, &l);
    cs_vw_reset(&c->w);
    cs_vw_object_begin(&c->w);
    if (cs_btclog_payload(&l, "node-a", &c->w) >= 0)
        c->matched++;
    cs_vw_object_end(&c->w);
    c->bytes += c->w.buf.len;
}

static void patterns(void)
{
    for (const cs_btclog_row *r = cs_btclog_rows; r->kind; r++) {
        printf("%s\t%s\t", r->kind, r->pattern);
        const cs_event_def *d = NULL;
        for (const cs_event_def *e = cs_schema_btclog; e->type; e++)
            if (strncmp(e->type, "bitcoind.log.", 13) == 0 && strcmp(e->type + 13, r->kind) == 0)
                d = e;
        for (const cs_field_def *f = d->fields; f->name; f++)
            printf("%s%s:%s", f == d->fields ? "" : ",", f->name, f->type);
        printf("\n");
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--patterns") == 0) {
        patterns();
        return 0;
    }
    if (argc < 2) {
        printf("# bench_btclog: needs a log file; bench/btclog.sh generates one\n");
        return 0;
    }
    count c = {0};
    cs_vw_init(&c.w, 0);
    cs_follow f;
    cs_follow_cbs cbs = {.arg = &c, .on_line = on_line};
    double best = 1e9, sum = 0;
    for (int pass = 0; pass < 3; pass++) {
        c.lines = c.matched = 0;
        if (cs_follow_init(&f, argv[1], true, &cbs) != 0)
            return 1;
        double t0 = now();
        int rc;
        while ((rc = cs_follow_step(&f, CS_FOLLOW_CHUNK)) == 1)
            ;
        double t = now() - t0;
        cs_follow_free(&f);
        if (rc < 0) {
            fprintf(stderr, "bench_btclog: cannot read %s\n", argv[1]);
            return 1;
        }
        if (t < best)
            best = t;
        sum += t;
    }
    printf("btclog_lines: %llu lines\n", (unsigned long long)c.lines);
    printf("btclog_matched: %llu lines\n", (unsigned long long)c.matched);
    printf("btclog_parse_rate: %.0f lines/s\n", (double)c.lines / best);
    printf("btclog_parse_rate_mean: %.0f lines/s\n", (double)c.lines * 3 / sum);
    printf("btclog_parse_time: %.3f s\n", best);
    cs_vw_free(&c.w);
    return 0;
}
