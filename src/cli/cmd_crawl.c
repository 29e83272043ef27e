/* chainscope crawl: map the reachable network from seed nodes. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "btc/crawler.h"
#include "cli/cli.h"
#include "cli/forward.h"
#include "core/bus.h"
#include "core/error.h"

static void usage(void)
{
    printf("usage: chainscope crawl --network NET --seed HOST[:PORT]... [OPTIONS]\n"
           "\n"
           "Maps the reachable Bitcoin network: connects to each seed, performs the\n"
           "handshake, records the node's version, services, user agent, start height\n"
           "and ping RTT, asks it for addresses (getaddr), and goes on with every new\n"
           "IPv4/IPv6 address it hears of (Tor, I2P and CJDNS addresses are listed, not\n"
           "contacted; private addresses are contacted only when a seed is one). Progress\n"
           "goes to stderr every second, a summary at the end; results to --out.\n"
           "\n"
           "options:\n"
           "  --network NET      main (default), testnet3, testnet4, signet, regtest\n"
           "  --seed HOST[:PORT] a node to start from (repeatable; names are resolved\n"
           "                     without blocking; port defaults to the network's)\n"
           "  --dns-seed NAME    a DNS seed: every address it resolves to (repeatable)\n"
           "  --concurrency N    connections at once (default 32: polite)\n"
           "  --timeout S        connect and handshake timeout, each (default 10)\n"
           "  --getaddr-wait S   how long to wait for addresses from a node (default 10)\n"
           "  --max-nodes N      stop learning new addresses past N nodes (default 100000)\n"
           "  --user-agent UA    our user agent\n"
           "  --out FILE         results: FILE.csv, FILE.json or FILE.db (SQLite, table\n"
           "                     nodes); repeatable\n"
           "  --quiet            no progress lines\n"
           "  --publish          also publish a crawl.node event per node and crawl.done\n"
           "                     at the end to a running log server (chainscope run),\n"
           "                     e.g. for `chainscope tail --filter 'crawl.>'`; if it\n"
           "                     cannot be reached the crawl goes on and says so\n"
           "  --socket PATH      its socket, or tcp:HOST:PORT with $CHAINSCOPE_TOKEN\n"
           "                     (default %s)\n"
           "\n"
           "per node: address, port, network, reachable or the failure reason (refused,\n"
           "timeout, reset after accept, before the handshake, handshake timeout,\n"
           "malformed message: ...), version, services, user agent, start height, RTT,\n"
           "addresses returned, first and last seen.\n"
           "\n"
           "examples:\n"
           "  chainscope crawl --network main --dns-seed seed.bitcoin.sipa.be \\\n"
           "      --concurrency 64 --out nodes.csv --out nodes.db\n"
           "  chainscope crawl --network regtest --seed 127.1.0.1:18444 --publish \\\n"
           "      --socket /run/chainscope/bus.sock\n"
           "exit status: 0 when at least one node was reachable, 1 otherwise, 4 when\n"
           "an --out file could not be written.\n",
           cs_cli_default_socket());
}

static cs_crawler *crawler;

/* --publish: an in-process bus for the crawler's events and a forwarder of
 * crawl.> to the log server. If the server cannot be reached, says so and
 * leaves *bus NULL: the crawl goes on without events. */
static void start_publishing(uv_loop_t *loop, const char *addr, cs_bus **bus, cs_forward **fwd)
{
    static const char *const filters[] = {"crawl.>"};
    char err[300];
    if (cs_bus_new(loop, bus) != 0) {
        fprintf(stderr, "crawl: not publishing: out of memory\n");
        *bus = NULL;
        return;
    }
    if (cs_forward_start(*bus, filters, 1, addr, "crawl", 0, fwd, err, sizeof err) != 0) {
        fprintf(stderr, "crawl: not publishing: %s\n", err);
        cs_bus_close(*bus);
        uv_run(loop, UV_RUN_DEFAULT);
        *bus = NULL;
        *fwd = NULL;
        return;
    }
    fprintf(stderr, "crawl: publishing crawl.node and crawl.done to %s\n", addr);
}

/* Delivers what the bus still holds (crawl.done comes last), waits for the
 * server to take it and closes everything. */
static void stop_publishing(uv_loop_t *loop, cs_bus *bus, cs_forward *fwd, const char *addr)
{
    if (!bus)
        return;
    cs_bus_drain(bus, 0);
    cs_forward_stats st;
    char err[200];
    if (cs_forward_finish(fwd, 10000, &st, err, sizeof err) != 0)
        fprintf(stderr, "crawl: publishing stopped: %s\n", err);
    if (addr)
        fprintf(stderr, "crawl: published %llu events to %s%s\n", (unsigned long long)st.sent, addr,
                st.dropped ? " (some dropped: see above)" : "");
    if (st.dropped)
        fprintf(stderr, "crawl: %llu events not published\n", (unsigned long long)st.dropped);
    cs_bus_close(bus);
    uv_run(loop, UV_RUN_DEFAULT);
}
static uv_signal_t sig_int, sig_term;

static void on_done(void *arg)
{
    (void)arg;
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_stop(uv_default_loop());
}

static void on_signal(uv_signal_t *h, int sig)
{
    (void)h;
    (void)sig;
    fprintf(stderr, "crawl: stopping\n");
    cs_crawler_stop(crawler);
}

int cs_cmd_crawl(int argc, char **argv)
{
    if (cs_cli_wants_help(argc, argv)) {
        usage();
        return CS_EXIT_OK;
    }
    cs_crawl_opts o = {.progress = true};
    const char *outs[8];
    size_t nout = 0, nseeds = 0;
    bool publish = false;
    const char *sock_path = NULL;
    const char *seeds[1024];
    bool seed_dns[1024];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quiet") == 0) {
            o.progress = false;
            continue;
        }
        if (strcmp(a, "--publish") == 0) {
            publish = true;
            continue;
        }
        if (!v)
            return cs_cli_usage_error("crawl", "%s needs a value (or is unknown)", a);
        i++;
        if (strcmp(a, "--network") == 0) {
            if (!(o.net = cs_wire_net_find(v)))
                return cs_cli_usage_error("crawl", "unknown network '%s'", v);
        } else if (strcmp(a, "--seed") == 0 || strcmp(a, "--dns-seed") == 0) {
            if (nseeds == 1024)
                return cs_cli_usage_error("crawl", "at most 1024 seeds");
            seed_dns[nseeds] = a[2] == 'd';
            seeds[nseeds++] = v;
        } else if (strcmp(a, "--concurrency") == 0) {
            o.concurrency = strtoull(v, NULL, 10);
            if (o.concurrency == 0 || o.concurrency > 15000)
                return cs_cli_usage_error("crawl", "--concurrency must be 1..15000");
        } else if (strcmp(a, "--timeout") == 0) {
            o.timeout_ms = (uint64_t)(atof(v) * 1000);
        } else if (strcmp(a, "--getaddr-wait") == 0) {
            o.getaddr_wait_ms = (uint64_t)(atof(v) * 1000);
        } else if (strcmp(a, "--max-nodes") == 0) {
            o.max_nodes = strtoull(v, NULL, 10);
        } else if (strcmp(a, "--user-agent") == 0) {
            o.user_agent = v;
        } else if (strcmp(a, "--socket") == 0) {
            sock_path = v;
        } else if (strcmp(a, "--out") == 0) {
            if (nout == 8)
                return cs_cli_usage_error("crawl", "at most 8 --out");
            const char *dot = strrchr(v, '.');
            if (!dot || (strcmp(dot, ".csv") && strcmp(dot, ".json") && strcmp(dot, ".db")))
                return cs_cli_usage_error("crawl", "--out %s: use .csv, .json or .db", v);
            outs[nout++] = v;
        } else {
            return cs_cli_usage_error("crawl", "unknown option '%s'", a);
        }
    }
    if (!nseeds)
        return cs_cli_usage_error("crawl", "give at least one --seed or --dns-seed");
    if (sock_path && !publish)
        return cs_cli_usage_error("crawl", "--socket goes with --publish");
    cs_connector_raise_nofile();
    uv_loop_t *loop = uv_default_loop();
    cs_bus *bus = NULL;
    cs_forward *fwd = NULL;
    if (publish)
        start_publishing(loop, sock_path ? sock_path : cs_cli_default_socket(), &bus, &fwd);
    o.bus = bus;
    int rc = cs_crawler_new(loop, &o, &crawler);
    if (rc) {
        fprintf(stderr, "chainscope crawl: %s\n", cs_strerror(rc));
        stop_publishing(loop, bus, fwd, NULL);
        return CS_EXIT_FAIL;
    }
    for (size_t i = 0; i < nseeds; i++)
        rc = seed_dns[i] ? cs_crawler_add_dns_seed(crawler, seeds[i])
                         : cs_crawler_add_seed(crawler, seeds[i]);
    uv_signal_init(loop, &sig_int);
    uv_signal_init(loop, &sig_term);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    cs_crawler_start(crawler, on_done, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    cs_crawl_summary s;
    cs_crawler_summary(crawler, &s);
    fprintf(stderr,
            "crawl: done in %.1f s: %zu nodes known, %zu tried, %zu reachable, %zu failed, "
            "%zu not contacted (%.1f nodes/s)\n",
            s.seconds, s.known, s.tried, s.reachable, s.failed, s.not_contacted,
            s.seconds > 0 ? (double)s.tried / s.seconds : 0.0);
    int ex = s.reachable ? CS_EXIT_OK : CS_EXIT_PROBLEM;
    for (size_t i = 0; i < nout; i++) {
        char err[512];
        if (cs_crawler_write(crawler, outs[i], err, sizeof err) != 0) {
            fprintf(stderr, "chainscope crawl: %s\n", err);
            ex = CS_EXIT_FAIL;
        } else {
            fprintf(stderr, "crawl: wrote %s\n", outs[i]);
        }
    }
    cs_crawler_free(crawler);
    uv_run(loop, UV_RUN_DEFAULT);
    stop_publishing(loop, bus, fwd, sock_path ? sock_path : cs_cli_default_socket());
    uv_loop_close(loop);
    return ex;
}
