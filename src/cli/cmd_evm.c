/* chainscope evm: follow a chain, probe a node. */
#include "cli/cli.h"
#include "core/bus.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "evm/chain.h"
#include "evm/follower.h"
#include "evm/probe.h"
#include "net/jsonrpc.h"
#include "net/sigpipe.h"

#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_ABIS 256

static void help(void)
{
    printf("usage: chainscope evm follow --rpc URL [options]\n"
           "       chainscope evm probe --rpc URL [--timeout MS] [METHOD[=PARAM]...]\n"
           "\n"
           "follow: follows an Ethereum (EVM) chain through JSON-RPC and prints every\n"
           "evm.block, evm.tx, evm.log and evm.reorg event as one JSON object per line\n"
           "(the JSON of 'chainscope tail --json'; docs/evm.md lists the fields). Logs and\n"
           "calls of contracts with a known ABI carry the decoded event or function and\n"
           "its arguments.\n"
           "\n"
           "  --rpc URL              http(s)://HOST:PORT, or a node's IPC socket path\n"
           "                         (geth.ipc); repeat for failover between endpoints\n"
           "  --from BLOCK           first block when there is no cursor (default: the\n"
           "                         confirmed head)\n"
           "  --until BLOCK          exit after publishing this block\n"
           "  --confirmations N      stay N blocks behind the head (default 0), or 'safe'\n"
           "                         or 'finalized' to follow the node's tagged block\n"
           "  --abi [ADDRESS=]FILE   a JSON ABI for a contract address (without ADDRESS:\n"
           "                         for any address); repeatable\n"
           "  --db FILE              SQLite cursor: a restart resumes where it stopped,\n"
           "                         with no gap and no block twice\n"
           "  --network NAME         network name on the events (default 'evm')\n"
           "  --poll MS              head polling interval (default 1000)\n"
           "  --concurrency N        blocks fetched at once when catching up (default 8)\n"
           "  --per-tx-receipts      never use eth_getBlockReceipts\n"
           "  --no-subscribe         with an IPC --rpc, do not subscribe to newHeads there\n"
           "                         (by default each new head wakes the follower at once,\n"
           "                         and --poll only runs every 30 s while subscribed)\n"
           "  --quiet                print no events; with --until, print the rate\n"
           "\n"
           "probe: calls each METHOD once (default: eth_blockNumber eth_syncing\n"
           "net_peerCount web3_clientVersion eth_chainId) and prints one evm.probe event\n"
           "per method. Also: admin_nodeInfo admin_peers admin_addPeer=ENODE clique_status\n"
           "clique_getSigners, or any method (with one string parameter after '=').\n"
           "  --timeout MS           per call (default 5000)\n"
           "\n"
           "exit codes: 0 ok; 1 a probe failed; 2 usage; 3 a bad ABI file or database;\n"
           "4 runtime failure.\n"
           "\n"
           "examples:\n"
           "  chainscope evm follow --rpc http://127.0.0.1:8545 --confirmations 2 \\\n"
           "      --abi 0x5fbdb2315678afecb367f032d93f642f64180aa3=Token.json --db evm.db\n"
           "  chainscope evm probe --rpc /var/lib/geth/geth.ipc admin_peers clique_getSigners\n");
}

static volatile sig_atomic_t got_signal;

typedef struct app {
    uv_loop_t loop;
    cs_bus *bus;
    cs_rpc *rpc;
    cs_follower *follower;
    cs_evm_abis *abis;
    cs_sub *sub;
    uv_signal_t sigint, sigterm;
    bool quiet;
    bool stopping;
    uint64_t printed;
    uint64_t t0;
    cs_buf out;          /* one rendered event */
    uv_timer_t lag;      /* --quiet: a 10 ms tick that measures the loop's longest turn */
    uint64_t lag_last;   /* uv_hrtime() at the last tick */
    uint64_t lag_max_ns; /* the longest gap between ticks, less the period */
    uint64_t cpu_last;   /* the loop thread's CPU time at the last tick */
    uint64_t cpu_max_ns; /* the most CPU the loop thread used between two ticks */
    unsigned probe_failed;
    int ret;
} app;

static void on_event(cs_sub *sub, cs_event *ev, void *arg)
{
    app *a = arg;
    a->out.len = 0;
    if (cs_json_event(&a->out, ev) == 0 && cs_buf_putc(&a->out, '\n') == 0)
        fwrite(a->out.data, 1, a->out.len, stdout);
    a->printed++;
    if (cs_sub_queued(sub) == 0)
        fflush(stdout); /* a pipe sees each batch as soon as it is complete */
}

static void closed_rpc(void *arg)
{
    app *a = arg;
    if (a->bus) {
        cs_bus_close(a->bus);
        a->bus = NULL;
    }
}

static void closed_follower(void *arg)
{
    app *a = arg;
    a->follower = NULL;
    cs_rpc_close(a->rpc, closed_rpc, a);
}

static void stop_all(app *a)
{
    if (a->stopping)
        return;
    a->stopping = true;
    uv_close((uv_handle_t *)&a->sigint, NULL);
    uv_close((uv_handle_t *)&a->sigterm, NULL);
    if (a->lag.data)
        uv_close((uv_handle_t *)&a->lag, NULL);
    cs_bus_drain(a->bus, 0);
    fflush(stdout);
    if (a->follower)
        cs_follower_close(a->follower, closed_follower, a);
    else
        cs_rpc_close(a->rpc, closed_rpc, a);
}

static void on_signal(uv_signal_t *s, int sig)
{
    (void)sig;
    stop_all(s->data);
}

static void on_until(void *arg)
{
    app *a = arg;
    if (a->quiet) {
        cs_follower_stats st;
        cs_follower_stats_get(a->follower, &st);
        double secs = (double)(uv_hrtime() - a->t0) / 1e9;
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        fprintf(stderr, "evm_follow_cpu_seconds: %.3f s\n", cpu);
        fprintf(stderr, "evm_follow_max_loop_turn: %.1f ms\n", (double)a->lag_max_ns / 1e6);
        fprintf(stderr, "evm_follow_max_loop_cpu: %.1f ms\n", (double)a->cpu_max_ns / 1e6);
        fprintf(stderr,
                "evm_follow_blocks: %llu blocks\nevm_follow_txs: %llu txs\n"
                "evm_follow_logs: %llu logs\nevm_follow_seconds: %.3f s\n"
                "evm_follow_blocks_per_s: %.1f blocks/s\nevm_follow_txs_per_s: %.0f tx/s\n",
                (unsigned long long)st.blocks, (unsigned long long)st.txs,
                (unsigned long long)st.logs, secs, (double)st.blocks / secs, (double)st.txs / secs);
    }
    stop_all(a);
}

#define LAG_TICK_MS 10

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* How late the tick came: the longest loop turn (a callback that held the
 * loop) is at most this much longer than the tick's own period. The CPU
 * the loop thread used between two ticks is the same figure without the
 * time other processes took from it. */
static void on_lag_tick(uv_timer_t *t)
{
    app *a = t->data;
    uint64_t now = uv_hrtime(), period = (uint64_t)LAG_TICK_MS * 1000000u;
    uint64_t cpu = thread_cpu_ns();
    if (now - a->lag_last > period && now - a->lag_last - period > a->lag_max_ns)
        a->lag_max_ns = now - a->lag_last - period;
    if (cpu - a->cpu_last > a->cpu_max_ns)
        a->cpu_max_ns = cpu - a->cpu_last;
    a->lag_last = now;
    a->cpu_last = cpu;
}

static int app_init(app *a, const cs_rpc_endpoint *eps, size_t neps, bool probe)
{
    memset(a, 0, sizeof *a);
    cs_buf_init(&a->out, CS_EVENT_MAX_SIZE * 4);
    uv_loop_init(&a->loop);
    if (cs_bus_new(&a->loop, &a->bus))
        return CS_EXIT_FAIL;
    cs_rpc_opts ro = {.endpoints = eps,
                      .nendpoints = neps,
                      .name = "evm",
                      .retries = probe ? (unsigned)-1 : 5,
                      .max_inflight = 1024};
    if (cs_rpc_new(&a->loop, NULL, &ro, &a->rpc)) {
        fprintf(stderr, "chainscope evm: bad --rpc (http://, https:// or a socket path)\n");
        cs_bus_close(a->bus);
        uv_run(&a->loop, UV_RUN_DEFAULT);
        uv_loop_close(&a->loop);
        return CS_EXIT_USAGE;
    }
    uv_signal_init(&a->loop, &a->sigint);
    uv_signal_init(&a->loop, &a->sigterm);
    a->sigint.data = a->sigterm.data = a;
    uv_signal_start(&a->sigint, on_signal, SIGINT);
    uv_signal_start(&a->sigterm, on_signal, SIGTERM);
    cs_ignore_sigpipe();
    return 0;
}

static void app_run(app *a)
{
    uv_run(&a->loop, UV_RUN_DEFAULT);
    uv_loop_close(&a->loop);
    fflush(stdout);
    cs_buf_free(&a->out);
}

static bool parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (!*s)
        return false;
    unsigned long long x = strtoull(s, &end, 0);
    if (*end || s[0] == '-')
        return false;
    *v = x;
    return true;
}

static int cmd_follow(int argc, char **argv)
{
    cs_rpc_endpoint eps[CS_RPC_MAX_ENDPOINTS];
    size_t neps = 0;
    const char *abis[MAX_ABIS];
    size_t nabis = 0;
    cs_follower_opts fo = {.network = "evm", .poll_ms = 1000};
    bool quiet = false, subscribe = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool flag = strcmp(a, "--per-tx-receipts") == 0 || strcmp(a, "--quiet") == 0 ||
                    strcmp(a, "--no-subscribe") == 0;
        if (!flag && i + 1 >= argc)
            return cs_cli_usage_error("evm", "%s needs a value", a);
        const char *v = flag ? NULL : argv[i + 1];
        uint64_t n;
        if (strcmp(a, "--rpc") == 0) {
            if (neps == CS_RPC_MAX_ENDPOINTS)
                return cs_cli_usage_error("evm", "at most %d --rpc", CS_RPC_MAX_ENDPOINTS);
            eps[neps++] = (cs_rpc_endpoint){v, 1};
        } else if (strcmp(a, "--from") == 0) {
            if (!parse_u64(v, &fo.from_block))
                return cs_cli_usage_error("evm", "--from: '%s' is not a block number", v);
            fo.from_set = true;
        } else if (strcmp(a, "--until") == 0) {
            if (!parse_u64(v, &fo.until_block))
                return cs_cli_usage_error("evm", "--until: '%s' is not a block number", v);
        } else if (strcmp(a, "--confirmations") == 0) {
            if (strcmp(v, "safe") == 0)
                fo.mode = CS_FOLLOW_SAFE;
            else if (strcmp(v, "finalized") == 0)
                fo.mode = CS_FOLLOW_FINALIZED;
            else if (!parse_u64(v, &fo.confirmations))
                return cs_cli_usage_error("evm", "--confirmations: a number, safe or finalized");
        } else if (strcmp(a, "--abi") == 0) {
            if (nabis == MAX_ABIS)
                return cs_cli_usage_error("evm", "at most %d --abi", MAX_ABIS);
            abis[nabis++] = v;
        } else if (strcmp(a, "--db") == 0) {
            fo.db_path = v;
        } else if (strcmp(a, "--network") == 0) {
            fo.network = v;
        } else if (strcmp(a, "--poll") == 0) {
            if (!parse_u64(v, &n) || n < 10 || n > 3600000)
                return cs_cli_usage_error("evm", "--poll: milliseconds, 10 to 3600000");
            fo.poll_ms = n;
        } else if (strcmp(a, "--concurrency") == 0) {
            if (!parse_u64(v, &n) || n < 1 || n > CS_FOLLOWER_MAX_CONCURRENCY)
                return cs_cli_usage_error("evm", "--concurrency: 1 to %d",
                                          CS_FOLLOWER_MAX_CONCURRENCY);
            fo.concurrency = (unsigned)n;
        } else if (strcmp(a, "--per-tx-receipts") == 0) {
            fo.receipts_per_tx = true;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = true;
        } else if (strcmp(a, "--no-subscribe") == 0) {
            subscribe = false;
        } else {
            return cs_cli_usage_error("evm", "unknown option '%s'", a);
        }
        if (!flag)
            i++;
    }
    if (!neps)
        return cs_cli_usage_error("evm", "follow needs --rpc URL");
    for (size_t k = 0; k < neps && subscribe && !fo.subscribe_ipc; k++) {
        const char *u = eps[k].url;
        if (strncmp(u, "ipc://", 6) == 0)
            fo.subscribe_ipc = u + 6;
        else if (u[0] == '/')
            fo.subscribe_ipc = u;
    }
    static app a;
    int rc = app_init(&a, eps, neps, false);
    if (rc)
        return rc;
    a.quiet = quiet;
    char err[512];
    if (cs_evm_abis_new(&a.abis)) {
        a.ret = CS_EXIT_FAIL;
        stop_all(&a);
        app_run(&a);
        return CS_EXIT_FAIL;
    }
    for (size_t i = 0; i < nabis; i++)
        if ((rc = cs_evm_abis_add_spec(a.abis, abis[i], err, sizeof err))) {
            fprintf(stderr, "chainscope evm: %s\n", err);
            stop_all(&a);
            app_run(&a);
            cs_evm_abis_free(a.abis);
            return rc == CS_EINVAL ? CS_EXIT_USAGE : CS_EXIT_CONFIG;
        }
    char origin[300];
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    snprintf(origin, sizeof origin, "evm@%s", host);
    fo.origin = origin;
    fo.key = fo.network;
    if ((rc = cs_follower_new(&a.loop, a.bus, a.rpc, a.abis, &fo, &a.follower, err, sizeof err))) {
        fprintf(stderr, "chainscope evm: %s\n", err);
        stop_all(&a);
        app_run(&a);
        cs_evm_abis_free(a.abis);
        return CS_EXIT_CONFIG;
    }
    if (!quiet) {
        static const char *const filt[] = {"evm.>", "chain.>"};
        cs_sub_opts so = {.filters = filt,
                          .nfilters = 2,
                          .queue_max = 1u << 20,
                          .cb = on_event,
                          .arg = &a,
                          .name = "stdout"};
        cs_bus_subscribe(a.bus, &so, &a.sub);
    }
    cs_follower_on_done(a.follower, on_until, &a);
    a.t0 = uv_hrtime();
    if (quiet) {
        uv_timer_init(&a.loop, &a.lag);
        a.lag.data = &a;
        a.lag_last = uv_hrtime();
        a.cpu_last = thread_cpu_ns();
        uv_timer_start(&a.lag, on_lag_tick, LAG_TICK_MS, LAG_TICK_MS);
    }
    cs_follower_start(a.follower);
    app_run(&a);
    cs_evm_abis_free(a.abis);
    return a.ret;
}

static void probes_done(void *arg, unsigned failed)
{
    app *a = arg;
    a->probe_failed = failed;
    stop_all(a);
}

static int cmd_probe(int argc, char **argv)
{
    cs_rpc_endpoint eps[CS_RPC_MAX_ENDPOINTS];
    size_t neps = 0;
    const char *methods[CS_PROBE_MAX_METHODS];
    size_t nm = 0;
    uint64_t timeout = 5000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--rpc") == 0 || strcmp(a, "--timeout") == 0) {
            if (i + 1 >= argc)
                return cs_cli_usage_error("evm", "%s needs a value", a);
            const char *v = argv[++i];
            if (a[2] == 'r') {
                if (neps == CS_RPC_MAX_ENDPOINTS)
                    return cs_cli_usage_error("evm", "too many --rpc");
                eps[neps++] = (cs_rpc_endpoint){v, 1};
            } else if (!parse_u64(v, &timeout) || timeout == 0) {
                return cs_cli_usage_error("evm", "--timeout: milliseconds");
            }
        } else if (a[0] == '-') {
            return cs_cli_usage_error("evm", "unknown option '%s'", a);
        } else {
            if (nm == CS_PROBE_MAX_METHODS)
                return cs_cli_usage_error("evm", "at most %d methods", CS_PROBE_MAX_METHODS);
            methods[nm++] = a;
        }
    }
    if (!neps)
        return cs_cli_usage_error("evm", "probe needs --rpc URL");
    if (!nm)
        for (; nm < cs_probe_ndefault; nm++)
            methods[nm] = cs_probe_default_methods[nm];
    static app a;
    int rc = app_init(&a, eps, neps, true);
    if (rc)
        return rc;
    static const char *const filt[] = {"evm.probe"};
    cs_sub_opts so = {.filters = filt, .nfilters = 1, .cb = on_event, .arg = &a, .name = "stdout"};
    cs_bus_subscribe(a.bus, &so, &a.sub);
    static cs_publisher pub;
    cs_publisher_init(&pub, a.bus, "evm-probe", "evm");
    if (cs_probe_run(a.rpc, &pub, methods, nm, timeout, eps[0].url, probes_done, &a)) {
        cs_publisher_free(&pub);
        stop_all(&a);
        app_run(&a);
        return cs_cli_usage_error("evm", "bad method list");
    }
    app_run(&a);
    cs_publisher_free(&pub);
    return a.probe_failed ? CS_EXIT_PROBLEM : CS_EXIT_OK;
}

int cs_cmd_evm(int argc, char **argv)
{
    if (argc < 2 || cs_cli_wants_help(argc, argv)) {
        help();
        return argc < 2 ? CS_EXIT_USAGE : CS_EXIT_OK;
    }
    if (strcmp(argv[1], "follow") == 0)
        return cmd_follow(argc - 1, argv + 1);
    if (strcmp(argv[1], "probe") == 0)
        return cmd_probe(argc - 1, argv + 1);
    return cs_cli_usage_error("evm", "unknown subcommand '%s'", argv[1]);
}
