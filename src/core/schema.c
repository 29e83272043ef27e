#include "core/schema.h"
#include "core/error.h"
#include "core/subject.h"

#include <stdio.h>
#include <string.h>

/* ---- the foundation's own events -------------------------------------- */

static const cs_field_def f_started[] = {
    {"version", "string", false, "chainscope version"},
    {"node", "string", false, "instance name (config `node`)"},
    {"components", "array", false, "names of the components started, as strings"},
    {NULL, NULL, false, NULL},
};

static const cs_field_def f_stopping[] = {
    {"signal", "string", false, "what asked for the stop: SIGINT, SIGTERM"},
    {NULL, NULL, false, NULL},
};

static const cs_field_def f_reloaded[] = {
    {"ok", "bool", false, "whether the new config was applied"},
    {"error", "string", true, "why it was not (file:line:col: ...)"},
    {NULL, NULL, false, NULL},
};

static const cs_field_def f_cutoff[] = {
    {"client", "u64", false, "client number within this server"},
    {"name", "string", false, "the name the client gave in HELLO"},
    {"reason", "string", false, "why it was disconnected"},
    {NULL, NULL, false, NULL},
};

static const cs_field_def f_sample[] = {
    {"n", "u64", false, "counter of the sample"},
    {"text", "string", true, "free text"},
    {NULL, NULL, false, NULL},
};

const cs_event_def cs_schema_core[] = {
    {"chainscope.started", "run", "the process started its components", f_started},
    {"chainscope.stopping", "run", "the process is shutting down", f_stopping},
    {"chainscope.reloaded", "run", "SIGHUP re-read the config file", f_reloaded},
    {"logserver.client.dropped", "logserver",
     "a log server client was disconnected: too slow, malformed frame or wrong token", f_cutoff},
    {"demo.sample", "publish (demo)", "sample events published by `make demo` and tests", f_sample},
    {NULL, NULL, NULL, NULL},
};

/* ---- the registry ------------------------------------------------------ */

/* The groups known so far: the core's own, then each component's in the
 * order they were registered. Filled at start, before any thread runs. */
static const cs_event_def *groups[CS_SCHEMA_MAX_GROUPS + 1] = {cs_schema_core};
static size_t ngroups = 1;

int cs_schema_register(const cs_event_def *group)
{
    if (!group)
        return CS_EINVAL;
    for (size_t g = 0; g < ngroups; g++)
        if (groups[g] == group)
            return 0;
    if (ngroups == CS_SCHEMA_MAX_GROUPS)
        return CS_ELIMIT;
    groups[ngroups++] = group;
    return 0;
}

const cs_event_def *cs_schema_group(size_t i)
{
    return i < ngroups ? groups[i] : NULL;
}

const cs_event_def *cs_schema_find(const char *type)
{
    const cs_event_def *family = NULL;
    size_t tl = strlen(type);
    for (size_t g = 0; g < ngroups; g++)
        for (const cs_event_def *d = groups[g]; d->type; d++) {
            if (strcmp(d->type, type) == 0)
                return d;
            size_t dl = strlen(d->type);
            if (dl > 2 && strcmp(d->type + dl - 2, ".*") == 0 &&
                cs_subject_match(d->type, dl, type, tl))
                family = d;
        }
    return family;
}

static bool type_ok(const char *want, const cs_val *v)
{
    if (strcmp(want, "any") == 0)
        return true;
    if (strcmp(want, "string") == 0)
        return v->kind == CS_VAL_STR;
    if (strcmp(want, "bool") == 0)
        return v->kind == CS_VAL_BOOL;
    if (strcmp(want, "u64") == 0)
        return v->kind == CS_VAL_INT && !v->neg;
    if (strcmp(want, "i64") == 0)
        return v->kind == CS_VAL_INT;
    if (strcmp(want, "u256") == 0)
        return v->kind == CS_VAL_INT || v->kind == CS_VAL_BIG;
    if (strcmp(want, "double") == 0)
        return v->kind == CS_VAL_DOUBLE || v->kind == CS_VAL_INT;
    if (strcmp(want, "bytes") == 0)
        return v->kind == CS_VAL_BYTES;
    if (strcmp(want, "object") == 0)
        return v->kind == CS_VAL_OBJECT;
    if (strncmp(want, "array", 5) == 0)
        return v->kind == CS_VAL_ARRAY;
    return false;
}

int cs_schema_check(const cs_event *ev, char *err, size_t errlen)
{
    const cs_event_def *d = cs_schema_find(ev->type);
    if (!d) {
        snprintf(err, errlen, "%s: not in the schema", ev->type);
        return CS_ENOTFOUND;
    }
    /* Required top-level fields present and typed. */
    for (const cs_field_def *f = d->fields; f->name; f++) {
        if (strchr(f->name, '.') || strchr(f->name, '['))
            continue;
        cs_val v;
        int rc = cs_val_get(&ev->payload, f->name, strlen(f->name), &v);
        if (rc == CS_ENOTFOUND) {
            if (f->optional)
                continue;
            snprintf(err, errlen, "%s: field %s is missing", ev->type, f->name);
            return CS_EINVAL;
        }
        if (rc)
            return rc;
        if (!type_ok(f->type, &v) && !(f->optional && v.kind == CS_VAL_NULL)) {
            snprintf(err, errlen, "%s: field %s is not a %s", ev->type, f->name, f->type);
            return CS_ETYPE;
        }
    }
    /* No field that the schema does not list. */
    cs_val_iter it;
    cs_val item;
    const char *k;
    size_t kl;
    int rc;
    cs_val_iter_init(&it, &ev->payload);
    while ((rc = cs_val_next(&it, &k, &kl, &item)) == 1) {
        bool known = false;
        for (const cs_field_def *f = d->fields; f->name && !known; f++)
            known = strlen(f->name) == kl && memcmp(f->name, k, kl) == 0;
        if (!known) {
            snprintf(err, errlen, "%s: field %.*s is not in the schema", ev->type, (int)kl, k);
            return CS_EINVAL;
        }
    }
    return rc < 0 ? rc : 0;
}
