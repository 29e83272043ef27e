/* chainscope archive: record events into segment files, and read them
 * (cat, stats, verify). docs/archive.md. */
#include "bus/archive.h"
#include "bus/archiver.h"
#include "bus/nats.h"
#include "bus/replay.h"
#include "chainscope/client.h"
#include "cli/cli.h"
#include "cli/natsopt.h"
#include "cli/render.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "core/subject.h"
#include "net/sigpipe.h"

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILTERS 64

static void help(void)
{
    printf("usage: chainscope archive record --dir DIR [options]\n"
           "       chainscope archive cat FILES... [--from T] [--to T] [--filter S] [--json]\n"
           "       chainscope archive stats FILES...\n"
           "       chainscope archive verify FILES...\n"
           "\n"
           "Archives keep events as segment files: the binary event records in\n"
           "zstd-compressed frames, each segment with an index (time -> frame, counts by\n"
           "type), specified byte by byte in docs/protocol.md. FILES may be segment files\n"
           "or folders (their *.cseg files, in name order, which is time order).\n"
           "\n"
           "record  subscribes to a running log server, or to NATS (--nats, --subject,\n"
           "        --durable), and writes what it receives into DIR (a frame per --frame-events "
           "events or per --frame-interval, a new\n"
           "        segment past --segment-size or --segment-age). SIGHUP closes the\n"
           "        segment and opens a new one (for logrotate); SIGINT/SIGTERM close it\n"
           "        cleanly. Writing runs on its own thread behind a queue of --queue\n"
           "        bytes: what does not fit is dropped, counted and logged.\n"
           "cat     prints the events, one line each (or JSON lines with --json).\n"
           "stats   events, bytes, types, time span and compression ratio.\n"
           "verify  says whether each segment ends cleanly, or where a cut one ends\n"
           "        (a segment cut by a crash is readable up to its last complete frame).\n"
           "\n"
           "record options:\n"
           "  -d, --dir DIR           folder of the segments (created when missing)\n"
           "      --prefix NAME       file name prefix (default: events)\n"
           "  -f, --filter SUBJECT    only these types; repeatable (default: '>')\n"
           "      --frame-events N    events per frame at most (default 8192)\n"
           "      --frame-interval S  seconds a frame stays open at most (default 1)\n"
           "      --segment-size SIZE bytes per segment, like 256MiB (default)\n"
           "      --segment-age S     seconds per segment (default 3600)\n"
           "      --retain S          delete segments older than S seconds\n"
           "      --retain-size SIZE  delete the oldest while the folder holds more\n"
           "      --queue SIZE        bytes waiting for the writer at most (default 64MiB)\n"
           "      --level N           zstd level 1..19 (default 3)\n"
           "  -s, --socket PATH       log server socket (default: %s)\n"
           "      --connect tcp:HOST:PORT  a TCP log server; token from $CHAINSCOPE_TOKEN\n"
           "  -c, --config FILE       the log server that FILE configures (its nats:\n"
           "                          section with the NATS flags or --source nats)\n"
           "      --source S          logserver (default) or nats\n"
           "      --nats URL          a NATS server; repeatable (implies --source nats)\n"
           "      --subject S         the NATS subject (default PREFIX.>); wildcards allowed\n"
           "      --prefix-nats P     the subject prefix (default chainscope)\n"
           "      --stream NAME       the JetStream stream (default CHAINSCOPE)\n"
           "      --durable NAME      read through this durable pull consumer: a message\n"
           "                          is acknowledged once its frame is on disk, so a\n"
           "                          recorder killed and started again resumes without\n"
           "                          loss or duplicate\n"
           "\n"
           "read options:\n"
           "      --from T, --to T    time range: 2026-12-02T18:00:00Z, a date, or Unix seconds\n"
           "  -f, --filter SUBJECT    only these types; repeatable\n"
           "  -j, --json              JSON lines (cat)\n"
           "\n"
           "examples:\n"
           "  chainscope archive record --dir /var/lib/chainscope/archive --filter 'p2p.>'\n"
           "  chainscope archive record --dir arc --nats nats://127.0.0.1:4222 --durable arc\n"
           "  chainscope archive cat archive/ --from 2026-12-02T18:00:00Z --filter 'p2p.msg.addr'\n"
           "  chainscope archive verify archive/events-20261202T180000.000Z-000001.cseg\n"
           "\n"
           "exit status: 0 ok; 1 verify found a cut or damaged segment; 2 usage; 4 I/O.\n",
           cs_cli_default_socket());
}

/* ---- sizes and durations for record's flags ---------------------------------------- */

static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    double v = strtod(s, &end);
    static const struct {
        const char *suf;
        double mul;
    } u[] = {{"", 1},          {"B", 1},    {"KiB", 1024},  {"MiB", 1048576},
             {"GiB", 1 << 30}, {"kB", 1e3}, {"KB", 1e3},    {"MB", 1e6},
             {"GB", 1e9},      {"K", 1024}, {"M", 1048576}, {"G", 1 << 30}};
    if (end == s || v < 0)
        return -1;
    for (size_t i = 0; i < sizeof u / sizeof *u; i++)
        if (strcmp(end, u[i].suf) == 0) {
            *out = (uint64_t)(v * u[i].mul);
            return 0;
        }
    return -1;
}

static int parse_secs_ms(const char *s, uint64_t *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || v < 0)
        return -1;
    *out = (uint64_t)(v * 1000);
    return 0;
}

/* ---- record: a source of records, and the loop ------------------------------------- */

/* Where `record` takes records from: a log server or NATS. next() returns
 * 0 with a record (borrowed until the next call), CS_ETIMEDOUT when nothing
 * came within timeout_ms, CS_ELIMIT when what was handed out must be
 * settled first (written, then acknowledged: settle()), another error when
 * the source is gone. */
typedef struct record_source {
    const char *what;
    int (*open)(struct record_source *s);
    int (*next)(struct record_source *s, const uint8_t **rec, size_t *len, int timeout_ms);
    void (*close)(struct record_source *s);
    const char *address;
    const char *const *filters;
    size_t nfilters;
    cs_client *c;
    /* NATS */
    cs_nats_link *link;
    const cs_nats_conf *nc;
    const char *subject;
    const char *dir, *prefix; /* the archive, read back at open */
    cs_event *ev;             /* the record handed out */
} record_source;

static int ls_open(record_source *s)
{
    if (cs_cli_connect("archive record", s->address, &s->c))
        return CS_EIO;
    int rc = 0;
    for (size_t i = 0; i < s->nfilters && !rc; i++)
        rc = cs_client_subscribe(s->c, s->filters[i]);
    if (!rc)
        rc = cs_client_flush(s->c, 10000);
    if (rc) {
        fprintf(stderr, "chainscope archive record: %s\n", cs_strerror(rc));
        cs_client_close(s->c);
        s->c = NULL;
    }
    return rc;
}

static int ls_next(record_source *s, const uint8_t **rec, size_t *len, int timeout_ms)
{
    return cs_client_next(s->c, rec, len, timeout_ms);
}

static void ls_close(record_source *s)
{
    if (s->c)
        cs_client_close(s->c);
    s->c = NULL;
}

static int nats_open(record_source *s)
{
    char err[512];
    int rc = cs_nats_link_open(s->nc, "chainscope-archive", &s->link, err, sizeof err);
    if (rc) {
        fprintf(stderr, "chainscope archive record: %s\n", err);
        return rc;
    }
    if (s->nc->js && s->nc->durable) {
        size_t n = cs_nats_link_remember_archive(s->link, s->dir, s->prefix ? s->prefix : "events",
                                                 (size_t)s->nc->batch * 4);
        if (n)
            CS_INFO("archive", "%zu events of the archive's newest frames are not taken again", n);
    }
    if ((rc = cs_nats_link_subscribe(s->link, s->subject))) {
        fprintf(stderr, "chainscope archive record: cannot subscribe to %s\n", s->subject);
        cs_nats_link_close(s->link);
        s->link = NULL;
    }
    return rc;
}

static int nats_next(record_source *s, const uint8_t **rec, size_t *len, int timeout_ms)
{
    for (;;) {
        if (s->ev)
            cs_event_unref(s->ev);
        s->ev = NULL;
        int rc = cs_nats_link_next(s->link, &s->ev, timeout_ms);
        if (rc == CS_ETIMEDOUT && cs_nats_link_unacked(s->link))
            return CS_ELIMIT; /* quiet: settle what was handed out */
        if (rc)
            return rc;
        bool want = s->nfilters == 0;
        for (size_t i = 0; !want && i < s->nfilters; i++)
            want = cs_subject_match(s->filters[i], strlen(s->filters[i]), s->ev->type,
                                    strlen(s->ev->type));
        if (want) {
            *rec = s->ev->wire;
            *len = s->ev->wire_len;
            return 0;
        }
    }
}

static void nats_close(record_source *s)
{
    if (s->ev)
        cs_event_unref(s->ev);
    s->ev = NULL;
    if (s->link)
        cs_nats_link_close(s->link);
    s->link = NULL;
}

/* Waits until the archiver has written every record pushed so far (into a
 * frame on disk), then acknowledges what the source handed out. A write
 * failure loses records: then nothing is acknowledged (JetStream delivers
 * them again to the next run). Returns 0 or CS_EIO. */
static int settle(record_source *s, cs_archiver *a, uint64_t pushed, uint64_t refused)
{
    if (!s->link || !cs_nats_link_unacked(s->link))
        return 0;
    cs_archiver_stats st;
    for (int i = 0;; i++) {
        if (i % 20 == 0)
            cs_archiver_sync(a); /* again: records queued after the last ask */
        cs_archiver_stats_get(a, &st);
        if (st.dropped > refused)
            return CS_EIO;
        if (st.events >= pushed)
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    size_t failed = cs_nats_link_ack(s->link);
    if (failed)
        CS_WARN("archive",
                "%zu acknowledgements failed: JetStream delivers them again (and "
                "they are not written twice)",
                failed);
    return 0;
}

static volatile sig_atomic_t stop_flag, hup_flag;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        hup_flag = 1;
    else
        stop_flag = 1;
}

static int record(const cs_archiver_opts *opts, record_source *src);

/* record from NATS: the settings of config's nats: section or of the
 * flags; filters narrow the subject further by type. */
static int record_nats(const cs_archiver_opts *o, cs_cli_nats *nats, const char *config,
                       const char *subject, const char *const *filters, size_t nf)
{
    int rc = cs_cli_nats_load("archive", config, nats);
    if (rc) {
        cs_cli_nats_free(nats);
        return rc;
    }
    char dflt[CS_NATS_MAX_SUBJECT], where[600];
    if (!subject) {
        snprintf(dflt, sizeof dflt, "%s.>", nats->c->prefix);
        subject = dflt;
    }
    snprintf(where, sizeof where, "NATS %s%s%s", subject,
             nats->c->js && nats->c->durable ? " through durable consumer " : "",
             nats->c->js && nats->c->durable ? nats->c->durable : "");
    record_source src = {.what = "NATS server",
                         .open = nats_open,
                         .next = nats_next,
                         .close = nats_close,
                         .address = where,
                         .filters = filters,
                         .nfilters = nf,
                         .nc = nats->c,
                         .subject = subject,
                         .dir = o->dir,
                         .prefix = o->prefix};
    rc = record(o, &src);
    cs_cli_nats_free(nats);
    return rc;
}

static int cmd_record(int argc, char **argv)
{
    enum {
        O_PREFIX = 256,
        O_FE,
        O_FI,
        O_SS,
        O_SA,
        O_RET,
        O_RETS,
        O_Q,
        O_LEVEL,
        O_CONNECT,
        O_SOURCE,
        O_NATS,
        O_SUBJECT,
        O_NPREFIX,
        O_STREAM,
        O_DURABLE
    };
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"prefix", required_argument, NULL, O_PREFIX},
        {"filter", required_argument, NULL, 'f'},
        {"frame-events", required_argument, NULL, O_FE},
        {"frame-interval", required_argument, NULL, O_FI},
        {"segment-size", required_argument, NULL, O_SS},
        {"segment-age", required_argument, NULL, O_SA},
        {"retain", required_argument, NULL, O_RET},
        {"retain-size", required_argument, NULL, O_RETS},
        {"queue", required_argument, NULL, O_Q},
        {"level", required_argument, NULL, O_LEVEL},
        {"socket", required_argument, NULL, 's'},
        {"connect", required_argument, NULL, O_CONNECT},
        {"config", required_argument, NULL, 'c'},
        {"source", required_argument, NULL, O_SOURCE},
        {"nats", required_argument, NULL, O_NATS},
        {"subject", required_argument, NULL, O_SUBJECT},
        {"prefix-nats", required_argument, NULL, O_NPREFIX},
        {"stream", required_argument, NULL, O_STREAM},
        {"durable", required_argument, NULL, O_DURABLE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cs_archiver_opts o = {0};
    cs_cli_nats nats = {0};
    bool use_nats = false;
    const char *subject = NULL;
    const char *filters[MAX_FILTERS];
    size_t nf = 0;
    const char *address = NULL, *config = NULL;
    int ch;
    uint64_t u;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "d:f:s:c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            o.dir = optarg;
            break;
        case O_PREFIX:
            if (!*optarg || strchr(optarg, '/'))
                return cs_cli_usage_error("archive", "--prefix takes a name without '/'");
            o.prefix = optarg;
            break;
        case 'f':
            if (nf == MAX_FILTERS)
                return cs_cli_usage_error("archive", "at most %d filters", MAX_FILTERS);
            if (!cs_subject_filter_valid(optarg, strlen(optarg)))
                return cs_cli_usage_error("archive", "'%s' is not a subject filter", optarg);
            filters[nf++] = optarg;
            break;
        case O_FE:
            if (parse_size(optarg, &u) || u == 0 || u > 1000000)
                return cs_cli_usage_error("archive", "--frame-events takes 1..1000000");
            o.frame_events = (uint32_t)u;
            break;
        case O_FI:
        case O_SA:
        case O_RET:
            if (parse_secs_ms(optarg, &u) || u == 0)
                return cs_cli_usage_error("archive", "%s takes seconds", argv[optind - 1]);
            *(ch == O_FI ? &o.frame_ms : ch == O_SA ? &o.segment_ms : &o.retain_ms) = u;
            break;
        case O_SS:
        case O_RETS:
        case O_Q:
            if (parse_size(optarg, &u) || u == 0)
                return cs_cli_usage_error("archive", "%s takes a size like 64MiB",
                                          argv[optind - 1]);
            *(ch == O_SS ? &o.segment_bytes : ch == O_RETS ? &o.retain_bytes : &o.queue_bytes) = u;
            break;
        case O_LEVEL:
            if (parse_size(optarg, &u) || u < 1 || u > 19)
                return cs_cli_usage_error("archive", "--level takes 1..19");
            o.level = (int)u;
            break;
        case 's':
            address = optarg;
            break;
        case O_CONNECT:
            if (strncmp(optarg, "tcp:", 4) != 0)
                return cs_cli_usage_error("archive", "--connect takes tcp:HOST:PORT");
            address = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case O_SOURCE:
            if (strcmp(optarg, "nats") && strcmp(optarg, "logserver"))
                return cs_cli_usage_error("archive", "--source takes logserver or nats");
            use_nats = strcmp(optarg, "nats") == 0;
            break;
        case O_NATS:
            if (cs_cli_nats_url("archive", &nats, optarg))
                return CS_EXIT_USAGE;
            use_nats = true;
            break;
        case O_SUBJECT:
            if (!*optarg || strpbrk(optarg, " \t"))
                return cs_cli_usage_error("archive", "--subject takes a NATS subject");
            subject = optarg;
            use_nats = true;
            break;
        case O_NPREFIX:
            nats.prefix = optarg;
            use_nats = true;
            break;
        case O_STREAM:
            nats.stream = optarg;
            use_nats = true;
            break;
        case O_DURABLE:
            nats.durable = optarg;
            use_nats = true;
            break;
        case 'h':
            help();
            return CS_EXIT_OK;
        default:
            return cs_cli_usage_error("archive", "unknown option");
        }
    }
    if (optind < argc)
        return cs_cli_usage_error("archive", "unexpected argument '%s'", argv[optind]);
    if (!o.dir)
        return cs_cli_usage_error("archive", "record: which folder? (--dir DIR)");
    if (use_nats && address)
        return cs_cli_usage_error("archive", "--socket/--connect name a log server: not with "
                                             "NATS");
    if (use_nats)
        return record_nats(&o, &nats, config, subject, filters, nf);
    if (nf == 0)
        filters[nf++] = ">";
    if (!address && config) {
        int rc = cs_cli_config_socket("archive", config, &address);
        if (rc)
            return rc;
    }
    if (!address)
        address = cs_cli_default_socket();
    record_source src = {.what = "log server",
                         .open = ls_open,
                         .next = ls_next,
                         .close = ls_close,
                         .address = address,
                         .filters = filters,
                         .nfilters = nf};
    return record(&o, &src);
}

/* Records from src into o.dir until SIGINT/SIGTERM. */
static int record(const cs_archiver_opts *opts, record_source *src_)
{
    cs_archiver_opts o = *opts;
    record_source src = *src_;
    const char *address = src.address;
    cs_ignore_sigpipe();
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    if (src.open(&src))
        return CS_EXIT_FAIL;
    cs_archiver *a;
    char err[512];
    if (cs_archiver_start(&o, &a, err, sizeof err)) {
        fprintf(stderr, "chainscope %s\n", err);
        src.close(&src);
        return CS_EXIT_FAIL;
    }
    fprintf(stderr, "archive: recording from %s into %s\n", address, o.dir);
    int status = CS_EXIT_OK;
    uint64_t pushed = 0, refused = 0;
    while (!stop_flag) {
        if (hup_flag) {
            hup_flag = 0;
            cs_archiver_rotate(a);
            CS_INFO("archive", "SIGHUP: the segment is closed and a new one opened");
        }
        if (!src.c && !src.link) {
            sleep(1);
            if (!stop_flag && src.open(&src) == 0)
                CS_INFO("archive", "connected to the %s at %s again", src.what, address);
            continue;
        }
        const uint8_t *rec;
        size_t len;
        int rc = src.next(&src, &rec, &len, 200);
        if (rc == CS_ETIMEDOUT)
            continue;
        if (rc == CS_ELIMIT) {
            if (settle(&src, a, pushed, refused)) {
                CS_ERROR("archive", "writing failed: nothing more is acknowledged; stopping");
                status = CS_EXIT_FAIL;
                break;
            }
            continue;
        }
        if (rc) {
            if (stop_flag)
                break;
            CS_WARN("archive", "the %s at %s went away (%s); connecting again every second",
                    src.what, address, cs_strerror(rc));
            settle(&src, a, pushed, refused); /* written before the next run reads back */
            src.close(&src);
            continue;
        }
        /* a durable consumer waits for room (its messages stay unacked);
         * a log server's records past the bound are dropped and counted */
        while (cs_archiver_push(a, rec, len) == CS_ELIMIT && src.link) {
            refused++;
            struct timespec ts = {0, 10000000};
            nanosleep(&ts, NULL);
            if (stop_flag)
                break;
        }
        pushed++;
    }
    cs_archiver_stats st;
    cs_archiver_stop(a, &st);
    if (src.link && st.dropped == refused && cs_nats_link_unacked(src.link))
        cs_nats_link_ack(src.link); /* everything is on disk now */
    if (src.link)
        fprintf(stderr,
                "archive: %" PRIu64 " redelivered events skipped (already archived), %" PRIu64
                " messages that are not events\n",
                cs_nats_link_dups(src.link), cs_nats_link_bad(src.link));
    src.close(&src);
    fprintf(stderr,
            "archive: %" PRIu64 " events in %" PRIu64 " segments, %" PRIu64 " bytes, %" PRIu64
            " dropped, %" PRIu64 " segments deleted by retention\n",
            st.events, st.segments, st.bytes, st.dropped, st.deleted);
    return status;
}

/* ---- reading ------------------------------------------------------------------------ */

typedef struct read_args {
    const char *paths[4096];
    size_t npaths;
    const char *filters[MAX_FILTERS];
    size_t nf;
    int64_t from, to;
    bool json;
} read_args;

static int parse_read(const char *sub, int argc, char **argv, read_args *ra, bool ranges)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, 'F'},   {"to", required_argument, NULL, 'T'},
        {"filter", required_argument, NULL, 'f'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    memset(ra, 0, sizeof *ra);
    ra->from = INT64_MIN;
    ra->to = INT64_MAX;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "f:jh", opts, NULL)) != -1) {
        if (!ranges && ch != 'h')
            return cs_cli_usage_error("archive", "%s takes only files", sub);
        switch (ch) {
        case 'F':
        case 'T':
            if (cs_replay_parse_time(optarg, ch == 'F' ? &ra->from : &ra->to))
                return cs_cli_usage_error("archive",
                                          "'%s' is not a time (2026-12-02T18:00:00Z, "
                                          "2026-12-02 or Unix seconds)",
                                          optarg);
            break;
        case 'f':
            if (ra->nf == MAX_FILTERS)
                return cs_cli_usage_error("archive", "at most %d filters", MAX_FILTERS);
            if (!cs_subject_filter_valid(optarg, strlen(optarg)))
                return cs_cli_usage_error("archive", "'%s' is not a subject filter", optarg);
            ra->filters[ra->nf++] = optarg;
            break;
        case 'j':
            ra->json = true;
            break;
        case 'h':
            help();
            return -1;
        default:
            return cs_cli_usage_error("archive", "unknown option");
        }
    }
    for (; optind < argc && ra->npaths < 4096; optind++)
        ra->paths[ra->npaths++] = argv[optind];
    if (!ra->npaths)
        return cs_cli_usage_error("archive", "%s: which files?", sub);
    return 0;
}

static int cmd_cat(int argc, char **argv)
{
    read_args ra;
    int rc = parse_read("cat", argc, argv, &ra, true);
    if (rc)
        return rc < 0 ? CS_EXIT_OK : rc;
    cs_replay_opts o = {.paths = ra.paths,
                        .npaths = ra.npaths,
                        .from_ns = ra.from,
                        .to_ns = ra.to,
                        .filters = ra.filters,
                        .nfilters = ra.nf};
    cs_replay *r;
    char err[512];
    if (cs_replay_open(&o, &r, err, sizeof err)) {
        fprintf(stderr, "chainscope archive: %s\n", err);
        return CS_EXIT_FAIL;
    }
    cs_ignore_sigpipe();
    cs_buf out;
    cs_buf_init(&out, 0);
    const uint8_t *rec;
    size_t len;
    int64_t t;
    while (cs_replay_next(r, &rec, &len, &t) == 1) {
        cs_event *ev;
        if (cs_event_decode(rec, len, &ev)) {
            fprintf(stderr, "chainscope archive: a record does not decode; skipped\n");
            continue;
        }
        out.len = 0;
        rc = ra.json ? cs_json_event(&out, ev) : cs_render_human(&out, ev);
        if (ra.json && !rc)
            rc = cs_buf_putc(&out, '\n');
        cs_event_unref(ev);
        if (!rc && fwrite(out.data, 1, out.len, stdout) != out.len)
            break;
    }
    cs_replay_stats st;
    cs_replay_stats_get(r, &st);
    cs_replay_close(r);
    cs_buf_free(&out);
    fflush(stdout);
    return st.damaged ? CS_EXIT_PROBLEM : CS_EXIT_OK;
}

static void fmt_time(int64_t ns, char *out, size_t n)
{
    time_t s = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ns % 1000000000 / 1000));
}

typedef struct tcount {
    char name[CS_EVENT_MAX_TYPE + 1];
    uint64_t n;
} tcount;

static int by_count(const void *a, const void *b)
{
    const tcount *x = a, *y = b;
    return x->n == y->n ? strcmp(x->name, y->name) : (x->n < y->n ? 1 : -1);
}

/* Reads every frame of every segment: one pass serves stats and verify. */
static int cmd_scan(int argc, char **argv, bool verify)
{
    read_args ra;
    int rc = parse_read(verify ? "verify" : "stats", argc, argv, &ra, false);
    if (rc)
        return rc < 0 ? CS_EXIT_OK : rc;
    cs_replay_opts o = {
        .paths = ra.paths, .npaths = ra.npaths, .from_ns = INT64_MIN, .to_ns = INT64_MAX};
    cs_replay *list;
    char err[512];
    if (cs_replay_open(&o, &list, err, sizeof err)) {
        fprintf(stderr, "chainscope archive: %s\n", err);
        return CS_EXIT_FAIL;
    }
    void *dctx = cs_seg_dctx_new();
    cs_buf raw;
    cs_buf_init(&raw, 0);
    tcount *types = NULL;
    size_t ntypes = 0, captypes = 0;
    uint64_t files = 0, events = 0, disk = 0, recbytes = 0, bad = 0, frames = 0;
    int64_t tmin = INT64_MAX, tmax = INT64_MIN;
    int status = CS_EXIT_OK;
    {
        size_t nn = cs_replay_nfiles(list);
        for (size_t fi = 0; fi < nn; fi++) {
            const char *path = cs_replay_file(list, fi);
            cs_segment s;
            if (cs_segment_open(&s, path, err, sizeof err)) {
                fprintf(stderr, "chainscope archive: %s\n", err);
                status = CS_EXIT_FAIL;
                continue;
            }
            files++;
            disk += s.size;
            uint64_t fev = 0, fbad = 0;
            for (size_t i = 0; i < s.nframes; i++) {
                const char *why;
                if (cs_segment_frame(&s, i, dctx, &raw, &why)) {
                    fbad++;
                    if (verify)
                        printf("%s: frame %zu at byte %llu is damaged: %s\n", path, i,
                               (unsigned long long)s.frames[i].offset, why);
                    continue;
                }
                frames++;
                const uint8_t *p = raw.data, *end = p + raw.len, *rec;
                size_t len;
                while (cs_seg_item_next(&p, end, &rec, &len) == 1) {
                    const char *type;
                    size_t tl;
                    if (verify ? cs_event_check(rec, len, &type, &tl) != 0 : false) {
                        fbad++;
                        printf("%s: frame %zu holds a bad record\n", path, i);
                        continue;
                    }
                    uint64_t seq;
                    int64_t t;
                    if (cs_seg_record_head(rec, len, &seq, &t, &type, &tl)) {
                        fbad++;
                        continue;
                    }
                    fev++;
                    recbytes += len;
                    if (t < tmin)
                        tmin = t;
                    if (t > tmax)
                        tmax = t;
                    if (verify)
                        continue;
                    size_t k = 0;
                    while (k < ntypes && (strncmp(types[k].name, type, tl) || types[k].name[tl]))
                        k++;
                    if (k == ntypes) {
                        if (ntypes == captypes) {
                            captypes = captypes ? captypes * 2 : 64;
                            tcount *nt = realloc(types, captypes * sizeof *nt);
                            if (!nt)
                                break;
                            types = nt;
                        }
                        snprintf(types[k].name, sizeof types[k].name, "%.*s", (int)tl, type);
                        types[k].n = 0;
                        ntypes++;
                    }
                    types[k].n++;
                }
            }
            events += fev;
            bad += fbad;
            if (verify) {
                if (s.indexed && !fbad)
                    printf("%s: complete: %zu frames, %llu events; %s\n", path, s.nframes,
                           (unsigned long long)fev, s.why);
                else
                    printf("%s: %s: %zu complete frames, %llu events readable; %s\n", path,
                           fbad ? "damaged" : "cut", s.nframes, (unsigned long long)fev, s.why);
                if (!s.indexed || fbad)
                    status = status ? status : CS_EXIT_PROBLEM;
            }
            cs_segment_close(&s);
        }
    }
    cs_replay_close(list);
    if (!verify) {
        char a[64] = "-", b[64] = "-";
        if (events) {
            fmt_time(tmin, a, sizeof a);
            fmt_time(tmax, b, sizeof b);
        }
        printf("files: %llu\nframes: %llu\nevents: %llu\nbytes: %llu\nrecord_bytes: %llu\n",
               (unsigned long long)files, (unsigned long long)frames, (unsigned long long)events,
               (unsigned long long)disk, (unsigned long long)recbytes);
        printf("bytes_per_event: %.2f\ncompression_ratio: %.2f\n",
               events ? (double)disk / (double)events : 0.0,
               disk ? (double)recbytes / (double)disk : 0.0);
        printf("from: %s\nto: %s\nspan_seconds: %.3f\n", a, b,
               events ? (double)(tmax - tmin) / 1e9 : 0.0);
        if (bad)
            printf("damaged: %llu\n", (unsigned long long)bad);
        qsort(types, ntypes, sizeof *types, by_count);
        printf("types: %zu\n", ntypes);
        for (size_t i = 0; i < ntypes; i++)
            printf("  %s: %llu\n", types[i].name, (unsigned long long)types[i].n);
    }
    free(types);
    cs_buf_free(&raw);
    cs_seg_dctx_free(dctx);
    return status;
}

int cs_cmd_archive(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (argc < 2) {
            help();
            return CS_EXIT_USAGE;
        }
        help();
        return CS_EXIT_OK;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "record") == 0)
        return cmd_record(argc - 1, argv + 1);
    if (strcmp(sub, "cat") == 0)
        return cmd_cat(argc - 1, argv + 1);
    if (strcmp(sub, "stats") == 0)
        return cmd_scan(argc - 1, argv + 1, false);
    if (strcmp(sub, "verify") == 0)
        return cmd_scan(argc - 1, argv + 1, true);
    return cs_cli_usage_error("archive", "unknown subcommand '%s' (record, cat, stats, verify)",
                              sub);
}
