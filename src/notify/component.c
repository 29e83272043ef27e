/* The monitors component (see component.h). */
#include "notify/component.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "notify/notifier.h"
#include "rules/monitor_config.h"

typedef struct state {
    cs_monitor_engine *engine;
    cs_notifier *notifier;
    char origin[300];
    void (*done)(void *);
    void *arg;
} state;

static int check_channels(const cs_monitors_conf *mc, const cs_channels_conf *cc,
                          const cs_notify_conf *nc)
{
    for (size_t i = 0; i < mc->n; i++)
        for (size_t j = 0; j < mc->defs[i].nchannels; j++) {
            const char *name = mc->defs[i].channels[j];
            bool ok = false;
            for (size_t k = 0; cc && k < cc->n && !ok; k++)
                ok = strcmp(cc->ch[k].name, name) == 0;
            if (!ok) {
                CS_ERROR("monitors", "monitor %s: channel '%s' is not defined under channels:",
                         mc->defs[i].name, name);
                return CS_ECONFIG;
            }
        }
    for (int s = 0; nc && s < CS_SEV_COUNT; s++)
        for (size_t j = 0; j < nc->ndefaults[s]; j++) {
            bool ok = false;
            for (size_t k = 0; cc && k < cc->n && !ok; k++)
                ok = strcmp(cc->ch[k].name, nc->defaults[s][j]) == 0;
            if (!ok) {
                CS_ERROR("monitors", "notify.defaults.%s: channel '%s' is not defined",
                         cs_severity_name((cs_severity)s), nc->defaults[s][j]);
                return CS_ECONFIG;
            }
        }
    return 0;
}

int cs_monitors_start(cs_runtime *rt, void *conf, void **out)
{
    cs_monitors_conf *mc = conf;
    const cs_channels_conf *cc = rt->config ? cs_config_section(rt->config, "channels") : NULL;
    const cs_notify_conf *nc = rt->config ? cs_config_section(rt->config, "notify") : NULL;
    int rc = check_channels(mc, cc, nc);
    if (rc)
        return rc;
    state *s = calloc(1, sizeof *s);
    if (!s)
        return CS_ENOMEM;
    char err[512];
    cs_notifier_opts no = {.loop = rt->loop,
                           .outbox_path = nc && nc->outbox ? nc->outbox : "chainscope-outbox.db",
                           .channels = cc};
    if (nc) {
        no.max_attempts = nc->max_attempts;
        no.backoff_ms = nc->backoff_ms;
        no.max_backoff_ms = nc->max_backoff_ms;
    }
    if ((rc = cs_notifier_new(&no, &s->notifier, err, sizeof err))) {
        CS_ERROR("monitors", "%s", err);
        free(s);
        return rc;
    }
    snprintf(s->origin, sizeof s->origin, "monitors@%s", rt->node ? rt->node : "local");
    const char *const(*ex)[2] = NULL;
    const char *pairs[64][2];
    size_t nex = 0;
    for (size_t i = 0; nc && i < nc->nexplorers && i < 64; i++) {
        pairs[i][0] = nc->explorer_net[i];
        pairs[i][1] = nc->explorer_url[i];
        nex++;
    }
    ex = (const char *const(*)[2])pairs;
    cs_monitor_engine_opts eo = {.loop = rt->loop,
                                 .bus = rt->bus,
                                 .origin = s->origin,
                                 .explorers = ex,
                                 .nexplorers = nex,
                                 .on_match = cs_notifier_on_match,
                                 .arg = s->notifier};
    for (int i = 0; nc && i < CS_SEV_COUNT; i++) {
        eo.default_channels[i] = (const char *const *)nc->defaults[i];
        eo.ndefault_channels[i] = nc->ndefaults[i];
    }
    if ((rc = cs_monitor_engine_new(&eo, mc->defs, mc->n, &s->engine, err, sizeof err))) {
        CS_ERROR("monitors", "%s", err);
        cs_notifier_close(s->notifier, free, s);
        return rc;
    }
    CS_INFO("monitors", "%zu monitor%s, %zu channel%s, outbox %s", mc->n, mc->n == 1 ? "" : "s",
            cc ? cc->n : 0, cc && cc->n == 1 ? "" : "s", no.outbox_path);
    *out = s;
    return 0;
}

static void notifier_closed(void *arg)
{
    state *s = arg;
    void (*done)(void *) = s->done;
    void *a = s->arg;
    free(s);
    if (done)
        done(a);
}

void cs_monitors_stop(void *st, void (*done)(void *), void *arg)
{
    state *s = st;
    s->done = done;
    s->arg = arg;
    cs_monitor_engine_close(s->engine);
    cs_notifier_close(s->notifier, notifier_closed, s);
}
