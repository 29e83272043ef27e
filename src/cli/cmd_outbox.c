/* `chainscope monitor outbox`: the dead letters of a notifier's outbox,
 * listed or acknowledged (docs/monitors.md, "The outbox"). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/components.h"
#include "notify/conf.h"
#include "notify/outbox.h"

static void print_dead(const cs_outbox_dead *d, void *arg)
{
    (void)arg;
    char when[32] = "?";
    time_t t = (time_t)(d->created_ms / 1000);
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%s  %s  %s  %s  %u attempt%s  %s\n    %s\n", d->key, when, d->channel,
           d->monitor ? d->monitor : "-", d->attempts, d->attempts == 1 ? "" : "s",
           d->subject ? d->subject : "", d->error ? d->error : "");
}

int cs_cmd_monitor_outbox(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"outbox", required_argument, NULL, 'o'},
        {"ack", required_argument, NULL, 'a'},
        {"ack-all", no_argument, NULL, 'A'},
        {NULL, 0, NULL, 0},
    };
    const char *cfgpath = NULL, *path = NULL, *ack = NULL;
    bool ack_all = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            cfgpath = optarg;
            break;
        case 'o':
            path = optarg;
            break;
        case 'a':
            ack = optarg;
            break;
        case 'A':
            ack_all = true;
            break;
        default:
            return cs_cli_usage_error("monitor outbox", "unknown option");
        }
    }
    if (!cfgpath == !path)
        return cs_cli_usage_error("monitor outbox", "-c FILE or --outbox PATH (one of them)");
    if (ack && ack_all)
        return cs_cli_usage_error("monitor outbox", "--ack KEY or --ack-all, not both");
    cs_config *cfg = NULL;
    char err[1024];
    if (cfgpath) {
        if (cs_cli_load_config(cfgpath, &cfg, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            return CS_EXIT_CONFIG;
        }
        const cs_notify_conf *nc = cs_config_section(cfg, "notify");
        if (!nc) {
            fprintf(stderr, "%s: no notify: section (no outbox)\n", cfgpath);
            cs_config_free(cfg);
            return CS_EXIT_CONFIG;
        }
        path = nc->outbox ? nc->outbox : "chainscope-outbox.db";
    }
    cs_outbox *ob;
    int rc = cs_outbox_open(path, &ob, err, sizeof err);
    if (rc) {
        fprintf(stderr, "%s\n", err);
        cs_config_free(cfg);
        return CS_EXIT_FAIL;
    }
    int exit_code = CS_EXIT_OK;
    if (ack || ack_all) {
        int n = cs_outbox_ack(ob, ack);
        if (n < 0)
            exit_code = CS_EXIT_FAIL;
        else if (n == 0 && ack) {
            fprintf(stderr, "no dead notification with key %s\n", ack);
            exit_code = CS_EXIT_PROBLEM;
        } else
            printf("%d dead notification%s acknowledged and deleted\n", n, n == 1 ? "" : "s");
    } else {
        int n = cs_outbox_dead_list(ob, print_dead, NULL);
        if (n < 0)
            exit_code = CS_EXIT_FAIL;
        else
            printf("%d dead notification%s (acknowledge with --ack KEY or --ack-all)\n", n,
                   n == 1 ? "" : "s");
    }
    cs_outbox_close(ob);
    cs_config_free(cfg);
    return exit_code;
}
