/* The `monitors:` section (see monitor_config.h). */
#include "rules/monitor_config.h"

#include <libfyaml.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "abi/abi.h"
#include "rules/evm_fields.h"
#include "rules/expr.h"
#include "rules/packs.h"
#include "core/subject.h"

/* Reads an optional expression and compiles it to check it. */
static int read_expr(cs_cfg *c, struct fy_node *map, const char *path, const char *key,
                     const cs_expr_opts *o, char **out)
{
    int rc = cs_cfg_str(c, map, path, key, out, false);
    if (rc || !*out)
        return rc;
    cs_expr *e;
    char msg[300];
    if (cs_expr_compile(*out, strlen(*out), o, &e, msg, sizeof msg)) {
        char full[300];
        snprintf(full, sizeof full, "%s.%s", path, key);
        return cs_cfg_error(c, cs_cfg_get(map, key), full, "%s", msg);
    }
    cs_expr_free(e);
    return 0;
}

static int read_ns(cs_cfg *c, struct fy_node *map, const char *path, const char *key, int64_t *out)
{
    uint64_t ms = 0;
    int rc = cs_cfg_duration_ms(c, map, path, key, &ms, false);
    if (rc == 0 && cs_cfg_get(map, key))
        *out = (int64_t)ms * 1000000;
    return rc;
}

static int read_sigs(cs_cfg *c, struct fy_node *map, const char *path, const char *key,
                     cs_monitor_sig **out, size_t *n)
{
    struct fy_node *seq = cs_cfg_get(map, key);
    char full[300];
    snprintf(full, sizeof full, "%s.%s", path, key);
    if (!seq)
        return 0;
    if (!fy_node_is_sequence(seq))
        return cs_cfg_error(c, seq, full, "expected a list of signatures");
    size_t cnt = (size_t)fy_node_sequence_item_count(seq);
    *out = calloc(cnt + 1, sizeof **out);
    if (!*out)
        return CS_ENOMEM;
    void *it = NULL;
    struct fy_node *item;
    static const char *const allowed[] = {"signature", "condition", NULL};
    while ((item = fy_node_sequence_iterate(seq, &it))) {
        char ip[320];
        snprintf(ip, sizeof ip, "%s[%zu]", full, *n);
        cs_monitor_sig *s = &(*out)[(*n)++];
        if (fy_node_is_scalar(item)) {
            if (!(s->signature = cs_cfg_scalar(c, item, ip)))
                return CS_ECONFIG;
        } else {
            int rc;
            if ((rc = cs_cfg_expect_map(c, item, ip, allowed)) ||
                (rc = cs_cfg_str(c, item, ip, "signature", &s->signature, true)) ||
                (rc = read_expr(c, item, ip, "condition", &cs_evm_arg_opts, &s->condition)))
                return rc;
        }
        char canon[256];
        if (!(s->signature[0] == '0' && s->signature[1] == 'x') &&
            cs_monitor_canonical_sig(s->signature, canon, sizeof canon) < 0)
            return cs_cfg_error(c, item, ip,
                                "expected a signature like Transfer(address,address,uint256), a "
                                "name, or a 0x topic, got \"%s\"",
                                s->signature);
    }
    return 0;
}

static int read_window(cs_cfg *c, struct fy_node *map, const char *path, cs_monitor_window *w)
{
    struct fy_node *n = cs_cfg_get(map, "window");
    if (!n)
        return 0;
    char p[300];
    snprintf(p, sizeof p, "%s.window", path);
    static const char *const allowed[] = {
        "kind",       "threshold",  "rate",      "duration", "group_by", "of",
        "max_groups", "burst",      "cost",      "k",        "warmup",   "samples",
        "alpha",      "min_change", "direction", "forget",   NULL};
    static const char *const kinds[] = {CS_WINDOW_KIND_NAMES, NULL};
    static const char *const dirs[] = {"both", "up", "down", NULL};
    int rc, kind = 0, dir = 0;
    uint64_t u = 0;
    if ((rc = cs_cfg_expect_map(c, n, p, allowed)) ||
        (rc = cs_cfg_enum(c, n, p, "kind", kinds, &kind, false)) ||
        (rc = cs_cfg_enum(c, n, p, "direction", dirs, &dir, false)))
        return rc;
    w->enabled = true;
    w->kind = (cs_window_kind)kind;
    w->direction = (cs_window_dir)dir;
    bool numeric =
        kind == CS_WINDOW_TOKEN_BUCKET || kind == CS_WINDOW_ZSCORE || kind == CS_WINDOW_EWMA;
    if ((rc = read_ns(c, n, p, "duration", &w->window_ns)))
        return rc;
    if (!w->window_ns && !numeric)
        return cs_cfg_error(c, n, p, "a window needs a duration, like 60s");
    if ((rc = cs_cfg_uint(c, n, p, "threshold", &u, 0, CS_WINDOW_MAX_THRESHOLD,
                          kind == CS_WINDOW_COUNT || kind == CS_WINDOW_DISTINCT)))
        return rc;
    w->threshold = u;
    if ((rc = cs_cfg_double(c, n, p, "rate", &w->rate, 0, 1e6,
                            kind == CS_WINDOW_RATE || kind == CS_WINDOW_TOKEN_BUCKET)) ||
        (rc =
             cs_cfg_double(c, n, p, "burst", &w->burst, 1, 1e12, kind == CS_WINDOW_TOKEN_BUCKET)) ||
        (rc = cs_cfg_double(c, n, p, "k", &w->k, 0, 1e6,
                            kind == CS_WINDOW_ZSCORE || kind == CS_WINDOW_EWMA)) ||
        (rc = cs_cfg_double(c, n, p, "alpha", &w->alpha, 0, 1, false)) ||
        (rc = cs_cfg_double(c, n, p, "min_change", &w->min_change, 0, 1e300, false)))
        return rc;
    if (kind == CS_WINDOW_TOKEN_BUCKET && !(w->rate > 0))
        return cs_cfg_error(c, cs_cfg_get(n, "rate"), p, "a token bucket needs a rate above 0");
    if ((kind == CS_WINDOW_ZSCORE || kind == CS_WINDOW_EWMA) && !(w->k > 0))
        return cs_cfg_error(c, cs_cfg_get(n, "k"), p, "k (standard deviations) must be above 0");
    u = 0;
    if ((rc = cs_cfg_uint(c, n, p, "warmup", &u, 1, 1000000, false)))
        return rc;
    w->warmup = (uint32_t)u;
    u = 0;
    if ((rc = cs_cfg_uint(c, n, p, "samples", &u, 2, CS_WINDOW_MAX_SAMPLES, false)))
        return rc;
    w->samples = (uint32_t)u;
    u = 0;
    if ((rc = cs_cfg_uint(c, n, p, "max_groups", &u, 1, 10000000, false)))
        return rc;
    w->max_groups = u;
    if ((rc = read_expr(c, n, p, "group_by", &cs_evm_event_opts, &w->group_by)) ||
        (rc = read_expr(c, n, p, "of", &cs_evm_event_opts, &w->of)) ||
        (rc = read_expr(c, n, p, "cost", &cs_evm_event_opts, &w->cost)) ||
        (rc = read_expr(c, n, p, "forget", &cs_evm_event_opts, &w->forget)))
        return rc;
    if ((kind == CS_WINDOW_DISTINCT || kind == CS_WINDOW_STALE || kind == CS_WINDOW_ZSCORE ||
         kind == CS_WINDOW_EWMA) &&
        !w->of)
        return cs_cfg_error(c, n, p, "a %s window needs `of`: the value it watches", kinds[kind]);
    return 0;
}

static int read_alert(cs_cfg *c, struct fy_node *map, const char *path, const cs_expr_opts *o,
                      cs_monitor_policy *pol)
{
    struct fy_node *n = cs_cfg_get(map, "alert");
    if (!n)
        return 0;
    char p[300];
    snprintf(p, sizeof p, "%s.alert", path);
    static const char *const allowed[] = {"threshold", "within",       "min_interval",
                                          "dedup_key", "dedup_window", NULL};
    uint64_t u = 0;
    int rc;
    if ((rc = cs_cfg_expect_map(c, n, p, allowed)) ||
        (rc = cs_cfg_uint(c, n, p, "threshold", &u, 0, 10000, false)))
        return rc;
    pol->threshold = (uint32_t)u;
    if ((rc = read_ns(c, n, p, "within", &pol->threshold_window_ns)) ||
        (rc = read_ns(c, n, p, "min_interval", &pol->min_interval_ns)) ||
        (rc = read_ns(c, n, p, "dedup_window", &pol->dedup_window_ns)) ||
        (rc = read_expr(c, n, p, "dedup_key", o, &pol->dedup_key)))
        return rc;
    return 0;
}

static int read_filter(cs_cfg *c, struct fy_node *map, const char *path, cs_monitor_filter *f)
{
    struct fy_node *n = cs_cfg_get(map, "filter");
    if (!n)
        return 0;
    char p[300];
    snprintf(p, sizeof p, "%s.filter", path);
    static const char *const allowed[] = {"command", "timeout", "on_error", "on_timeout", NULL};
    static const char *const outcomes[] = {"drop", "keep", NULL};
    int rc, oe = 0, ot = 0;
    size_t argc = 0;
    if ((rc = cs_cfg_expect_map(c, n, p, allowed)) ||
        (rc = cs_cfg_strv(c, n, p, "command", &f->argv, &argc, true)) ||
        (rc = cs_cfg_enum(c, n, p, "on_error", outcomes, &oe, false)) ||
        (rc = cs_cfg_enum(c, n, p, "on_timeout", outcomes, &ot, false)))
        return rc;
    if (!argc)
        return cs_cfg_error(c, cs_cfg_get(n, "command"), p, "command: needs a program");
    f->keep_on_error = oe == 1;
    f->keep_on_timeout = ot == 1;
    f->timeout_ns = 10ll * 1000000000;
    return read_ns(c, n, p, "timeout", &f->timeout_ns);
}

/* A contract monitor's ABI: its path relative to the config file's folder,
 * loaded once here so that a bad file is reported at its key. */
static int resolve_abi(cs_cfg *c, struct fy_node *map, const char *path, char **abi)
{
    bool inline_json = (*abi)[0] == '[';
    if (!inline_json && (*abi)[0] != '/' && c->file && strchr(c->file, '/')) {
        const char *slash = strrchr(c->file, '/');
        size_t dl = (size_t)(slash - c->file), n = dl + strlen(*abi) + 2;
        char *full = malloc(n);
        if (!full)
            return CS_ENOMEM;
        snprintf(full, n, "%.*s/%s", (int)dl, c->file, *abi);
        free(*abi);
        *abi = full;
    }
    cs_abi *a;
    char msg[512];
    if (inline_json ? cs_abi_parse(*abi, strlen(*abi), "abi", &a, msg, sizeof msg)
                    : cs_abi_load_file(*abi, &a, msg, sizeof msg)) {
        char full[320];
        snprintf(full, sizeof full, "%s.abi", path);
        return cs_cfg_error(c, cs_cfg_get(map, "abi"), full, "%s", msg);
    }
    cs_abi_free(a);
    return 0;
}

/* The i-th item of a sequence, or the node itself when it is a scalar. */
static struct fy_node *item_at(struct fy_node *n, size_t i)
{
    if (n && fy_node_is_sequence(n))
        return fy_node_sequence_get_by_index(n, (int)i);
    return n;
}

static int parse_one(cs_cfg *c, struct fy_node *n, const char *p, cs_monitor_def *d)
{
    static const char *const allowed[] = {
        "name",      "type",   "networks", "paused",    "severity",    "risk",          "channels",
        "addresses", "abi",    "events",   "functions", "transaction", "confirmations", "subjects",
        "condition", "window", "alert",    "filter",    "title",       "message",       NULL};
    static const char *const types[] = {"contract", "event", NULL};
    static const char *const sevs[] = {"low", "medium", "high", NULL};
    static const char *const risks[] = {
        "none", "governance", "access-control", "suspicious", "financial", "technical", NULL};
    int rc, type = -1, sev = CS_SEV_MEDIUM, risk = 0;
    uint64_t conf = 0;
    if ((rc = cs_cfg_expect_map(c, n, p, allowed)) ||
        (rc = cs_cfg_str(c, n, p, "name", &d->name, true)) ||
        (rc = cs_cfg_enum(c, n, p, "type", types, &type, false)) ||
        (rc = cs_cfg_strv(c, n, p, "networks", &d->networks, &d->nnetworks, false)) ||
        (rc = cs_cfg_bool(c, n, p, "paused", &d->paused, false)) ||
        (rc = cs_cfg_enum(c, n, p, "severity", sevs, &sev, false)) ||
        (rc = cs_cfg_enum(c, n, p, "risk", risks, &risk, false)) ||
        (rc = cs_cfg_strv(c, n, p, "channels", &d->channels, &d->nchannels, false)) ||
        (rc = cs_cfg_str(c, n, p, "title", &d->title, false)) ||
        (rc = cs_cfg_str(c, n, p, "message", &d->message, false)))
        return rc;
    d->severity = (cs_severity)sev;
    d->risk = (cs_risk)risk;
    bool contractish = cs_cfg_get(n, "addresses") || cs_cfg_get(n, "events") ||
                       cs_cfg_get(n, "functions") || cs_cfg_get(n, "transaction");
    if (type < 0)
        type = cs_cfg_get(n, "subjects") && !contractish ? 1 : 0;
    d->kind = type == 1 ? CS_MONITOR_EVENT : CS_MONITOR_CONTRACT;
    if (d->kind == CS_MONITOR_CONTRACT) {
        struct fy_node *bad =
            cs_cfg_get(n, "subjects") ? cs_cfg_get(n, "subjects") : cs_cfg_get(n, "window");
        if (bad)
            return cs_cfg_error(c, bad, p,
                                "`subjects` and `window` belong to event monitors "
                                "(type: event)");
        if ((rc = cs_cfg_strv(c, n, p, "addresses", &d->addresses, &d->naddresses, false)) ||
            (rc = cs_cfg_str(c, n, p, "abi", &d->abi, false)) ||
            (rc = read_sigs(c, n, p, "events", &d->events, &d->nevents)) ||
            (rc = read_sigs(c, n, p, "functions", &d->functions, &d->nfunctions)) ||
            (rc = read_expr(c, n, p, "transaction", &cs_evm_tx_opts, &d->tx_condition)) ||
            (rc = cs_cfg_uint(c, n, p, "confirmations", &conf, 0, 1000, false)))
            return rc;
        d->confirmations = (uint32_t)conf;
        if (d->abi && (rc = resolve_abi(c, n, p, &d->abi)))
            return rc;
        for (size_t i = 0; i < d->naddresses; i++)
            if (!cs_expr_is_address(d->addresses[i], strlen(d->addresses[i]))) {
                char ip[320];
                snprintf(ip, sizeof ip, "%s.addresses[%zu]", p, i);
                return cs_cfg_error(c, item_at(cs_cfg_get(n, "addresses"), i), ip,
                                    "\"%s\" is not an address (0x and 40 hex digits)",
                                    d->addresses[i]);
            }
    } else {
        if (contractish)
            return cs_cfg_error(c, n, p,
                                "an event monitor (type: event) has `subjects` and "
                                "`condition`, not addresses, events or functions");
        if ((rc = cs_cfg_strv(c, n, p, "subjects", &d->subjects, &d->nsubjects, true)) ||
            (rc = read_expr(c, n, p, "condition", &cs_evm_event_opts, &d->condition)) ||
            (rc = read_window(c, n, p, &d->window)))
            return rc;
        for (size_t i = 0; i < d->nsubjects; i++)
            if (!cs_subject_filter_valid(d->subjects[i], strlen(d->subjects[i]))) {
                char ip[320];
                snprintf(ip, sizeof ip, "%s.subjects[%zu]", p, i);
                return cs_cfg_error(c, item_at(cs_cfg_get(n, "subjects"), i), ip,
                                    "\"%s\" is not a subject filter (like p2p.msg.* or evm.>)",
                                    d->subjects[i]);
            }
    }
    if ((rc = read_alert(c, n, p,
                         d->kind == CS_MONITOR_CONTRACT ? &cs_evm_trigger_opts : &cs_evm_event_opts,
                         &d->policy)) ||
        (rc = read_filter(c, n, p, &d->filter)))
        return rc;
    return 0;
}

void cs_monitors_conf_free(void *conf)
{
    cs_monitors_conf *m = conf;
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        cs_monitor_def_clear(&m->defs[i]);
    free(m->defs);
    free(m);
}

/* ---- rule packs: include, override, switch off -------------------------- */

#define MAX_PACKS 16

typedef struct packdoc {
    cs_cfg cfg; /* file "builtin:NAME", the pack's document */
    struct fy_node *rules;
} packdoc;

typedef struct ritem {
    struct fy_node *node;
    cs_cfg *cfg;
    char path[96];
    char changed_by[64]; /* the user's item that changed a pack rule, or "" */
    bool off;
} ritem;

static char *scalar_of(struct fy_node *map, const char *key)
{
    struct fy_node *v =
        map && fy_node_is_mapping(map) ? fy_node_mapping_lookup_by_string(map, key, FY_NT) : NULL;
    size_t n;
    const char *t = v && fy_node_is_scalar(v) ? fy_node_get_scalar(v, &n) : NULL;
    return t ? strndup(t, n) : NULL;
}

/* Loads the packs an `include:` item names into packs, their rules into items. */
static int include_packs(cs_cfg *c, struct fy_node *item, const char *p, packdoc *packs,
                         size_t *npacks, ritem *items, size_t *nitems, size_t cap)
{
    static const char *const allowed[] = {"include", NULL};
    char **names = NULL;
    size_t nn = 0;
    int rc;
    if ((rc = cs_cfg_expect_map(c, item, p, allowed)) ||
        (rc = cs_cfg_strv(c, item, p, "include", &names, &nn, true)))
        return rc;
    for (size_t i = 0; !rc && i < nn; i++) {
        const cs_embedded *e =
            strncmp(names[i], "builtin:", 8) == 0 ? cs_pack_find(names[i]) : NULL;
        if (!e) {
            char known[400] = "";
            for (const cs_embedded *k = cs_builtin_packs; k->name; k++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%sbuiltin:%s",
                         k == cs_builtin_packs ? "" : ", ", k->name);
            rc = cs_cfg_error(c, item_at(cs_cfg_get(item, "include"), i), p,
                              "no pack \"%s\" (known: %s)", names[i], known);
            break;
        }
        if (*npacks == MAX_PACKS) {
            rc = cs_cfg_error(c, item, p, "at most %d packs", MAX_PACKS);
            break;
        }
        packdoc *pd = &packs[*npacks];
        memset(pd, 0, sizeof *pd);
        pd->cfg.file = e->name; /* "p2p-attacks": errors name the pack */
        pd->cfg.doc = fy_document_build_from_string(NULL, e->text, e->len);
        pd->rules = pd->cfg.doc ? fy_node_by_path(fy_document_root(pd->cfg.doc), "/monitors", FY_NT,
                                                  FYNWF_DONT_FOLLOW)
                                : NULL;
        if (!pd->rules || !fy_node_is_sequence(pd->rules)) {
            if (pd->cfg.doc)
                fy_document_destroy(pd->cfg.doc);
            rc = cs_cfg_error(c, item, p, "pack %s is malformed", names[i]);
            break;
        }
        (*npacks)++;
        void *it = NULL;
        struct fy_node *r;
        while ((r = fy_node_sequence_iterate(pd->rules, &it))) {
            if (*nitems == cap) {
                rc = cs_cfg_error(c, item, p, "too many monitors");
                break;
            }
            ritem *ri = &items[(*nitems)++];
            ri->node = r;
            ri->cfg = &pd->cfg;
            snprintf(ri->path, sizeof ri->path, "builtin:%s.monitors[%zu]", e->name,
                     (size_t)(*nitems - 1));
            ri->off = false;
            ri->changed_by[0] = 0;
        }
    }
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* Writes the keys of src (a user's item) over dst (a pack rule, in doc):
 * maps one level deep (window: {threshold: 50} changes the threshold only). */
static int merge_into(struct fy_document *doc, struct fy_node *dst, struct fy_node *src, int depth)
{
    void *it = NULL;
    struct fy_node_pair *pr;
    while ((pr = fy_node_mapping_iterate(src, &it))) {
        struct fy_node *k = fy_node_pair_key(pr), *v = fy_node_pair_value(pr);
        size_t kl;
        const char *ks = fy_node_get_scalar(k, &kl);
        if (!ks)
            continue;
        struct fy_node *old = fy_node_mapping_lookup_by_string(dst, ks, kl);
        if (old && depth == 0 && v && fy_node_is_mapping(v) && fy_node_is_mapping(old)) {
            if (merge_into(doc, old, v, 1))
                return CS_ENOMEM;
            continue;
        }
        if (old)
            fy_node_free(fy_node_mapping_remove_by_key(dst, fy_node_copy(doc, k)));
        struct fy_node *nk = fy_node_copy(doc, k), *nv = v ? fy_node_copy(doc, v) : NULL;
        if (!nk || fy_node_mapping_append(dst, nk, nv))
            return CS_ENOMEM;
    }
    return 0;
}

/* `enabled: false` switches a monitor off; the key is taken away. */
static int take_enabled(cs_cfg *c, struct fy_node *map, const char *p, bool *on)
{
    *on = true;
    if (!fy_node_is_mapping(map) || !cs_cfg_get(map, "enabled"))
        return 0;
    int rc = cs_cfg_bool(c, map, p, "enabled", on, false);
    if (!rc)
        fy_node_free(fy_node_mapping_remove_by_key(
            map, fy_node_build_from_string(fy_node_document(map), "enabled", FY_NT)));
    return rc;
}

int cs_monitors_conf_parse(cs_cfg *c, struct fy_node *node, void **out)
{
    *out = NULL;
    if (!node || !fy_node_is_sequence(node))
        return cs_cfg_error(c, node, "monitors", "expected a list of monitors (- name: ...)");
    int rc = cs_cfg_unique(c, node, "monitors", "name");
    if (rc)
        return rc;
    size_t cap = (size_t)fy_node_sequence_item_count(node) + 4096;
    packdoc packs[MAX_PACKS];
    size_t npacks = 0, nitems = 0;
    ritem *items = calloc(cap, sizeof *items);
    if (!items)
        return CS_ENOMEM;
    void *it = NULL;
    struct fy_node *item;
    size_t idx = 0;
    while (!rc && (item = fy_node_sequence_iterate(node, &it))) {
        char p[64];
        snprintf(p, sizeof p, "monitors[%zu]", idx++);
        if (fy_node_is_mapping(item) && cs_cfg_get(item, "include")) {
            rc = include_packs(c, item, p, packs, &npacks, items, &nitems, cap);
            continue;
        }
        /* the name of a pack rule: the item changes that rule */
        char *name = scalar_of(item, "name");
        ritem *target = NULL;
        for (size_t i = 0; name && i < nitems; i++) {
            char *n = items[i].cfg != c ? scalar_of(items[i].node, "name") : NULL;
            if (n && strcmp(n, name) == 0)
                target = &items[i];
            free(n);
        }
        free(name);
        bool on;
        if ((rc = take_enabled(c, item, p, &on)))
            break;
        if (target) {
            target->off = !on;
            snprintf(target->changed_by, sizeof target->changed_by, "%s", p);
            rc = merge_into(target->cfg->doc, target->node, item, 0);
            continue;
        }
        if (nitems == cap) {
            rc = cs_cfg_error(c, item, p, "too many monitors");
            break;
        }
        ritem *ri = &items[nitems++];
        ri->node = item;
        ri->cfg = c;
        ri->off = !on;
        ri->changed_by[0] = 0;
        snprintf(ri->path, sizeof ri->path, "%s", p);
    }
    cs_monitors_conf *m = rc ? NULL : calloc(1, sizeof *m);
    if (!rc && (!m || !(m->defs = calloc(nitems + 1, sizeof *m->defs)))) {
        free(m);
        m = NULL;
        rc = CS_ENOMEM;
    }
    for (size_t i = 0; !rc && i < nitems; i++) {
        if (items[i].off)
            continue;
        cs_cfg *ic = items[i].cfg;
        rc = parse_one(ic, items[i].node, items[i].path, &m->defs[m->n++]);
        if (rc && ic != c && !c->failed) { /* an error in a pack rule (or its override) */
            c->failed++;
            if (items[i].changed_by[0]) /* line:col may be in either file */
                snprintf(c->err, sizeof c->err, "builtin:%s (the rule as %s of %s changes it)",
                         ic->err, items[i].changed_by, c->file ? c->file : "the config");
            else
                snprintf(c->err, sizeof c->err, "builtin:%s", ic->err);
        }
    }
    for (size_t i = 0; i < npacks; i++)
        fy_document_destroy(packs[i].cfg.doc);
    free(items);
    if (rc) {
        cs_monitors_conf_free(m);
        return rc;
    }
    *out = m;
    return 0;
}
