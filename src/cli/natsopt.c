/* NATS settings for commands (cli/natsopt.h). */
#include "cli/natsopt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/components.h"
#include "core/error.h"

int cs_cli_nats_url(const char *cmd, cs_cli_nats *n, const char *url)
{
    if (n->nurls == CS_CLI_MAX_NATS_URLS)
        return cs_cli_usage_error(cmd, "at most %d --nats servers", CS_CLI_MAX_NATS_URLS);
    if (!strstr(url, "://"))
        return cs_cli_usage_error(cmd, "--nats takes a URL like nats://127.0.0.1:4222");
    n->urls[n->nurls++] = url;
    return 0;
}

/* Replaces *dst with a copy of src. */
static int set_str(char **dst, const char *src)
{
    char *d = strdup(src);
    if (!d)
        return CS_ENOMEM;
    free(*dst);
    *dst = d;
    return 0;
}

static int apply_flags(cs_cli_nats *n, cs_nats_conf *c)
{
    if (n->nurls) {
        char **v = calloc(n->nurls + 1, sizeof *v);
        if (!v)
            return CS_ENOMEM;
        for (size_t i = 0; i < n->nurls; i++)
            if (!(v[i] = strdup(n->urls[i]))) {
                cs_cfg_strv_free(v);
                return CS_ENOMEM;
            }
        cs_cfg_strv_free(c->servers);
        c->servers = v;
        c->nservers = n->nurls;
    }
    int rc = 0;
    if (n->prefix)
        rc = set_str(&c->prefix, n->prefix);
    if (!rc && n->stream) {
        c->js = true;
        rc = set_str(&c->stream, n->stream);
    }
    if (!rc && n->durable) {
        if (!c->js) {
            c->js = true;
            rc = set_str(&c->stream, "CHAINSCOPE");
        }
        if (!rc)
            rc = set_str(&c->durable, n->durable);
    }
    return rc;
}

int cs_cli_nats_load(const char *cmd, const char *config, cs_cli_nats *n)
{
    if (n->prefix && (!*n->prefix || strpbrk(n->prefix, "*> \t")))
        return cs_cli_usage_error(cmd, "--prefix takes NATS tokens without wildcards or spaces");
    if (n->durable && (!*n->durable || strpbrk(n->durable, ".*> \t")))
        return cs_cli_usage_error(cmd, "--durable: a consumer name has no '.', '*', '>' or "
                                       "spaces");
    if (config) {
        char err[1024];
        if (cs_cli_load_config(config, &n->cfg, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            return CS_EXIT_CONFIG;
        }
        n->c = cs_config_section(n->cfg, "nats");
        if (!n->c && !n->nurls) {
            fprintf(stderr, "chainscope %s: %s has no nats: section (or give --nats URL)\n", cmd,
                    config);
            return CS_EXIT_CONFIG;
        }
    }
    if (!n->c) {
        if (!n->nurls)
            return cs_cli_usage_error(cmd, "which NATS server? (--nats URL or -c FILE)");
        if (!(n->own = cs_nats_conf_new()))
            return CS_EXIT_FAIL;
        n->c = n->own;
    }
    if (apply_flags(n, n->c)) {
        fprintf(stderr, "chainscope %s: %s\n", cmd, cs_strerror(CS_ENOMEM));
        return CS_EXIT_FAIL;
    }
    return 0;
}

void cs_cli_nats_free(cs_cli_nats *n)
{
    cs_nats_conf_free(n->own);
    n->own = NULL;
    if (n->cfg)
        cs_config_free(n->cfg);
    n->cfg = NULL;
    n->c = NULL;
}
