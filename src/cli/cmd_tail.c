/* chainscope tail: the console logger. */
#include "chainscope/client.h"
#include "cli/cli.h"
#include "cli/render.h"
#include "core/error.h"
#include "core/json.h"
#include "core/subject.h"
#include "net/sigpipe.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILTERS 64

static void help(void)
{
    printf("usage: chainscope tail [options]\n"
           "\n"
           "Prints events from a running chainscope log server as they arrive: one line\n"
           "per event, short and human-readable by default (an alert as its monitor,\n"
           "severity, transaction and reason; large fields summarized by size), or the\n"
           "complete event as one JSON object per line with --json (the one JSON\n"
           "rendering used everywhere; see docs/events.md).\n"
           "\n"
           "options:\n"
           "  -f, --filter SUBJECT  only these types; repeatable. NATS-style: '*' is one\n"
           "                        token, '>' the rest (default: '>', everything)\n"
           "  -j, --json            JSON lines\n"
           "  -c, --count N         exit after N events\n"
           "  -w, --timeout S       exit (status 1) when nothing arrives for S seconds\n"
           "  -s, --socket PATH     log server socket (default: %s)\n"
           "      --config FILE   the log server that FILE configures (logserver.socket)\n"
           "      --connect tcp:HOST:PORT  a TCP log server; token from $CHAINSCOPE_TOKEN\n"
           "\n"
           "examples:\n"
           "  chainscope tail --filter 'p2p.msg.*' --filter 'p2p.conn.>'\n"
           "  chainscope tail --json --filter 'evm.log' | jq .payload.args\n"
           "\n"
           "exit status: 0 after --count events or when interrupted, 1 on --timeout,\n"
           "4 when the server is unreachable or closes the connection.\n",
           cs_cli_default_socket());
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int cs_cmd_tail(int argc, char **argv)
{
    static const struct option opts[] = {
        {"filter", required_argument, NULL, 'f'},
        {"json", no_argument, NULL, 'j'},
        {"count", required_argument, NULL, 'c'},
        {"timeout", required_argument, NULL, 'w'},
        {"socket", required_argument, NULL, 's'},
        {"connect", required_argument, NULL, 'T'},
        {"config", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *filters[MAX_FILTERS];
    size_t nf = 0;
    bool json = false;
    unsigned long long count = 0;
    double timeout = -1;
    const char *address = NULL, *config = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "f:jc:w:s:h", opts, NULL)) != -1) {
        char *end;
        switch (ch) {
        case 'f':
            if (nf == MAX_FILTERS)
                return cs_cli_usage_error("tail", "at most %d filters", MAX_FILTERS);
            if (!cs_subject_filter_valid(optarg, strlen(optarg)))
                return cs_cli_usage_error("tail", "'%s' is not a subject filter", optarg);
            filters[nf++] = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'c':
            count = strtoull(optarg, &end, 10);
            if (*end || !*optarg)
                return cs_cli_usage_error("tail", "--count takes a number");
            break;
        case 'w':
            timeout = strtod(optarg, &end);
            if (*end || !*optarg || timeout < 0)
                return cs_cli_usage_error("tail", "--timeout takes seconds");
            break;
        case 's':
            address = optarg;
            break;
        case 'F':
            config = optarg;
            break;
        case 'T':
            if (strncmp(optarg, "tcp:", 4) != 0)
                return cs_cli_usage_error("tail", "--connect takes tcp:HOST:PORT");
            address = optarg;
            break;
        case 'h':
            help();
            return CS_EXIT_OK;
        default:
            return cs_cli_usage_error("tail", "unknown option");
        }
    }
    if (optind < argc)
        return cs_cli_usage_error("tail", "unexpected argument '%s'", argv[optind]);
    if (nf == 0)
        filters[nf++] = ">";
    if (!address && config) {
        int rc = cs_cli_config_socket("tail", config, &address);
        if (rc)
            return rc;
    }
    if (!address)
        address = cs_cli_default_socket();
    cs_ignore_sigpipe();
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    cs_client *c;
    if (cs_cli_connect("tail", address, &c))
        return CS_EXIT_FAIL;
    int rc = 0;
    for (size_t i = 0; i < nf && !rc; i++)
        rc = cs_client_subscribe(c, filters[i]);
    /* A round trip makes sure the subscriptions are in place before the
     * caller goes on (tests start publishing right after tail starts). */
    if (!rc)
        rc = cs_client_flush(c, 10000);
    if (rc) {
        fprintf(stderr, "chainscope tail: %s\n", cs_strerror(rc));
        cs_client_close(c);
        return CS_EXIT_FAIL;
    }
    fprintf(stderr, "tail: connected to %s\n", address);
    cs_buf out;
    cs_buf_init(&out, 0);
    unsigned long long seen = 0;
    int status = CS_EXIT_OK;
    while (!stop && (count == 0 || seen < count)) {
        const uint8_t *rec;
        size_t len;
        int wait = timeout < 0 ? 500 : (int)(timeout * 1000);
        rc = cs_client_next(c, &rec, &len, wait);
        if (rc == CS_ETIMEDOUT) {
            if (timeout >= 0) {
                fprintf(stderr, "chainscope tail: nothing for %g s\n", timeout);
                status = CS_EXIT_PROBLEM;
                break;
            }
            continue;
        }
        if (rc) {
            if (!stop) {
                fprintf(stderr, "chainscope tail: connection ended: %s%s%s\n", cs_strerror(rc),
                        cs_client_error(c)[0] ? ": " : "", cs_client_error(c));
                status = CS_EXIT_FAIL;
            }
            break;
        }
        cs_event *ev;
        if ((rc = cs_event_decode(rec, len, &ev))) {
            fprintf(stderr, "chainscope tail: undecodable event: %s\n", cs_strerror(rc));
            continue;
        }
        out.len = 0;
        rc = json ? cs_json_event(&out, ev) : cs_render_human(&out, ev);
        if (json && !rc)
            rc = cs_buf_putc(&out, '\n');
        cs_event_unref(ev);
        seen++;
        if (!rc && fwrite(out.data, 1, out.len, stdout) != out.len)
            break; /* stdout closed */
        if (cs_client_pending(c) == 0 && fflush(stdout) != 0)
            break;
    }
    fflush(stdout);
    cs_buf_free(&out);
    cs_client_close(c);
    return status;
}
