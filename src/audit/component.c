#include "audit/component.h"
#include "audit/check.h"
#include "core/error.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct audit_comp {
    cs_http_client *client;
    cs_audit_http http;
    cs_audit_scheduler *sched;
    char origin[160];
    void (*done)(void *arg);
    void *done_arg;
} audit_comp;

static void log_report(void *arg, const char *subject, const char *body, size_t len,
                       const char *format, const char *const *channels, size_t nchannels)
{
    CS_INFO("audit",
            "%s: %zu bytes of %s report; %zu channel(s) configured, no sender hooked "
            "(src/notify/)",
            subject, len, format, nchannels);
}

static cs_audit_report_hook report_hook = log_report;
static void *report_arg;

void cs_audit_set_report_hook(cs_audit_report_hook hook, void *arg)
{
    report_hook = hook ? hook : log_report;
    report_arg = arg;
}

int cs_audit_component_start(cs_runtime *rt, void *conf, void **state)
{
    const cs_audit_config *cfg = conf;
    audit_comp *a = calloc(1, sizeof *a);
    if (!a)
        return CS_ENOMEM;
    snprintf(a->origin, sizeof a->origin, "audit@%s", rt->node ? rt->node : "local");
    int rc = cs_audit_http_client_new(rt->loop, &a->client);
    if (rc) {
        free(a);
        return rc;
    }
    cs_audit_http_over(a->client, &a->http);
    cs_audit_sched_opts o = {.loop = rt->loop,
                             .bus = rt->bus,
                             .origin = a->origin,
                             .cfg = cfg,
                             .http = &a->http,
                             .mask_ips = cfg->mask_ips,
                             .report = report_hook,
                             .report_arg = report_arg};
    if ((rc = cs_audit_scheduler_new(&o, &a->sched)) || (rc = cs_audit_scheduler_start(a->sched))) {
        cs_http_client_close(a->client, free, a);
        return rc;
    }
    *state = a;
    return 0;
}

static void client_closed(void *arg)
{
    audit_comp *a = arg;
    void (*done)(void *) = a->done;
    void *darg = a->done_arg;
    free(a);
    if (done)
        done(darg);
}

static void sched_closed(void *arg)
{
    audit_comp *a = arg;
    cs_http_client_close(a->client, client_closed, a);
}

void cs_audit_component_stop(void *state, void (*done)(void *arg), void *arg)
{
    audit_comp *a = state;
    a->done = done;
    a->done_arg = arg;
    cs_audit_scheduler_close(a->sched, sched_closed, a);
}
