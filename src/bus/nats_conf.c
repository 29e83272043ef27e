/* The nats: section (bus/nats.h, docs/nats.md). */
#include <libfyaml.h>
#include <stdlib.h>
#include <string.h>

#include "bus/nats.h"
#include "config/config.h"
#include "core/error.h"
#include "core/subject.h"

void cs_nats_conf_free(void *conf)
{
    cs_nats_conf *c = conf;
    if (!c)
        return;
    cs_cfg_strv_free(c->servers);
    cs_cfg_strv_free(c->pub);
    cs_cfg_strv_free(c->sub);
    cs_cfg_strv_free(c->js_subjects);
    char *strs[] = {c->name,          c->user,   c->password_env, c->token_env, c->nkey,
                    c->nkey_seed_env, c->creds,  c->tls_ca,       c->tls_cert,  c->tls_key,
                    c->prefix,        c->stream, c->durable,      c->spool_dir};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        free(strs[i]);
    free(c);
}

cs_nats_conf *cs_nats_conf_new(void)
{
    cs_nats_conf *nc = calloc(1, sizeof *nc);
    if (!nc)
        return NULL;
    nc->connect_timeout_ms = 2000;
    nc->reconnect_wait_ms = 100;
    nc->max_reconnect_wait_ms = 5000;
    nc->buffer = CS_NATS_DEFAULT_BUFFER;
    nc->buffer_bytes = CS_NATS_DEFAULT_BUFFER_BYTES;
    nc->spool_max = CS_NATS_DEFAULT_SPOOL_MAX;
    nc->js_create = true;
    nc->replicas = 1;
    nc->duplicates_ms = 120000;
    nc->ack_wait_ms = 30000;
    nc->batch = 256;
    if (!(nc->prefix = strdup(CS_NATS_DEFAULT_PREFIX))) {
        free(nc);
        return NULL;
    }
    return nc;
}

/* Each string of v must be a valid subject filter. */
static int check_filters(cs_cfg *c, struct fy_node *map, const char *path, const char *key,
                         char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!cs_subject_filter_valid(v[i], strlen(v[i])))
            return cs_cfg_error(c, cs_cfg_get(map, key), path,
                                "%s: \"%s\" is not a subject filter (tokens separated by '.', "
                                "'*' for one token, '>' last for the rest)",
                                key, v[i]);
    return 0;
}

static int parse_publish(cs_cfg *c, struct fy_node *n, cs_nats_conf *nc)
{
    static const char *const allowed[] = {"subjects", "encoding", "buffer", "buffer_bytes", NULL};
    static const char *const encodings[] = {"binary", "json", NULL};
    int rc;
    if ((rc = cs_cfg_expect_map(c, n, "nats.publish", allowed)) ||
        (rc = cs_cfg_strv(c, n, "nats.publish", "subjects", &nc->pub, &nc->npub, true)) ||
        (rc = check_filters(c, n, "nats.publish", "subjects", nc->pub, nc->npub)) ||
        (rc = cs_cfg_enum(c, n, "nats.publish", "encoding", encodings, &nc->encoding, false)) ||
        (rc = cs_cfg_uint(c, n, "nats.publish", "buffer", &nc->buffer, 1, 100000000, false)) ||
        (rc = cs_cfg_size(c, n, "nats.publish", "buffer_bytes", &nc->buffer_bytes, false)))
        return rc;
    return 0;
}

static int parse_js(cs_cfg *c, struct fy_node *n, cs_nats_conf *nc)
{
    static const char *const allowed[] = {"stream",    "subjects", "create",     "max_age",
                                          "max_bytes", "replicas", "duplicates", "storage",
                                          "durable",   "ack_wait", "batch",      NULL};
    static const char *const storages[] = {"file", "memory", NULL};
    int rc;
    if ((rc = cs_cfg_expect_map(c, n, "nats.jetstream", allowed)) ||
        (rc = cs_cfg_str(c, n, "nats.jetstream", "stream", &nc->stream, false)) ||
        (rc = cs_cfg_strv(c, n, "nats.jetstream", "subjects", &nc->js_subjects, &nc->njs_subjects,
                          false)) ||
        (rc = cs_cfg_bool(c, n, "nats.jetstream", "create", &nc->js_create, false)) ||
        (rc = cs_cfg_duration_ms(c, n, "nats.jetstream", "max_age", &nc->max_age_ms, false)) ||
        (rc = cs_cfg_size(c, n, "nats.jetstream", "max_bytes", &nc->max_bytes, false)) ||
        (rc = cs_cfg_uint(c, n, "nats.jetstream", "replicas", &nc->replicas, 1, 5, false)) ||
        (rc =
             cs_cfg_duration_ms(c, n, "nats.jetstream", "duplicates", &nc->duplicates_ms, false)) ||
        (rc = cs_cfg_enum(c, n, "nats.jetstream", "storage", storages, &nc->storage, false)) ||
        (rc = cs_cfg_str(c, n, "nats.jetstream", "durable", &nc->durable, false)) ||
        (rc = cs_cfg_duration_ms(c, n, "nats.jetstream", "ack_wait", &nc->ack_wait_ms, false)) ||
        (rc = cs_cfg_uint(c, n, "nats.jetstream", "batch", &nc->batch, 1, 10000, false)))
        return rc;
    if (nc->stream && !*nc->stream)
        return cs_cfg_error(c, cs_cfg_get(n, "stream"), "nats.jetstream", "stream: empty name");
    if (nc->durable && strpbrk(nc->durable, ".*> \t"))
        return cs_cfg_error(c, cs_cfg_get(n, "durable"), "nats.jetstream",
                            "durable: a consumer name has no '.', '*', '>' or spaces");
    return 0;
}

static int parse_spool(cs_cfg *c, struct fy_node *n, cs_nats_conf *nc)
{
    static const char *const allowed[] = {"dir", "max", NULL};
    int rc;
    if ((rc = cs_cfg_expect_map(c, n, "nats.spool", allowed)) ||
        (rc = cs_cfg_str(c, n, "nats.spool", "dir", &nc->spool_dir, true)) ||
        (rc = cs_cfg_size(c, n, "nats.spool", "max", &nc->spool_max, false)))
        return rc;
    if (!*nc->spool_dir)
        return cs_cfg_error(c, cs_cfg_get(n, "dir"), "nats.spool", "dir: empty path");
    if (nc->spool_max < 4096)
        return cs_cfg_error(c, cs_cfg_get(n, "max"), "nats.spool", "max: at least 4KiB");
    return 0;
}

static int parse_tls(cs_cfg *c, struct fy_node *n, cs_nats_conf *nc)
{
    static const char *const allowed[] = {"ca", "cert", "key", NULL};
    int rc;
    nc->tls = true;
    if ((rc = cs_cfg_expect_map(c, n, "nats.tls", allowed)) ||
        (rc = cs_cfg_str(c, n, "nats.tls", "ca", &nc->tls_ca, false)) ||
        (rc = cs_cfg_str(c, n, "nats.tls", "cert", &nc->tls_cert, false)) ||
        (rc = cs_cfg_str(c, n, "nats.tls", "key", &nc->tls_key, false)))
        return rc;
    if (!nc->tls_cert != !nc->tls_key)
        return cs_cfg_error(c, n, "nats.tls", "cert and key go together");
    return 0;
}

int cs_nats_conf_parse(cs_cfg *c, struct fy_node *n, void **out)
{
    static const char *const allowed[] = {"servers",
                                          "name",
                                          "user",
                                          "password_env",
                                          "token_env",
                                          "nkey",
                                          "nkey_seed_env",
                                          "creds",
                                          "tls",
                                          "prefix",
                                          "connect_timeout",
                                          "reconnect_wait",
                                          "max_reconnect_wait",
                                          "publish",
                                          "subscribe",
                                          "jetstream",
                                          "spool",
                                          NULL};
    *out = NULL;
    cs_nats_conf *nc = cs_nats_conf_new();
    if (!nc)
        return CS_ENOMEM;
    free(nc->prefix); /* set below, after the key */
    nc->prefix = NULL;
    int rc;
    struct fy_node *x;
    if ((rc = cs_cfg_expect_map(c, n, "nats", allowed)) ||
        (rc = cs_cfg_strv(c, n, "nats", "servers", &nc->servers, &nc->nservers, false)) ||
        (rc = cs_cfg_str(c, n, "nats", "name", &nc->name, false)) ||
        (rc = cs_cfg_str(c, n, "nats", "user", &nc->user, false)) ||
        (rc = cs_cfg_str(c, n, "nats", "password_env", &nc->password_env, false)) ||
        (rc = cs_cfg_str(c, n, "nats", "token_env", &nc->token_env, false)) ||
        (rc = cs_cfg_str(c, n, "nats", "nkey", &nc->nkey, false)) ||
        (rc = cs_cfg_str(c, n, "nats", "nkey_seed_env", &nc->nkey_seed_env, false)) ||
        (rc = cs_cfg_str(c, n, "nats", "creds", &nc->creds, false)) ||
        (rc = cs_cfg_str(c, n, "nats", "prefix", &nc->prefix, false)) ||
        (rc =
             cs_cfg_duration_ms(c, n, "nats", "connect_timeout", &nc->connect_timeout_ms, false)) ||
        (rc = cs_cfg_duration_ms(c, n, "nats", "reconnect_wait", &nc->reconnect_wait_ms, false)) ||
        (rc = cs_cfg_duration_ms(c, n, "nats", "max_reconnect_wait", &nc->max_reconnect_wait_ms,
                                 false)) ||
        (rc = cs_cfg_strv(c, n, "nats", "subscribe", &nc->sub, &nc->nsub, false)) ||
        (rc = check_filters(c, n, "nats", "subscribe", nc->sub, nc->nsub)))
        goto fail;
    if (!nc->prefix && !(nc->prefix = strdup(CS_NATS_DEFAULT_PREFIX))) {
        rc = CS_ENOMEM;
        goto fail;
    }
    if (!*nc->prefix || strpbrk(nc->prefix, "*> \t") || nc->prefix[0] == '.' ||
        nc->prefix[strlen(nc->prefix) - 1] == '.' || strstr(nc->prefix, "..")) {
        rc = cs_cfg_error(c, cs_cfg_get(n, "prefix"), "nats",
                          "prefix: one or more NATS tokens separated by '.', without "
                          "wildcards or spaces");
        goto fail;
    }
    if (nc->password_env && !nc->user) {
        rc = cs_cfg_error(c, cs_cfg_get(n, "password_env"), "nats", "password_env needs user");
        goto fail;
    }
    if (!nc->nkey != !nc->nkey_seed_env) {
        rc = cs_cfg_error(c, n, "nats", "nkey (the public key) and nkey_seed_env go together");
        goto fail;
    }
    if ((x = cs_cfg_get(n, "tls")) && (rc = parse_tls(c, x, nc)))
        goto fail;
    if ((x = cs_cfg_get(n, "publish")) && (rc = parse_publish(c, x, nc)))
        goto fail;
    if ((x = cs_cfg_get(n, "spool")) && (rc = parse_spool(c, x, nc)))
        goto fail;
    if ((x = cs_cfg_get(n, "jetstream"))) {
        nc->js = true;
        if ((rc = parse_js(c, x, nc)))
            goto fail;
        if (!nc->stream && !(nc->stream = strdup("CHAINSCOPE"))) {
            rc = CS_ENOMEM;
            goto fail;
        }
        if (nc->nsub && !nc->durable) {
            rc = cs_cfg_error(c, x, "nats.jetstream",
                              "subscribing through JetStream needs a durable consumer name "
                              "(durable: NAME), so that a restart resumes at its last ack");
            goto fail;
        }
    }
    if (!nc->npub && !nc->nsub) {
        rc = cs_cfg_error(c, n, "nats", "nothing to do: give publish.subjects or subscribe");
        goto fail;
    }
    *out = nc;
    return 0;
fail:
    cs_nats_conf_free(nc);
    return rc;
}
