/* chainscope replay: archived events published again, marked as replayed
 * (docs/archive.md). */
#include "bus/replay.h"
#include "chainscope/client.h"
#include "cli/cli.h"
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
           "                         [--speed X | --as-fast-as-possible] [--into logserver]\n"
           "\n"
           "Publishes archived events (segment files or folders of them, see `chainscope\n"
           "archive`) into a running log server, so that monitors, the audit and every\n"
           "other subscriber take them as live events: the backtest of a monitor on a day\n"
           "of history. Each event keeps its time and seq; its origin gains the mark\n"
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
           "      --into logserver      where to publish (the only target for now)\n"
           "  -s, --socket PATH         log server socket (default: %s)\n"
           "      --connect tcp:HOST:PORT  a TCP log server; token from $CHAINSCOPE_TOKEN\n"
           "  -c, --config FILE         the log server that FILE configures\n"
           "\n"
           "examples:\n"
           "  chainscope replay archive/ --from 2026-12-02 --to 2026-12-03 --speed 60\n"
           "  chainscope replay archive/ --filter 'p2p.msg.*' --as-fast-as-possible\n"
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

int cs_cmd_replay(int argc, char **argv)
{
    enum { O_FROM = 256, O_TO, O_SPEED, O_INTO, O_CONNECT };
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
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *filters[MAX_FILTERS];
    size_t nf = 0;
    int64_t from = INT64_MIN, to = INT64_MAX;
    double speed = 1;
    bool speed_set = false, afap = false;
    const char *address = NULL, *config = NULL;
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
            if (strcmp(optarg, "logserver") != 0)
                return cs_cli_usage_error("replay", "--into: 'logserver' is the only target");
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
    if (!address && config) {
        int rc = cs_cli_config_socket("replay", config, &address);
        if (rc)
            return rc;
    }
    if (!address)
        address = cs_cli_default_socket();
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
        return CS_EXIT_FAIL;
    }
    cs_ignore_sigpipe();
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    cs_client *c;
    if (cs_cli_connect("replay", address, &c)) {
        cs_replay_close(r);
        return CS_EXIT_FAIL;
    }
    const uint8_t *rec;
    size_t len;
    int64_t t, t0 = 0;
    double w0 = 0, start = mono_s();
    bool first = true;
    int rc = 0;
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
        rc = cs_client_publish(c, rec, len);
    }
    if (!rc)
        rc = cs_client_flush(c, 60000);
    cs_replay_stats st;
    cs_replay_stats_get(r, &st);
    cs_replay_close(r);
    if (rc) {
        fprintf(stderr, "chainscope replay: %s%s%s\n", cs_strerror(rc),
                cs_client_error(c)[0] ? ": " : "", cs_client_error(c));
        cs_client_close(c);
        return CS_EXIT_FAIL;
    }
    cs_client_close(c);
    fprintf(stderr,
            "replayed %" PRIu64 " events from %" PRIu64 " files in %.2f s (%" PRIu64
            " frames skipped by time, %" PRIu64 " damaged parts skipped)\n",
            st.events, st.files, mono_s() - start, st.frames_skipped, st.damaged);
    return st.damaged ? CS_EXIT_PROBLEM : CS_EXIT_OK;
}
