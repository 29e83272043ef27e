/* The shared notifier of a runtime (see service.h). */
#include "notify/service.h"

#include <string.h>

#include "config/config.h"
#include "core/error.h"
#include "core/log.h"

typedef struct held {
    uv_loop_t *loop;
    cs_notifier *n;
    int refs;
} held;

static held table[CS_NOTIFY_MAX_RUNTIMES];

int cs_notify_acquire(cs_runtime *rt, cs_notifier **out)
{
    held *free_slot = NULL;
    for (size_t i = 0; i < CS_NOTIFY_MAX_RUNTIMES; i++) {
        if (table[i].n && table[i].loop == rt->loop) {
            table[i].refs++;
            *out = table[i].n;
            return 0;
        }
        if (!table[i].n && !free_slot)
            free_slot = &table[i];
    }
    if (!free_slot)
        return CS_ELIMIT;
    const cs_channels_conf *cc = rt->config ? cs_config_section(rt->config, "channels") : NULL;
    const cs_notify_conf *nc = rt->config ? cs_config_section(rt->config, "notify") : NULL;
    cs_notifier_opts no = {.loop = rt->loop,
                           .outbox_path = nc && nc->outbox ? nc->outbox : "chainscope-outbox.db",
                           .channels = cc};
    if (nc) {
        no.max_attempts = nc->max_attempts;
        no.backoff_ms = nc->backoff_ms;
        no.max_backoff_ms = nc->max_backoff_ms;
    }
    char err[512];
    int rc = cs_notifier_new(&no, &free_slot->n, err, sizeof err);
    if (rc) {
        CS_ERROR("notify", "%s", err);
        free_slot->n = NULL;
        return rc;
    }
    CS_INFO("notify", "%zu channel%s, outbox %s", cc ? cc->n : 0, cc && cc->n == 1 ? "" : "s",
            no.outbox_path);
    free_slot->loop = rt->loop;
    free_slot->refs = 1;
    *out = free_slot->n;
    return 0;
}

void cs_notify_release(cs_notifier *n, void (*done)(void *), void *arg)
{
    for (size_t i = 0; i < CS_NOTIFY_MAX_RUNTIMES; i++) {
        if (table[i].n != n)
            continue;
        if (--table[i].refs > 0)
            break;
        table[i].n = NULL;
        table[i].loop = NULL;
        cs_notifier_close(n, done, arg);
        return;
    }
    if (done)
        done(arg);
}

int cs_notify_check_channels(const cs_runtime *rt, const char *what, const char *const *names,
                             size_t n)
{
    const cs_channels_conf *cc = rt->config ? cs_config_section(rt->config, "channels") : NULL;
    for (size_t i = 0; i < n; i++) {
        bool ok = false;
        for (size_t k = 0; cc && k < cc->n && !ok; k++)
            ok = strcmp(cc->ch[k].name, names[i]) == 0;
        if (!ok) {
            CS_ERROR("notify", "%s: channel '%s' is not defined under channels:", what, names[i]);
            return CS_ECONFIG;
        }
    }
    return 0;
}
