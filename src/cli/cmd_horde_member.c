/* chainscope horde member: one member of a horde over NATS, beside its
 * connector (src/btc/horde_nats.h). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "btc/horde_nats.h"
#include "cli/cli.h"
#include "cli/natsopt.h"
#include "core/error.h"
#include "core/log.h"

static void usage(void)
{
    printf("usage: chainscope horde member --nats URL --index I --connector PATH [OPTIONS]\n"
           "\n"
           "Serves one member of a horde over NATS: the horde's requests for member I\n"
           "arrive on PREFIX.horde.NAME.I and are passed, frame by frame, to the control\n"
           "socket of a connector on this host, started as shard I of N:\n"
           "\n"
           "  chainscope connector --shard I/N --control PATH ...\n"
           "\n"
           "Its answers go back to the horde, which `chainscope horde --nats URL\n"
           "--members N` serves on one control socket (docs/btc.md, \"A horde over NATS\").\n"
           "When the connector is restarted the member says so, and the horde registers\n"
           "its messages again. A second member for the same index is a standby (NATS\n"
           "queue group): one of them answers each request.\n"
           "\n"
           "options:\n"
           "  --nats URL        a NATS server (repeatable); or -c CONFIG's nats: section\n"
           "  -c, --config F    take the NATS settings (servers, credentials, TLS, prefix)\n"
           "                    from F's nats: section\n"
           "  --prefix P        the subjects' first token (default chainscope)\n"
           "  --name NAME       the horde's name (default horde)\n"
           "  --index I         this member's index, 0..63 (required)\n"
           "  --connector PATH  the connector's control socket (required)\n"
           "  --timeout S       seconds the connector may take to answer (default 10)\n"
           "\n"
           "example (host B, member 1 of 2):\n"
           "  chainscope connector --shard 1/2 --control /run/cs/conn.sock --network main &\n"
           "  chainscope horde member --nats nats://10.0.0.1:4222 --index 1 \\\n"
           "      --connector /run/cs/conn.sock\n");
}

static volatile sig_atomic_t stop_now;

static void on_sig(int sig)
{
    (void)sig;
    stop_now = 1;
}

int cs_cmd_horde_member(int argc, char **argv)
{
    if (cs_cli_wants_help(argc, argv)) {
        usage();
        return CS_EXIT_OK;
    }
    cs_cli_nats n = {0};
    const char *config = NULL, *name = "horde", *connector = NULL;
    long index = -1;
    double timeout_s = 10;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return cs_cli_usage_error("horde member", "%s needs a value (or is unknown)", a);
        i++;
        int rc = 0;
        if (strcmp(a, "--nats") == 0) {
            rc = cs_cli_nats_url("horde member", &n, v);
        } else if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
            config = v;
        } else if (strcmp(a, "--prefix") == 0) {
            n.prefix = v;
        } else if (strcmp(a, "--name") == 0) {
            name = v;
        } else if (strcmp(a, "--index") == 0) {
            char *end;
            index = strtol(v, &end, 10);
            if (*end || index < 0 || index > 63)
                return cs_cli_usage_error("horde member", "--index takes 0..63, not '%s'", v);
        } else if (strcmp(a, "--connector") == 0) {
            connector = v;
        } else if (strcmp(a, "--timeout") == 0) {
            timeout_s = atof(v);
            if (timeout_s <= 0 || timeout_s > 3600)
                return cs_cli_usage_error("horde member", "--timeout takes seconds, 0 < S <= 3600");
        } else {
            return cs_cli_usage_error("horde member", "unknown option '%s'", a);
        }
        if (rc)
            return rc;
    }
    if (index < 0 || !connector)
        return cs_cli_usage_error("horde member", "--index I and --connector PATH are required");
    if (!config && !n.nurls)
        return cs_cli_usage_error("horde member", "--nats URL or -c CONFIG is required");
    int rc = cs_cli_nats_load("horde member", config, &n);
    if (rc)
        return rc;
    char subject[CS_HORDE_SUBJECT_MAX], why[300];
    if (cs_horde_nats_subject(subject, sizeof subject, n.c->prefix, name, (size_t)index) != 0) {
        cs_cli_nats_free(&n);
        return cs_cli_usage_error("horde member", "--name takes letters, digits, '-' and '_'");
    }
    cs_horde_member_opts o = {.nats = n.c,
                              .subject = subject,
                              .connector = connector,
                              .timeout_ms = (uint32_t)(timeout_s * 1000)};
    cs_horde_relay *r;
    struct sigaction sa = {.sa_handler = on_sig};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if ((rc = cs_horde_member_start(&o, &r, why, sizeof why)) != 0) {
        fprintf(stderr, "chainscope horde member: %s\n", why);
        cs_cli_nats_free(&n);
        return CS_EXIT_FAIL;
    }
    fprintf(stderr, "horde member %ld: serving %s for the connector at %s\n", index, subject,
            connector);
    fflush(stderr);
    while (!stop_now)
        usleep(100 * 1000);
    uint64_t failed, count = cs_horde_relay_count(r, &failed);
    cs_horde_relay_stop(r);
    CS_INFO("horde", "member %ld: %llu requests relayed, %llu answered with an error", index,
            (unsigned long long)count, (unsigned long long)failed);
    cs_cli_nats_free(&n);
    return CS_EXIT_OK;
}
