/* chainscope publish: inject events into a running log server. */
#include "chainscope/client.h"
#include "cli/cli.h"
#include "core/error.h"
#include "core/json.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void help(void)
{
    printf("usage: chainscope publish --type TYPE [options] [--json FIELDS]\n"
           "\n"
           "Publishes events into a running chainscope log server. With --json, one\n"
           "event whose payload is the JSON object FIELDS (--count times). Without it,\n"
           "JSON lines from stdin, one event each: either the shape `tail --json` prints\n"
           "({\"type\":...,\"network\":...,\"key\":...,\"payload\":{...}}) or a flat object\n"
           "of payload fields; --type/--network/--key fill in what a line lacks.\n"
           "Waits until the server has delivered every event before it exits.\n"
           "\n"
           "options:\n"
           "  -t, --type TYPE      event type, a dotted subject (e.g. demo.sample)\n"
           "  -n, --network NET    network name (default: none)\n"
           "  -k, --key KEY        what the event is about (peer, node)\n"
           "  -o, --origin NAME    origin (default: publish@HOSTNAME)\n"
           "  -j, --json FIELDS    payload as a JSON object\n"
           "      --count N        publish the --json event N times (default 1)\n"
           "  -s, --socket PATH    log server socket (default: %s)\n"
           "  -c, --config FILE   the log server that FILE configures (logserver.socket)\n"
           "      --connect tcp:HOST:PORT  a TCP log server; the token is read from\n"
           "                       $CHAINSCOPE_TOKEN\n"
           "\n"
           "examples:\n"
           "  chainscope publish --type demo.sample --json '{\"n\":1,\"text\":\"hello\"}'\n"
           "  chainscope tail --json --filter 'evm.>' > saved.jsonl\n"
           "  chainscope publish < saved.jsonl\n",
           cs_cli_default_socket());
}

int cs_cmd_publish(int argc, char **argv)
{
    static const struct option opts[] = {
        {"type", required_argument, NULL, 't'},
        {"network", required_argument, NULL, 'n'},
        {"key", required_argument, NULL, 'k'},
        {"origin", required_argument, NULL, 'o'},
        {"json", required_argument, NULL, 'j'},
        {"count", required_argument, NULL, 'C'},
        {"socket", required_argument, NULL, 's'},
        {"connect", required_argument, NULL, 'T'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *type = NULL, *network = "", *key = "", *origin = NULL, *json = NULL;
    const char *address = NULL, *config = NULL;
    unsigned long long count = 1;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "t:n:k:o:j:s:c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 't':
            type = optarg;
            break;
        case 'n':
            network = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'o':
            origin = optarg;
            break;
        case 'j':
            json = optarg;
            break;
        case 's':
            address = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'T':
            if (strncmp(optarg, "tcp:", 4) != 0)
                return cs_cli_usage_error("publish", "--connect takes tcp:HOST:PORT");
            address = optarg;
            break;
        case 'C': {
            char *end;
            count = strtoull(optarg, &end, 10);
            if (*end || !*optarg)
                return cs_cli_usage_error("publish", "--count takes a number");
            break;
        }
        case 'h':
            help();
            return CS_EXIT_OK;
        default:
            return cs_cli_usage_error("publish", "unknown option");
        }
    }
    if (optind < argc)
        return cs_cli_usage_error("publish", "unexpected argument '%s'", argv[optind]);
    if (json && !type)
        return cs_cli_usage_error("publish", "--json needs --type");
    char origin_buf[300];
    if (!origin) {
        char host[256] = "localhost";
        gethostname(host, sizeof host - 1);
        snprintf(origin_buf, sizeof origin_buf, "publish@%s", host);
        origin = origin_buf;
    }
    if (!address && config) {
        int rc = cs_cli_config_socket("publish", config, &address);
        if (rc)
            return rc;
    }
    if (!address)
        address = cs_cli_default_socket();
    cs_client *c;
    if (cs_cli_connect("publish", address, &c))
        return CS_EXIT_FAIL;
    int rc = 0;
    cs_event_hdr h = {.origin = origin, .network = network, .type = type, .key = key};
    char err[512];
    unsigned long long sent = 0, bad = 0;
    if (json) {
        cs_vw w;
        cs_vw_init(&w, CS_EVENT_MAX_SIZE);
        rc = cs_json_parse_value(json, strlen(json), &w, err, sizeof err);
        if (!rc && w.buf.data[0] != CS_VT_OBJECT) {
            snprintf(err, sizeof err, "--json must be a JSON object");
            rc = CS_ETYPE;
        }
        if (rc) {
            fprintf(stderr, "chainscope publish: --json: %s\n", err);
            cs_vw_free(&w);
            cs_client_close(c);
            return CS_EXIT_USAGE;
        }
        for (unsigned long long i = 0; i < count && !rc; i++) {
            h.seq = i + 1;
            h.time_ns = 0;
            cs_event *ev;
            rc = cs_event_new2(&h, w.buf.data, w.buf.len, &ev);
            if (rc) {
                fprintf(stderr, "chainscope publish: %s\n", cs_strerror(rc));
                break;
            }
            rc = cs_client_publish(c, ev->wire, ev->wire_len);
            cs_event_unref(ev);
            sent++;
        }
        cs_vw_free(&w);
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        unsigned long long lineno = 0;
        while (!rc && (n = getline(&line, &cap, stdin)) > 0) {
            lineno++;
            while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                line[--n] = 0;
            if (n == 0)
                continue;
            cs_event *ev;
            h.seq = lineno;
            h.time_ns = 0;
            if (cs_json_parse_event(line, (size_t)n, &h, &ev, err, sizeof err)) {
                fprintf(stderr, "chainscope publish: stdin:%llu: %s\n", lineno, err);
                bad++;
                continue;
            }
            rc = cs_client_publish(c, ev->wire, ev->wire_len);
            cs_event_unref(ev);
            sent++;
        }
        free(line);
    }
    if (!rc)
        rc = cs_client_flush(c, 30000);
    if (rc) {
        fprintf(stderr, "chainscope publish: %s%s%s\n", cs_strerror(rc),
                cs_client_error(c)[0] ? ": " : "", cs_client_error(c));
        cs_client_close(c);
        return CS_EXIT_FAIL;
    }
    cs_client_close(c);
    fprintf(stderr, "published %llu event%s%s\n", sent, sent == 1 ? "" : "s",
            bad ? " (some lines were rejected)" : "");
    return bad ? CS_EXIT_PROBLEM : CS_EXIT_OK;
}
