/* The NATS settings of a command that talks to NATS without `chainscope
 * run` (replay --into nats, archive record --nats): the `nats:` section of a
 * config file (-c), or --nats URL flags with every other key at its
 * default (docs/nats.md). */
#ifndef CS_CLI_NATSOPT_H
#define CS_CLI_NATSOPT_H

#include <stddef.h>

#include "bus/nats.h"
#include "config/config.h"

#define CS_CLI_MAX_NATS_URLS 16

typedef struct cs_cli_nats {
    const char *urls[CS_CLI_MAX_NATS_URLS]; /* --nats (borrowed from argv) */
    size_t nurls;
    const char *stream;  /* --stream: JetStream */
    const char *durable; /* --durable: a durable pull consumer */
    const char *prefix;  /* --prefix */
    /* filled by cs_cli_nats_load */
    cs_config *cfg;    /* the loaded file (owns c then) */
    cs_nats_conf *own; /* built from the flags */
    cs_nats_conf *c;   /* the settings to use */
} cs_cli_nats;

/* Adds a --nats URL; CS_EXIT_USAGE (printed) past the bound. */
int cs_cli_nats_url(const char *cmd, cs_cli_nats *n, const char *url);
/* Settles n->c: the file's nats: section when config is given (--nats,
 * --stream, --durable and --prefix then override its keys), else the flags.
 * Returns 0, or an exit code after printing why. */
int cs_cli_nats_load(const char *cmd, const char *config, cs_cli_nats *n);
void cs_cli_nats_free(cs_cli_nats *n);

#endif
