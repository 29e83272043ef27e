/* chainscope ctl: drive a running connector through its control socket. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chainscope/control.h"
#include "cli/cli.h"
#include "core/error.h"
#include "core/hex.h"

static void usage(void)
{
    printf("usage: chainscope ctl [--socket PATH] COMMAND [ARGS]\n"
           "\n"
           "Drives a running connector (chainscope connector --control PATH, or a\n"
           "connector started by chainscope run) through its control socket.\n"
           "\n"
           "commands:\n"
           "  connect ADDR...            open connections to ip:port peers; prints each id\n"
           "  disconnect ID...|all       close peers by id, or every peer\n"
           "  send MSG [--peer ID]...    send a message to the peers named (default: every\n"
           "                             peer whose handshake is done). MSG is a JSON\n"
           "                             description such as '{\"command\":\"ping\",\"nonce\":1}'\n"
           "                             or, with --hex, a framed message in hex (sent as\n"
           "                             is, malformed or not)\n"
           "  peers [--json]             list connections: id, direction, remote and local\n"
           "                             address, version, user agent, services, height,\n"
           "                             RTT, bytes and messages each way\n"
           "\n"
           "options:\n"
           "  --socket PATH   control socket (default $CHAINSCOPE_CONTROL, else\n"
           "                  /tmp/chainscope-$UID/control.sock)\n"
           "  --timeout S     seconds to wait for each reply (default 10)\n"
           "\n"
           "examples:\n"
           "  chainscope ctl --socket /tmp/cs.sock connect 127.0.0.1:18444\n"
           "  chainscope ctl --socket /tmp/cs.sock send '{\"command\":\"getaddr\"}' --peer 1\n"
           "  chainscope ctl --socket /tmp/cs.sock peers\n");
}

static const char *default_socket(void)
{
    static char path[256];
    const char *e = getenv("CHAINSCOPE_CONTROL");
    if (e && *e)
        return e;
    snprintf(path, sizeof path, "/tmp/chainscope-%u/control.sock", (unsigned)getuid());
    return path;
}

static int fail(cs_ctl *c, const char *what, int rc)
{
    fprintf(stderr, "chainscope ctl: %s: %s\n", what,
            c && cs_ctl_error(c)[0] ? cs_ctl_error(c) : cs_strerror(rc));
    return rc == CS_ECLOSED || rc == CS_ETIMEDOUT || rc == CS_EIO ? CS_EXIT_FAIL : CS_EXIT_PROBLEM;
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static int cmd_peers(cs_ctl *c, bool json)
{
    cs_ctl_peer *p;
    size_t n;
    int rc = cs_ctl_peers(c, &p, &n);
    if (rc)
        return fail(c, "peers", rc);
    if (!json)
        printf("%-6s %-4s %-22s %-22s %-6s %-8s %-9s %-8s %-9s %s\n", "ID", "DIR", "REMOTE",
               "LOCAL", "READY", "VERSION", "SERVICES", "HEIGHT", "RTT_MS",
               "IN/OUT BYTES  IN/OUT MSGS  USER AGENT");
    for (size_t i = 0; i < n; i++) {
        char r[64], l[64], rtt[16];
        snprintf(r, sizeof r, strchr(p[i].addr, ':') ? "[%s]:%u" : "%s:%u", p[i].addr, p[i].port);
        snprintf(l, sizeof l, strchr(p[i].local_addr, ':') ? "[%s]:%u" : "%s:%u", p[i].local_addr,
                 p[i].local_port);
        if (p[i].rtt_ms >= 0)
            snprintf(rtt, sizeof rtt, "%.3f", p[i].rtt_ms);
        else
            strcpy(rtt, "-");
        if (json) {
            printf("{\"id\":%llu,\"direction\":\"%s\",\"addr\":", (unsigned long long)p[i].id,
                   p[i].direction);
            json_str(p[i].addr);
            printf(",\"port\":%u,\"local_addr\":", p[i].port);
            json_str(p[i].local_addr);
            printf(",\"local_port\":%u,\"ready\":%s,\"version\":%d,\"services\":%llu,"
                   "\"user_agent\":",
                   p[i].local_port, p[i].ready ? "true" : "false", p[i].version,
                   (unsigned long long)p[i].services);
            json_str(p[i].user_agent);
            printf(",\"start_height\":%d,\"rtt_ms\":%s,\"bytes_in\":%llu,\"bytes_out\":%llu,"
                   "\"msgs_in\":%llu,\"msgs_out\":%llu}\n",
                   p[i].start_height, p[i].rtt_ms >= 0 ? rtt : "null",
                   (unsigned long long)p[i].bytes_in, (unsigned long long)p[i].bytes_out,
                   (unsigned long long)p[i].msgs_in, (unsigned long long)p[i].msgs_out);
        } else {
            printf("%-6llu %-4s %-22s %-22s %-6s %-8d %-9llu %-8d %-9s %llu/%llu  %llu/%llu  %s\n",
                   (unsigned long long)p[i].id, p[i].direction, r, l, p[i].ready ? "yes" : "no",
                   p[i].version, (unsigned long long)p[i].services, p[i].start_height, rtt,
                   (unsigned long long)p[i].bytes_in, (unsigned long long)p[i].bytes_out,
                   (unsigned long long)p[i].msgs_in, (unsigned long long)p[i].msgs_out,
                   p[i].user_agent);
        }
    }
    free(p);
    return CS_EXIT_OK;
}

static int unhex(const char *s, uint8_t **out, size_t *n)
{
    size_t len = strlen(s);
    uint8_t *b = malloc(len / 2 + 1);
    if (!b)
        return CS_ENOMEM;
    int rc = cs_hex_decode(s, len, b, len / 2 + 1, n);
    if (rc) {
        free(b);
        return CS_EINVAL;
    }
    *out = b;
    return 0;
}

int cs_cmd_ctl(int argc, char **argv)
{
    if (argc < 2 || cs_cli_wants_help(argc, argv)) {
        usage();
        return argc < 2 ? CS_EXIT_USAGE : CS_EXIT_OK;
    }
    const char *sock = default_socket();
    int timeout_ms = 10000;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
            sock = argv[++i];
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            timeout_ms = (int)(atof(argv[++i]) * 1000);
        else
            return cs_cli_usage_error("ctl", "unknown option '%s'", argv[i]);
    }
    if (i >= argc)
        return cs_cli_usage_error("ctl", "missing command");
    const char *cmd = argv[i++];
    cs_ctl *c;
    int rc = cs_ctl_open(sock, timeout_ms, &c);
    if (rc) {
        fprintf(stderr, "chainscope ctl: cannot reach %s: %s\n", sock, cs_strerror(rc));
        return CS_EXIT_FAIL;
    }
    int ex = CS_EXIT_OK;
    if (strcmp(cmd, "connect") == 0) {
        if (i >= argc)
            ex = cs_cli_usage_error("ctl", "connect needs an address");
        for (; i < argc && ex == CS_EXIT_OK; i++) {
            uint64_t id;
            rc = cs_ctl_connect(c, argv[i], &id);
            if (rc)
                ex = fail(c, argv[i], rc);
            else
                printf("%llu %s\n", (unsigned long long)id, argv[i]);
        }
    } else if (strcmp(cmd, "disconnect") == 0) {
        if (i >= argc)
            ex = cs_cli_usage_error("ctl", "disconnect needs peer ids or 'all'");
        for (; i < argc && ex == CS_EXIT_OK; i++) {
            uint64_t id = strcmp(argv[i], "all") == 0 ? 0 : strtoull(argv[i], NULL, 10), n;
            if (id == 0 && strcmp(argv[i], "all") != 0) {
                ex = cs_cli_usage_error("ctl", "'%s' is not a peer id", argv[i]);
                break;
            }
            rc = cs_ctl_disconnect(c, id, &n);
            if (rc)
                ex = fail(c, argv[i], rc);
            else
                printf("disconnected %llu\n", (unsigned long long)n);
        }
    } else if (strcmp(cmd, "send") == 0) {
        const char *msg = NULL;
        bool hex = false;
        uint64_t ids[1024];
        size_t nids = 0;
        for (; i < argc; i++) {
            if (strcmp(argv[i], "--peer") == 0 && i + 1 < argc) {
                if (nids == 1024) {
                    ex = cs_cli_usage_error("ctl", "at most 1024 --peer");
                    break;
                }
                ids[nids++] = strtoull(argv[++i], NULL, 10);
            } else if (strcmp(argv[i], "--hex") == 0) {
                hex = true;
            } else if (!msg) {
                msg = argv[i];
            } else {
                ex = cs_cli_usage_error("ctl", "one message at a time");
                break;
            }
        }
        if (ex == CS_EXIT_OK && !msg)
            ex = cs_cli_usage_error("ctl", "send needs a message");
        if (ex == CS_EXIT_OK) {
            uint32_t mid;
            if (hex) {
                uint8_t *b;
                size_t n;
                if (unhex(msg, &b, &n)) {
                    ex = cs_cli_usage_error("ctl", "--hex message is not hex");
                } else {
                    rc = cs_ctl_register_raw(c, b, n, &mid);
                    free(b);
                }
            } else {
                rc = cs_ctl_register_json(c, msg, &mid);
            }
            if (ex == CS_EXIT_OK && rc)
                ex = fail(c, "register", rc);
            uint64_t sent;
            if (ex == CS_EXIT_OK && (rc = cs_ctl_send(c, mid, ids, nids, &sent)))
                ex = fail(c, "send", rc);
            else if (ex == CS_EXIT_OK)
                printf("sent to %llu peers\n", (unsigned long long)sent);
        }
    } else if (strcmp(cmd, "peers") == 0) {
        bool json = i < argc && strcmp(argv[i], "--json") == 0;
        ex = cmd_peers(c, json);
    } else {
        ex = cs_cli_usage_error("ctl", "unknown command '%s'", cmd);
    }
    cs_ctl_close(c);
    return ex;
}
