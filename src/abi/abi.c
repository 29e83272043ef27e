/* JSON ABI loading, type grammar, canonical signatures and lookups.
 * Decoding lives in abi_decode.c. */
#include "abi/abi.h"
#include "core/buf.h"
#include "core/error.h"
#include "abi/keccak.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cs_abi {
    cs_abi_event *events;
    size_t nevents;
    cs_abi_func *funcs;
    size_t nfuncs;
    /* Open-addressing indexes (size a power of two, at least twice the
     * count): slot holds index + 1, 0 is empty. */
    uint32_t *ev_index;
    uint32_t *fn_index;
    size_t ev_slots, fn_slots;
};

/* ---- freeing ----------------------------------------------------------- */

static void params_free(cs_abi_param *ps, uint32_t n);

static void type_free(cs_abi_type *t)
{
    if (t->elem) {
        type_free(t->elem);
        free(t->elem);
    }
    params_free(t->comps, t->ncomps);
    memset(t, 0, sizeof *t);
}

static void params_free(cs_abi_param *ps, uint32_t n)
{
    if (!ps)
        return;
    for (uint32_t i = 0; i < n; i++) {
        free(ps[i].name);
        free(ps[i].key);
        type_free(&ps[i].type);
    }
    free(ps);
}

void cs_abi_free(cs_abi *abi)
{
    if (!abi)
        return;
    for (size_t i = 0; i < abi->nevents; i++) {
        free(abi->events[i].name);
        free(abi->events[i].signature);
        params_free(abi->events[i].inputs, abi->events[i].ninputs);
    }
    for (size_t i = 0; i < abi->nfuncs; i++) {
        free(abi->funcs[i].name);
        free(abi->funcs[i].signature);
        params_free(abi->funcs[i].inputs, abi->funcs[i].ninputs);
        params_free(abi->funcs[i].outputs, abi->funcs[i].noutputs);
    }
    free(abi->events);
    free(abi->funcs);
    free(abi->ev_index);
    free(abi->fn_index);
    free(abi);
}

/* ---- errors ------------------------------------------------------------ */

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* ---- types ------------------------------------------------------------- */

/* Parses an elementary type name s[0..n) ("uint", "bytes32", ...). */
static int elementary(const char *s, size_t n, cs_abi_type *t)
{
    memset(t, 0, sizeof *t);
    if ((n >= 5 && memcmp(s, "fixed", 5) == 0) || (n >= 6 && memcmp(s, "ufixed", 6) == 0))
        return CS_EUNSUPPORTED; /* no decoder implements fixed-point yet */
    unsigned num = 0;
    size_t i = n;
    while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
        i--;
    bool has_num = i < n;
    if (has_num) {
        if (s[i] == '0' || n - i > 3)
            return CS_EPARSE;
        for (size_t k = i; k < n; k++)
            num = num * 10 + (unsigned)(s[k] - '0');
    }
#define IS(w) (i == sizeof(w) - 1 && memcmp(s, w, i) == 0)
    if (IS("uint") || IS("int")) {
        if (!has_num)
            num = 256;
        if (num == 0 || num > 256 || num % 8)
            return CS_EPARSE;
        t->kind = s[0] == 'u' ? CS_ABI_UINT : CS_ABI_INT;
        t->size = (uint16_t)num;
    } else if (IS("bytes")) {
        if (!has_num) {
            t->kind = CS_ABI_BYTES;
        } else {
            if (num == 0 || num > 32)
                return CS_EPARSE;
            t->kind = CS_ABI_FBYTES;
            t->size = (uint16_t)num;
        }
    } else if (has_num) {
        return CS_EPARSE;
    } else if (IS("address")) {
        t->kind = CS_ABI_ADDRESS;
    } else if (IS("bool")) {
        t->kind = CS_ABI_BOOL;
    } else if (IS("string")) {
        t->kind = CS_ABI_STRING;
    } else if (IS("function")) {
        t->kind = CS_ABI_FUNCTION;
    } else {
        return CS_EPARSE;
    }
#undef IS
    return 0;
}

/* Computes dynamic and head for t, whose parts are already laid out.
 * Errors: CS_ELIMIT when a static type is too large. */
static int layout(cs_abi_type *t)
{
    switch (t->kind) {
    case CS_ABI_BYTES:
    case CS_ABI_STRING:
    case CS_ABI_ARRAY:
        t->dynamic = true;
        t->head = 32;
        return 0;
    case CS_ABI_FARRAY:
        t->dynamic = t->elem->dynamic;
        if (t->dynamic) {
            t->head = 32;
        } else {
            uint64_t sz = (uint64_t)t->len * t->elem->head;
            if (sz > CS_ABI_MAX_STATIC)
                return CS_ELIMIT;
            t->head = (uint32_t)sz;
        }
        return 0;
    case CS_ABI_TUPLE: {
        uint64_t sz = 0;
        t->dynamic = false;
        for (uint32_t i = 0; i < t->ncomps; i++) {
            t->dynamic |= t->comps[i].type.dynamic;
            sz += t->comps[i].type.head;
        }
        if (t->dynamic) {
            t->head = 32;
        } else {
            if (sz > CS_ABI_MAX_STATIC)
                return CS_ELIMIT;
            t->head = (uint32_t)sz;
        }
        return 0;
    }
    default:
        t->dynamic = false;
        t->head = 32;
        return 0;
    }
}

/* Applies array suffixes "[]", "[3][]" in s[0..n) to t (already laid out).
 * Each suffix wraps the type built so far. */
static int suffixes(const char *s, size_t n, cs_abi_type *t, int depth)
{
    size_t i = 0;
    while (i < n) {
        if (s[i] != '[')
            return CS_EPARSE;
        size_t j = i + 1;
        uint64_t len = 0;
        bool fixed = false;
        while (j < n && s[j] >= '0' && s[j] <= '9') {
            if (fixed && len == 0)
                return CS_EPARSE; /* leading zero */
            len = len * 10 + (uint64_t)(s[j] - '0');
            if (len > UINT32_MAX)
                return CS_ELIMIT;
            fixed = true;
            j++;
        }
        if (j >= n || s[j] != ']')
            return CS_EPARSE;
        if (fixed && len == 0)
            return CS_EUNSUPPORTED; /* T[0] */
        if (++depth > CS_ABI_MAX_DEPTH)
            return CS_ELIMIT;
        cs_abi_type *inner = malloc(sizeof *inner);
        if (!inner)
            return CS_ENOMEM;
        *inner = *t;
        memset(t, 0, sizeof *t);
        t->kind = fixed ? CS_ABI_FARRAY : CS_ABI_ARRAY;
        t->len = (uint32_t)len;
        t->elem = inner;
        int rc = layout(t);
        if (rc)
            return rc;
        i = j + 1;
    }
    return 0;
}

static int type_depth(const cs_abi_type *t)
{
    int d = 0;
    if (t->elem)
        d = 1 + type_depth(t->elem);
    for (uint32_t i = 0; i < t->ncomps; i++) {
        int c = 1 + type_depth(&t->comps[i].type);
        if (c > d)
            d = c;
    }
    return d;
}

/* Sets the output key of params: the name, or the position. */
static int set_keys(cs_abi_param *ps, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        char tmp[16];
        const char *k = ps[i].name;
        if (!*k) {
            snprintf(tmp, sizeof tmp, "%u", i);
            k = tmp;
        }
        size_t kl = strlen(k);
        if (kl > UINT16_MAX)
            return CS_ELIMIT;
        ps[i].key = strdup(k);
        if (!ps[i].key)
            return CS_ENOMEM;
        ps[i].key_len = (uint16_t)kl;
    }
    return 0;
}

/* ---- canonical text ----------------------------------------------------- */

static int write_type(cs_buf *b, const cs_abi_type *t);

static int write_params(cs_buf *b, const cs_abi_param *ps, uint32_t n)
{
    int rc = cs_buf_putc(b, '(');
    for (uint32_t i = 0; !rc && i < n; i++) {
        if (i)
            rc = cs_buf_putc(b, ',');
        if (!rc)
            rc = write_type(b, &ps[i].type);
    }
    return rc ? rc : cs_buf_putc(b, ')');
}

static int write_type(cs_buf *b, const cs_abi_type *t)
{
    switch (t->kind) {
    case CS_ABI_UINT:
        return cs_buf_printf(b, "uint%u", t->size);
    case CS_ABI_INT:
        return cs_buf_printf(b, "int%u", t->size);
    case CS_ABI_ADDRESS:
        return cs_buf_append_str(b, "address");
    case CS_ABI_BOOL:
        return cs_buf_append_str(b, "bool");
    case CS_ABI_FBYTES:
        return cs_buf_printf(b, "bytes%u", t->size);
    case CS_ABI_FUNCTION:
        return cs_buf_append_str(b, "function");
    case CS_ABI_BYTES:
        return cs_buf_append_str(b, "bytes");
    case CS_ABI_STRING:
        return cs_buf_append_str(b, "string");
    case CS_ABI_ARRAY: {
        int rc = write_type(b, t->elem);
        return rc ? rc : cs_buf_append_str(b, "[]");
    }
    case CS_ABI_FARRAY: {
        int rc = write_type(b, t->elem);
        return rc ? rc : cs_buf_printf(b, "[%u]", t->len);
    }
    case CS_ABI_TUPLE:
        return write_params(b, t->comps, t->ncomps);
    }
    return CS_EINVAL;
}

static char *signature(const char *name, const cs_abi_param *ps, uint32_t n)
{
    cs_buf b;
    cs_buf_init(&b, 1u << 20);
    if (cs_buf_append_str(&b, name) || write_params(&b, ps, n) || cs_buf_putc(&b, 0)) {
        cs_buf_free(&b);
        return NULL;
    }
    size_t len;
    return (char *)cs_buf_steal(&b, &len);
}

/* ---- human-readable signatures ----------------------------------------- */

typedef struct sigp {
    const char *s;
    const char *p;
    char *err;
    size_t errlen;
} sigp;

static void ws(sigp *q)
{
    while (*q->p == ' ' || *q->p == '\t' || *q->p == '\n')
        q->p++;
}

static bool ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$';
}

static size_t ident(sigp *q)
{
    size_t n = 0;
    while (ident_char(q->p[n]))
        n++;
    return n;
}

static int sig_params(sigp *q, cs_abi_param **out, uint32_t *nout, int depth);

/* type := ("tuple"? "(" params ")" | elementary) suffix* */
static int sig_type(sigp *q, cs_abi_type *t, int depth)
{
    int rc;
    ws(q);
    memset(t, 0, sizeof *t);
    if (strncmp(q->p, "tuple(", 6) == 0)
        q->p += 5;
    if (*q->p == '(') {
        if (depth >= CS_ABI_MAX_DEPTH)
            return fail(q->err, q->errlen, CS_ELIMIT, "types nest deeper than %d levels",
                        CS_ABI_MAX_DEPTH);
        t->kind = CS_ABI_TUPLE;
        if ((rc = sig_params(q, &t->comps, &t->ncomps, depth + 1)))
            return rc;
        if (t->ncomps == 0)
            return fail(q->err, q->errlen, CS_EUNSUPPORTED, "empty tuple at column %zu",
                        (size_t)(q->p - q->s));
        if ((rc = set_keys(t->comps, t->ncomps)) || (rc = layout(t)))
            return rc;
    } else {
        size_t n = ident(q);
        rc = n ? elementary(q->p, n, t) : CS_EPARSE;
        if (rc)
            return fail(q->err, q->errlen, rc, "%s type '%.*s' at column %zu",
                        rc == CS_EUNSUPPORTED ? "unsupported" : "unknown", (int)n, q->p,
                        (size_t)(q->p - q->s) + 1);
        q->p += n;
        layout(t);
    }
    const char *st = q->p;
    while (*q->p == '[' || *q->p == ']' || (*q->p >= '0' && *q->p <= '9'))
        q->p++;
    if ((rc = suffixes(st, (size_t)(q->p - st), t, depth)))
        return fail(q->err, q->errlen, rc, "bad array suffix '%.*s' at column %zu",
                    (int)(q->p - st), st, (size_t)(st - q->s) + 1);
    return 0;
}

/* params := "(" [param ("," param)*] ")";  param := type ["indexed"] [name] */
static int sig_params(sigp *q, cs_abi_param **out, uint32_t *nout, int depth)
{
    ws(q);
    if (*q->p != '(')
        return fail(q->err, q->errlen, CS_EPARSE, "expected '(' at column %zu",
                    (size_t)(q->p - q->s) + 1);
    q->p++;
    cs_abi_param *ps = NULL;
    uint32_t n = 0, cap = 0;
    int rc = 0;
    ws(q);
    if (*q->p == ')') {
        q->p++;
        goto done;
    }
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4;
            cs_abi_param *np = realloc(ps, cap * sizeof *ps);
            if (!np) {
                rc = CS_ENOMEM;
                goto done;
            }
            ps = np;
        }
        cs_abi_param *p = &ps[n];
        memset(p, 0, sizeof *p);
        n++;
        if ((rc = sig_type(q, &p->type, depth)))
            goto done;
        ws(q);
        size_t len = ident(q);
        if (len == 7 && memcmp(q->p, "indexed", 7) == 0) {
            p->indexed = true;
            q->p += len;
            ws(q);
            len = ident(q);
        }
        if (len == 7 && memcmp(q->p, "payable", 7) == 0) {
            q->p += len; /* "address payable" */
            ws(q);
            len = ident(q);
        }
        if ((len == 6 && memcmp(q->p, "memory", 6) == 0) ||
            (len == 8 && memcmp(q->p, "calldata", 8) == 0) ||
            (len == 7 && memcmp(q->p, "storage", 7) == 0)) {
            q->p += len;
            ws(q);
            len = ident(q);
        }
        p->name = strndup(q->p, len);
        if (!p->name) {
            rc = CS_ENOMEM;
            goto done;
        }
        q->p += len;
        ws(q);
        if (*q->p == ',') {
            q->p++;
            continue;
        }
        if (*q->p == ')') {
            q->p++;
            break;
        }
        rc = fail(q->err, q->errlen, CS_EPARSE, "expected ',' or ')' at column %zu",
                  (size_t)(q->p - q->s) + 1);
        goto done;
    }
done:
    if (rc) {
        params_free(ps, n);
        return rc;
    }
    *out = ps;
    *nout = n;
    return 0;
}

int cs_abi_canonical(const char *sig, char *out, size_t outcap, char *err, size_t errlen)
{
    sigp q = {sig, sig, err, errlen};
    ws(&q);
    static const char *kw[] = {"function", "event", "error"};
    for (size_t i = 0; i < 3; i++) {
        size_t l = strlen(kw[i]);
        if (strncmp(q.p, kw[i], l) == 0 && (q.p[l] == ' ' || q.p[l] == '\t')) {
            q.p += l;
            ws(&q);
            break;
        }
    }
    size_t nl = ident(&q);
    if (nl == 0)
        return fail(err, errlen, CS_EPARSE, "expected a name at column %zu",
                    (size_t)(q.p - sig) + 1);
    char *name = strndup(q.p, nl);
    if (!name)
        return CS_ENOMEM;
    q.p += nl;
    cs_abi_param *ps = NULL;
    uint32_t n = 0;
    int rc = sig_params(&q, &ps, &n, 0);
    if (rc) {
        free(name);
        return rc;
    }
    char *s = signature(name, ps, n);
    free(name);
    params_free(ps, n);
    if (!s)
        return CS_ENOMEM;
    size_t sl = strlen(s);
    if (sl + 1 > outcap) {
        free(s);
        return fail(err, errlen, CS_ELIMIT, "signature longer than %zu bytes", outcap);
    }
    memcpy(out, s, sl + 1);
    free(s);
    return 0;
}

/* ---- JSON ABI ---------------------------------------------------------- */

typedef struct loadctx {
    const char *origin;
    size_t entry;
    const char *entry_kind;
    const char *entry_name;
    char *err;
    size_t errlen;
} loadctx;

static int json_params(loadctx *c, struct json_object *arr, const char *what, cs_abi_param **out,
                       uint32_t *nout, int depth);

static const char *jstr(struct json_object *o, const char *k)
{
    struct json_object *v;
    if (json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return NULL;
}

static bool jbool(struct json_object *o, const char *k)
{
    struct json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_boolean) &&
           json_object_get_boolean(v);
}

static int entry_fail(loadctx *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int entry_fail(loadctx *c, int rc, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fail(c->err, c->errlen, rc, "%s: entry %zu (%s %s): %s", c->origin, c->entry,
                c->entry_kind ? c->entry_kind : "?", c->entry_name ? c->entry_name : "", msg);
}

static int json_param(loadctx *c, struct json_object *o, const char *what, size_t i,
                      cs_abi_param *p, int depth)
{
    memset(p, 0, sizeof *p);
    if (!json_object_is_type(o, json_type_object))
        return entry_fail(c, CS_EPARSE, "%s %zu is not an object", what, i);
    const char *name = jstr(o, "name");
    p->name = strdup(name ? name : "");
    if (!p->name)
        return CS_ENOMEM;
    p->indexed = jbool(o, "indexed");
    const char *ts = jstr(o, "type");
    if (!ts)
        return entry_fail(c, CS_EPARSE, "%s %zu ('%s') has no \"type\"", what, i, p->name);
    size_t tl = strlen(ts);
    const char *br = strchr(ts, '[');
    size_t bl = br ? (size_t)(br - ts) : tl;
    int rc;
    if (bl == 5 && memcmp(ts, "tuple", 5) == 0) {
        if (depth >= CS_ABI_MAX_DEPTH)
            return entry_fail(c, CS_ELIMIT, "%s %zu ('%s') nests deeper than %d levels", what, i,
                              p->name, CS_ABI_MAX_DEPTH);
        struct json_object *comps;
        if (!json_object_object_get_ex(o, "components", &comps) ||
            !json_object_is_type(comps, json_type_array))
            return entry_fail(c, CS_EPARSE, "%s %zu ('%s') is a tuple without \"components\"", what,
                              i, p->name);
        p->type.kind = CS_ABI_TUPLE;
        if ((rc = json_params(c, comps, "component", &p->type.comps, &p->type.ncomps, depth + 1)))
            return rc;
        if (p->type.ncomps == 0)
            return entry_fail(c, CS_EUNSUPPORTED, "%s %zu ('%s') is an empty tuple", what, i,
                              p->name);
        if ((rc = set_keys(p->type.comps, p->type.ncomps)) || (rc = layout(&p->type)))
            return entry_fail(c, rc, "%s %zu ('%s'): %s", what, i, p->name, cs_strerror(rc));
    } else {
        rc = elementary(ts, bl, &p->type);
        if (rc)
            return entry_fail(c, rc, "%s %zu ('%s'): %s type '%s'", what, i, p->name,
                              rc == CS_EUNSUPPORTED ? "unsupported" : "unknown", ts);
        layout(&p->type);
    }
    if ((rc = suffixes(ts + bl, tl - bl, &p->type, depth)))
        return entry_fail(c, rc, "%s %zu ('%s'): bad type '%s' (%s)", what, i, p->name, ts,
                          rc == CS_ELIMIT ? "too large or too deep" : "bad array suffix");
    if (type_depth(&p->type) + depth > CS_ABI_MAX_DEPTH)
        return entry_fail(c, CS_ELIMIT, "%s %zu ('%s') nests deeper than %d levels", what, i,
                          p->name, CS_ABI_MAX_DEPTH);
    return 0;
}

static int json_params(loadctx *c, struct json_object *arr, const char *what, cs_abi_param **out,
                       uint32_t *nout, int depth)
{
    *out = NULL;
    *nout = 0;
    if (!arr)
        return 0;
    if (!json_object_is_type(arr, json_type_array))
        return entry_fail(c, CS_EPARSE, "%ss must be an array", what);
    size_t n = json_object_array_length(arr);
    if (n > 4096)
        return entry_fail(c, CS_ELIMIT, "more than 4096 %ss", what);
    if (n == 0)
        return 0;
    cs_abi_param *ps = calloc(n, sizeof *ps);
    if (!ps)
        return CS_ENOMEM;
    int rc = 0;
    size_t i;
    for (i = 0; i < n; i++)
        if ((rc = json_param(c, json_object_array_get_idx(arr, i), what, i, &ps[i], depth)))
            break;
    if (rc) {
        params_free(ps, (uint32_t)(i < n ? i + 1 : n));
        return rc;
    }
    *out = ps;
    *nout = (uint32_t)n;
    return 0;
}

static size_t pow2_at_least(size_t n)
{
    size_t s = 8;
    while (s < n * 2)
        s <<= 1;
    return s;
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static int build_index(cs_abi *abi)
{
    abi->ev_slots = pow2_at_least(abi->nevents);
    abi->fn_slots = pow2_at_least(abi->nfuncs);
    abi->ev_index = calloc(abi->ev_slots, sizeof *abi->ev_index);
    abi->fn_index = calloc(abi->fn_slots, sizeof *abi->fn_index);
    if (!abi->ev_index || !abi->fn_index)
        return CS_ENOMEM;
    for (size_t i = 0; i < abi->nevents; i++) {
        if (abi->events[i].anonymous)
            continue;
        if (cs_abi_find_event(abi, abi->events[i].topic0))
            continue; /* the same event twice (e.g. from an inherited interface) */
        size_t h = rd64(abi->events[i].topic0) & (abi->ev_slots - 1);
        while (abi->ev_index[h])
            h = (h + 1) & (abi->ev_slots - 1);
        abi->ev_index[h] = (uint32_t)i + 1;
    }
    for (size_t i = 0; i < abi->nfuncs; i++) {
        if (cs_abi_find_func(abi, abi->funcs[i].selector))
            continue;
        uint32_t sel;
        memcpy(&sel, abi->funcs[i].selector, 4);
        size_t h = sel & (abi->fn_slots - 1);
        while (abi->fn_index[h])
            h = (h + 1) & (abi->fn_slots - 1);
        abi->fn_index[h] = (uint32_t)i + 1;
    }
    return 0;
}

static int load_entry(cs_abi *abi, loadctx *c, struct json_object *e)
{
    if (!json_object_is_type(e, json_type_object))
        return entry_fail(c, CS_EPARSE, "not an object");
    const char *type = jstr(e, "type");
    if (!type)
        type = "function"; /* the original ABI format allowed omitting it */
    c->entry_kind = type;
    c->entry_name = jstr(e, "name");
    bool is_event = strcmp(type, "event") == 0;
    if (!is_event && strcmp(type, "function") != 0)
        return 0;
    if (!c->entry_name || !*c->entry_name)
        return entry_fail(c, CS_EPARSE, "has no \"name\"");
    struct json_object *inputs = NULL, *outputs = NULL;
    json_object_object_get_ex(e, "inputs", &inputs);
    json_object_object_get_ex(e, "outputs", &outputs);
    int rc;
    if (is_event) {
        if (abi->nevents >= UINT32_MAX - 1)
            return CS_ELIMIT;
        cs_abi_event *ev = &abi->events[abi->nevents];
        memset(ev, 0, sizeof *ev);
        if ((rc = json_params(c, inputs, "input", &ev->inputs, &ev->ninputs, 0)))
            return rc;
        abi->nevents++; /* owned by abi from here, freed with it */
        ev->name = strdup(c->entry_name);
        if (!ev->name || (rc = set_keys(ev->inputs, ev->ninputs)))
            return CS_ENOMEM;
        ev->anonymous = jbool(e, "anonymous");
        for (uint32_t i = 0; i < ev->ninputs; i++)
            ev->nindexed += ev->inputs[i].indexed;
        if (ev->nindexed > (ev->anonymous ? 4u : 3u))
            return entry_fail(c, CS_EPARSE, "%u indexed inputs (at most %u)", ev->nindexed,
                              ev->anonymous ? 4u : 3u);
        if (!(ev->signature = signature(ev->name, ev->inputs, ev->ninputs)))
            return CS_ENOMEM;
        cs_keccak256(ev->signature, strlen(ev->signature), ev->topic0);
    } else {
        cs_abi_func *fn = &abi->funcs[abi->nfuncs];
        memset(fn, 0, sizeof *fn);
        rc = json_params(c, inputs, "input", &fn->inputs, &fn->ninputs, 0);
        if (!rc)
            rc = json_params(c, outputs, "output", &fn->outputs, &fn->noutputs, 0);
        if (rc) {
            params_free(fn->inputs, fn->ninputs);
            return rc;
        }
        abi->nfuncs++;
        fn->name = strdup(c->entry_name);
        if (!fn->name || set_keys(fn->inputs, fn->ninputs) || set_keys(fn->outputs, fn->noutputs))
            return CS_ENOMEM;
        if (!(fn->signature = signature(fn->name, fn->inputs, fn->ninputs)))
            return CS_ENOMEM;
        uint8_t h[32];
        cs_keccak256(fn->signature, strlen(fn->signature), h);
        memcpy(fn->selector, h, 4);
    }
    return 0;
}

int cs_abi_parse(const char *json, size_t n, const char *origin, cs_abi **out, char *err,
                 size_t errlen)
{
    *out = NULL;
    if (!origin)
        origin = "ABI";
    if (n > CS_ABI_MAX_FILE)
        return fail(err, errlen, CS_ELIMIT, "%s: larger than %u bytes", origin, CS_ABI_MAX_FILE);
    struct json_tokener *tok = json_tokener_new_ex(64);
    if (!tok)
        return CS_ENOMEM;
    struct json_object *root = json_tokener_parse_ex(tok, json, (int)n);
    enum json_tokener_error je = json_tokener_get_error(tok);
    if (!root || je != json_tokener_success) {
        size_t off = json_tokener_get_parse_end(tok), line = 1, col = 1;
        for (size_t i = 0; i < off && i < n; i++) {
            if (json[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        json_tokener_free(tok);
        if (root)
            json_object_put(root);
        return fail(err, errlen, CS_EPARSE, "%s:%zu:%zu: invalid JSON: %s", origin, line, col,
                    je == json_tokener_continue ? "unexpected end of input"
                                                : json_tokener_error_desc(je));
    }
    json_tokener_free(tok);
    struct json_object *arr = root;
    if (json_object_is_type(root, json_type_object) &&
        !json_object_object_get_ex(root, "abi", &arr))
        arr = NULL;
    if (!arr || !json_object_is_type(arr, json_type_array)) {
        json_object_put(root);
        return fail(err, errlen, CS_EPARSE,
                    "%s: a JSON ABI is an array of entries (or an object with an \"abi\" array)",
                    origin);
    }
    size_t ne = json_object_array_length(arr);
    cs_abi *abi = calloc(1, sizeof *abi);
    int rc = CS_ENOMEM;
    if (!abi)
        goto out;
    abi->events = calloc(ne ? ne : 1, sizeof *abi->events);
    abi->funcs = calloc(ne ? ne : 1, sizeof *abi->funcs);
    if (!abi->events || !abi->funcs)
        goto out;
    loadctx c = {.origin = origin, .err = err, .errlen = errlen};
    for (size_t i = 0; i < ne; i++) {
        c.entry = i;
        c.entry_kind = c.entry_name = NULL;
        if ((rc = load_entry(abi, &c, json_object_array_get_idx(arr, i))))
            goto out;
    }
    rc = build_index(abi);
out:
    json_object_put(root);
    if (rc) {
        if (rc == CS_ENOMEM)
            fail(err, errlen, rc, "%s: out of memory", origin);
        cs_abi_free(abi);
        return rc;
    }
    *out = abi;
    return 0;
}

int cs_abi_load_file(const char *path, cs_abi **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(err, errlen, CS_EIO, "%s: %s", path, strerror(errno));
    cs_buf b;
    cs_buf_init(&b, CS_ABI_MAX_FILE);
    char tmp[65536];
    size_t got;
    int rc = 0;
    while ((got = fread(tmp, 1, sizeof tmp, f)) > 0)
        if ((rc = cs_buf_append(&b, tmp, got)))
            break;
    bool ioerr = ferror(f);
    fclose(f);
    if (rc || ioerr) {
        cs_buf_free(&b);
        return rc == CS_ELIMIT
                   ? fail(err, errlen, rc, "%s: larger than %u bytes", path, CS_ABI_MAX_FILE)
                   : fail(err, errlen, CS_EIO, "%s: read error", path);
    }
    rc = cs_abi_parse((const char *)b.data, b.len, path, out, err, errlen);
    cs_buf_free(&b);
    return rc;
}

/* ---- lookups ------------------------------------------------------------ */

size_t cs_abi_nevents(const cs_abi *abi)
{
    return abi->nevents;
}

const cs_abi_event *cs_abi_event_at(const cs_abi *abi, size_t i)
{
    return i < abi->nevents ? &abi->events[i] : NULL;
}

size_t cs_abi_nfuncs(const cs_abi *abi)
{
    return abi->nfuncs;
}

const cs_abi_func *cs_abi_func_at(const cs_abi *abi, size_t i)
{
    return i < abi->nfuncs ? &abi->funcs[i] : NULL;
}

const cs_abi_event *cs_abi_find_event(const cs_abi *abi, const uint8_t topic0[32])
{
    size_t mask = abi->ev_slots - 1;
    for (size_t h = rd64(topic0) & mask;; h = (h + 1) & mask) {
        uint32_t s = abi->ev_index[h];
        if (!s)
            return NULL;
        if (memcmp(abi->events[s - 1].topic0, topic0, 32) == 0)
            return &abi->events[s - 1];
    }
}

const cs_abi_event *cs_abi_find_event_name(const cs_abi *abi, const char *name)
{
    for (size_t i = 0; i < abi->nevents; i++)
        if (strcmp(abi->events[i].name, name) == 0)
            return &abi->events[i];
    return NULL;
}

const cs_abi_func *cs_abi_find_func(const cs_abi *abi, const uint8_t selector[4])
{
    size_t mask = abi->fn_slots - 1;
    uint32_t sel;
    memcpy(&sel, selector, 4);
    for (size_t h = sel & mask;; h = (h + 1) & mask) {
        uint32_t s = abi->fn_index[h];
        if (!s)
            return NULL;
        if (memcmp(abi->funcs[s - 1].selector, selector, 4) == 0)
            return &abi->funcs[s - 1];
    }
}
