#include "core/json.h"
#include "core/error.h"
#include "core/u256.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char hexd[] = "0123456789abcdef";

int cs_json_string(cs_buf *out, const char *s, size_t n)
{
    /* Worst case: every byte becomes \u00XX. */
    int rc = cs_buf_reserve(out, n * 6 + 2);
    if (rc)
        return rc;
    uint8_t *d = out->data + out->len;
    *d++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            *d++ = '\\';
            *d++ = '"';
            break;
        case '\\':
            *d++ = '\\';
            *d++ = '\\';
            break;
        case '\n':
            *d++ = '\\';
            *d++ = 'n';
            break;
        case '\r':
            *d++ = '\\';
            *d++ = 'r';
            break;
        case '\t':
            *d++ = '\\';
            *d++ = 't';
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                memcpy(d, "\\u00", 4);
                d[4] = (uint8_t)hexd[c >> 4];
                d[5] = (uint8_t)hexd[c & 15];
                d += 6;
            } else {
                *d++ = c;
            }
        }
    }
    *d++ = '"';
    out->len = (size_t)(d - out->data);
    return 0;
}

static int hex_bytes(cs_buf *out, const uint8_t *p, size_t n)
{
    int rc = cs_buf_reserve(out, n * 2 + 4);
    if (rc)
        return rc;
    uint8_t *d = out->data + out->len;
    *d++ = '"';
    *d++ = '0';
    *d++ = 'x';
    for (size_t i = 0; i < n; i++) {
        *d++ = (uint8_t)hexd[p[i] >> 4];
        *d++ = (uint8_t)hexd[p[i] & 15];
    }
    *d++ = '"';
    out->len = (size_t)(d - out->data);
    return 0;
}

static int json_value(cs_buf *out, const cs_val *v, int depth)
{
    char tmp[96];
    int rc = 0;
    if (depth > CS_VALUE_MAX_DEPTH)
        return CS_ELIMIT;
    switch (v->kind) {
    case CS_VAL_NULL:
        return cs_buf_append(out, "null", 4);
    case CS_VAL_BOOL:
        return v->b ? cs_buf_append(out, "true", 4) : cs_buf_append(out, "false", 5);
    case CS_VAL_INT: {
        /* past 2^53 - 1 a double (JavaScript's number) loses digits: a string */
        bool exact = v->neg ? v->i >= -CS_JSON_MAX_SAFE : v->u <= (uint64_t)CS_JSON_MAX_SAFE;
        const char *q = exact ? "" : "\"";
        int n = v->neg ? snprintf(tmp, sizeof tmp, "%s%lld%s", q, (long long)v->i, q)
                       : snprintf(tmp, sizeof tmp, "%s%llu%s", q, (unsigned long long)v->u, q);
        return cs_buf_append(out, tmp, (size_t)n);
    }
    case CS_VAL_BIG: {
        cs_u256 x;
        cs_u256_from_be(&x, v->p, v->n);
        tmp[0] = '"';
        tmp[1] = '-';
        size_t off = v->neg ? 2 : 1;
        size_t n = cs_u256_to_dec(&x, tmp + off);
        tmp[off + n] = '"';
        return cs_buf_append(out, tmp, off + n + 1);
    }
    case CS_VAL_DOUBLE: {
        if (!isfinite(v->d))
            return cs_buf_append(out, "null", 4);
        int n = snprintf(tmp, sizeof tmp, "%.17g", v->d);
        /* Prefer the shortest form that reads back the same. */
        for (int prec = 1; prec < 17; prec++) {
            char t2[64];
            int m = snprintf(t2, sizeof t2, "%.*g", prec, v->d);
            if (strtod(t2, NULL) == v->d) {
                memcpy(tmp, t2, (size_t)m + 1);
                n = m;
                break;
            }
        }
        /* Keep it a JSON number that reads as a double, not an integer. */
        if (!strpbrk(tmp, ".eE")) {
            memcpy(tmp + n, ".0", 3);
            n += 2;
        }
        return cs_buf_append(out, tmp, (size_t)n);
    }
    case CS_VAL_STR:
        return cs_json_string(out, (const char *)v->p, v->n);
    case CS_VAL_BYTES:
        return hex_bytes(out, v->p, v->n);
    case CS_VAL_ARRAY:
    case CS_VAL_OBJECT: {
        bool obj = v->kind == CS_VAL_OBJECT;
        if ((rc = cs_buf_putc(out, obj ? '{' : '[')))
            return rc;
        cs_val_iter it;
        cs_val item;
        const char *k;
        size_t kl;
        bool first = true;
        cs_val_iter_init(&it, v);
        while ((rc = cs_val_next(&it, &k, &kl, &item)) == 1) {
            if (!first && (rc = cs_buf_putc(out, ',')))
                return rc;
            first = false;
            if (obj && ((rc = cs_json_string(out, k, kl)) || (rc = cs_buf_putc(out, ':'))))
                return rc;
            if ((rc = json_value(out, &item, depth + 1)))
                return rc;
        }
        if (rc < 0)
            return rc;
        return cs_buf_putc(out, obj ? '}' : ']');
    }
    }
    return CS_EINVAL;
}

int cs_json_value(cs_buf *out, const cs_val *v)
{
    return json_value(out, v, 0);
}

int cs_json_event(cs_buf *out, const cs_event *e)
{
    int rc;
    if ((rc = cs_buf_printf(out, "{\"seq\":%llu,\"time\":%lld,\"origin\":",
                            (unsigned long long)e->seq, (long long)e->time_ns)) ||
        (rc = cs_json_string(out, e->origin, strlen(e->origin))) ||
        (rc = cs_buf_append_str(out, ",\"network\":")) ||
        (rc = cs_json_string(out, e->network, strlen(e->network))) ||
        (rc = cs_buf_append_str(out, ",\"type\":")) ||
        (rc = cs_json_string(out, e->type, strlen(e->type))) ||
        (rc = cs_buf_append_str(out, ",\"key\":")) ||
        (rc = cs_json_string(out, e->key, strlen(e->key))) ||
        (rc = cs_buf_append_str(out, ",\"payload\":")) || (rc = cs_json_value(out, &e->payload)))
        return rc;
    return cs_buf_putc(out, '}');
}

/* ---- input ------------------------------------------------------------- */

static void from_json(cs_vw *w, struct json_object *o, int depth)
{
    if (depth > CS_VALUE_MAX_DEPTH) {
        if (!w->err)
            w->err = CS_ELIMIT;
        return;
    }
    switch (json_object_get_type(o)) {
    case json_type_null:
        cs_vw_null(w);
        break;
    case json_type_boolean:
        cs_vw_bool(w, json_object_get_boolean(o));
        break;
    case json_type_int: {
        /* json-c keeps integers above INT64_MAX as uint64. */
        int64_t i = json_object_get_int64(o);
        if (i == INT64_MAX)
            cs_vw_u64(w, json_object_get_uint64(o));
        else
            cs_vw_i64(w, i);
        break;
    }
    case json_type_double:
        cs_vw_double(w, json_object_get_double(o));
        break;
    case json_type_string:
        cs_vw_str(w, json_object_get_string(o), (size_t)json_object_get_string_len(o));
        break;
    case json_type_array: {
        cs_vw_array_begin(w);
        size_t n = json_object_array_length(o);
        for (size_t i = 0; i < n; i++)
            from_json(w, json_object_array_get_idx(o, i), depth + 1);
        cs_vw_array_end(w);
        break;
    }
    case json_type_object: {
        cs_vw_object_begin(w);
        json_object_object_foreach(o, key, val)
        {
            cs_vw_key(w, key);
            from_json(w, val, depth + 1);
        }
        cs_vw_object_end(w);
        break;
    }
    }
}

/* Parses text with json-c, reporting line:col on failure. */
static struct json_object *parse_text(const char *text, size_t n, char *err, size_t errlen)
{
    struct json_tokener *tok = json_tokener_new_ex(CS_VALUE_MAX_DEPTH + 2);
    if (!tok) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* strings become str values, which must be UTF-8 (core/value.h) */
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    struct json_object *o = json_tokener_parse_ex(tok, text, (int)n);
    enum json_tokener_error je = json_tokener_get_error(tok);
    size_t off = json_tokener_get_parse_end(tok);
    if (o && je == json_tokener_success) {
        /* Only whitespace may follow the value. */
        while (off < n &&
               (text[off] == ' ' || text[off] == '\t' || text[off] == '\n' || text[off] == '\r'))
            off++;
        if (off < n) {
            json_object_put(o);
            o = NULL;
            je = json_tokener_error_parse_unexpected;
        }
    } else if (je == json_tokener_continue) {
        je = json_tokener_error_parse_eof;
    }
    if (!o || je != json_tokener_success) {
        size_t line = 1, col = 1;
        for (size_t i = 0; i < off && i < n; i++) {
            if (text[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        snprintf(err, errlen, "invalid JSON at %zu:%zu: %s", line, col,
                 je == json_tokener_success ? "unexpected text after the value"
                                            : json_tokener_error_desc(je));
        if (o)
            json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

int cs_json_parse_value(const char *text, size_t n, cs_vw *w, char *err, size_t errlen)
{
    struct json_object *o = parse_text(text, n, err, errlen);
    if (!o)
        return CS_EPARSE;
    from_json(w, o, 0);
    json_object_put(o);
    int rc = cs_vw_error(w);
    if (rc)
        snprintf(err, errlen, "cannot encode value: %s", cs_strerror(rc));
    return rc;
}

static const char *env_str(struct json_object *o, const char *k, const char *dflt)
{
    struct json_object *v;
    if (json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return dflt;
}

static bool is_envelope(const char *k)
{
    static const char *names[] = {"seq", "time", "origin", "network", "type", "key", "payload"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(k, names[i]) == 0)
            return true;
    return false;
}

int cs_json_parse_event(const char *text, size_t n, const cs_event_hdr *d, cs_event **out,
                        char *err, size_t errlen)
{
    *out = NULL;
    struct json_object *o = parse_text(text, n, err, errlen);
    if (!o)
        return CS_EPARSE;
    int rc = 0;
    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, errlen, "an event must be a JSON object");
        json_object_put(o);
        return CS_ETYPE;
    }
    cs_event_hdr h = {0};
    if (d)
        h = *d;
    h.origin = env_str(o, "origin", h.origin);
    h.network = env_str(o, "network", h.network);
    h.type = env_str(o, "type", h.type);
    h.key = env_str(o, "key", h.key);
    struct json_object *v;
    if (json_object_object_get_ex(o, "seq", &v) && json_object_is_type(v, json_type_int))
        h.seq = json_object_get_uint64(v);
    if (json_object_object_get_ex(o, "time", &v) && json_object_is_type(v, json_type_int))
        h.time_ns = json_object_get_int64(v);
    if (!h.type || !*h.type) {
        snprintf(err, errlen, "the event has no type (give \"type\" or --type)");
        json_object_put(o);
        return CS_EINVAL;
    }
    cs_vw w;
    cs_vw_init(&w, CS_EVENT_MAX_SIZE);
    if (json_object_object_get_ex(o, "payload", &v)) {
        if (!json_object_is_type(v, json_type_object)) {
            snprintf(err, errlen, "\"payload\" must be a JSON object");
            rc = CS_ETYPE;
            goto done;
        }
        from_json(&w, v, 1);
    } else {
        cs_vw_object_begin(&w);
        json_object_object_foreach(o, key, val)
        {
            if (is_envelope(key))
                continue;
            cs_vw_key(&w, key);
            from_json(&w, val, 2);
        }
        cs_vw_object_end(&w);
    }
    if ((rc = cs_vw_error(&w))) {
        snprintf(err, errlen, "cannot encode payload: %s", cs_strerror(rc));
        goto done;
    }
    if ((rc = cs_event_new2(&h, w.buf.data, w.buf.len, out)))
        snprintf(err, errlen, "invalid event (type \"%s\"): %s", h.type, cs_strerror(rc));
done:
    cs_vw_free(&w);
    json_object_put(o);
    return rc;
}
