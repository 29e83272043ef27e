#include "config/config.h"
#include "config/config_int.h"
#include "core/error.h"
#include "core/log.h"
#include "net/addr.h"

#include <errno.h>
#include <libfyaml.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* The position of a node: its own token for a scalar, else the first
 * scalar inside it (libfyaml exposes tokens for scalars only). */
static const struct fy_mark *node_mark(struct fy_node *n, int depth)
{
    if (!n || depth > 64)
        return NULL;
    if (fy_node_is_scalar(n)) {
        struct fy_token *t = fy_node_get_scalar_token(n);
        return t ? fy_token_start_mark(t) : NULL;
    }
    void *it = NULL;
    if (fy_node_is_mapping(n)) {
        struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
        return p ? node_mark(fy_node_pair_key(p), depth + 1) : NULL;
    }
    return node_mark(fy_node_sequence_iterate(n, &it), depth + 1);
}

void cs_cfg_where(const cs_cfg *c, struct fy_node *n, char *out, size_t outlen)
{
    const struct fy_mark *m = node_mark(n, 0);
    if (m)
        snprintf(out, outlen, "%s:%d:%d", c->file, m->line + 1, m->column + 1);
    else
        snprintf(out, outlen, "%s", c->file);
}

/* Replaces in c->err every value (4+ characters) that came from the
 * environment with the name of its variable: a message may quote a value
 * a section parser read, and that value may be a secret. */
static void redact(cs_cfg *c)
{
    for (size_t i = 0; i < c->nenv; i++) {
        const char *v = c->env[i].value;
        size_t vl = strlen(v);
        if (vl < 4)
            continue;
        char repl[300];
        int rl = snprintf(repl, sizeof repl, "${%s}", c->env[i].name);
        char *at;
        size_t from = 0;
        while ((at = strstr(c->err + from, v))) {
            size_t pos = (size_t)(at - c->err), tail = strlen(at + vl);
            if (pos + (size_t)rl + tail + 1 > sizeof c->err)
                tail = sizeof c->err - 1 - pos - (size_t)rl; /* cut the end off */
            memmove(at + rl, at + vl, tail);
            memcpy(at, repl, (size_t)rl);
            at[rl + tail] = 0;
            from = pos + (size_t)rl;
        }
    }
}

int cs_cfg_error(cs_cfg *c, struct fy_node *n, const char *key, const char *fmt, ...)
{
    if (c->failed++)
        return CS_ECONFIG;
    char where[512];
    cs_cfg_where(c, n, where, sizeof where);
    int off = snprintf(c->err, sizeof c->err, "%s: ", where);
    if (key && *key && off > 0 && (size_t)off < sizeof c->err)
        off += snprintf(c->err + off, sizeof c->err - (size_t)off, "%s: ", key);
    if (off > 0 && (size_t)off < sizeof c->err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + off, sizeof c->err - (size_t)off, fmt, ap);
        va_end(ap);
    }
    redact(c);
    return CS_ECONFIG;
}

/* Remembers that variable `name` gave `value`, so that no message quotes
 * it. Past CS_CFG_MAX_ENV distinct variables the oldest stay remembered
 * and the new one is not: the readers still never quote it (cs_cfg_shown). */
static void remember_env(cs_cfg *c, const char *name, const char *value)
{
    for (size_t i = 0; i < c->nenv; i++)
        if (strcmp(c->env[i].name, name) == 0)
            return;
    if (c->nenv == CS_CFG_MAX_ENV)
        return;
    if (!c->env && !(c->env = calloc(CS_CFG_MAX_ENV, sizeof *c->env)))
        return;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return;
    }
    c->env[c->nenv].name = n;
    c->env[c->nenv++].value = v;
}

/* ${NAME} and ${NAME:-default} substitution; c (may be NULL) remembers
 * the variables used. */
static char *expand_env(cs_cfg *c, const char *s, size_t n, char *why, size_t why_len)
{
    size_t cap = n + 1, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n;) {
        if (s[i] == '$' && i + 1 < n && s[i + 1] == '{') {
            const char *close = memchr(s + i + 2, '}', n - i - 2);
            if (!close) {
                free(out);
                snprintf(why, why_len, "\"%.*s\" has no closing } (write $${ for a literal ${)",
                         (int)(n - i > 64 ? 64 : n - i), s + i);
                return NULL;
            }
            const char *name = s + i + 2;
            size_t nl = (size_t)(close - name);
            const char *dflt = NULL;
            size_t dl = 0;
            const char *sep = NULL;
            for (size_t k = 0; k + 1 < nl; k++)
                if (name[k] == ':' && name[k + 1] == '-') {
                    sep = name + k;
                    break;
                }
            if (sep) {
                dflt = sep + 2;
                dl = (size_t)(close - dflt);
                nl = (size_t)(sep - name);
            }
            char var[256];
            if (nl == 0 || nl >= sizeof var) {
                free(out);
                snprintf(why, why_len, "\"%.*s\" is not a variable name",
                         (int)(close - s - i + 1 > 64 ? 64 : close - s - i + 1), s + i);
                return NULL;
            }
            memcpy(var, name, nl);
            var[nl] = 0;
            const char *val = getenv(var);
            size_t vl;
            if (val && *val) {
                vl = strlen(val);
                if (c)
                    remember_env(c, var, val);
            } else if (dflt) {
                val = dflt;
                vl = dl;
            } else {
                free(out);
                snprintf(why, why_len, "environment variable %s is not set (use ${%s:-default})",
                         var, var);
                return NULL;
            }
            if (len + vl + 1 > cap) {
                cap = len + vl + (n - i) + 1;
                char *p = realloc(out, cap);
                if (!p) {
                    free(out);
                    return NULL;
                }
                out = p;
            }
            memcpy(out + len, val, vl);
            len += vl;
            i = (size_t)(close - s) + 1;
            continue;
        }
        if (len + 2 > cap) {
            cap = cap * 2 + 2;
            char *p = realloc(out, cap);
            if (!p) {
                free(out);
                return NULL;
            }
            out = p;
        }
        /* "$${" is a literal "${" */
        if (s[i] == '$' && i + 2 < n && s[i + 1] == '$' && s[i + 2] == '{')
            i++;
        out[len++] = s[i++];
    }
    out[len] = 0;
    return out;
}

char *cs_cfg_expand_env(const char *s, size_t n, char *why, size_t why_len)
{
    return expand_env(NULL, s, n, why, why_len);
}

struct fy_node *cs_cfg_get(struct fy_node *map, const char *key)
{
    if (!map || !fy_node_is_mapping(map))
        return NULL;
    return fy_node_mapping_lookup_by_string(map, key, FY_NT);
}

static void join(char *out, size_t len, const char *path, const char *key)
{
    if (path && *path)
        snprintf(out, len, "%s.%s", path, key);
    else
        snprintf(out, len, "%s", key);
}

char *cs_cfg_scalar(cs_cfg *c, struct fy_node *n, const char *path)
{
    if (!n || !fy_node_is_scalar(n)) {
        cs_cfg_error(c, n, path, "expected a single value, found a %s",
                     n && fy_node_is_sequence(n) ? "list" : "mapping");
        return NULL;
    }
    size_t len;
    const char *s = fy_node_get_scalar(n, &len);
    char why[512] = "out of memory";
    char *v = expand_env(c, s ? s : "", s ? len : 0, why, sizeof why);
    if (!v)
        cs_cfg_error(c, n, path, "%s", why);
    return v;
}

const char *cs_cfg_shown(struct fy_node *n, const char *text, char *buf, size_t len)
{
    size_t rl = 0;
    const char *raw = n && fy_node_is_scalar(n) ? fy_node_get_scalar(n, &rl) : NULL;
    if (raw && memmem(raw, rl, "${", 2))
        snprintf(buf, len, "the value of %.*s (from the environment, not shown)",
                 (int)(rl > 200 ? 200 : rl), raw);
    else
        snprintf(buf, len, "\"%s\"", text);
    return buf;
}

/* The text of `key` in mapping `item` after ${ENV} substitution, or NULL
 * when item is no mapping, has no such scalar or cannot be expanded (the
 * section parser reports those). Caller frees. */
static char *item_text(struct fy_node *item, const char *key, struct fy_node **at)
{
    *at = cs_cfg_get(item, key);
    if (!*at || !fy_node_is_scalar(*at))
        return NULL;
    size_t len;
    const char *s = fy_node_get_scalar(*at, &len);
    char why[512];
    return expand_env(NULL, s ? s : "", s ? len : 0, why, sizeof why);
}

/* "line:col" of a cs_cfg_where text in the same file. */
static const char *line_col(const cs_cfg *c, const char *where)
{
    size_t fl = strlen(c->file);
    return strncmp(where, c->file, fl) == 0 && where[fl] == ':' ? where + fl + 1 : where;
}

int cs_cfg_unique(cs_cfg *c, struct fy_node *seq, const char *path, const char *key)
{
    if (!seq || !fy_node_is_sequence(seq))
        return 0;
    int n = fy_node_sequence_item_count(seq);
    for (int i = 1; i < n; i++) {
        struct fy_node *ai;
        char *a = item_text(fy_node_sequence_get_by_index(seq, i), key, &ai);
        for (int j = 0; a && j < i; j++) {
            struct fy_node *bj;
            char *b = item_text(fy_node_sequence_get_by_index(seq, j), key, &bj);
            bool same = b && strcmp(a, b) == 0;
            free(b);
            if (same) {
                char full[300], shown[300], where[512];
                snprintf(full, sizeof full, "%s[%d].%s", path, i, key);
                cs_cfg_where(c, bj, where, sizeof where);
                cs_cfg_shown(ai, a, shown, sizeof shown);
                free(a);
                return cs_cfg_error(c, ai, full, "%s is already the %s of %s[%d] (at %s)", shown,
                                    key, path, j, line_col(c, where));
            }
        }
        free(a);
    }
    return 0;
}

int cs_cfg_unique_keys(cs_cfg *c, struct fy_node *map, const char *path)
{
    if (!map || !fy_node_is_mapping(map))
        return 0;
    int n = fy_node_mapping_item_count(map);
    char **keys = calloc(n ? (size_t)n : 1, sizeof *keys);
    if (!keys)
        return CS_ENOMEM;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        struct fy_node *k = fy_node_pair_key(fy_node_mapping_get_by_index(map, i));
        if (!k || !fy_node_is_scalar(k))
            continue;
        size_t len;
        const char *s = fy_node_get_scalar(k, &len);
        char why[512];
        keys[i] = expand_env(NULL, s ? s : "", s ? len : 0, why, sizeof why);
        for (int j = 0; keys[i] && j < i && !rc; j++)
            if (keys[j] && strcmp(keys[i], keys[j]) == 0) {
                char full[300], shown[300], where[512];
                snprintf(full, sizeof full, "%s.%s", path, keys[i]);
                cs_cfg_shown(k, keys[i], shown, sizeof shown);
                cs_cfg_where(c, fy_node_pair_key(fy_node_mapping_get_by_index(map, j)), where,
                             sizeof where);
                rc = cs_cfg_error(c, k, path, "%s is listed twice (first at %s)", shown,
                                  line_col(c, where));
            }
    }
    for (int i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    return rc;
}

/* Finds key in map; checks map is a mapping. Returns 1 found, 0 missing
 * (error recorded if required), negative on error. */
static int lookup(cs_cfg *c, struct fy_node *map, const char *path, const char *key, bool required,
                  struct fy_node **val, char *full, size_t fulllen)
{
    join(full, fulllen, path, key);
    *val = cs_cfg_get(map, key);
    if (*val)
        return 1;
    if (required)
        return cs_cfg_error(c, map, full, "required key is missing");
    return 0;
}

/* Looks key up and reads its scalar text (${ENV} substituted, malloc'ed
 * into *text). Returns 1 when found, 0 when missing and not required, or
 * CS_ECONFIG with the error recorded. */
static int read_scalar(cs_cfg *c, struct fy_node *map, const char *path, const char *key,
                       bool required, struct fy_node **v, char full[256], char **text)
{
    int rc = lookup(c, map, path, key, required, v, full, 256);
    if (rc <= 0)
        return rc;
    *text = cs_cfg_scalar(c, *v, full);
    return *text ? 1 : CS_ECONFIG;
}

int cs_cfg_str(cs_cfg *c, struct fy_node *map, const char *path, const char *key, char **out,
               bool required)
{
    struct fy_node *v;
    char full[256], *s;
    int rc = read_scalar(c, map, path, key, required, &v, full, &s);
    if (rc <= 0)
        return rc;
    free(*out);
    *out = s;
    return 0;
}

int cs_cfg_uint(cs_cfg *c, struct fy_node *map, const char *path, const char *key, uint64_t *out,
                uint64_t min, uint64_t max, bool required)
{
    struct fy_node *v;
    char full[256], *s;
    int rc = read_scalar(c, map, path, key, required, &v, full, &s);
    if (rc <= 0)
        return rc;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 0);
    if (!*s || *end || errno || s[0] == '-') {
        char sh[300];
        cs_cfg_error(c, v, full, "expected a whole number, got %s",
                     cs_cfg_shown(v, s, sh, sizeof sh));
        free(s);
        return CS_ECONFIG;
    }
    free(s);
    if (x < min || x > max)
        return cs_cfg_error(c, v, full, "%llu is out of range [%llu, %llu]", x,
                            (unsigned long long)min, (unsigned long long)max);
    *out = x;
    return 0;
}

int cs_cfg_double(cs_cfg *c, struct fy_node *map, const char *path, const char *key, double *out,
                  double min, double max, bool required)
{
    struct fy_node *v;
    char full[256], *s;
    int rc = read_scalar(c, map, path, key, required, &v, full, &s);
    if (rc <= 0)
        return rc;
    char *end;
    double x = strtod(s, &end);
    size_t sl = strlen(s);
    bool pct = sl && end == s + sl - 1 && *end == '%';
    if (!*s || (*end && !pct) || !isfinite(x)) {
        char sh[300];
        cs_cfg_error(c, v, full, "expected a number, got %s", cs_cfg_shown(v, s, sh, sizeof sh));
        free(s);
        return CS_ECONFIG;
    }
    free(s);
    if (pct)
        x /= 100.0;
    if (x < min || x > max)
        return cs_cfg_error(c, v, full, "%g is out of range [%g, %g]", x, min, max);
    *out = x;
    return 0;
}

int cs_cfg_bool(cs_cfg *c, struct fy_node *map, const char *path, const char *key, bool *out,
                bool required)
{
    struct fy_node *v;
    char full[256], *s;
    int rc = read_scalar(c, map, path, key, required, &v, full, &s);
    if (rc <= 0)
        return rc;
    if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"))
        *out = true;
    else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off"))
        *out = false;
    else {
        char sh[300];
        rc = cs_cfg_error(c, v, full, "expected true or false, got %s",
                          cs_cfg_shown(v, s, sh, sizeof sh));
    }
    free(s);
    return rc < 0 ? rc : 0;
}

/* Parses a number followed by a unit from `units`; returns false if bad. */
static bool num_unit(const char *s, const char *const *names, const double *mult, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || errno || x < 0 || !isfinite(x))
        return false;
    while (*end == ' ')
        end++;
    if (!*end) {
        *out = x * mult[0];
        return true;
    }
    for (int i = 1; names[i]; i++)
        if (strcmp(end, names[i]) == 0) {
            *out = x * mult[i];
            return true;
        }
    return false;
}

int cs_cfg_duration_ms(cs_cfg *c, struct fy_node *map, const char *path, const char *key,
                       uint64_t *out_ms, bool required)
{
    static const char *names[] = {"", "ms", "s", "m", "h", "d", NULL};
    static const double mult[] = {1000, 1, 1000, 60000, 3600000, 86400000};
    struct fy_node *v;
    char full[256], *s;
    int rc = read_scalar(c, map, path, key, required, &v, full, &s);
    if (rc <= 0)
        return rc;
    double x;
    if (!num_unit(s, names, mult, &x) || x > 1e15) {
        char sh[300];
        cs_cfg_error(c, v, full, "expected a duration like 500ms, 30s, 5m, 2h or 1d, got %s",
                     cs_cfg_shown(v, s, sh, sizeof sh));
        free(s);
        return CS_ECONFIG;
    }
    free(s);
    *out_ms = (uint64_t)llround(x);
    return 0;
}

int cs_cfg_size(cs_cfg *c, struct fy_node *map, const char *path, const char *key, uint64_t *out,
                bool required)
{
    static const char *names[] = {"", "B", "KiB", "MiB", "GiB", "kB", "MB", "GB", NULL};
    static const double mult[] = {1, 1, 1024.0, 1048576.0, 1073741824.0, 1e3, 1e6, 1e9};
    struct fy_node *v;
    char full[256], *s;
    int rc = read_scalar(c, map, path, key, required, &v, full, &s);
    if (rc <= 0)
        return rc;
    double x;
    if (!num_unit(s, names, mult, &x) || x > 1e15) {
        char sh[300];
        cs_cfg_error(c, v, full, "expected a size like 4096, 64KiB, 8MiB or 1GiB, got %s",
                     cs_cfg_shown(v, s, sh, sizeof sh));
        free(s);
        return CS_ECONFIG;
    }
    free(s);
    *out = (uint64_t)x;
    return 0;
}

int cs_cfg_enum(cs_cfg *c, struct fy_node *map, const char *path, const char *key,
                const char *const *choices, int *out, bool required)
{
    struct fy_node *v;
    char full[256], *s;
    int rc = read_scalar(c, map, path, key, required, &v, full, &s);
    if (rc <= 0)
        return rc;
    for (int i = 0; choices[i]; i++)
        if (strcmp(s, choices[i]) == 0) {
            *out = i;
            free(s);
            return 0;
        }
    char list[512] = "";
    size_t off = 0;
    for (int i = 0; choices[i] && off < sizeof list; i++)
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "", choices[i]);
    char sh[300];
    cs_cfg_error(c, v, full, "%s is not one of: %s", cs_cfg_shown(v, s, sh, sizeof sh), list);
    free(s);
    return CS_ECONFIG;
}

void cs_cfg_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

int cs_cfg_strv(cs_cfg *c, struct fy_node *map, const char *path, const char *key, char ***out,
                size_t *n, bool required)
{
    struct fy_node *v;
    char full[256];
    int rc = lookup(c, map, path, key, required, &v, full, sizeof full);
    if (rc <= 0)
        return rc;
    size_t cnt = fy_node_is_sequence(v) ? (size_t)fy_node_sequence_item_count(v) : 1;
    char **arr = calloc(cnt + 1, sizeof *arr);
    if (!arr)
        return CS_ENOMEM;
    if (fy_node_is_sequence(v)) {
        void *it = NULL;
        struct fy_node *item;
        size_t i = 0;
        while ((item = fy_node_sequence_iterate(v, &it)) && i < cnt) {
            char sub[300];
            snprintf(sub, sizeof sub, "%s[%zu]", full, i);
            if (!(arr[i] = cs_cfg_scalar(c, item, sub))) {
                cs_cfg_strv_free(arr);
                return CS_ECONFIG;
            }
            i++;
        }
        cnt = i;
    } else if (!(arr[0] = cs_cfg_scalar(c, v, full))) {
        cs_cfg_strv_free(arr);
        return CS_ECONFIG;
    }
    cs_cfg_strv_free(*out);
    *out = arr;
    if (n)
        *n = cnt;
    return 0;
}

int cs_cfg_expect_map(cs_cfg *c, struct fy_node *n, const char *path, const char *const *allowed)
{
    if (!n || !fy_node_is_mapping(n))
        return cs_cfg_error(c, n, path, "expected a mapping (key: value lines)");
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(n, &it))) {
        struct fy_node *k = fy_node_pair_key(pair);
        size_t kl;
        const char *ks = k && fy_node_is_scalar(k) ? fy_node_get_scalar(k, &kl) : NULL;
        if (!ks)
            return cs_cfg_error(c, k, path, "keys must be plain names");
        bool ok = allowed == NULL;
        for (int i = 0; allowed && allowed[i]; i++)
            if (strlen(allowed[i]) == kl && memcmp(allowed[i], ks, kl) == 0)
                ok = true;
        if (!ok) {
            char list[512] = "";
            size_t off = 0;
            for (int i = 0; allowed[i] && off < sizeof list; i++)
                off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "",
                                        allowed[i]);
            char full[256];
            snprintf(full, sizeof full, "%s%s%.*s", path && *path ? path : "",
                     path && *path ? "." : "", (int)kl, ks);
            return cs_cfg_error(c, k, full, "unknown key (known here: %s)", list);
        }
    }
    return 0;
}

int cs_cfg_listen(cs_cfg *c, struct fy_node *map, const char *path, const char *key,
                  const char *addr, bool *loopback)
{
    struct sockaddr_storage ss;
    *loopback = false;
    if (cs_addr_parse(addr, 0, &ss) == 0) {
        *loopback = cs_addr_is_loopback((struct sockaddr *)&ss);
        return 0;
    }
    char full[256], sh[300];
    join(full, sizeof full, path, key);
    struct fy_node *v = cs_cfg_get(map, key);
    return cs_cfg_error(c, v ? v : map, full,
                        "%s is not a listen address: expected host:port with an IPv4 address, "
                        "[IPv6] or localhost and a port up to 65535 (e.g. 127.0.0.1:9464)",
                        cs_cfg_shown(v, addr, sh, sizeof sh));
}

/* ---- the foundation's keys -------------------------------------------- */

static const char *const top_keys[] = {"node", "log", "bus", "logserver", "http", "console", NULL};

static int parse_foundation(cs_cfg *c, struct fy_node *root, cs_config *cfg)
{
    struct fy_node *n;
    int rc = 0;
    static const char *const levels[] = {"debug", "info", "warn", "error", "off", NULL};

    if ((rc = cs_cfg_str(c, root, "", "node", &cfg->node, false)))
        return rc;
    if ((n = cs_cfg_get(root, "log"))) {
        static const char *const k[] = {"level", NULL};
        if ((rc = cs_cfg_expect_map(c, n, "log", k)) ||
            (rc = cs_cfg_enum(c, n, "log", "level", levels, &cfg->log_level, false)))
            return rc;
    }
    if ((n = cs_cfg_get(root, "bus"))) {
        static const char *const k[] = {"queue", "connect", "import", "export", NULL};
        if ((rc = cs_cfg_expect_map(c, n, "bus", k)) ||
            (rc = cs_cfg_uint(c, n, "bus", "queue", &cfg->bus_queue, 16, 1u << 24, false)) ||
            (rc = cs_cfg_str(c, n, "bus", "connect", &cfg->bus_connect, false)) ||
            (rc = cs_cfg_strv(c, n, "bus", "import", &cfg->bus_import, &cfg->nbus_import, false)) ||
            (rc = cs_cfg_strv(c, n, "bus", "export", &cfg->bus_export, &cfg->nbus_export, false)))
            return rc;
        if (!cfg->bus_connect && (cfg->nbus_import || cfg->nbus_export))
            return cs_cfg_error(c, n, "bus", "import and export need bus.connect");
    }
    if ((n = cs_cfg_get(root, "logserver"))) {
        static const char *const k[] = {"enabled",
                                        "socket",
                                        "buffer",
                                        "tcp",
                                        "max_clients",
                                        "unix_reserved",
                                        "max_unauthenticated",
                                        "hello_timeout",
                                        NULL};
        if ((rc = cs_cfg_expect_map(c, n, "logserver", k)) ||
            (rc = cs_cfg_bool(c, n, "logserver", "enabled", &cfg->logserver_enabled, false)) ||
            (rc = cs_cfg_str(c, n, "logserver", "socket", &cfg->logserver_socket, false)) ||
            (rc = cs_cfg_size(c, n, "logserver", "buffer", &cfg->logserver_buffer, false)) ||
            (rc = cs_cfg_uint(c, n, "logserver", "max_clients", &cfg->logserver_max_clients, 2,
                              1u << 20, false)) ||
            (rc = cs_cfg_uint(c, n, "logserver", "unix_reserved", &cfg->logserver_unix_reserved, 1,
                              (1u << 20) - 1, false)) ||
            (rc = cs_cfg_uint(c, n, "logserver", "max_unauthenticated",
                              &cfg->logserver_max_unauthenticated, 1, 1u << 16, false)) ||
            (rc = cs_cfg_duration_ms(c, n, "logserver", "hello_timeout",
                                     &cfg->logserver_hello_timeout_ms, false)))
            return rc;
        if (!cs_cfg_get(n, "unix_reserved") &&
            cfg->logserver_unix_reserved * 2 > cfg->logserver_max_clients)
            cfg->logserver_unix_reserved = cfg->logserver_max_clients / 2;
        if (cfg->logserver_unix_reserved >= cfg->logserver_max_clients)
            return cs_cfg_error(c, cs_cfg_get(n, "unix_reserved"), "logserver.unix_reserved",
                                "must be less than logserver.max_clients (%llu)",
                                (unsigned long long)cfg->logserver_max_clients);
        if (cfg->logserver_hello_timeout_ms < 100 || cfg->logserver_hello_timeout_ms > 3600000)
            return cs_cfg_error(c, cs_cfg_get(n, "hello_timeout"), "logserver.hello_timeout",
                                "must be between 100ms and 1h");
        if (cfg->logserver_buffer < 65536)
            return cs_cfg_error(c, cs_cfg_get(n, "buffer"), "logserver.buffer",
                                "must be at least 64KiB");
        struct fy_node *t = cs_cfg_get(n, "tcp");
        if (t) {
            static const char *const kt[] = {"listen", "token", NULL};
            if ((rc = cs_cfg_expect_map(c, t, "logserver.tcp", kt)) ||
                (rc = cs_cfg_str(c, t, "logserver.tcp", "listen", &cfg->logserver_tcp, true)) ||
                (rc = cs_cfg_str(c, t, "logserver.tcp", "token", &cfg->logserver_token, true)))
                return rc;
            bool lb;
            if ((rc = cs_cfg_listen(c, t, "logserver.tcp", "listen", cfg->logserver_tcp, &lb)))
                return rc;
            if (strlen(cfg->logserver_token) < 16)
                return cs_cfg_error(c, cs_cfg_get(t, "token"), "logserver.tcp.token",
                                    "must be at least 16 characters");
        }
    }
    if ((n = cs_cfg_get(root, "http"))) {
        static const char *const k[] = {"enabled",         "listen",     "token",
                                        "max_connections", "max_per_ip", "request_timeout",
                                        "mask_ips",        NULL};
        if ((rc = cs_cfg_expect_map(c, n, "http", k)) ||
            (rc = cs_cfg_bool(c, n, "http", "enabled", &cfg->http_enabled, false)) ||
            (rc = cs_cfg_str(c, n, "http", "listen", &cfg->http_listen, false)) ||
            (rc = cs_cfg_str(c, n, "http", "token", &cfg->http_token, false)) ||
            (rc = cs_cfg_uint(c, n, "http", "max_connections", &cfg->http_max_connections, 1, 65536,
                              false)) ||
            (rc =
                 cs_cfg_uint(c, n, "http", "max_per_ip", &cfg->http_max_per_ip, 1, 65536, false)) ||
            (rc = cs_cfg_duration_ms(c, n, "http", "request_timeout", &cfg->http_request_timeout_ms,
                                     false)) ||
            (rc = cs_cfg_bool(c, n, "http", "mask_ips", &cfg->http_mask_ips, false)))
            return rc;
        if (cfg->http_request_timeout_ms < 100 || cfg->http_request_timeout_ms > 3600000)
            return cs_cfg_error(c, cs_cfg_get(n, "request_timeout"), "http.request_timeout",
                                "must be between 100ms and 1h");
        if (!cs_cfg_get(n, "enabled"))
            cfg->http_enabled = true;
        bool loopback;
        if ((rc = cs_cfg_listen(c, n, "http", "listen", cfg->http_listen, &loopback)))
            return rc;
        if (!loopback && (!cfg->http_token || strlen(cfg->http_token) < 16))
            return cs_cfg_error(c, cs_cfg_get(n, "listen"), "http.listen",
                                "listening beyond loopback needs http.token (16+ characters)");
    }
    if ((n = cs_cfg_get(root, "console"))) {
        static const char *const k[] = {"filter", "json", "buffer", NULL};
        if ((rc = cs_cfg_expect_map(c, n, "console", k)) ||
            (rc = cs_cfg_strv(c, n, "console", "filter", &cfg->console_filters,
                              &cfg->nconsole_filters, false)) ||
            (rc = cs_cfg_bool(c, n, "console", "json", &cfg->console_json, false)) ||
            (rc = cs_cfg_size(c, n, "console", "buffer", &cfg->console_buffer, false)))
            return rc;
        if (!cfg->console_filters) {
            cfg->console_filters = calloc(2, sizeof(char *));
            if (!cfg->console_filters || !(cfg->console_filters[0] = strdup(">")))
                return CS_ENOMEM;
            cfg->nconsole_filters = 1;
        }
    }
    return 0;
}

static void set_defaults(cs_config *cfg)
{
    char host[256];
    if (gethostname(host, sizeof host) != 0)
        strcpy(host, "localhost");
    host[sizeof host - 1] = 0;
    cfg->node = strdup(host);
    cfg->log_level = CS_LOG_INFO;
    cfg->bus_queue = 65536;
    cfg->logserver_enabled = true;
    cfg->logserver_buffer = 8u << 20;
    cfg->logserver_max_clients = 1024;
    cfg->logserver_unix_reserved = 16;
    cfg->logserver_max_unauthenticated = 64;
    cfg->logserver_hello_timeout_ms = 5000;
    cfg->http_enabled = false;
    cfg->http_listen = strdup("127.0.0.1:9464");
    cfg->http_max_connections = 256;
    cfg->http_max_per_ip = 32;
    cfg->http_request_timeout_ms = 10000;
}

int cs_config_load(const char *path, const cs_cfg_section *table, size_t ntable, cs_config **out,
                   char *err, size_t errlen)
{
    *out = NULL;
    cs_cfg c = {.file = path};
    char *text = NULL;
    size_t tlen = 0;
    int rc = cs_cfg_read(&c, &text, &tlen);
    if (rc) {
        snprintf(err, errlen, "%s", c.err[0] ? c.err : cs_strerror(rc));
        return rc;
    }
    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = NULL;
    dcfg.colorize = false;
    struct fy_diag *diag = fy_diag_create(&dcfg);
    if (!diag) {
        free(text);
        snprintf(err, errlen, "out of memory");
        return CS_ENOMEM;
    }
    fy_diag_set_collect_errors(diag, true);
    struct fy_document *doc = NULL;
    rc = cs_cfg_parse_text(&c, diag, text, tlen, &doc);
    if (rc) {
        snprintf(err, errlen, "%s", c.err[0] ? c.err : cs_strerror(rc));
        fy_diag_destroy(diag);
        free(text);
        return rc;
    }
    c.doc = doc;
    cs_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        if (doc)
            fy_document_destroy(doc);
        fy_diag_destroy(diag);
        free(text);
        return CS_ENOMEM;
    }
    cfg->file = strdup(path);
    set_defaults(cfg);
    struct fy_node *root = doc ? fy_document_root(doc) : NULL;
    if (!root) {
        /* An empty file: every default. */
    } else if (!fy_node_is_mapping(root)) {
        rc = cs_cfg_error(&c, root, NULL, "the file must be a mapping of sections");
    } else {
        /* Every top-level key is the foundation's or a known section's. */
        void *it = NULL;
        struct fy_node_pair *pair;
        while (!rc && (pair = fy_node_mapping_iterate(root, &it))) {
            struct fy_node *k = fy_node_pair_key(pair);
            size_t kl;
            const char *ks = k && fy_node_is_scalar(k) ? fy_node_get_scalar(k, &kl) : "";
            bool known = false;
            for (int i = 0; top_keys[i]; i++)
                known |= strlen(top_keys[i]) == kl && !memcmp(top_keys[i], ks, kl);
            for (size_t i = 0; i < ntable; i++)
                known |= strlen(table[i].name) == kl && !memcmp(table[i].name, ks, kl);
            if (!known) {
                char list[1024];
                size_t off = 0;
                for (int i = 0; top_keys[i]; i++)
                    off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "",
                                            top_keys[i]);
                for (size_t i = 0; i < ntable && off < sizeof list; i++)
                    off += (size_t)snprintf(list + off, sizeof list - off, ", %s", table[i].name);
                char name[128];
                snprintf(name, sizeof name, "%.*s", (int)(kl < 100 ? kl : 100), ks);
                rc = cs_cfg_error(&c, k, name, "unknown section (known: %s)", list);
            }
        }
        if (!rc)
            rc = parse_foundation(&c, root, cfg);
        if (!rc) {
            cfg->sections = calloc(ntable ? ntable : 1, sizeof *cfg->sections);
            if (!cfg->sections)
                rc = CS_ENOMEM;
        }
        for (size_t i = 0; !rc && i < ntable; i++) {
            struct fy_node *n = cs_cfg_get(root, table[i].name);
            if (!n)
                continue;
            void *conf = NULL;
            rc = table[i].parse(&c, n, &conf);
            if (rc && !c.failed)
                cs_cfg_error(&c, n, table[i].name, "%s", cs_strerror(rc));
            if (!rc) {
                cfg->sections[cfg->nsections].def = &table[i];
                cfg->sections[cfg->nsections].conf = conf;
                cfg->nsections++;
            } else if (conf && table[i].free) {
                table[i].free(conf);
            }
        }
    }
    if (!cfg->logserver_socket)
        cfg->logserver_socket = NULL; /* the CLI fills in its default */
    if (doc)
        fy_document_destroy(doc);
    fy_diag_destroy(diag);
    free(text);
    for (size_t i = 0; i < c.nenv; i++) {
        free(c.env[i].name);
        free(c.env[i].value);
    }
    free(c.env);
    if (rc || c.failed) {
        snprintf(err, errlen, "%s", c.err[0] ? c.err : cs_strerror(rc));
        cs_config_free(cfg);
        return CS_ECONFIG;
    }
    *out = cfg;
    return 0;
}

void cs_config_free(cs_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->nsections; i++)
        if (cfg->sections[i].def->free)
            cfg->sections[i].def->free(cfg->sections[i].conf);
    free(cfg->sections);
    free(cfg->file);
    free(cfg->node);
    free(cfg->logserver_socket);
    free(cfg->bus_connect);
    cs_cfg_strv_free(cfg->bus_import);
    cs_cfg_strv_free(cfg->bus_export);
    free(cfg->logserver_tcp);
    free(cfg->logserver_token);
    free(cfg->http_listen);
    free(cfg->http_token);
    cs_cfg_strv_free(cfg->console_filters);
    free(cfg);
}

void *cs_config_section(const cs_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nsections; i++)
        if (strcmp(cfg->sections[i].def->name, name) == 0)
            return cfg->sections[i].conf;
    return NULL;
}
