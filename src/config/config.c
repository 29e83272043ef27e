#include "config/config.h"
#include "core/error.h"
#include "core/log.h"

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
    return CS_ECONFIG;
}

char *cs_cfg_expand_env(const char *s, size_t n, char *missing, size_t missing_len)
{
    size_t cap = n + 1, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n;) {
        if (s[i] == '$' && i + 1 < n && s[i + 1] == '{') {
            const char *close = memchr(s + i + 2, '}', n - i - 2);
            if (close) {
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
                    snprintf(missing, missing_len, "%.*s", (int)(close - s - i + 1), s + i);
                    return NULL;
                }
                memcpy(var, name, nl);
                var[nl] = 0;
                const char *val = getenv(var);
                size_t vl;
                if (val && *val) {
                    vl = strlen(val);
                } else if (dflt) {
                    val = dflt;
                    vl = dl;
                } else {
                    free(out);
                    snprintf(missing, missing_len, "%s", var);
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
        out[len++] = s[i++];
    }
    out[len] = 0;
    return out;
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
    char missing[256];
    char *v = cs_cfg_expand_env(s ? s : "", s ? len : 0, missing, sizeof missing);
    if (!v)
        cs_cfg_error(c, n, path, "environment variable %s is not set (use ${%s:-default})", missing,
                     missing);
    return v;
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
        cs_cfg_error(c, v, full, "expected a whole number, got \"%s\"", s);
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
        cs_cfg_error(c, v, full, "expected a number, got \"%s\"", s);
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
    else
        rc = cs_cfg_error(c, v, full, "expected true or false, got \"%s\"", s);
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
        cs_cfg_error(c, v, full, "expected a duration like 500ms, 30s, 5m, 2h or 1d, got \"%s\"",
                     s);
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
        cs_cfg_error(c, v, full, "expected a size like 4096, 64KiB, 8MiB or 1GiB, got \"%s\"", s);
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
    cs_cfg_error(c, v, full, "\"%s\" is not one of: %s", s, list);
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
        static const char *const k[] = {"enabled", "socket", "buffer", "tcp", NULL};
        if ((rc = cs_cfg_expect_map(c, n, "logserver", k)) ||
            (rc = cs_cfg_bool(c, n, "logserver", "enabled", &cfg->logserver_enabled, false)) ||
            (rc = cs_cfg_str(c, n, "logserver", "socket", &cfg->logserver_socket, false)) ||
            (rc = cs_cfg_size(c, n, "logserver", "buffer", &cfg->logserver_buffer, false)))
            return rc;
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
            if (strlen(cfg->logserver_token) < 16)
                return cs_cfg_error(c, cs_cfg_get(t, "token"), "logserver.tcp.token",
                                    "must be at least 16 characters");
        }
    }
    if ((n = cs_cfg_get(root, "http"))) {
        static const char *const k[] = {"enabled", "listen", "token", NULL};
        if ((rc = cs_cfg_expect_map(c, n, "http", k)) ||
            (rc = cs_cfg_bool(c, n, "http", "enabled", &cfg->http_enabled, false)) ||
            (rc = cs_cfg_str(c, n, "http", "listen", &cfg->http_listen, false)) ||
            (rc = cs_cfg_str(c, n, "http", "token", &cfg->http_token, false)))
            return rc;
        if (!cs_cfg_get(n, "enabled"))
            cfg->http_enabled = true;
        bool loopback = strncmp(cfg->http_listen, "127.", 4) == 0 ||
                        strncmp(cfg->http_listen, "[::1]", 5) == 0 ||
                        strncmp(cfg->http_listen, "localhost:", 10) == 0;
        if (!loopback && (!cfg->http_token || strlen(cfg->http_token) < 16))
            return cs_cfg_error(c, cs_cfg_get(n, "listen"), "http.listen",
                                "listening beyond loopback needs http.token (16+ characters)");
    }
    if ((n = cs_cfg_get(root, "console"))) {
        static const char *const k[] = {"filter", "json", NULL};
        if ((rc = cs_cfg_expect_map(c, n, "console", k)) ||
            (rc = cs_cfg_strv(c, n, "console", "filter", &cfg->console_filters,
                              &cfg->nconsole_filters, false)) ||
            (rc = cs_cfg_bool(c, n, "console", "json", &cfg->console_json, false)))
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
    cfg->http_enabled = false;
    cfg->http_listen = strdup("127.0.0.1:9464");
}

/* Reads libfyaml's collected diagnostics into c->err. */
static void yaml_errors(cs_cfg *c, struct fy_diag *diag)
{
    void *it = NULL;
    struct fy_diag_error *e;
    while ((e = fy_diag_errors_iterate(diag, &it))) {
        if (e->type < FYET_ERROR)
            continue;
        /* Collected diagnostics count lines and columns from 1. */
        snprintf(c->err, sizeof c->err, "%s:%d:%d: invalid YAML: %s", c->file, e->line, e->column,
                 e->msg);
        c->failed = 1;
        return;
    }
    snprintf(c->err, sizeof c->err, "%s: invalid YAML", c->file);
    c->failed = 1;
}

/* True when the file holds nothing but blank lines and comments (libfyaml
 * reports such a stream as an error; for us it means "all defaults"). */
static bool blank_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    int ch;
    bool blank = true, comment = false;
    while (blank && (ch = fgetc(f)) != EOF) {
        if (ch == '\n')
            comment = false;
        else if (ch == '#')
            comment = true;
        else if (!comment && ch != ' ' && ch != '\t' && ch != '\r')
            blank = false;
    }
    fclose(f);
    return blank;
}

int cs_config_load(const char *path, const cs_cfg_section *table, size_t ntable, cs_config **out,
                   char *err, size_t errlen)
{
    *out = NULL;
    cs_cfg c = {.file = path};
    if (access(path, R_OK) != 0) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return CS_EIO;
    }
    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = NULL;
    dcfg.colorize = false;
    struct fy_diag *diag = fy_diag_create(&dcfg);
    if (!diag) {
        snprintf(err, errlen, "out of memory");
        return CS_ENOMEM;
    }
    fy_diag_set_collect_errors(diag, true);
    struct fy_parse_cfg pcfg = {.flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG |
                                         FYPCF_DEFAULT_VERSION_1_2 | FYPCF_RESOLVE_DOCUMENT,
                                .diag = diag};
    struct fy_document *doc = blank_file(path) ? NULL : fy_document_build_from_file(&pcfg, path);
    if (!doc && !fy_diag_got_error(diag)) {
        /* An empty file (or only comments): every default. */
    } else if (!doc || fy_diag_got_error(diag)) {
        yaml_errors(&c, diag);
        snprintf(err, errlen, "%s", c.err);
        if (doc)
            fy_document_destroy(doc);
        fy_diag_destroy(diag);
        return CS_ECONFIG;
    }
    c.doc = doc;
    cs_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        fy_document_destroy(doc);
        fy_diag_destroy(diag);
        return CS_ENOMEM;
    }
    cfg->file = strdup(path);
    set_defaults(cfg);
    struct fy_node *root = doc ? fy_document_root(doc) : NULL;
    int rc = 0;
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
