/* chainscope check-config: validate without starting anything. */
#include "cli/cli.h"
#include "cli/components.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void help(void)
{
    printf("usage: chainscope check-config -c FILE\n"
           "\n"
           "Reads and validates a config file as `chainscope run` would, without\n"
           "starting anything or connecting anywhere. Prints what would run, or the\n"
           "first error as FILE:LINE:COL: KEY: MESSAGE. Environment variables named\n"
           "by ${NAME} must be set, as they will be for run.\n"
           "\n"
           "exit status: 0 valid, 3 invalid, 2 usage.\n"
           "\n"
           "example:\n"
           "  chainscope check-config -c /etc/chainscope/chainscope.yaml\n");
}

int cs_cmd_check_config(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *file = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (ch == 'c')
            file = optarg;
        else if (ch == 'h') {
            help();
            return CS_EXIT_OK;
        } else
            return cs_cli_usage_error("check-config", "unknown option");
    }
    if (!file && optind < argc)
        file = argv[optind++];
    if (!file)
        return cs_cli_usage_error("check-config", "which file? (-c FILE)");
    cs_config *cfg;
    char err[1024];
    if (cs_cli_load_config(file, &cfg, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return CS_EXIT_CONFIG;
    }
    printf("%s: valid\n  node: %s\n", file, cfg->node);
    printf("  logserver: %s", cfg->logserver_enabled ? "on" : "off");
    if (cfg->logserver_enabled)
        printf(" (socket %s%s%s)",
               cfg->logserver_socket ? cfg->logserver_socket : cs_cli_default_socket(),
               cfg->logserver_tcp ? ", tcp " : "", cfg->logserver_tcp ? cfg->logserver_tcp : "");
    printf("\n  http: %s%s%s\n", cfg->http_enabled ? "on " : "off",
           cfg->http_enabled ? cfg->http_listen : "", "");
    for (size_t i = 0; i < cfg->nsections; i++)
        printf("  %s: configured\n", cfg->sections[i].def->name);
    cs_config_free(cfg);
    return CS_EXIT_OK;
}
