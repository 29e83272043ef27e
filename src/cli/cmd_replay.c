/* chainscope replay: archived events published again, marked as replayed
 * (docs/archive.md). */
#include "bus/nats.h"
#include "bus/replay.h"
#include "chainscope/client.h"
#include "cli/cli.h"
#include "cli/natsopt.h"
#include "core/error.h"
#include "core/subject.h"
#include "net/sigpipe.h"

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_FILTERS 64
#define MAX_PATHS 4096

static void help(void)
{
    printf("usage: chainscope replay FILES... [--from T] [--to T] [--filter S]\n"
           "                         [--speed X | --as-fast-as-possible]\n"
           "                         [--into logserver | --into nats [--nats URL]]\n"
           "\n"
           "Publishes archived events (segment files or folders of them, see `chainscope\n"
           "archive`) into a running log server, or into NATS, so that monitors, the audit\n"
           "and every other subscriber take them as live events: the backtest of a monitor\n"
           "on a day of history. Each event keeps its time and seq; its origin gains the mark\n"
           "'%s' (connector@host-a becomes connector@host-a%s), alerts of monitors\n"
           "matching it carry replayed: true, and the notifier does not send those to\n"
           "its channels unless the config says `replay: {notify: true}`.\n"
           "\n"
           "By default events come at the pace they were recorded (--speed 1); --speed 10\n"
           "is ten times faster; --as-fast-as-possible does not wait at all (the log\n"
           "server still presses back when its subscribers are slow).\n"
           "\n"
           "options:\n"
           "      --from T, --to T      time range: 2026-12-02T18:00:00Z, a date, or Unix\n"
           "                            seconds\n"
           "  -f, --filter SUBJECT      only these types; repeatable\n"
           "      --speed X             pace: X times the recorded one (default 1)\n"
           "  -a, --as-fast-as-possible no pacing\n"
           "      --into WHERE          logserver (default) or nats\n"
           "  -s, --socket PATH         log server socket (default: %s)\n"
           "      --connect tcp:HOST:PORT  a TCP log server; token from $CHAINSCOPE_TOKEN\n"
           "  -c, --config FILE         the log server that FILE configures, or with --into\n"
           "                            nats its nats: section (servers, credentials, prefix,\n"
           "                            encoding, jetstream)\n"
           "      --nats URL            NATS server (repeatable; overrides the file's)\n"
           "      --prefix P            subject prefix (default chainscope): P.NETWORK.TYPE\n"
           "      --stream NAME         publish through JetStream into stream NAME (created\n"
           "                            when missing), each event acknowledged\n"
           "\n"
           "examples:\n"
           "  chainscope replay archive/ --from 2026-12-02 --to 2026-12-03 --speed 60\n"
           "  chainscope replay archive/ --filter 'p2p.msg.*' --as-fast-as-possible\n"
           "  chainscope replay archive/ -a --into nats --nats nats://10.0.0.5:4222\n"
           "\n"
           "exit status: 0 when every event was handed on, 1 when damaged parts were\n"
           "skipped, 2 usage, 4 when the server is unreachable or goes away.\n",
           CS_REPLAY_MARK, CS_REPLAY_MARK, cs_cli_default_socket());
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Where replayed records go: the log server, or NATS (a blocking link). */
typedef struct sink {
    cs_client *c;
    cs_nats_link *l;
    uint64_t unsendable; /* events NATS can never take (counted, skipped) */
} sink;

static int sink_open_logserver(sink *k, const char *address)
{
    return cs_cli_connect("replay", address, &k->c) ? CS_EIO : 0;
}

static int sink_open_nats(sink *k, cs_cli_nats *n)
{
    char err[512];
    int rc = cs_nats_link_open(n->c, n->c->name ? n->c->name : "chainscope-replay", &k->l, err,
                               sizeof err);
    if (rc)
        fprintf(stderr, "chainscope replay: %s\n", err);
    return rc;
}

static int sink_publish(sink *k, const uint8_t *rec, size_t len)
{
    if (k->c)
        return cs_client_publish(k->c, rec, len);
    cs_event *ev;
    int rc = cs_event_decode(rec, len, &ev);
    if (rc)
        return rc;
    rc = cs_nats_link_publish(k->l, ev);
    cs_event_unref(ev);
    if (rc == CS_ELIMIT) {
        k->unsendable++;
        rc = 0;
    }
    return rc;
}

static int sink_flush(sink *k)
{
    return k->c ? cs_client_flush(k->c, 60000) : cs_nats_link_flush(k->l, 60000);
}

static void sink_error(sink *k, int rc)
{
    const char *more = k->c ? cs_client_error(k->c) : "";
    fprintf(stderr, "chainscope replay: %s%s%s\n", cs_strerror(rc), more[0] ? ": " : "", more);
}

static void sink_close(sink *k)
{
    if (k->c)
        cs_client_close(k->c);
    cs_nats_link_close(k->l);
}

int cs_cmd_replay(int argc, char **argv)
{
    enum { O_FROM = 256, O_TO, O_SPEED, O_INTO, O_CONNECT, O_NATS, O_PREFIX, O_STREAM };
    static const struct option opts[] = {
        {"from", required_argument, NULL, O_FROM},
        {"to", required_argument, NULL, O_TO},
        {"filter", required_argument, NULL, 'f'},
        {"speed", required_argument, NULL, O_SPEED},
        {"as-fast-as-possible", no_argument, NULL, 'a'},
        {"into", required_argument, NULL, O_INTO},
        {"socket", required_argument, NULL, 's'},
        {"connect", required_argument, NULL, O_CONNECT},
        {"config", required_argument, NULL, 'c'},
        {"nats", required_argument, NULL, O_NATS},
        {"prefix", required_argument, NULL, O_PREFIX},
        {"stream", required_argument, NULL, O_STREAM},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *filters[MAX_FILTERS];
    size_t nf = 0;
    int64_t from = INT64_MIN, to = INT64_MAX;
    double speed = 1;
    bool speed_set = false, afap = false;
    const char *address = NULL, *config = NULL;
    bool into_nats = false;
    cs_cli_nats nats = {0};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "f:as:c:h", opts, NULL)) != -1) {
        char *end;
        switch (ch) {
        case O_FROM:
        case O_TO:
            if (cs_replay_parse_time(optarg, ch == O_FROM ? &from : &to))
                return cs_cli_usage_error("replay",
                                          "'%s' is not a time (2026-12-02T18:00:00Z, "
                                          "2026-12-02 or Unix seconds)",
                                          optarg);
            break;
        case 'f':
            if (nf == MAX_FILTERS)
                return cs_cli_usage_error("replay", "at most %d filters", MAX_FILTERS);
            if (!cs_subject_filter_valid(optarg, strlen(optarg)))
                return cs_cli_usage_error("replay", "'%s' is not a subject filter", optarg);
            filters[nf++] = optarg;
            break;
        case O_SPEED:
            speed = strtod(optarg, &end);
            if (*end || !*optarg || !(speed > 0))
                return cs_cli_usage_error("replay", "--speed takes a factor above 0");
            speed_set = true;
            break;
        case 'a':
            afap = true;
            break;
        case O_INTO:
            if (strcmp(optarg, "logserver") != 0 && strcmp(optarg, "nats") != 0)
                return cs_cli_usage_error("replay", "--into takes logserver or nats");
            into_nats = strcmp(optarg, "nats") == 0;
            break;
        case O_NATS:
            if (cs_cli_nats_url("replay", &nats, optarg))
                return CS_EXIT_USAGE;
            break;
        case O_PREFIX:
            nats.prefix = optarg;
            break;
        case O_STREAM:
            nats.stream = optarg;
            break;
        case 's':
            address = optarg;
            break;
        case O_CONNECT:
            if (strncmp(optarg, "tcp:", 4) != 0)
                return cs_cli_usage_error("replay", "--connect takes tcp:HOST:PORT");
            address = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'h':
            help();
            return CS_EXIT_OK;
        default:
            return cs_cli_usage_error("replay", "unknown option");
        }
    }
    if (speed_set && afap)
        return cs_cli_usage_error("replay", "--speed or --as-fast-as-possible, not both");
    if (optind >= argc)
        return cs_cli_usage_error("replay", "which files? (segment files or folders)");
    if (argc - optind > MAX_PATHS)
        return cs_cli_usage_error("replay", "at most %d paths", MAX_PATHS);
    if ((nats.nurls || nats.prefix || nats.stream) && !into_nats)
        return cs_cli_usage_error("replay", "--nats, --prefix and --stream go with --into nats");
    if (!into_nats && !address && config) {
        int rc = cs_cli_config_socket("replay", config, &address);
        if (rc)
            return rc;
    }
    if (!address)
        address = cs_cli_default_socket();
    if (into_nats) {
        int rc = cs_cli_nats_load("replay", config, &nats);
        if (rc)
            return rc;
    }
    cs_replay_opts o = {.paths = (const char *const *)argv + optind,
                        .npaths = (size_t)(argc - optind),
                        .from_ns = from,
                        .to_ns = to,
                        .filters = filters,
                        .nfilters = nf,
                        .mark = true};
    cs_replay *r;
    char err[512];
    if (cs_replay_open(&o, &r, err, sizeof err)) {
        fprintf(stderr, "chainscope replay: %s\n", err);
        cs_cli_nats_free(&nats);
        return CS_EXIT_FAIL;
    }
    cs_ignore_sigpipe();
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sink k = {0};
    int rc = into_nats ? sink_open_nats(&k, &nats) : sink_open_logserver(&k, address);
    if (rc) {
        cs_replay_close(r);
        cs_cli_nats_free(&nats);
        return CS_EXIT_FAIL;
    }
    const uint8_t *rec;
    size_t len;
    int64_t t, t0 = 0;
    double w0 = 0, start = mono_s();
    bool first = true;
    while (!stop && !rc && cs_replay_next(r, &rec, &len, &t) == 1) {
        if (!afap) {
            if (first) {
                t0 = t;
                w0 = mono_s();
                first = false;
            }
            double due = w0 + (double)(t - t0) / 1e9 / speed;
            for (double now = mono_s(); now < due && !stop; now = mono_s()) {
                /* keep the connection answered while waiting */
                double d = due - now < 0.05 ? due - now : 0.05;
                struct timespec ts = {0, (long)(d * 1e9)};
                nanosleep(&ts, NULL);
            }
        }
        rc = sink_publish(&k, rec, len);
    }
    if (!rc)
        rc = sink_flush(&k);
    cs_replay_stats st;
    cs_replay_stats_get(r, &st);
    cs_replay_close(r);
    if (rc)
        sink_error(&k, rc);
    sink_close(&k);
    cs_cli_nats_free(&nats);
    if (rc)
        return CS_EXIT_FAIL;
    fprintf(stderr,
            "replayed %" PRIu64 " events from %" PRIu64 " files in %.2f s (%" PRIu64
            " frames skipped by time, %" PRIu64 " damaged parts skipped, %" PRIu64
            " too big for the target)\n",
            st.events - k.unsendable, st.files, mono_s() - start, st.frames_skipped, st.damaged,
            k.unsendable);
    return st.damaged || k.unsendable ? CS_EXIT_PROBLEM : CS_EXIT_OK;
}
