/* The notify: section (see conf.h). */
#include "notify/conf.h"

#include <libfyaml.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static const char *const sev_names[CS_NOTIFY_NSEV] = {"low", "medium", "high"};

int cs_notify_severity_index(const char *name)
{
    for (int i = 0; name && i < CS_NOTIFY_NSEV; i++)
        if (strcmp(sev_names[i], name) == 0)
            return i;
    return -1;
}

const char *cs_notify_severity_name(int index)
{
    return index >= 0 && index < CS_NOTIFY_NSEV ? sev_names[index] : "?";
}

void cs_notify_conf_free(void *conf)
{
    cs_notify_conf *c = conf;
    if (!c)
        return;
    free(c->outbox);
    for (int i = 0; i < CS_NOTIFY_NSEV; i++)
        cs_cfg_strv_free(c->defaults[i]);
    for (size_t i = 0; i < c->nexplorers; i++) {
        free(c->explorer_net[i]);
        free(c->explorer_url[i]);
    }
    free(c->explorer_net);
    free(c->explorer_url);
    free(c);
}

int cs_notify_conf_parse(cs_cfg *c, struct fy_node *n, void **out)
{
    static const char *const allowed[] = {"outbox",  "defaults",  "explorers",
                                          "retries", "backoff",   "max_backoff",
                                          "keep",    "keep_rows", NULL};
    static const char *const sev_keys[] = {"low", "medium", "high", NULL};
    *out = NULL;
    cs_notify_conf *nc = calloc(1, sizeof *nc);
    if (!nc)
        return CS_ENOMEM;
    uint64_t u = 12;
    nc->backoff_ms = 1000;
    nc->max_backoff_ms = 600000;
    nc->keep_ms = CS_NOTIFY_KEEP_MS;
    nc->keep_rows = CS_NOTIFY_KEEP_ROWS;
    int rc;
    if ((rc = cs_cfg_expect_map(c, n, "notify", allowed)) ||
        (rc = cs_cfg_str(c, n, "notify", "outbox", &nc->outbox, false)) ||
        (rc = cs_cfg_uint(c, n, "notify", "retries", &u, 1, 1000, false)) ||
        (rc = cs_cfg_duration_ms(c, n, "notify", "backoff", &nc->backoff_ms, false)) ||
        (rc = cs_cfg_duration_ms(c, n, "notify", "max_backoff", &nc->max_backoff_ms, false)) ||
        (rc = cs_cfg_duration_ms(c, n, "notify", "keep", &nc->keep_ms, false)) ||
        (rc = cs_cfg_uint(c, n, "notify", "keep_rows", &nc->keep_rows, 1, 1000000000, false)))
        goto fail;
    nc->max_attempts = (uint32_t)u;
    struct fy_node *d = cs_cfg_get(n, "defaults");
    if (d) {
        if ((rc = cs_cfg_expect_map(c, d, "notify.defaults", sev_keys)))
            goto fail;
        for (int i = 0; i < CS_NOTIFY_NSEV; i++)
            if ((rc = cs_cfg_strv(c, d, "notify.defaults", sev_keys[i], &nc->defaults[i],
                                  &nc->ndefaults[i], false)))
                goto fail;
    }
    struct fy_node *ex = cs_cfg_get(n, "explorers");
    if (ex) {
        if (!fy_node_is_mapping(ex)) {
            rc = cs_cfg_error(c, ex, "notify.explorers",
                              "expected a mapping of networks to explorer URLs");
            goto fail;
        }
        if ((rc = cs_cfg_unique_keys(c, ex, "notify.explorers")))
            goto fail;
        size_t cnt = (size_t)fy_node_mapping_item_count(ex);
        nc->explorer_net = calloc(cnt + 1, sizeof(char *));
        nc->explorer_url = calloc(cnt + 1, sizeof(char *));
        if (!nc->explorer_net || !nc->explorer_url) {
            rc = CS_ENOMEM;
            goto fail;
        }
        void *it = NULL;
        struct fy_node_pair *p;
        while ((p = fy_node_mapping_iterate(ex, &it))) {
            char *k = cs_cfg_scalar(c, fy_node_pair_key(p), "notify.explorers");
            char *v = k ? cs_cfg_scalar(c, fy_node_pair_value(p), "notify.explorers") : NULL;
            if (!k || !v) {
                free(k);
                rc = CS_ECONFIG;
                goto fail;
            }
            size_t vl = strlen(v);
            while (vl && v[vl - 1] == '/')
                v[--vl] = 0;
            nc->explorer_net[nc->nexplorers] = k;
            nc->explorer_url[nc->nexplorers++] = v;
        }
    }
    *out = nc;
    return 0;
fail:
    cs_notify_conf_free(nc);
    return rc;
}
