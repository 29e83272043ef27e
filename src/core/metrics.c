#include "core/metrics.h"
#include "core/error.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double default_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,    0.25,  0.5,    1,     2.5,  5,     10};

struct cs_mseries {
    cs_mseries *next;
    struct cs_mfamily *fam;
    char **values;
    double value;   /* counter/gauge; histogram: sum */
    uint64_t count; /* histogram */
    uint64_t *bucket_counts;
};

struct cs_mfamily {
    cs_mfamily *next;
    cs_metrics *reg;
    cs_metric_kind kind;
    char *name, *help;
    char *labels[CS_METRICS_MAX_LABELS];
    size_t nlabels;
    double *buckets;
    size_t nbuckets;
    cs_mseries *series;
    size_t nseries;
};

struct collector {
    cs_metrics_collect_cb cb;
    void *arg;
};

struct cs_metrics {
    cs_mfamily *families, **tail;
    cs_mseries *dropped;
    struct collector *collectors;
    size_t ncollectors, capcollectors;
};

static bool valid_name(const char *s)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == ':' ||
                  (p != s && ch >= '0' && ch <= '9');
        if (!ok)
            return false;
    }
    return true;
}

int cs_metrics_new(cs_metrics **out)
{
    cs_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return CS_ENOMEM;
    m->tail = &m->families;
    m->dropped = cs_metrics_counter(m, "chainscope_metrics_series_dropped_total",
                                    "Label sets dropped because a family reached its bound.");
    *out = m;
    return 0;
}

static void series_free(cs_mseries *s, size_t nlabels)
{
    for (size_t i = 0; i < nlabels; i++)
        free(s->values[i]);
    free(s->values);
    free(s->bucket_counts);
    free(s);
}

void cs_metrics_free(cs_metrics *m)
{
    if (!m)
        return;
    cs_mfamily *f = m->families;
    while (f) {
        cs_mfamily *nf = f->next;
        cs_mseries *s = f->series;
        while (s) {
            cs_mseries *ns = s->next;
            series_free(s, f->nlabels);
            s = ns;
        }
        for (size_t i = 0; i < f->nlabels; i++)
            free(f->labels[i]);
        free(f->name);
        free(f->help);
        free(f->buckets);
        free(f);
        f = nf;
    }
    free(m->collectors);
    free(m);
}

cs_mfamily *cs_metrics_family(cs_metrics *m, cs_metric_kind kind, const char *name,
                              const char *help, const char *const *labels, const double *buckets,
                              size_t nbuckets)
{
    size_t nl = 0;
    while (labels && labels[nl])
        nl++;
    if (!valid_name(name) || nl > CS_METRICS_MAX_LABELS)
        return NULL;
    for (cs_mfamily *f = m->families; f; f = f->next) {
        if (strcmp(f->name, name) != 0)
            continue;
        if (f->kind != kind || f->nlabels != nl)
            return NULL;
        for (size_t i = 0; i < nl; i++)
            if (strcmp(f->labels[i], labels[i]) != 0)
                return NULL;
        return f;
    }
    cs_mfamily *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->reg = m;
    f->kind = kind;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    for (size_t i = 0; i < nl; i++) {
        if (!valid_name(labels[i]) || strncmp(labels[i], "__", 2) == 0)
            goto fail;
        f->labels[i] = strdup(labels[i]);
        f->nlabels = i + 1;
    }
    if (kind == CS_METRIC_HISTOGRAM) {
        if (!buckets) {
            buckets = default_buckets;
            nbuckets = sizeof default_buckets / sizeof *default_buckets;
        }
        f->buckets = malloc(nbuckets * sizeof *f->buckets);
        if (!f->buckets)
            goto fail;
        memcpy(f->buckets, buckets, nbuckets * sizeof *buckets);
        f->nbuckets = nbuckets;
    }
    if (!f->name || !f->help)
        goto fail;
    *m->tail = f;
    m->tail = &f->next;
    return f;
fail:
    for (size_t i = 0; i < f->nlabels; i++)
        free(f->labels[i]);
    free(f->name);
    free(f->help);
    free(f->buckets);
    free(f);
    return NULL;
}

static bool same_values(const cs_mfamily *f, const cs_mseries *s, const char *const *values)
{
    for (size_t i = 0; i < f->nlabels; i++)
        if (strcmp(s->values[i], values[i] ? values[i] : "") != 0)
            return false;
    return true;
}

cs_mseries *cs_mfamily_series(cs_mfamily *f, const char *const *values)
{
    if (!f)
        return NULL;
    for (cs_mseries *s = f->series; s; s = s->next)
        if (same_values(f, s, values))
            return s;
    if (f->nseries >= CS_METRICS_MAX_SERIES) {
        if (f->reg->dropped)
            cs_mseries_inc(f->reg->dropped, 1);
        return NULL;
    }
    cs_mseries *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->fam = f;
    s->values = calloc(f->nlabels + 1, sizeof *s->values);
    if (f->kind == CS_METRIC_HISTOGRAM)
        s->bucket_counts = calloc(f->nbuckets, sizeof *s->bucket_counts);
    if (!s->values || (f->kind == CS_METRIC_HISTOGRAM && !s->bucket_counts)) {
        free(s->values);
        free(s->bucket_counts);
        free(s);
        return NULL;
    }
    for (size_t i = 0; i < f->nlabels; i++) {
        s->values[i] = strdup(values[i] ? values[i] : "");
        if (!s->values[i]) {
            series_free(s, i);
            return NULL;
        }
    }
    s->next = f->series;
    f->series = s;
    f->nseries++;
    return s;
}

void cs_mfamily_remove(cs_mfamily *f, const char *const *values)
{
    for (cs_mseries **pp = &f->series; *pp; pp = &(*pp)->next) {
        if (same_values(f, *pp, values)) {
            cs_mseries *s = *pp;
            *pp = s->next;
            series_free(s, f->nlabels);
            f->nseries--;
            return;
        }
    }
}

void cs_mseries_inc(cs_mseries *s, double v)
{
    if (s)
        s->value += v;
}

void cs_mseries_set(cs_mseries *s, double v)
{
    if (s)
        s->value = v;
}

void cs_mseries_observe(cs_mseries *s, double v)
{
    if (!s || !s->bucket_counts)
        return;
    s->value += v;
    s->count++;
    /* Buckets are counted per interval and made cumulative when rendered;
     * values above the last bound only reach the +Inf bucket (the count). */
    const cs_mfamily *f = s->fam;
    for (size_t b = 0; b < f->nbuckets; b++)
        if (v <= f->buckets[b]) {
            s->bucket_counts[b]++;
            break;
        }
}

cs_mseries *cs_metrics_counter(cs_metrics *m, const char *name, const char *help)
{
    return cs_mfamily_series(cs_metrics_family(m, CS_METRIC_COUNTER, name, help, NULL, NULL, 0),
                             NULL);
}

cs_mseries *cs_metrics_gauge(cs_metrics *m, const char *name, const char *help)
{
    return cs_mfamily_series(cs_metrics_family(m, CS_METRIC_GAUGE, name, help, NULL, NULL, 0),
                             NULL);
}

int cs_metrics_on_collect(cs_metrics *m, cs_metrics_collect_cb cb, void *arg)
{
    if (m->ncollectors == m->capcollectors) {
        size_t cap = m->capcollectors ? m->capcollectors * 2 : 8;
        struct collector *p = realloc(m->collectors, cap * sizeof *p);
        if (!p)
            return CS_ENOMEM;
        m->collectors = p;
        m->capcollectors = cap;
    }
    m->collectors[m->ncollectors++] = (struct collector){cb, arg};
    return 0;
}

void cs_metrics_off_collect(cs_metrics *m, cs_metrics_collect_cb cb, void *arg)
{
    for (size_t i = 0; i < m->ncollectors; i++)
        if (m->collectors[i].cb == cb && m->collectors[i].arg == arg) {
            m->collectors[i] = m->collectors[--m->ncollectors];
            return;
        }
}

static int fmt_double(char *out, size_t len, double v)
{
    if (isnan(v))
        return snprintf(out, len, "NaN");
    if (isinf(v))
        return snprintf(out, len, v > 0 ? "+Inf" : "-Inf");
    if (v == floor(v) && fabs(v) < 1e15)
        return snprintf(out, len, "%.0f", v);
    return snprintf(out, len, "%.17g", v);
}

static int label_value(cs_buf *out, const char *v)
{
    int rc = 0;
    for (const char *p = v; *p && !rc; p++) {
        if (*p == '\\')
            rc = cs_buf_append(out, "\\\\", 2);
        else if (*p == '"')
            rc = cs_buf_append(out, "\\\"", 2);
        else if (*p == '\n')
            rc = cs_buf_append(out, "\\n", 2);
        else
            rc = cs_buf_putc(out, *p);
    }
    return rc;
}

/* name{l1="v1",...,extra} */
static int series_name(cs_buf *out, const cs_mfamily *f, const cs_mseries *s, const char *suffix,
                       const char *extra_name, const char *extra_value)
{
    int rc = cs_buf_printf(out, "%s%s", f->name, suffix);
    if (rc)
        return rc;
    if (f->nlabels == 0 && !extra_name)
        return 0;
    rc = cs_buf_putc(out, '{');
    for (size_t i = 0; i < f->nlabels && !rc; i++) {
        rc = cs_buf_printf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
        if (!rc)
            rc = label_value(out, s->values[i]);
        if (!rc)
            rc = cs_buf_putc(out, '"');
    }
    if (!rc && extra_name)
        rc = cs_buf_printf(out, "%s%s=\"%s\"", f->nlabels ? "," : "", extra_name, extra_value);
    if (!rc)
        rc = cs_buf_putc(out, '}');
    return rc;
}

static int help_text(cs_buf *out, const char *h)
{
    int rc = 0;
    for (const char *p = h; *p && !rc; p++) {
        if (*p == '\\')
            rc = cs_buf_append(out, "\\\\", 2);
        else if (*p == '\n')
            rc = cs_buf_append(out, "\\n", 2);
        else
            rc = cs_buf_putc(out, *p);
    }
    return rc;
}

int cs_metrics_render(cs_metrics *m, cs_buf *out)
{
    static const char *kinds[] = {"counter", "gauge", "histogram"};
    for (size_t i = 0; i < m->ncollectors; i++)
        m->collectors[i].cb(m, m->collectors[i].arg);
    int rc = 0;
    char num[64];
    for (cs_mfamily *f = m->families; f && !rc; f = f->next) {
        if (!f->series)
            continue;
        rc = cs_buf_printf(out, "# HELP %s ", f->name);
        if (!rc)
            rc = help_text(out, f->help);
        if (!rc)
            rc = cs_buf_printf(out, "\n# TYPE %s %s\n", f->name, kinds[f->kind]);
        for (cs_mseries *s = f->series; s && !rc; s = s->next) {
            if (f->kind != CS_METRIC_HISTOGRAM) {
                fmt_double(num, sizeof num, s->value);
                rc = series_name(out, f, s, "", NULL, NULL);
                if (!rc)
                    rc = cs_buf_printf(out, " %s\n", num);
                continue;
            }
            uint64_t cum = 0;
            for (size_t b = 0; b < f->nbuckets && !rc; b++) {
                cum += s->bucket_counts[b];
                char le[64];
                fmt_double(le, sizeof le, f->buckets[b]);
                rc = series_name(out, f, s, "_bucket", "le", le);
                if (!rc)
                    rc = cs_buf_printf(out, " %llu\n", (unsigned long long)cum);
            }
            if (!rc)
                rc = series_name(out, f, s, "_bucket", "le", "+Inf");
            if (!rc)
                rc = cs_buf_printf(out, " %llu\n", (unsigned long long)s->count);
            fmt_double(num, sizeof num, s->value);
            if (!rc)
                rc = series_name(out, f, s, "_sum", NULL, NULL);
            if (!rc)
                rc = cs_buf_printf(out, " %s\n", num);
            if (!rc)
                rc = series_name(out, f, s, "_count", NULL, NULL);
            if (!rc)
                rc = cs_buf_printf(out, " %llu\n", (unsigned long long)s->count);
        }
    }
    return rc;
}

void cs_mcount_set(cs_mcount *c, double total)
{
    if (c->s && total > c->last)
        cs_mseries_inc(c->s, total - c->last);
    c->last = total;
}
