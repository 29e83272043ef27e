/* Subcommands of the chainscope binary. Each lives in its own file
 * (cmd_<name>.c) and is listed in main.c's table.
 *
 * Exit codes, for every command (docs/cli.md):
 *   0  success (for audit: everything is well)
 *   1  the command ran and found a problem (audit: a node is down)
 *   2  usage error: bad flag or argument
 *   3  configuration error
 *   4  runtime failure: could not connect, I/O error, ... */
#ifndef CS_CLI_H
#define CS_CLI_H

#include <stdbool.h>

enum {
    CS_EXIT_OK = 0,
    CS_EXIT_PROBLEM = 1,
    CS_EXIT_USAGE = 2,
    CS_EXIT_CONFIG = 3,
    CS_EXIT_FAIL = 4
};

typedef struct cs_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
} cs_command;

/* True if argv holds -h or --help before any "--". */
bool cs_cli_wants_help(int argc, char **argv);
/* Prints "chainscope NAME: MESSAGE" and a hint to --help; returns CS_EXIT_USAGE. */
int cs_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The default socket path of the local log server: $CHAINSCOPE_SOCKET, else
 * $XDG_RUNTIME_DIR/chainscope/bus.sock, else /tmp/chainscope-$UID/bus.sock. */
const char *cs_cli_default_socket(void);
/* The log server address a config file names (logserver.socket, else its
 * default). Returns 0, or CS_EXIT_CONFIG after printing the error. *out
 * stays valid until the next call. */
int cs_cli_config_socket(const char *cmd, const char *file, const char **out);
/* Connects to the log server at address as `name` (token from
 * $CHAINSCOPE_TOKEN). On failure prints "chainscope CMD: cannot connect to
 * ADDRESS: ..." with the server's reason when it refused the client, and
 * returns CS_EXIT_FAIL. *out is freed with cs_client_close. */
struct cs_client;
int cs_cli_connect(const char *cmd, const char *address, struct cs_client **out);

int cs_cmd_run(int argc, char **argv);
int cs_cmd_publish(int argc, char **argv);
int cs_cmd_tail(int argc, char **argv);
int cs_cmd_check_config(int argc, char **argv);
int cs_cmd_events(int argc, char **argv);
int cs_cmd_p2p(int argc, char **argv);
int cs_cmd_connector(int argc, char **argv);
int cs_cmd_horde(int argc, char **argv);
int cs_cmd_horde_member(int argc, char **argv);
int cs_cmd_ctl(int argc, char **argv);
int cs_cmd_simnet(int argc, char **argv);
int cs_cmd_crawl(int argc, char **argv);
int cs_cmd_abi(int argc, char **argv);
int cs_cmd_evm(int argc, char **argv);
int cs_cmd_audit(int argc, char **argv);
int cs_cmd_sla(int argc, char **argv);
int cs_cmd_antelope(int argc, char **argv);
int cs_cmd_monitor(int argc, char **argv);
int cs_cmd_archive(int argc, char **argv);
int cs_cmd_replay(int argc, char **argv);
/* `monitor outbox`: list or acknowledge dead notifications (cmd_outbox.c). */
int cs_cmd_monitor_outbox(int argc, char **argv);
int cs_cmd_monitor_packs(int argc, char **argv);
int cs_cmd_monitor_templates(int argc, char **argv);
int cs_cmd_monitor_new(int argc, char **argv);
int cs_cmd_monitor_import(int argc, char **argv);

#endif
