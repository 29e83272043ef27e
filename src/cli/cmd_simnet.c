/* chainscope simnet: a simulated Bitcoin network on loopback. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "btc/simnet.h"
#include "cli/cli.h"
#include "core/error.h"

static void usage(void)
{
    printf("usage: chainscope simnet --nodes N [OPTIONS]\n"
           "\n"
           "Runs N simulated Bitcoin nodes in this process, on loopback, until SIGINT or\n"
           "SIGTERM. Nodes answer the version handshake, pings and getaddr (addr, or\n"
           "addrv2 to peers that sent sendaddrv2) from a generated address graph; a share\n"
           "of them is unreachable, slow or misbehaving. Used by tests and benches, and to\n"
           "try the connector and the crawler without touching a real network.\n"
           "\n"
           "options:\n"
           "  --nodes N           number of nodes (required, at most 1000000)\n"
           "  --addresses A       first node's address: node i is A + i, all on one port\n"
           "                      served by one listener (default 127.1.0.1)\n"
           "  --base-port P       the shared port (default: any free port), or with\n"
           "                      --ports the first port: node i listens on 127.0.0.1:P+i\n"
           "  --ports             one port per node instead of one address per node\n"
           "  --network NET       regtest (default), main, testnet3, testnet4, signet\n"
           "  --unreachable F     share of nodes that refuse connections (in address mode\n"
           "                      they are on a second port where nothing listens)\n"
           "  --slow F            share of nodes that answer the handshake late\n"
           "  --slow-ms MS        how late (default 3000)\n"
           "  --bad F             share of nodes that send a bad checksum, an oversized\n"
           "                      length or garbage after the handshake\n"
           "  --addr-spam F       share of nodes that, after the handshake, send an\n"
           "                      unsolicited addr message every --spam-ms\n"
           "  --ping-spam F       share of nodes that send a ping every --spam-ms\n"
           "  --spam-ms MS        the spam period (default 1000)\n"
           "  --spam-size K       addresses per spam message (default 10)\n"
           "  --spam-addrv2       addr spam as addrv2 to peers that sent sendaddrv2\n"
           "  --fanout K          addresses each node returns to getaddr (default 20)\n"
           "  --seed S            graph and kinds are a function of the seed (default 1)\n"
           "  --list FILE         write 'address:port kind' for every node to FILE\n"
           "\n"
           "On start it prints 'simnet: N nodes, first A:P' on stderr, then one line\n"
           "per misbehaving kind present, naming its nodes (at most 50; --list has all):\n"
           "  simnet: addr-spam 127.1.0.4:PORT 127.1.0.9:PORT\n"
           "Which nodes are of which kind depends only on --nodes, the shares and --seed.\n"
           "\n"
           "examples:\n"
           "  chainscope simnet --nodes 1000 --unreachable 0.1 --slow 0.05 --bad 0.05 &\n"
           "  chainscope crawl --network regtest --seed 127.1.0.1:PORT\n"
           "  chainscope simnet --nodes 10 --addr-spam 0.2 --ping-spam 0.1 --spam-ms 200\n");
}

/* One stderr line per misbehaving kind present: its nodes, at most 50. */
static void print_kinds(const cs_simnet *s)
{
    for (int k = CS_SIM_UNREACHABLE; k < CS_SIM_KINDS; k++) {
        size_t shown = 0, all = 0;
        char buf[64];
        for (size_t i = 0; i < cs_simnet_count(s); i++) {
            if (cs_simnet_node(s, i, buf, sizeof buf) != (enum cs_sim_kind)k)
                continue;
            if (all++ == 0)
                fprintf(stderr, "simnet: %s", cs_sim_kind_name((enum cs_sim_kind)k));
            if (shown < 50) {
                fprintf(stderr, " %s", buf);
                shown++;
            }
        }
        if (all > shown)
            fprintf(stderr, " (+%zu more)", all - shown);
        if (all)
            fputc('\n', stderr);
    }
}

static uv_signal_t sigint_h, sigterm_h;
static cs_simnet *sim;

static void on_signal(uv_signal_t *h, int sig)
{
    (void)h;
    (void)sig;
    uv_close((uv_handle_t *)&sigint_h, NULL);
    uv_close((uv_handle_t *)&sigterm_h, NULL);
    cs_simnet_close(sim, NULL, NULL);
}

int cs_cmd_simnet(int argc, char **argv)
{
    if (cs_cli_wants_help(argc, argv)) {
        usage();
        return CS_EXIT_OK;
    }
    cs_simnet_opts o = {.seed = 1};
    const char *list = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = strcmp(a, "--ports") != 0 && strcmp(a, "--spam-addrv2") != 0;
        if (takes && !v)
            return cs_cli_usage_error("simnet", "%s needs a value", a);
        if (strcmp(a, "--nodes") == 0)
            o.nodes = strtoull(v, NULL, 10);
        else if (strcmp(a, "--addresses") == 0)
            o.base_addr = v;
        else if (strcmp(a, "--base-port") == 0)
            o.port = (uint16_t)atoi(v);
        else if (strcmp(a, "--ports") == 0)
            o.ports_mode = true;
        else if (strcmp(a, "--network") == 0) {
            if (!(o.net = cs_wire_net_find(v)))
                return cs_cli_usage_error("simnet", "unknown network '%s'", v);
        } else if (strcmp(a, "--unreachable") == 0)
            o.unreachable = atof(v);
        else if (strcmp(a, "--slow") == 0)
            o.slow = atof(v);
        else if (strcmp(a, "--slow-ms") == 0)
            o.slow_ms = strtoull(v, NULL, 10);
        else if (strcmp(a, "--bad") == 0)
            o.bad = atof(v);
        else if (strcmp(a, "--addr-spam") == 0)
            o.addr_spam = atof(v);
        else if (strcmp(a, "--ping-spam") == 0)
            o.ping_spam = atof(v);
        else if (strcmp(a, "--spam-ms") == 0)
            o.spam_ms = strtoull(v, NULL, 10);
        else if (strcmp(a, "--spam-size") == 0)
            o.spam_size = strtoull(v, NULL, 10);
        else if (strcmp(a, "--spam-addrv2") == 0)
            o.spam_addrv2 = true;
        else if (strcmp(a, "--fanout") == 0)
            o.fanout = strtoull(v, NULL, 10);
        else if (strcmp(a, "--seed") == 0)
            o.seed = strtoull(v, NULL, 10);
        else if (strcmp(a, "--list") == 0)
            list = v;
        else
            return cs_cli_usage_error("simnet", "unknown option '%s'", a);
        if (takes)
            i++;
    }
    if (!o.nodes)
        return cs_cli_usage_error("simnet", "--nodes N is required");
    if (o.unreachable < 0 || o.slow < 0 || o.bad < 0 || o.addr_spam < 0 || o.ping_spam < 0 ||
        o.unreachable + o.slow + o.bad + o.addr_spam + o.ping_spam > 1)
        return cs_cli_usage_error("simnet", "shares must be >= 0 and add up to at most 1");
    if (o.spam_size > CS_WIRE_MAX_ADDR)
        return cs_cli_usage_error("simnet", "--spam-size is at most %d", CS_WIRE_MAX_ADDR);
    if (o.ports_mode && !o.port)
        return cs_cli_usage_error("simnet", "--ports needs --base-port");
    long fds = cs_connector_raise_nofile();
    if (fds > 0 && (size_t)fds < o.nodes + 64)
        fprintf(stderr, "simnet: warning: %ld open files allowed, fewer than nodes + 64\n", fds);
    uv_loop_t *loop = uv_default_loop();
    int rc = cs_simnet_new(loop, &o, &sim);
    if (rc) {
        fprintf(stderr, "chainscope simnet: %s\n",
                rc == CS_ERANGE ? "the nodes do not fit in 127.0.0.0/8 "
                                  "or the port range"
                                : cs_strerror(rc));
        return CS_EXIT_FAIL;
    }
    if (list) {
        FILE *f = fopen(list, "w");
        if (!f) {
            fprintf(stderr, "chainscope simnet: cannot write %s\n", list);
        } else {
            char buf[64];
            for (size_t i = 0; i < cs_simnet_count(sim); i++) {
                enum cs_sim_kind k = cs_simnet_node(sim, i, buf, sizeof buf);
                fprintf(f, "%s %s\n", buf, cs_sim_kind_name(k));
            }
            fclose(f);
        }
    }
    char first[64];
    cs_simnet_node(sim, 0, first, sizeof first);
    fprintf(stderr, "simnet: %zu nodes, first %s\n", cs_simnet_count(sim), first);
    print_kinds(sim);
    fflush(stderr);
    uv_signal_init(loop, &sigint_h);
    uv_signal_init(loop, &sigterm_h);
    uv_signal_start(&sigint_h, on_signal, SIGINT);
    uv_signal_start(&sigterm_h, on_signal, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return CS_EXIT_OK;
}
