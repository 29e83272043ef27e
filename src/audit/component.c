/* The audit component of `chainscope run` (see component.h). */
#include "audit/component.h"
#include "audit/antday.h"
#include "audit/audit_config.h"
#include "audit/check.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "bus/spool.h"
#include "notify/conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct audit_comp {
    cs_runtime *rt;
    cs_http_client *client;
    cs_audit_scheduler *sched;
    const cs_audit_config *orig; /* the runtime's; later ones (reloads) are ours to free */
    const cs_audit_config *cfg;  /* the newest */
    cs_spool *spool;             /* audit.report until a notifier acknowledges it */
    cs_antday *antday;           /* Antelope networks' day accounting (NULL: none) */
    cs_publisher pub;
    char origin[160];
    void (*done)(void *arg);
    void *done_arg;
} audit_comp;

static void log_report(void *arg, const cs_audit_report *r)
{
    (void)arg;
    CS_INFO("audit", "%s: %zu bytes of %s report; no channels (audit.report.channels)", r->subject,
            r->len, r->format);
}

static cs_audit_report_hook report_hook = NULL; /* NULL: the notification channels */
static void *report_arg;

void cs_audit_set_report_hook(cs_audit_report_hook hook, void *arg)
{
    report_hook = hook;
    report_arg = arg;
}

/* The report as an `audit.report` event for the notifier (in this process
 * or another): mail gets the text and HTML parts, chat the text, webhooks
 * and scripts the JSON document. Published through the spool: again until
 * a notifier acknowledges it. */
static void send_report(void *arg, const cs_audit_report *r)
{
    audit_comp *a = arg;
    if (!r->nchannels) {
        log_report(NULL, r);
        return;
    }
    cs_buf j;
    cs_buf_init(&j, 0);
    int rc = cs_buf_append_str(&j, "{\"type\":\"audit.report\",\"id\":");
    rc = rc || cs_json_string(&j, r->id, strlen(r->id));
    rc = rc || cs_buf_append_str(&j, ",\"subject\":");
    rc = rc || cs_json_string(&j, r->subject, strlen(r->subject));
    rc = rc || cs_buf_printf(&j, ",\"severity\":\"%s\",\"problems\":%u,\"due\":%lld,\"format\":",
                             r->problems ? "medium" : "low", r->problems, (long long)r->due);
    rc = rc || cs_json_string(&j, r->format, strlen(r->format));
    rc = rc || cs_buf_append_str(&j, ",\"text\":");
    rc = rc || cs_json_string(&j, r->text, r->text_len);
    if (strcmp(r->format, "json") == 0) /* the report itself, as an object */
        rc = rc || cs_buf_append_str(&j, ",\"report\":") || cs_buf_append(&j, r->body, r->len);
    rc = rc || cs_buf_putc(&j, '}');
    cs_event *ev = NULL;
    if (!rc) {
        cs_vw *w = cs_publisher_begin(&a->pub);
        cs_vw_kv_str(w, "id", r->id);
        cs_vw_kv_str(w, "subject", r->subject);
        cs_vw_kv_strn(w, "text", r->text, r->text_len);
        if (r->html)
            cs_vw_kv_str(w, "html", r->html);
        cs_vw_kv_str(w, "json", cs_buf_cstr(&j));
        cs_vw_key(w, "channels");
        cs_vw_array_begin(w);
        for (size_t i = 0; i < r->nchannels; i++)
            cs_vw_cstr(w, r->channels[i]);
        cs_vw_array_end(w);
        cs_vw_kv_u64(w, "problems", r->problems);
        rc = cs_publisher_emit(&a->pub, "audit.report", NULL, r->id, &ev);
    }
    if (!rc)
        rc = cs_spool_keep(a->spool, r->id, ev);
    if (ev)
        cs_event_unref(ev);
    if (rc)
        CS_ERROR("audit", "%s: report not published: %s", r->subject, cs_strerror(rc));
    else
        CS_INFO("audit", "%s: published for %zu channel%s", r->subject, r->nchannels,
                r->nchannels == 1 ? "" : "s");
    cs_buf_free(&j);
}

/* Report channels are checked when this process has a channels: section
 * (an audit-only process has none: its notifier checks them). */
static int want_channels(audit_comp *a, const cs_audit_config *cfg)
{
    const cs_channels_conf *cc =
        a->rt->config ? cs_config_section(a->rt->config, "channels") : NULL;
    if (report_hook || !cfg->nreport_channels || !cc)
        return 0;
    return cs_channels_check(cc, "audit.report.channels", (const char *const *)cfg->report_channels,
                             cfg->nreport_channels);
}

static void free_comp(audit_comp *a)
{
    void (*done)(void *) = a->done;
    void *darg = a->done_arg;
    if (a->cfg != a->orig)
        cs_audit_config_section_free((void *)a->cfg);
    cs_spool_close(a->spool);
    cs_publisher_free(&a->pub);
    free(a);
    if (done)
        done(darg);
}

static void client_closed(void *arg)
{
    free_comp(arg);
}

static void sched_closed(void *arg)
{
    audit_comp *a = arg;
    cs_http_client_close(a->client, client_closed, a);
}

int cs_audit_component_start(cs_runtime *rt, void *conf, void **state)
{
    const cs_audit_config *cfg = conf;
    audit_comp *a = calloc(1, sizeof *a);
    if (!a)
        return CS_ENOMEM;
    a->rt = rt;
    a->orig = a->cfg = cfg;
    snprintf(a->origin, sizeof a->origin, "audit@%s", rt->node ? rt->node : "local");
    cs_publisher_init(&a->pub, rt->bus, a->origin, "");
    cs_spool_opts so = {.loop = rt->loop, .bus = rt->bus, .name = "audit"};
    int rc = want_channels(a, cfg);
    if (rc || (rc = cs_spool_new(&so, &a->spool))) {
        cs_publisher_free(&a->pub);
        free(a);
        return rc;
    }
    if ((rc = cs_audit_http_client_new(rt->loop, &a->client))) {
        client_closed(a);
        return rc;
    }
    cs_audit_sched_opts o = {.loop = rt->loop,
                             .bus = rt->bus,
                             .origin = a->origin,
                             .cfg = cfg,
                             .http = a->client,
                             .mask_ips = cfg->mask_ips,
                             .report = report_hook ? report_hook : send_report,
                             .report_arg = report_hook ? report_arg : a};
    if ((rc = cs_audit_scheduler_new(&o, &a->sched)) || (rc = cs_audit_scheduler_start(a->sched)) ||
        (rc = cs_antday_open(rt->loop, rt->bus, cfg, cfg->db ? cfg->db : "chainscope-audit.db",
                             &a->antday))) {
        if (a->sched)
            cs_audit_scheduler_close(a->sched, sched_closed, a);
        else
            cs_http_client_close(a->client, client_closed, a);
        return rc;
    }
    *state = a;
    return 0;
}

static void antday_closed(void *arg)
{
    audit_comp *a = arg;
    cs_audit_scheduler_close(a->sched, sched_closed, a);
}

void cs_audit_component_stop(void *state, void (*done)(void *arg), void *arg)
{
    audit_comp *a = state;
    a->done = done;
    a->done_arg = arg;
    cs_antday_close(a->antday, antday_closed, a); /* its last write, then the scheduler */
}

/* The scheduler no longer uses old: free it unless it is the runtime's. */
static void retired(void *arg, const cs_audit_config *old)
{
    audit_comp *a = arg;
    if (old != a->orig && old != a->cfg)
        cs_audit_config_section_free((void *)old);
}

int cs_audit_component_reload(void *state, void *conf)
{
    audit_comp *a = state;
    cs_audit_config *cfg = conf;
    int rc = want_channels(a, cfg);
    const cs_audit_config *prev = a->cfg;
    a->cfg = cfg; /* before: `retired` may run inside the reload */
    if (!rc && a->antday)
        rc = cs_antday_networks(a->antday, cfg);
    if (!rc)
        rc = cs_audit_scheduler_reload(a->sched, cfg, retired, a);
    if (rc) {
        a->cfg = prev;
        cs_audit_config_section_free(cfg);
    }
    return rc;
}
