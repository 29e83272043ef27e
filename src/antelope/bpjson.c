/* bp.json validation (see bpjson.h). The schema, as the bp-info standard
 * describes it:
 *   producer_account_name  string, an Antelope name (required)
 *   producer_public_key    string (optional)
 *   org                    object (required):
 *     candidate_name, website, email   strings (required)
 *     code_of_conduct, ownership_disclosure, chain_resources   strings
 *     branding   object of strings logo_256, logo_1024, logo_svg (required)
 *     location   location (required)
 *     social     object of strings (required)
 *   nodes                  array of objects (required, at least one):
 *     location      location (required)
 *     node_type     "producer" | "full" | "query" | "seed", or an array of them
 *     p2p_endpoint  string host:port
 *     api_endpoint  string http:// URL
 *     ssl_endpoint  string https:// URL
 *     features      array of strings
 *   location: object {name string (required), country string of two
 *   upper-case letters (required), latitude, longitude numbers}. */
#include "antelope/bpjson.h"
#include "core/error.h"
#include "net/jsonr.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKENS 65536

typedef struct vctx {
    const cs_jsonr *j;
    cs_bpjson *out;
} vctx;

static void __attribute__((format(printf, 3, 4)))
bad(vctx *v, const char *path, const char *fmt, ...)
{
    cs_bpjson *o = v->out;
    o->nerrors_total++;
    if (o->nerrors >= CS_BPJ_MAX_ERRORS)
        return;
    char *e = o->errors[o->nerrors++];
    int k = snprintf(e, CS_BPJ_ERROR_MAX, "%s: ", path);
    if (k < 0 || (size_t)k >= CS_BPJ_ERROR_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e + k, CS_BPJ_ERROR_MAX - (size_t)k, fmt, ap);
    va_end(ap);
}

static const char *type_name(uint8_t t)
{
    static const char *const n[] = {"null",     "false",    "true",     "a number",
                                    "a string", "an array", "an object"};
    return t < sizeof n / sizeof n[0] ? n[t] : "?";
}

/* Member key of obj with type want (CS_JT_*): its index, or 0 after
 * recording "missing" (when required) or the wrong type. */
static uint32_t member(vctx *v, uint32_t obj, const char *path, const char *key, uint8_t want,
                       bool required)
{
    char p[128];
    snprintf(p, sizeof p, "%s%s%s", path, path[0] ? "." : "", key);
    uint32_t t = cs_jsonr_get(v->j, obj, key);
    if (!t) {
        if (required)
            bad(v, p, "missing");
        return 0;
    }
    uint8_t got = cs_jsonr_at(v->j, t)->type;
    if (got != want && !(want == CS_JT_TRUE && got == CS_JT_FALSE)) {
        bad(v, p, "is %s, expected %s", type_name(got), type_name(want));
        return 0;
    }
    return t;
}

/* A required string that must not be empty. */
static uint32_t text_member(vctx *v, uint32_t obj, const char *path, const char *key, bool required)
{
    uint32_t t = member(v, obj, path, key, CS_JT_STR, required);
    if (t && required && cs_jsonr_at(v->j, t)->len == 0) {
        bad(v, path, "%s is empty", key);
        return 0;
    }
    return t;
}

/* Every member of obj is a string. */
static void strings_only(vctx *v, uint32_t obj, const char *path)
{
    for (uint32_t k = cs_jsonr_first(v->j, obj); k; k = cs_jsonr_next_key(v->j, obj, k)) {
        uint8_t t = cs_jsonr_at(v->j, k + 1)->type;
        if (t != CS_JT_STR) {
            char key[48];
            cs_jsonr_copy(v->j, k, key, sizeof key);
            bad(v, path, "%s is %s, expected a string", key, type_name(t));
        }
    }
}

static void location(vctx *v, uint32_t parent, const char *path)
{
    uint32_t loc = member(v, parent, path, "location", CS_JT_OBJ, true);
    if (!loc)
        return;
    char p[128];
    snprintf(p, sizeof p, "%s%slocation", path, path[0] ? "." : "");
    text_member(v, loc, p, "name", true);
    uint32_t c = text_member(v, loc, p, "country", true);
    if (c) {
        const cs_jtok *t = cs_jsonr_at(v->j, c);
        const char *s = cs_jsonr_ptr(v->j, c);
        if (t->len != 2 || !isupper((unsigned char)s[0]) || !isupper((unsigned char)s[1]))
            bad(v, p, "country '%.*s' is not an ISO 3166-1 alpha-2 code",
                (int)(t->len > 8 ? 8 : t->len), s);
    }
    member(v, loc, p, "latitude", CS_JT_NUM, false);
    member(v, loc, p, "longitude", CS_JT_NUM, false);
}

/* Antelope names: up to 12 of a-z, 1-5 and '.' (a 13th of a-j is rare and
 * not a producer's). */
static bool antelope_name(const char *s, size_t n)
{
    if (n == 0 || n > 12 || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '1' && s[i] <= '5') || s[i] == '.'))
            return false;
    return true;
}

static unsigned node_type_bit(const cs_jsonr *j, uint32_t t)
{
    static const char *const names[] = {"producer", "full", "query", "seed"};
    for (unsigned i = 0; i < 4; i++)
        if (cs_jsonr_eq(j, t, names[i]))
            return 1u << i;
    return 0;
}

static unsigned node_types(vctx *v, uint32_t node, const char *path)
{
    char p[128];
    snprintf(p, sizeof p, "%s.node_type", path);
    uint32_t t = cs_jsonr_get(v->j, node, "node_type");
    if (!t) {
        bad(v, p, "missing");
        return 0;
    }
    const cs_jtok *tk = cs_jsonr_at(v->j, t);
    unsigned bits = 0;
    if (tk->type == CS_JT_STR) {
        if (!(bits = node_type_bit(v->j, t)))
            bad(v, p, "'%.*s' is not producer, full, query or seed",
                (int)(tk->len > 24 ? 24 : tk->len), cs_jsonr_ptr(v->j, t));
        return bits;
    }
    if (tk->type != CS_JT_ARR || tk->len == 0) {
        bad(v, p, "is %s, expected a string or a non-empty array",
            tk->type == CS_JT_ARR ? "an empty array" : type_name(tk->type));
        return 0;
    }
    for (uint32_t i = cs_jsonr_first(v->j, t); i; i = cs_jsonr_next_item(v->j, t, i)) {
        const cs_jtok *it = cs_jsonr_at(v->j, i);
        unsigned b = it->type == CS_JT_STR ? node_type_bit(v->j, i) : 0;
        if (!b)
            bad(v, p, "an item is not producer, full, query or seed");
        bits |= b;
    }
    return bits;
}

/* An endpoint string: copied into out when it has the expected shape;
 * "" is allowed (a node that does not offer it). */
static void endpoint(vctx *v, uint32_t node, const char *path, const char *key, const char *scheme,
                     char *out)
{
    uint32_t t = member(v, node, path, key, CS_JT_STR, false);
    out[0] = 0;
    if (!t || cs_jsonr_at(v->j, t)->len == 0)
        return;
    char s[CS_BPJ_URL_MAX];
    cs_jsonr_copy(v->j, t, s, sizeof s);
    if (cs_jsonr_at(v->j, t)->len >= sizeof s) {
        bad(v, path, "%s is longer than %d bytes", key, CS_BPJ_URL_MAX - 1);
        return;
    }
    if (scheme) {
        size_t k = strlen(scheme);
        if (strncmp(s, scheme, k) != 0 || !s[k] || strchr(s + k, ' ')) {
            bad(v, path, "%s '%s' is not a %sHOST URL", key, s, scheme);
            return;
        }
    } else {
        const char *colon = strrchr(s, ':');
        char *end = NULL;
        long port = colon ? strtol(colon + 1, &end, 10) : 0;
        if (!colon || colon == s || strstr(s, "://") || !end || *end || port < 1 || port > 65535) {
            bad(v, path, "%s '%s' is not HOST:PORT", key, s);
            return;
        }
    }
    memcpy(out, s, strlen(s) + 1);
}

static void nodes(vctx *v)
{
    const cs_jsonr *j = v->j;
    uint32_t arr = member(v, 0, "", "nodes", CS_JT_ARR, true);
    if (!arr)
        return;
    if (cs_jsonr_at(j, arr)->len == 0)
        bad(v, "nodes", "is empty");
    size_t idx = 0;
    for (uint32_t t = cs_jsonr_first(j, arr); t; t = cs_jsonr_next_item(j, arr, t), idx++) {
        char p[64];
        snprintf(p, sizeof p, "nodes[%zu]", idx);
        v->out->nodes_total++;
        if (cs_jsonr_at(j, t)->type != CS_JT_OBJ) {
            bad(v, p, "is %s, expected an object", type_name(cs_jsonr_at(j, t)->type));
            continue;
        }
        cs_bpj_node scratch,
            *nd = v->out->nnodes < CS_BPJ_MAX_NODES ? &v->out->nodes[v->out->nnodes++] : &scratch;
        memset(nd, 0, sizeof *nd);
        location(v, t, p);
        nd->types = node_types(v, t, p);
        endpoint(v, t, p, "p2p_endpoint", NULL, nd->p2p);
        endpoint(v, t, p, "api_endpoint", "http://", nd->api);
        endpoint(v, t, p, "ssl_endpoint", "https://", nd->ssl);
        uint32_t f = member(v, t, p, "features", CS_JT_ARR, false);
        for (uint32_t i = f ? cs_jsonr_first(j, f) : 0; i; i = cs_jsonr_next_item(j, f, i))
            if (cs_jsonr_at(j, i)->type != CS_JT_STR) {
                bad(v, p, "features holds %s, expected strings",
                    type_name(cs_jsonr_at(j, i)->type));
                break;
            }
    }
}

static void org(vctx *v)
{
    uint32_t o = member(v, 0, "", "org", CS_JT_OBJ, true);
    if (!o)
        return;
    uint32_t t = text_member(v, o, "org", "candidate_name", true);
    cs_jsonr_copy(v->j, t, v->out->candidate, sizeof v->out->candidate);
    text_member(v, o, "org", "website", true);
    uint32_t e = text_member(v, o, "org", "email", true);
    if (e) {
        char mail[128];
        cs_jsonr_copy(v->j, e, mail, sizeof mail);
        const char *at = strchr(mail, '@');
        if (!at || at == mail || !strchr(at, '.'))
            bad(v, "org.email", "'%s' is not an address", mail);
    }
    member(v, o, "org", "code_of_conduct", CS_JT_STR, false);
    member(v, o, "org", "ownership_disclosure", CS_JT_STR, false);
    uint32_t b = member(v, o, "org", "branding", CS_JT_OBJ, true);
    if (b)
        strings_only(v, b, "org.branding");
    location(v, o, "org");
    uint32_t s = member(v, o, "org", "social", CS_JT_OBJ, true);
    if (s)
        strings_only(v, s, "org.social");
}

int cs_bpjson_parse(const char *text, size_t n, cs_bpjson *out)
{
    memset(out, 0, sizeof *out);
    if (n > CS_BPJ_MAX_TEXT) {
        snprintf(out->errors[out->nerrors++], CS_BPJ_ERROR_MAX, "larger than %u bytes",
                 CS_BPJ_MAX_TEXT);
        return CS_ELIMIT;
    }
    cs_jsonr j;
    cs_jsonr_init(&j, MAX_TOKENS, 16);
    int rc = cs_jsonr_parse(&j, text, n);
    if (rc) {
        snprintf(out->errors[out->nerrors++], CS_BPJ_ERROR_MAX, "not JSON: %s at byte %zu", j.err,
                 j.err_off);
        cs_jsonr_free(&j);
        return rc;
    }
    if (cs_jsonr_at(&j, 0)->type != CS_JT_OBJ) {
        snprintf(out->errors[out->nerrors++], CS_BPJ_ERROR_MAX, "is %s, not an object",
                 type_name(cs_jsonr_at(&j, 0)->type));
        cs_jsonr_free(&j);
        return CS_EPARSE;
    }
    vctx v = {&j, out};
    uint32_t a = text_member(&v, 0, "", "producer_account_name", true);
    if (a) {
        const cs_jtok *t = cs_jsonr_at(&j, a);
        if (!antelope_name(cs_jsonr_ptr(&j, a), t->len))
            bad(&v, "producer_account_name", "'%.*s' is not an Antelope account name",
                (int)(t->len > 16 ? 16 : t->len), cs_jsonr_ptr(&j, a));
        else
            cs_jsonr_copy(&j, a, out->account, sizeof out->account);
    }
    member(&v, 0, "", "producer_public_key", CS_JT_STR, false);
    org(&v);
    nodes(&v);
    cs_jsonr_free(&j);
    return 0;
}

int cs_bpjson_chains_pick(const char *text, size_t n, const char *chain_id, char *path, size_t len)
{
    if (n > CS_BPJ_MAX_TEXT)
        return CS_ELIMIT;
    cs_jsonr j;
    cs_jsonr_init(&j, MAX_TOKENS, 16);
    int rc = cs_jsonr_parse(&j, text, n);
    uint32_t chains = rc ? 0 : cs_jsonr_get(&j, 0, "chains");
    if (!rc && (!chains || cs_jsonr_at(&j, chains)->type != CS_JT_OBJ))
        rc = CS_EPARSE;
    uint32_t p = rc ? 0 : cs_jsonr_get(&j, chains, chain_id);
    if (!rc && !p)
        rc = CS_ENOTFOUND;
    else if (!rc && cs_jsonr_at(&j, p)->type != CS_JT_STR)
        rc = CS_EPARSE;
    else if (!rc && cs_jsonr_at(&j, p)->len >= len)
        rc = CS_ELIMIT;
    if (!rc)
        cs_jsonr_copy(&j, p, path, len);
    cs_jsonr_free(&j);
    return rc;
}

void cs_bpjson_types_name(unsigned types, char *out, size_t len)
{
    static const char *const names[] = {"producer", "full", "query", "seed"};
    size_t k = 0;
    out[0] = 0;
    for (unsigned i = 0; i < 4; i++)
        if (types & (1u << i)) {
            int w = snprintf(out + k, len - k, "%s%s", k ? "," : "", names[i]);
            if (w < 0 || (size_t)w >= len - k)
                return;
            k += (size_t)w;
        }
}
