/* chainscope: one binary, one subcommand per job. */
#include "chainscope/client.h"
#include "cli/cli.h"
#include "cli/components.h"
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const cs_command commands[] = {
    {"run", "start the components a config file names, on one event loop", cs_cmd_run},
    {"check-config", "validate a config file without starting anything", cs_cmd_check_config},
    {"publish", "publish events into a running log server", cs_cmd_publish},
    {"tail", "print events from a running log server as they arrive", cs_cmd_tail},
    {"events", "list every event type and its fields", cs_cmd_events},
    {"p2p", "decode and encode Bitcoin P2P messages", cs_cmd_p2p},
    {"connector", "connect to Bitcoin peers; every message becomes an event", cs_cmd_connector},
    {"ctl", "drive a running connector: connect, disconnect, send, peers", cs_cmd_ctl},
    {"horde", "many connector processes behind one control socket", cs_cmd_horde},
    {"simnet", "run a simulated Bitcoin network on loopback", cs_cmd_simnet},
    {"crawl", "map the reachable Bitcoin network from seed nodes", cs_cmd_crawl},
    {"abi", "contract ABI: selectors, topics, decode logs and calldata", cs_cmd_abi},
    {"evm", "follow an EVM chain (blocks, txs, decoded logs, reorgs); probe nodes", cs_cmd_evm},
    {"audit", "check every node of an inventory now and print the daily report", cs_cmd_audit},
    {"sla", "print the monthly availability of each node against its SLA", cs_cmd_sla},
    {"antelope", "Antelope producers: blocks produced and missed, rounds, standbys",
     cs_cmd_antelope},
    {"monitor", "try rules and monitors on events without sending anything", cs_cmd_monitor},
    {"archive", "record events into compressed segment files; cat, stats, verify them",
     cs_cmd_archive},
    {"replay", "publish archived events again, marked as replayed", cs_cmd_replay},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: chainscope [--version] [--help] COMMAND [ARGS]\n\n"
               "chainscope watches blockchain networks: every source becomes one stream of\n"
               "typed events, and metrics, audits, monitors, alerts and archives are built\n"
               "on that stream.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'chainscope COMMAND --help' explains a command.\n"
               "exit codes: 0 ok, 1 a problem was found, 2 usage, 3 config, 4 runtime failure\n");
}

bool cs_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    }
    return false;
}

int cs_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "chainscope %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'chainscope %s --help')\n", cmd);
    return CS_EXIT_USAGE;
}

const char *cs_cli_default_socket(void)
{
    static char path[512];
    const char *env = getenv("CHAINSCOPE_SOCKET");
    if (env && *env)
        return env;
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (xdg && *xdg)
        snprintf(path, sizeof path, "%s/chainscope/bus.sock", xdg);
    else
        snprintf(path, sizeof path, "/tmp/chainscope-%u/bus.sock", (unsigned)getuid());
    return path;
}

int cs_cli_config_socket(const char *cmd, const char *file, const char **out)
{
    static char path[512];
    cs_config *cfg;
    char err[1024];
    if (cs_cli_load_config(file, &cfg, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return CS_EXIT_CONFIG;
    }
    if (cfg->logserver_tcp && !cfg->logserver_socket) {
        snprintf(path, sizeof path, "tcp:%s", cfg->logserver_tcp);
    } else {
        snprintf(path, sizeof path, "%s",
                 cfg->logserver_socket ? cfg->logserver_socket : cs_cli_default_socket());
    }
    cs_config_free(cfg);
    (void)cmd;
    *out = path;
    return 0;
}

int cs_cli_connect(const char *cmd, const char *address, struct cs_client **out)
{
    char reason[CS_CLIENT_REASON_MAX];
    int rc = cs_client_connect_reason(address, cmd, getenv("CHAINSCOPE_TOKEN"), reason,
                                      sizeof reason, out);
    if (rc == 0)
        return 0;
    if (reason[0])
        fprintf(stderr, "chainscope %s: cannot connect to %s: refused by the server: %s\n", cmd,
                address, reason);
    else
        fprintf(stderr, "chainscope %s: cannot connect to %s: %s\n", cmd, address, cs_strerror(rc));
    return CS_EXIT_FAIL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CS_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CS_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("chainscope %s\n", CS_VERSION);
        return CS_EXIT_OK;
    }
    cs_components_register_schemas();
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "chainscope: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return CS_EXIT_USAGE;
}
