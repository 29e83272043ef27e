/* The human rendering of events (render.h). */
#include "cli/render.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/json.h"

/* Whether a string can be shown bare after "key=" and still be read back:
 * not empty, no space, quote or newline. */
static bool bare(const cs_val *v)
{
    return v->n && !memchr(v->p, ' ', v->n) && !memchr(v->p, '"', v->n) &&
           !memchr(v->p, '\n', v->n);
}

/* The length of s[0..n) cut to at most max bytes on a UTF-8 boundary. */
static size_t utf8_cut(const uint8_t *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    while (max > 0 && (s[max] & 0xc0) == 0x80)
        max--;
    return max;
}

/* One value, summarized when its text would pass CS_RENDER_FIELD_MAX. */
static int value(cs_buf *out, const cs_val *v)
{
    if (v->kind == CS_VAL_STR) {
        if (v->n <= CS_RENDER_FIELD_MAX && bare(v))
            return cs_buf_append(out, v->p, v->n);
        if (v->n <= CS_RENDER_FIELD_MAX)
            return cs_json_value(out, v);
        size_t k = utf8_cut(v->p, v->n, CS_RENDER_FIELD_MAX / 2);
        int rc = cs_json_string(out, (const char *)v->p, k);
        return rc ? rc : cs_buf_printf(out, "...(%zu bytes)", v->n);
    }
    if (v->kind == CS_VAL_BYTES && v->n * 2 + 2 > CS_RENDER_FIELD_MAX)
        return cs_buf_printf(out, "<%zu bytes>", v->n);
    if (v->kind != CS_VAL_ARRAY && v->kind != CS_VAL_OBJECT)
        return cs_json_value(out, v);
    size_t start = out->len;
    int rc = cs_json_value(out, v);
    if (rc || out->len - start <= CS_RENDER_FIELD_MAX)
        return rc;
    size_t bytes = out->len - start;
    out->len = start;
    if (v->kind == CS_VAL_OBJECT)
        return cs_buf_printf(out, "{%u field%s, %zu bytes}", v->count, v->count == 1 ? "" : "s",
                             bytes);
    return cs_buf_printf(out, "[%u item%s, %zu bytes]", v->count, v->count == 1 ? "" : "s", bytes);
}

/* " k=v" for the fields of obj, at most CS_RENDER_FIELDS_MAX of them. */
static int fields(cs_buf *out, const cs_val *obj)
{
    cs_val_iter it;
    cs_val v;
    const char *k;
    size_t kl;
    uint32_t shown = 0;
    int rc = 0;
    cs_val_iter_init(&it, obj);
    while (!rc && shown < CS_RENDER_FIELDS_MAX && cs_val_next(&it, &k, &kl, &v) == 1) {
        rc = cs_buf_printf(out, " %.*s=", (int)kl, k);
        if (!rc)
            rc = value(out, &v);
        shown++;
    }
    if (!rc && obj->count > shown)
        rc = cs_buf_printf(out, " +%u more field%s", obj->count - shown,
                           obj->count - shown == 1 ? "" : "s");
    return rc;
}

/* " name=<string at path>" when the payload has a string or number there. */
static int field_at(cs_buf *out, const cs_val *root, const char *name, const char *path)
{
    cs_val v;
    if (cs_val_path(root, path, strlen(path), &v) != 0 || v.kind == CS_VAL_NULL ||
        v.kind == CS_VAL_ARRAY || v.kind == CS_VAL_OBJECT)
        return 0;
    int rc = cs_buf_printf(out, " %s=", name);
    return rc ? rc : value(out, &v);
}

/* A string at path into buf (cut to its size), "" when absent. */
static void str_at(const cs_val *root, const char *path, char *buf, size_t len)
{
    cs_val v;
    buf[0] = 0;
    if (cs_val_path(root, path, strlen(path), &v) == 0 && v.kind == CS_VAL_STR)
        snprintf(buf, len, "%.*s", (int)v.n, (const char *)v.p);
}

/* The first match reason in a few words: "event Transfer(address,...):
 * value > 1000", "window count 1.2.3.4: 12 in 60 s (threshold 10)". */
static int reason(cs_buf *out, const cs_val *p)
{
    cs_buf r;
    cs_buf_init(&r, 4 * CS_RENDER_FIELD_MAX);
    char type[32], what[160], cond[200];
    str_at(p, "matchReasons[0].type", type, sizeof type);
    str_at(p, "matchReasons[0].signature", what, sizeof what);
    if (!what[0])
        str_at(p, "matchReasons[0].subject", what, sizeof what);
    str_at(p, "matchReasons[0].condition", cond, sizeof cond);
    cs_val w, n;
    if (strcmp(type, "window") == 0 && cs_val_get(p, "window", 6, &w) == 0) {
        char kind[16], group[64];
        str_at(&w, "kind", kind, sizeof kind);
        str_at(&w, "group", group, sizeof group);
        cs_val count, secs, thr;
        cs_buf_printf(&r, "window %s%s%s", kind, group[0] ? " " : "", group);
        if (cs_val_get(&w, "count", 5, &count) == 0 && cs_val_get(&w, "seconds", 7, &secs) == 0)
            cs_buf_printf(&r, ": %llu in %g s", (unsigned long long)count.u, secs.d);
        if (cs_val_get(&w, "threshold", 9, &thr) == 0 && thr.u)
            cs_buf_printf(&r, " (threshold %llu)", (unsigned long long)thr.u);
    } else {
        cs_buf_printf(&r, "%s%s%s", type[0] ? type : "match", what[0] ? " " : "", what);
        if (cond[0])
            cs_buf_printf(&r, ": %s", cond);
    }
    if (cs_val_get(p, "matchReasons", 12, &n) == 0 && n.kind == CS_VAL_ARRAY && n.count > 1)
        cs_buf_printf(&r, " (+%u more)", n.count - 1);
    int rc = cs_buf_append_str(out, " reason=");
    if (!rc)
        rc = cs_json_string(out, (const char *)r.data, r.len);
    cs_buf_free(&r);
    return rc;
}

/* alert.fired: the monitor (unless the key names it), severity, risk, the
 * transaction (or the matched event), the reason, the matched arguments. The alert document is
 * often 2 KB of JSON; its full form is in --json. */
static int alert(cs_buf *out, const cs_event *e, const cs_val *p)
{
    char name[128];
    str_at(p, "monitor.name", name, sizeof name);
    int rc = 0;
    if (strcmp(name, e->key) != 0) /* the key is the monitor's name */
        rc = field_at(out, p, "monitor", "monitor.name");
    if (!rc)
        rc = field_at(out, p, "severity", "severity");
    if (!rc)
        rc = field_at(out, p, "risk", "risk");
    if (!rc)
        rc = field_at(out, p, "tx", "transaction.hash");
    if (!rc)
        rc = field_at(out, p, "block", "block.number");
    if (!rc)
        rc = field_at(out, p, "event", "event.type");
    if (!rc)
        rc = field_at(out, p, "key", "event.key");
    if (!rc)
        rc = reason(out, p);
    cs_val args;
    if (!rc && cs_val_get(p, "args", 4, &args) == 0 && args.kind == CS_VAL_OBJECT)
        rc = fields(out, &args);
    return rc;
}

int cs_render_human(cs_buf *out, const cs_event *e)
{
    time_t sec = (time_t)(e->time_ns / 1000000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    int rc = cs_buf_printf(out, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s %s", tm.tm_year + 1900,
                           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                           (long)(e->time_ns % 1000000000 / 1000), e->network[0] ? e->network : "-",
                           e->type);
    if (!rc && e->key[0])
        rc = cs_buf_printf(out, " [%s]", e->key);
    if (!rc && e->payload.kind == CS_VAL_OBJECT)
        rc = strcmp(e->type, "alert.fired") == 0 ? alert(out, e, &e->payload)
                                                 : fields(out, &e->payload);
    else if (!rc && !(rc = cs_buf_putc(out, ' ')))
        rc = value(out, &e->payload);
    return rc ? rc : cs_buf_putc(out, '\n');
}
