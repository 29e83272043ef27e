/* chainscope connector: the Bitcoin P2P connector on its own, printing its
 * events as JSON lines, with an optional control socket. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "btc/connector.h"
#include "btc/control.h"
#include "cli/cli.h"
#include "cli/forward.h"
#include "core/bus.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"

static void usage(void)
{
    printf("usage: chainscope connector [OPTIONS]\n"
           "\n"
           "Runs the Bitcoin P2P connector: opens connections to the peers given with\n"
           "--connect, accepts peers on every --listen address, performs the version\n"
           "handshake, answers pings and sends keep-alive pings, and prints every event\n"
           "(p2p.conn.*, p2p.handshake, p2p.msg.*, p2p.ping.rtt, ctl.result) as one JSON\n"
           "line on stdout. With --control, `chainscope ctl` drives it (connect,\n"
           "disconnect, send, peers). SIGHUP reloads the blocklist; SIGINT/SIGTERM stop.\n"
           "\n"
           "options:\n"
           "  --network NET          main (default), testnet3, testnet4, signet, regtest\n"
           "  --listen HOST:PORT     accept peers here (repeatable; port 0 picks one and\n"
           "                         prints 'listening on ADDR:PORT' on stderr)\n"
           "  --connect HOST:PORT    connect to this peer (repeatable; numeric address)\n"
           "  --control PATH         control socket (unix, mode 0600)\n"
           "  --user-agent UA        our user agent (default /chainscope:VERSION/)\n"
           "  --services N           service bits we announce (default 0)\n"
           "  --start-height N       start height we announce (default 0)\n"
           "  --relay                ask peers to relay transactions (default: no)\n"
           "  --max-peers N          cap on connections, in and out (default 1000)\n"
           "  --ping-interval S      seconds between keep-alive pings (default 120)\n"
           "  --handshake-timeout S  (default 60)   --idle-timeout S (default 1200)\n"
           "  --connect-timeout S    (default 10)\n"
           "  --blocklist FILE       addresses/CIDR prefixes never to talk to\n"
           "  --events FILTER        print (and publish) only events matching (repeatable;\n"
           "                         default '>')\n"
           "  --publish ADDR         also send the events to a running log server (socket\n"
           "                         path or tcp:HOST:PORT, token from $CHAINSCOPE_TOKEN)\n"
           "  --shard I/N            be shard I (0..N-1) of a horde: peer ids are I+1,\n"
           "                         I+1+N, ... and the origin is connector-I (see\n"
           "                         `chainscope horde`)\n"
           "  --no-msg-events        do not publish p2p.msg.* events\n"
           "  --quiet                print no events\n"
           "\n"
           "example:\n"
           "  chainscope connector --network regtest --connect 127.0.0.1:18444 \\\n"
           "      --control /tmp/cs.sock --events 'p2p.handshake' --events 'p2p.ping.>'\n");
}

typedef struct run_state {
    uv_loop_t *loop;
    cs_bus *bus;
    cs_connector *conn;
    cs_control *ctl;
    uv_signal_t sigint, sigterm, sighup;
    const char *blocklist;
    cs_buf line;
    bool stopping;
    cs_forward *fwd;
} run_state;

static void on_event(cs_sub *sub, cs_event *ev, void *arg)
{
    run_state *s = arg;
    (void)sub;
    s->line.len = 0;
    if (cs_json_event(&s->line, ev) == 0 && cs_buf_putc(&s->line, '\n') == 0) {
        fwrite(s->line.data, 1, s->line.len, stdout);
        fflush(stdout);
    }
}

static void on_closed(void *arg)
{
    (void)arg;
}

static void stop(run_state *s)
{
    if (s->stopping)
        return;
    s->stopping = true;
    if (s->ctl)
        cs_control_close(s->ctl);
    cs_connector_close(s->conn, on_closed, s);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sighup, NULL);
}

static void on_signal(uv_signal_t *h, int sig)
{
    run_state *s = h->data;
    if (sig == SIGHUP) {
        if (s->blocklist) {
            char err[256];
            int rc = cs_connector_load_blocklist(s->conn, s->blocklist, err, sizeof err);
            if (rc)
                CS_WARN("connector", "blocklist not reloaded: %s", err);
            else
                CS_INFO("connector", "blocklist reloaded from %s", s->blocklist);
        }
        return;
    }
    stop(s);
}

int cs_cmd_connector(int argc, char **argv)
{
    if (cs_cli_wants_help(argc, argv)) {
        usage();
        return CS_EXIT_OK;
    }
    cs_connector_opts o = {0};
    const char *listen[16], *connect[256], *filters[16], *control = NULL, *publish = NULL;
    char origin[32];
    size_t nl = 0, nc = 0, nf = 0;
    bool quiet = false;
    run_state s = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED()                                                                                     \
    do {                                                                                           \
        if (!v)                                                                                    \
            return cs_cli_usage_error("connector", "%s needs a value", a);                         \
        i++;                                                                                       \
    } while (0)
        if (strcmp(a, "--network") == 0) {
            NEED();
            if (!(o.net = cs_wire_net_find(v)))
                return cs_cli_usage_error("connector", "unknown network '%s'", v);
        } else if (strcmp(a, "--listen") == 0) {
            NEED();
            if (nl == 16)
                return cs_cli_usage_error("connector", "at most 16 --listen");
            listen[nl++] = v;
        } else if (strcmp(a, "--connect") == 0) {
            NEED();
            if (nc == 256)
                return cs_cli_usage_error("connector", "at most 256 --connect");
            connect[nc++] = v;
        } else if (strcmp(a, "--control") == 0) {
            NEED();
            control = v;
        } else if (strcmp(a, "--user-agent") == 0) {
            NEED();
            o.user_agent = v;
        } else if (strcmp(a, "--services") == 0) {
            NEED();
            o.services = strtoull(v, NULL, 0);
        } else if (strcmp(a, "--start-height") == 0) {
            NEED();
            o.start_height = atoi(v);
        } else if (strcmp(a, "--relay") == 0) {
            o.relay = true;
        } else if (strcmp(a, "--max-peers") == 0) {
            NEED();
            o.max_peers = strtoull(v, NULL, 10);
        } else if (strcmp(a, "--ping-interval") == 0) {
            NEED();
            o.ping_interval_ms = (uint64_t)(atof(v) * 1000);
        } else if (strcmp(a, "--handshake-timeout") == 0) {
            NEED();
            o.handshake_timeout_ms = (uint64_t)(atof(v) * 1000);
        } else if (strcmp(a, "--idle-timeout") == 0) {
            NEED();
            o.idle_timeout_ms = (uint64_t)(atof(v) * 1000);
        } else if (strcmp(a, "--connect-timeout") == 0) {
            NEED();
            o.connect_timeout_ms = (uint64_t)(atof(v) * 1000);
        } else if (strcmp(a, "--blocklist") == 0) {
            NEED();
            s.blocklist = v;
        } else if (strcmp(a, "--events") == 0) {
            NEED();
            if (nf == 16)
                return cs_cli_usage_error("connector", "at most 16 --events");
            filters[nf++] = v;
        } else if (strcmp(a, "--publish") == 0) {
            NEED();
            publish = v;
        } else if (strcmp(a, "--shard") == 0) {
            NEED();
            unsigned si, sn;
            char extra;
            if (sscanf(v, "%u/%u%c", &si, &sn, &extra) != 2 || sn == 0 || sn > 64 || si >= sn)
                return cs_cli_usage_error("connector", "--shard takes I/N with 0 <= I < N <= 64");
            o.id_first = si + 1;
            o.id_step = sn;
            snprintf(origin, sizeof origin, "connector-%u", si);
            o.origin = origin;
        } else if (strcmp(a, "--no-msg-events") == 0) {
            o.no_msg_events = true;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = true;
        } else {
            return cs_cli_usage_error("connector", "unknown option '%s'", a);
        }
#undef NEED
    }
    o.sweep_ms = o.ping_interval_ms && o.ping_interval_ms < 1000 ? 100 : 0;
    s.loop = uv_default_loop();
    cs_buf_init(&s.line, 0);
    if (cs_bus_new(s.loop, &s.bus) != 0)
        return CS_EXIT_FAIL;
    if (!quiet) {
        cs_sub_opts so = {.filters = nf ? filters : NULL,
                          .nfilters = nf,
                          .cb = on_event,
                          .arg = &s,
                          .name = "stdout"};
        cs_sub *sub;
        if (cs_bus_subscribe(s.bus, &so, &sub) != 0)
            return cs_cli_usage_error("connector", "bad --events filter");
    }
    if (publish) {
        static const char *const all[] = {">"};
        char err[300];
        if (cs_forward_start(s.bus, nf ? filters : all, nf ? nf : 1, publish,
                             o.origin ? o.origin : "connector", 0, &s.fwd, err, sizeof err) != 0) {
            fprintf(stderr, "chainscope connector: cannot publish to %s: %s\n", publish, err);
            return CS_EXIT_FAIL;
        }
    }
    int rc = cs_connector_new(s.loop, s.bus, &o, &s.conn);
    if (rc) {
        fprintf(stderr, "chainscope connector: %s\n", cs_strerror(rc));
        return CS_EXIT_FAIL;
    }
    int exit_code = CS_EXIT_OK;
    if (s.blocklist) {
        char err[256];
        if (cs_connector_load_blocklist(s.conn, s.blocklist, err, sizeof err) != 0) {
            fprintf(stderr, "chainscope connector: blocklist %s\n", err);
            exit_code = CS_EXIT_CONFIG;
            goto out;
        }
    }
    for (size_t i = 0; i < nl; i++) {
        uint16_t port;
        rc = cs_connector_listen(s.conn, listen[i], &port);
        if (rc) {
            fprintf(stderr, "chainscope connector: cannot listen on %s: %s\n", listen[i],
                    cs_strerror(rc));
            exit_code = CS_EXIT_FAIL;
            goto out;
        }
        char host[128];
        snprintf(host, sizeof host, "%s", listen[i]);
        char *colon = strrchr(host, ':');
        if (colon)
            *colon = 0;
        fprintf(stderr, "listening on %s:%u\n", host, port);
    }
    if (control) {
        cs_control_opts co = {.path = control};
        rc = cs_control_new(s.loop, s.conn, &co, &s.ctl);
        if (rc) {
            fprintf(stderr, "chainscope connector: control socket %s: %s\n", control,
                    cs_strerror(rc));
            exit_code = CS_EXIT_FAIL;
            goto out;
        }
        fprintf(stderr, "control socket %s\n", control);
    }
    for (size_t i = 0; i < nc; i++) {
        rc = cs_connector_connect(s.conn, connect[i], NULL);
        if (rc)
            fprintf(stderr, "chainscope connector: cannot connect to %s: %s\n", connect[i],
                    cs_strerror(rc));
    }
    fflush(stderr);
out:
    uv_signal_init(s.loop, &s.sigint);
    uv_signal_init(s.loop, &s.sigterm);
    uv_signal_init(s.loop, &s.sighup);
    s.sigint.data = s.sigterm.data = s.sighup.data = &s;
    if (exit_code == CS_EXIT_OK) {
        uv_signal_start(&s.sigint, on_signal, SIGINT);
        uv_signal_start(&s.sigterm, on_signal, SIGTERM);
        uv_signal_start(&s.sighup, on_signal, SIGHUP);
    }
    if (exit_code != CS_EXIT_OK)
        stop(&s);
    uv_run(s.loop, UV_RUN_DEFAULT);
    if (s.fwd) {
        cs_bus_drain(s.bus, 0);
        cs_forward_stats st;
        char err[200];
        if (cs_forward_finish(s.fwd, 5000, &st, err, sizeof err) != 0)
            fprintf(stderr, "chainscope connector: publishing stopped: %s\n", err);
        if (st.dropped)
            fprintf(stderr, "chainscope connector: %llu events not published\n",
                    (unsigned long long)st.dropped);
    }
    cs_bus_close(s.bus);
    uv_run(s.loop, UV_RUN_DEFAULT);
    uv_loop_close(s.loop);
    cs_buf_free(&s.line);
    return exit_code;
}
