#include "core/event.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t cs_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int check_name(const char *s, size_t max, size_t *len)
{
    size_t n = s ? strlen(s) : 0;
    if (n > max)
        return CS_ELIMIT;
    *len = n;
    return 0;
}

/* A type is a subject: non-empty tokens separated by single dots, no
 * wildcards, no spaces. */
static int check_type(const char *t, size_t n)
{
    if (n == 0 || n > CS_EVENT_MAX_TYPE)
        return CS_EINVAL;
    size_t tok = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c == '.') {
            if (tok == 0)
                return CS_EINVAL;
            tok = 0;
            continue;
        }
        if (c <= ' ' || c == '*' || c == '>' || c == 0x7f)
            return CS_EINVAL;
        tok++;
    }
    return tok ? 0 : CS_EINVAL;
}

static cs_event *alloc_event(size_t wire_len, size_t strs)
{
    cs_event *e = malloc(sizeof *e + wire_len + strs);
    if (!e)
        return NULL;
    atomic_init(&e->refs, 1);
    e->wire_len = wire_len;
    e->wire = (const uint8_t *)(e + 1);
    return e;
}

/* Points the envelope strings at NUL-terminated copies after the record. */
static void set_strings(cs_event *e, const char *const src[4], const size_t len[4])
{
    char *s = (char *)(e + 1) + e->wire_len;
    const char **dst[4] = {&e->origin, &e->network, &e->type, &e->key};
    for (int i = 0; i < 4; i++) {
        memcpy(s, src[i], len[i]);
        s[len[i]] = 0;
        *dst[i] = s;
        s += len[i] + 1;
    }
}

int cs_event_new2(const cs_event_hdr *h, const uint8_t *payload, size_t plen, cs_event **out)
{
    size_t len[4];
    const char *src[4] = {h->origin ? h->origin : "", h->network ? h->network : "",
                          h->type ? h->type : "", h->key ? h->key : ""};
    int rc;
    *out = NULL;
    if ((rc = check_name(src[0], CS_EVENT_MAX_NAME, &len[0])) ||
        (rc = check_name(src[1], CS_EVENT_MAX_NAME, &len[1])) ||
        (rc = check_name(src[2], CS_EVENT_MAX_TYPE, &len[2])) ||
        (rc = check_name(src[3], CS_EVENT_MAX_NAME, &len[3])))
        return rc;
    if ((rc = check_type(src[2], len[2])))
        return rc;
    if (plen == 0 || payload[0] != CS_VT_OBJECT)
        return CS_ETYPE;
    size_t wire_len = 1 + 10 + 8 + plen;
    for (int i = 0; i < 4; i++)
        wire_len += 2 + len[i];
    if (wire_len > CS_EVENT_MAX_SIZE)
        return CS_ELIMIT;
    cs_event *e = alloc_event(wire_len, len[0] + len[1] + len[2] + len[3] + 4);
    if (!e)
        return CS_ENOMEM;
    uint8_t *w = (uint8_t *)(e + 1), *p = w;
    e->seq = h->seq;
    e->time_ns = h->time_ns ? h->time_ns : cs_now_ns();
    *p++ = CS_EVENT_VERSION;
    p += cs_varint_put(p, e->seq);
    uint64_t t = (uint64_t)e->time_ns;
    for (int i = 0; i < 8; i++)
        *p++ = (uint8_t)(t >> (8 * i));
    for (int i = 0; i < 4; i++) {
        p += cs_varint_put(p, len[i]);
        memcpy(p, src[i], len[i]);
        p += len[i];
    }
    memcpy(p, payload, plen);
    if ((rc = cs_val_read(p, plen, &e->payload, NULL))) {
        free(e);
        return rc;
    }
    p += plen;
    /* The record is shorter than the bound used for the allocation: move the
     * strings' area right after it. */
    e->wire_len = (size_t)(p - w);
    set_strings(e, src, len);
    *out = e;
    return 0;
}

cs_event *cs_event_new(const cs_event_hdr *h, const uint8_t *payload, size_t len)
{
    cs_event *e;
    return cs_event_new2(h, payload, len, &e) == 0 ? e : NULL;
}

/* A record's parts, as views into its bytes. */
typedef struct parsed {
    uint64_t seq;
    int64_t time_ns;
    const char *s[4]; /* origin, network, type, key */
    size_t len[4];
    const uint8_t *payload;
    size_t plen;
} parsed;

/* Parses and validates a whole record. */
static int parse(const uint8_t *p, size_t n, parsed *r)
{
    uint64_t *seq = &r->seq;
    int64_t *time_ns = &r->time_ns;
    const char **s = r->s;
    size_t *len = r->len;
    const uint8_t *q = p, *end = p + n;
    int rc;
    if (n > CS_EVENT_MAX_SIZE)
        return CS_ELIMIT;
    if (q >= end)
        return CS_ETRUNC;
    if (*q++ != CS_EVENT_VERSION)
        return CS_EUNSUPPORTED;
    if ((rc = cs_varint_get(&q, end, seq)))
        return rc;
    if (end - q < 8)
        return CS_ETRUNC;
    uint64_t t = 0;
    for (int i = 0; i < 8; i++)
        t |= (uint64_t)q[i] << (8 * i);
    *time_ns = (int64_t)t;
    q += 8;
    for (int i = 0; i < 4; i++) {
        uint64_t l;
        if ((rc = cs_varint_get(&q, end, &l)))
            return rc;
        if (l > (i == 2 ? CS_EVENT_MAX_TYPE : CS_EVENT_MAX_NAME))
            return CS_ELIMIT;
        if ((uint64_t)(end - q) < l)
            return CS_ETRUNC;
        s[i] = (const char *)q;
        len[i] = (size_t)l;
        /* docs/protocol.md: UTF-8 without NUL, as the payload's strings */
        if (memchr(q, 0, l) || !cs_utf8_valid(q, (size_t)l))
            return CS_EPARSE;
        q += l;
    }
    if ((rc = check_type(s[2], len[2])))
        return CS_EPARSE;
    if (q >= end || *q != CS_VT_OBJECT)
        return q >= end ? CS_ETRUNC : CS_ETYPE;
    if ((rc = cs_val_validate(q, (size_t)(end - q))))
        return rc;
    r->payload = q;
    r->plen = (size_t)(end - q);
    return 0;
}

int cs_event_check(const uint8_t *p, size_t n, const char **type, size_t *type_len)
{
    parsed r;
    int rc = parse(p, n, &r);
    if (rc == 0 && type) {
        *type = r.s[2];
        *type_len = r.len[2];
    }
    return rc;
}

int cs_event_decode(const uint8_t *p, size_t n, cs_event **out)
{
    parsed r;
    *out = NULL;
    int rc = parse(p, n, &r);
    if (rc)
        return rc;
    cs_event *e = alloc_event(n, r.len[0] + r.len[1] + r.len[2] + r.len[3] + 4);
    if (!e)
        return CS_ENOMEM;
    uint8_t *w = (uint8_t *)(e + 1);
    memcpy(w, p, n);
    e->seq = r.seq;
    e->time_ns = r.time_ns;
    /* String views must point into our own copy. */
    const char *own[4];
    for (int i = 0; i < 4; i++)
        own[i] = (const char *)w + (r.s[i] - (const char *)p);
    set_strings(e, own, r.len);
    cs_val_read(w + (r.payload - p), r.plen, &e->payload, NULL);
    *out = e;
    return 0;
}

void cs_event_unref(cs_event *e)
{
    if (e && atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1)
        free(e);
}

static void str_val(cs_val *v, const char *s)
{
    memset(v, 0, sizeof *v);
    v->kind = CS_VAL_STR;
    v->p = (const uint8_t *)s;
    v->n = strlen(s);
}

int cs_event_field(const cs_event *e, const char *path, size_t len, cs_val *out)
{
#define IS(name) (len == sizeof(name) - 1 && memcmp(path, name, len) == 0)
    if (IS("type")) {
        str_val(out, e->type);
        return 0;
    }
    if (IS("network")) {
        str_val(out, e->network);
        return 0;
    }
    if (IS("origin")) {
        str_val(out, e->origin);
        return 0;
    }
    if (IS("key")) {
        str_val(out, e->key);
        return 0;
    }
    if (IS("seq") || IS("time")) {
        memset(out, 0, sizeof *out);
        out->kind = CS_VAL_INT;
        if (path[0] == 's') {
            out->u = e->seq;
        } else if (e->time_ns < 0) {
            out->neg = true;
            out->i = e->time_ns;
        } else {
            out->u = (uint64_t)e->time_ns;
        }
        return 0;
    }
#undef IS
    if (len > 8 && memcmp(path, "payload.", 8) == 0) {
        path += 8;
        len -= 8;
    }
    return cs_val_path(&e->payload, path, len, out);
}
