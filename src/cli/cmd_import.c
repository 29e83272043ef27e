/* chainscope monitor import: Defender monitors (its API / SDK JSON) and
 * OpenZeppelin Monitor configs (config/monitors, networks, triggers) as
 * chainscope YAML, with a report of every field not carried over and why
 * (docs/monitors.md "Importing"). */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/json.h"

typedef struct imp {
    cs_buf y;   /* monitors: ... */
    cs_buf ch;  /* channels: ... */
    cs_buf evm; /* evm: networks: ... */
    cs_buf rep; /* the report */
    const char *what;
    unsigned monitors, skipped;
} imp;

static void note(imp *m, const char *field, const char *why)
{
    cs_buf_printf(&m->rep, "%s: %s: %s\n", m->what, field, why);
}

/* A value as a YAML scalar: strings double-quoted (JSON escapes are YAML's). */
static void scalar(cs_buf *b, const cs_val *v)
{
    cs_json_value(b, v);
}

static void qstr(cs_buf *b, const char *s, size_t n)
{
    cs_vw w;
    cs_vw_init(&w, 0);
    cs_vw_str(&w, s, n);
    cs_val v;
    if (!cs_vw_error(&w) && cs_val_read(w.buf.data, w.buf.len, &v, NULL) == 0)
        cs_json_value(b, &v);
    cs_vw_free(&w);
}

static bool get(const cs_val *o, const char *path, cs_val *out)
{
    return o->kind == CS_VAL_OBJECT && cs_val_path(o, path, strlen(path), out) == 0 &&
           out->kind != CS_VAL_NULL;
}

static bool is_str(const cs_val *v)
{
    return v->kind == CS_VAL_STR;
}

/* OZ Monitor spells its enums both ways (Plain, plain). */
static bool str_ieq(const cs_val *v, const char *s)
{
    return is_str(v) && strlen(s) == v->n && strncasecmp((const char *)v->p, s, v->n) == 0;
}

/* A JSON value (an ABI) as the text of a YAML string. */
static void json_text(cs_buf *b, const cs_val *v)
{
    if (is_str(v)) {
        scalar(b, v);
        return;
    }
    cs_buf t;
    cs_buf_init(&t, 0);
    cs_json_value(&t, v);
    qstr(b, (const char *)t.data, t.len);
    cs_buf_free(&t);
}

static int read_json(const char *path, cs_vw *w, cs_val *root)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    cs_buf t;
    cs_buf_init(&t, 0);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        cs_buf_append(&t, chunk, n);
    fclose(f);
    char err[300];
    cs_vw_init(w, 0);
    int rc = cs_json_parse_value((const char *)t.data, t.len, w, err, sizeof err);
    cs_buf_free(&t);
    if (rc == 0)
        rc = cs_val_read(w->buf.data, w->buf.len, root, NULL);
    if (rc)
        fprintf(stderr, "chainscope monitor import: %s: %s\n", path, err);
    return rc;
}

static bool key_in(const char *k, size_t kl, const char *const *list)
{
    for (; *list; list++)
        if (strlen(*list) == kl && memcmp(*list, k, kl) == 0)
            return true;
    return false;
}

/* Every key of o not in known is reported as not carried over. */
static void unknown_keys(imp *m, const cs_val *o, const char *const *known, const char *why)
{
    cs_val_iter it;
    cs_val_iter_init(&it, o);
    const char *k;
    size_t kl;
    cs_val v;
    while (cs_val_next(&it, &k, &kl, &v) == 1)
        if (!key_in(k, kl, known)) {
            char f[128];
            snprintf(f, sizeof f, "%.*s", (int)kl, k);
            note(m, f, why);
        }
}

static void str_list(cs_buf *b, const char *key, const cs_val *arr, const char *sub)
{
    cs_buf_printf(b, "    %s: [", key);
    cs_val_iter it;
    cs_val_iter_init(&it, arr);
    cs_val v, s;
    bool first = true;
    while (cs_val_next(&it, NULL, NULL, &v) == 1) {
        const cs_val *x = sub ? (get(&v, sub, &s) ? &s : NULL) : &v;
        if (!x)
            continue;
        cs_buf_append_str(b, first ? "" : ", ");
        scalar(b, x);
        first = false;
    }
    cs_buf_append_str(b, "]\n");
}

/* Conditions: [{SIGKEY, EXPRKEY}] as events: / functions:. */
static void sigs(cs_buf *b, const char *key, const cs_val *arr, const char *sigkey,
                 const char *exprkey)
{
    if (arr->kind != CS_VAL_ARRAY || !arr->count)
        return;
    cs_buf_printf(b, "    %s:\n", key);
    cs_val_iter it;
    cs_val_iter_init(&it, arr);
    cs_val c, s, e;
    while (cs_val_next(&it, NULL, NULL, &c) == 1) {
        if (!get(&c, sigkey, &s))
            continue;
        cs_buf_append_str(b, "      - signature: ");
        scalar(b, &s);
        cs_buf_putc(b, '\n');
        if (get(&c, exprkey, &e) && is_str(&e) && e.n) {
            cs_buf_append_str(b, "        condition: ");
            scalar(b, &e);
            cs_buf_putc(b, '\n');
        }
    }
}

static void lower_enum(cs_buf *b, const char *key, const cs_val *v)
{
    char t[64];
    size_t n = v->n < sizeof t - 1 ? v->n : sizeof t - 1;
    for (size_t i = 0; i < n; i++) {
        char c = (char)v->p[i];
        t[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c == '_' ? '-' : c;
    }
    t[n] = 0;
    cs_buf_printf(b, "    %s: %s\n", key, t);
}

/* ---- Defender ------------------------------------------------------------ */

static void defender_one(imp *m, const cs_val *o)
{
    static const char *const known[] = {"name",
                                        "type",
                                        "network",
                                        "addresses",
                                        "abi",
                                        "confirmLevel",
                                        "paused",
                                        "eventConditions",
                                        "functionConditions",
                                        "txCondition",
                                        "alertThreshold",
                                        "alertTimeoutMs",
                                        "riskCategory",
                                        "severityLevel",
                                        "notificationChannels",
                                        "alertMessageBody",
                                        "alertMessageSubject",
                                        "addressRules",
                                        "notifyConfig",
                                        "monitorId",
                                        "subscriberId",
                                        "createdAt",
                                        "tenantId",
                                        "blockWatcherId",
                                        "skipABIValidation",
                                        "autotaskCondition",
                                        "autotaskTrigger",
                                        "actionCondition",
                                        "actionTrigger",
                                        NULL};
    cs_val v, rule, cond, nc;
    char what[200];
    snprintf(what, sizeof what, "monitor %.*s", get(o, "name", &v) && is_str(&v) ? (int)v.n : 1,
             get(o, "name", &v) && is_str(&v) ? (const char *)v.p : "?");
    m->what = what;
    if (get(o, "type", &v) && is_str(&v) && !cs_val_str_eq(&v, "BLOCK")) {
        note(m, "type", "only BLOCK monitors are imported (Forta monitors have no equivalent)");
        m->skipped++;
        return;
    }
    /* the API's shape keeps the rule under addressRules[0] and notifyConfig */
    bool api = get(o, "addressRules", &rule) && cs_val_index(&rule, 0, &rule) == 0;
    bool has_nc = get(o, "notifyConfig", &nc);
    const cs_val *r = api ? &rule : o;
    if (!(api && get(&rule, "conditions", &cond) && cs_val_index(&cond, 0, &cond) == 0))
        cond = *r;
    cs_buf *b = &m->y;
    cs_buf_append_str(b, "  - name: ");
    if (get(o, "name", &v))
        scalar(b, &v);
    else
        cs_buf_append_str(b, "imported");
    cs_buf_append_str(b, "\n    type: contract\n");
    if (get(o, "network", &v)) {
        cs_buf_append_str(b, "    networks: [");
        scalar(b, &v);
        cs_buf_append_str(b, "]\n");
    }
    if (get(o, "paused", &v) && v.kind == CS_VAL_BOOL)
        cs_buf_printf(b, "    paused: %s\n", v.b ? "true" : "false");
    if ((get(o, "severityLevel", &v) || (has_nc && get(&nc, "severityLevel", &v))) && is_str(&v))
        lower_enum(b, "severity", &v);
    else if (get(o, "severityLevel", &v) && v.kind == CS_VAL_INT)
        cs_buf_printf(b, "    severity: %s\n", v.u >= 3 ? "high" : v.u == 2 ? "medium" : "low");
    if (get(o, "riskCategory", &v) && is_str(&v))
        lower_enum(b, "risk", &v);
    if (get(r, "addresses", &v))
        str_list(b, "addresses", &v, NULL);
    if (get(r, "abi", &v)) {
        cs_buf_append_str(b, "    abi: ");
        json_text(b, &v);
        cs_buf_putc(b, '\n');
    }
    if (get(o, "confirmLevel", &v)) {
        if (v.kind == CS_VAL_INT)
            cs_buf_printf(b, "    confirmations: %llu\n", (unsigned long long)v.u);
        else
            note(m, "confirmLevel",
                 "safe and finalized are the follower's setting: set evm.networks[].confirmations "
                 "(the monitor then runs on the follower's confirmed blocks)");
    }
    if (get(&cond, "eventConditions", &v))
        sigs(b, "events", &v, "eventSignature", "expression");
    if (get(&cond, "functionConditions", &v))
        sigs(b, "functions", &v, "functionSignature", "expression");
    if ((get(&cond, "txCondition", &v) || get(&cond, "txConditions[0].expression", &v)) &&
        is_str(&v) && v.n) {
        cs_buf_append_str(b, "    transaction: ");
        scalar(b, &v);
        cs_buf_putc(b, '\n');
    }
    cs_val amt, win, to;
    bool a = get(o, "alertThreshold.amount", &amt) && amt.kind == CS_VAL_INT;
    bool w = get(o, "alertThreshold.windowSeconds", &win) && win.kind == CS_VAL_INT;
    bool t = (get(o, "alertTimeoutMs", &to) || (has_nc && get(&nc, "timeoutMs", &to))) &&
             to.kind == CS_VAL_INT && to.u;
    if (a || t) {
        cs_buf_append_str(b, "    alert: {");
        if (a)
            cs_buf_printf(b, "threshold: %llu%s", (unsigned long long)amt.u, w ? ", " : "");
        if (a && w)
            cs_buf_printf(b, "within: %llus", (unsigned long long)win.u);
        if (t)
            cs_buf_printf(b, "%smin_interval: %llums", a ? ", " : "", (unsigned long long)to.u);
        cs_buf_append_str(b, "}\n");
    }
    if (get(o, "notificationChannels", &v) && v.count) {
        str_list(b, "channels", &v, NULL);
        note(m, "notificationChannels",
             "Defender channel ids are kept as channel names: define them under channels:");
    } else if (has_nc && get(&nc, "notifications", &v) && v.count) {
        str_list(b, "channels", &v, "notificationId");
        note(m, "notifyConfig.notifications",
             "Defender channel ids are kept as channel names: define them under channels:");
    }
    if ((get(o, "alertMessageSubject", &v) || (has_nc && get(&nc, "messageSubject", &v))) &&
        is_str(&v)) {
        cs_buf_append_str(b, "    title: ");
        scalar(b, &v);
        cs_buf_putc(b, '\n');
    }
    if ((get(o, "alertMessageBody", &v) || (has_nc && get(&nc, "messageBody", &v))) && is_str(&v)) {
        cs_buf_append_str(b, "    message: ");
        scalar(b, &v);
        cs_buf_putc(b, '\n');
    }
    static const char *const actions[] = {"autotaskCondition", "autotaskTrigger", "actionCondition",
                                          "actionTrigger"};
    for (size_t i = 0; i < 4; i++)
        if (get(o, actions[i], &v) || (api && get(&rule, actions[i], &v)) ||
            (has_nc && get(&nc, i % 2 ? "autotaskId" : "actionId", &v)))
            note(m, actions[i],
                 "Defender actions run in Defender: use a custom filter (filter: command:) or a "
                 "script channel");
    if (get(o, "skipABIValidation", &v))
        note(m, "skipABIValidation", "the ABI is always checked when the config is loaded");
    unknown_keys(m, o, known, "no equivalent");
    m->monitors++;
}

static int from_defender(imp *m, const char *path)
{
    cs_vw w;
    cs_val root, items;
    if (read_json(path, &w, &root))
        return CS_EXIT_CONFIG;
    const cs_val *list = &root;
    if (root.kind == CS_VAL_OBJECT && get(&root, "items", &items))
        list = &items;
    if (list->kind == CS_VAL_ARRAY) {
        cs_val_iter it;
        cs_val_iter_init(&it, list);
        cs_val o;
        while (cs_val_next(&it, NULL, NULL, &o) == 1)
            defender_one(m, &o);
    } else {
        defender_one(m, list);
    }
    cs_vw_free(&w);
    return 0;
}

/* ---- OpenZeppelin Monitor ------------------------------------------------ */

/* A SecretValue {type: Plain|Environment|..., value}: never written out;
 * Environment becomes ${NAME}, a plain one a variable to set. */
static void secret(imp *m, cs_buf *b, const cs_val *v, const char *var, const char *field)
{
    cs_val t, val;
    if (is_str(v)) {
        cs_buf_printf(b, "\"${%s}\"", var);
        note(m, field, "plain secrets are not written: set the environment variable it names");
        return;
    }
    if (get(v, "type", &t) && str_ieq(&t, "environment") && get(v, "value", &val) && is_str(&val)) {
        cs_buf_printf(b, "\"${%.*s}\"", (int)val.n, (const char *)val.p);
        return;
    }
    cs_buf_printf(b, "\"${%s}\"", var);
    note(m, field, "plain or vault secrets are not written: set the environment variable it names");
}

/* OZ Monitor's ${path} placeholders as {{ path }}; ${events.N.args.X} is
 * matchReasons[N].params.X. */
static void oz_template(cs_buf *b, const cs_val *v)
{
    cs_buf t;
    cs_buf_init(&t, 0);
    const char *s = (const char *)v->p, *e = s + v->n;
    while (s < e) {
        const char *close =
            s[0] == '$' && s + 1 < e && s[1] == '{' ? memchr(s, '}', (size_t)(e - s)) : NULL;
        if (!close) {
            cs_buf_putc(&t, *s++);
            continue;
        }
        const char *p = s + 2;
        size_t n = (size_t)(close - p);
        int idx;
        char rest[200];
        if (n < sizeof rest && sscanf(p, "events.%d.args.%199[A-Za-z0-9_]", &idx, rest) == 2)
            cs_buf_printf(&t, "{{ matchReasons[%d].params.%s }}", idx, rest);
        else if (n < sizeof rest &&
                 sscanf(p, "functions.%d.args.%199[A-Za-z0-9_]", &idx, rest) == 2)
            cs_buf_printf(&t, "{{ matchReasons[%d].params.%s }}", idx, rest);
        else
            cs_buf_printf(&t, "{{ %.*s }}", (int)n, p);
        s = close + 1;
    }
    qstr(b, (const char *)t.data, t.len);
    cs_buf_free(&t);
}

static void oz_trigger(imp *m, const char *id, size_t idl, const cs_val *tr)
{
    char what[200], var[160];
    snprintf(what, sizeof what, "trigger %.*s", (int)idl, id);
    m->what = what;
    size_t o = 0;
    for (size_t i = 0; i < idl && o + 6 < sizeof var; i++)
        var[o++] = id[i] >= 'a' && id[i] <= 'z' ? (char)(id[i] - 32)
                   : (id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= '0' && id[i] <= '9') ? id[i]
                                                                                      : '_';
    var[o] = 0;
    cs_val type, cfg, v;
    if (!get(tr, "trigger_type", &type) || !get(tr, "config", &cfg))
        return;
    cs_buf *b = &m->ch;
    cs_buf_printf(b, "  %.*s:\n", (int)idl, id);
    char env[200];
    if (cs_val_str_eq(&type, "slack") || cs_val_str_eq(&type, "discord")) {
        cs_buf_printf(b, "    type: %.*s\n    url: ", (int)type.n, (const char *)type.p);
        snprintf(env, sizeof env, "%s_URL", var);
        if (get(&cfg, cs_val_str_eq(&type, "slack") ? "slack_url" : "discord_url", &v))
            secret(m, b, &v, env, "config.url");
        cs_buf_putc(b, '\n');
    } else if (cs_val_str_eq(&type, "telegram")) {
        cs_buf_append_str(b, "    type: telegram\n    token: ");
        snprintf(env, sizeof env, "%s_TOKEN", var);
        if (get(&cfg, "token", &v))
            secret(m, b, &v, env, "config.token");
        cs_buf_append_str(b, "\n    chat_id: ");
        if (get(&cfg, "chat_id", &v))
            scalar(b, &v);
        cs_buf_putc(b, '\n');
        if (get(&cfg, "disable_web_preview", &v))
            note(m, "config.disable_web_preview", "links are never previewed");
    } else if (cs_val_str_eq(&type, "webhook")) {
        cs_buf_append_str(b, "    type: webhook\n    url: ");
        snprintf(env, sizeof env, "%s_URL", var);
        if (get(&cfg, "url", &v))
            secret(m, b, &v, env, "config.url");
        cs_buf_putc(b, '\n');
        if (get(&cfg, "method", &v) && is_str(&v)) {
            cs_buf_append_str(b, "    method: ");
            scalar(b, &v);
            cs_buf_putc(b, '\n');
        }
        if (get(&cfg, "secret", &v)) {
            cs_buf_append_str(b, "    secret: ");
            snprintf(env, sizeof env, "%s_SECRET", var);
            secret(m, b, &v, env, "config.secret");
            cs_buf_putc(b, '\n');
        }
        if (get(&cfg, "headers", &v))
            note(m, "config.headers", "copy the headers by hand (they may hold secrets)");
    } else if (cs_val_str_eq(&type, "script")) {
        cs_val lang, sp;
        cs_buf_append_str(b, "    type: script\n    command: [");
        if (get(&cfg, "language", &lang) && is_str(&lang))
            cs_buf_printf(b, "%s, ",
                          cs_val_str_eq(&lang, "Python")       ? "python3"
                          : cs_val_str_eq(&lang, "JavaScript") ? "node"
                          : cs_val_str_eq(&lang, "Bash")       ? "bash"
                                                               : "sh");
        if (get(&cfg, "script_path", &sp))
            scalar(b, &sp);
        cs_buf_append_str(b, "]\n");
        note(m, "config", "a script channel gets the alert document on stdin, not OZ's JSON");
    } else {
        /* email: SMTP settings belong to a channel of type email */
        cs_buf_printf(b, "    type: webhook\n    url: \"${%s_URL}\"\n", var);
        note(m, "trigger_type",
             "email: write the channel by hand (type: email with smtp settings, docs/monitors.md)");
    }
    if (get(&cfg, "message.title", &v) && is_str(&v)) {
        cs_buf_append_str(b, "    title: ");
        oz_template(b, &v);
        cs_buf_putc(b, '\n');
    }
    if (get(&cfg, "message.body", &v) && is_str(&v)) {
        cs_buf_append_str(b, "    message: ");
        oz_template(b, &v);
        cs_buf_putc(b, '\n');
    }
}

static void oz_monitor(imp *m, const cs_val *o)
{
    static const char *const known[] = {
        "name",     "paused", "networks", "addresses", "match_conditions", "trigger_conditions",
        "triggers", NULL};
    cs_val v, mc, x;
    char what[200];
    bool named = get(o, "name", &v) && is_str(&v);
    snprintf(what, sizeof what, "monitor %.*s", named ? (int)v.n : 1,
             named ? (const char *)v.p : "?");
    m->what = what;
    cs_buf *b = &m->y;
    cs_buf_append_str(b, "  - name: ");
    if (named)
        scalar(b, &v);
    else
        cs_buf_append_str(b, "imported");
    cs_buf_append_str(b, "\n    type: contract\n");
    if (get(o, "networks", &v))
        str_list(b, "networks", &v, NULL);
    if (get(o, "paused", &v) && v.kind == CS_VAL_BOOL)
        cs_buf_printf(b, "    paused: %s\n", v.b ? "true" : "false");
    if (get(o, "addresses", &v)) {
        str_list(b, "addresses", &v, "address");
        cs_val first;
        if (cs_val_index(&v, 0, &first) == 0 && get(&first, "contract_spec", &x)) {
            cs_buf_append_str(b, "    abi: ");
            json_text(b, &x);
            cs_buf_putc(b, '\n');
            if (v.count > 1)
                note(m, "addresses[].contract_spec",
                     "one ABI per monitor: the first address's spec is used for all");
        }
    }
    if (get(o, "match_conditions", &mc)) {
        if (get(&mc, "events", &x))
            sigs(b, "events", &x, "signature", "expression");
        if (get(&mc, "functions", &x))
            sigs(b, "functions", &x, "signature", "expression");
        if (get(&mc, "transactions", &x) && x.count) {
            /* each {status, expression} is an alternative */
            cs_buf t;
            cs_buf_init(&t, 0);
            cs_val_iter it;
            cs_val_iter_init(&it, &x);
            cs_val c, st, ex;
            while (cs_val_next(&it, NULL, NULL, &c) == 1) {
                cs_buf_append_str(&t, t.len ? " OR (" : "(");
                bool any = !get(&c, "status", &st) || str_ieq(&st, "any");
                if (!any)
                    cs_buf_printf(&t, "status == \"%s\"",
                                  str_ieq(&st, "success") ? "success" : "failed");
                if (get(&c, "expression", &ex) && is_str(&ex) && ex.n)
                    cs_buf_printf(&t, "%s(%.*s)", any ? "" : " AND ", (int)ex.n,
                                  (const char *)ex.p);
                else if (any)
                    cs_buf_append_str(&t, "true");
                cs_buf_putc(&t, ')');
            }
            cs_buf_append_str(b, "    transaction: ");
            qstr(b, (const char *)t.data, t.len);
            cs_buf_putc(b, '\n');
            cs_buf_free(&t);
        }
    }
    if (get(o, "trigger_conditions", &x) && x.count) {
        cs_val sp, lang, to, first;
        if (cs_val_index(&x, 0, &first) == 0 && get(&first, "script_path", &sp)) {
            cs_buf_append_str(b, "    filter:\n      command: [");
            if (get(&first, "language", &lang) && is_str(&lang))
                cs_buf_printf(b, "%s, ",
                              cs_val_str_eq(&lang, "Python")       ? "python3"
                              : cs_val_str_eq(&lang, "JavaScript") ? "node"
                              : cs_val_str_eq(&lang, "Bash")       ? "bash"
                                                                   : "sh");
            scalar(b, &sp);
            cs_val args, a;
            if (get(&first, "arguments", &args) && args.kind == CS_VAL_ARRAY) {
                cs_val_iter ai;
                cs_val_iter_init(&ai, &args);
                while (cs_val_next(&ai, NULL, NULL, &a) == 1) {
                    cs_buf_append_str(b, ", ");
                    scalar(b, &a);
                }
            }
            cs_buf_append_str(b, "]\n");
            if (get(&first, "timeout_ms", &to) && to.kind == CS_VAL_INT)
                cs_buf_printf(b, "      timeout: %llums\n", (unsigned long long)to.u);
        }
        note(m, "trigger_conditions",
             "the script becomes a custom filter: it gets {\"matches\": [...]} and answers the "
             "matches to keep, where OZ Monitor's printed true or false (adapt it)");
        if (x.count > 1)
            note(m, "trigger_conditions[1..]", "one filter per monitor: the first is used");
    }
    if (get(o, "triggers", &x) && x.count)
        str_list(b, "channels", &x, NULL);
    unknown_keys(m, o, known, "no equivalent");
    m->monitors++;
}

static void oz_network(imp *m, const cs_val *o)
{
    static const char *const known[] = {"network_type",
                                        "slug",
                                        "name",
                                        "rpc_urls",
                                        "chain_id",
                                        "confirmation_blocks",
                                        "block_time_ms",
                                        "cron_schedule",
                                        "max_past_blocks",
                                        "store_blocks",
                                        NULL};
    cs_val v, slug;
    char what[200];
    bool has = get(o, "slug", &slug) && is_str(&slug);
    snprintf(what, sizeof what, "network %.*s", has ? (int)slug.n : 1,
             has ? (const char *)slug.p : "?");
    m->what = what;
    if (!has)
        return;
    if (get(o, "network_type", &v) && !str_ieq(&v, "evm")) {
        note(m, "network_type", "only EVM networks are imported");
        return;
    }
    cs_buf *b = &m->evm;
    cs_buf_append_str(b, "    - name: ");
    scalar(b, &slug);
    cs_buf_append_str(b, "\n      rpc: [");
    cs_val urls;
    if (get(o, "rpc_urls", &urls)) {
        cs_val_iter it;
        cs_val_iter_init(&it, &urls);
        cs_val u, url;
        int i = 0;
        while (cs_val_next(&it, NULL, NULL, &u) == 1)
            if (get(&u, "url", &url)) {
                char env[200];
                snprintf(env, sizeof env, "%.*s_RPC_%d", (int)slug.n, (const char *)slug.p, i);
                for (char *p = env; *p; p++)
                    *p = *p >= 'a' && *p <= 'z' ? (char)(*p - 32) : *p == '-' ? '_' : *p;
                cs_val t;
                cs_buf_append_str(b, i++ ? ", " : "");
                if (get(&url, "type", &t) && str_ieq(&t, "plain") && get(&url, "value", &t) &&
                    is_str(&t))
                    scalar(b, &t); /* an RPC URL; secrets in it belong in ${VAR} */
                else
                    secret(m, b, &url, env, "rpc_urls[].url");
            }
    }
    cs_buf_append_str(b, "]\n");
    if (get(o, "confirmation_blocks", &v) && v.kind == CS_VAL_INT)
        cs_buf_printf(b, "      confirmations: %llu\n", (unsigned long long)v.u);
    static const char *const follower[] = {"block_time_ms", "cron_schedule", "max_past_blocks",
                                           "store_blocks"};
    for (size_t i = 0; i < 4; i++)
        if (get(o, follower[i], &v))
            note(m, follower[i],
                 "the follower polls the head itself and keeps a cursor (docs/evm.md)");
    unknown_keys(m, o, known, "no equivalent");
}

/* Every *.json in DIR/sub (or DIR/config/sub). */
static void oz_dir(imp *m, const char *dir, const char *sub, int kind)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    DIR *d = opendir(path);
    if (!d) {
        snprintf(path, sizeof path, "%s/config/%s", dir, sub);
        d = opendir(path);
    }
    if (!d)
        return;
    struct dirent **names;
    closedir(d);
    int n = scandir(path, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        const char *f = names[i]->d_name;
        size_t fl = strlen(f);
        char full[8192];
        snprintf(full, sizeof full, "%s/%s", path, f);
        cs_vw w;
        cs_val root;
        if (fl > 5 && strcmp(f + fl - 5, ".json") == 0 && read_json(full, &w, &root) == 0) {
            if (kind == 0)
                oz_monitor(m, &root);
            else if (kind == 1)
                oz_network(m, &root);
            else {
                cs_val_iter it;
                cs_val_iter_init(&it, &root);
                const char *k;
                size_t kl;
                cs_val v;
                while (cs_val_next(&it, &k, &kl, &v) == 1)
                    oz_trigger(m, k, kl, &v);
            }
            cs_vw_free(&w);
        }
        free(names[i]);
    }
    free(names);
}

static void help(void)
{
    printf("usage: chainscope monitor import --from defender FILE.json [-o OUT] [--report FILE]\n"
           "       chainscope monitor import --from oz-monitor DIR [-o OUT] [--report FILE]\n"
           "\n"
           "Writes chainscope YAML (monitors:, and for OpenZeppelin Monitor also channels:\n"
           "and evm: networks) for Defender monitors (one or a list, as its API and SDK\n"
           "export them) or an OpenZeppelin Monitor config folder (monitors/, networks/,\n"
           "triggers/ of JSON files). Every field that could not be carried over is\n"
           "reported with the reason (on stderr, or in --report FILE). Secrets are\n"
           "never written: they become ${VARIABLES} to set. docs/monitors.md lists\n"
           "the mappings.\n");
}

int cs_cmd_monitor_import(int argc, char **argv)
{
    const char *from = NULL, *src = NULL, *out = NULL, *report = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help();
            return CS_EXIT_OK;
        }
        bool takes = strcmp(a, "--from") == 0 || strcmp(a, "-o") == 0 || strcmp(a, "--out") == 0 ||
                     strcmp(a, "--report") == 0;
        if (takes && i + 1 >= argc)
            return cs_cli_usage_error("monitor import", "%s needs a value", a);
        if (strcmp(a, "--from") == 0)
            from = argv[++i];
        else if (strcmp(a, "-o") == 0 || strcmp(a, "--out") == 0)
            out = argv[++i];
        else if (strcmp(a, "--report") == 0)
            report = argv[++i];
        else if (a[0] != '-' && !src)
            src = a;
        else
            return cs_cli_usage_error("monitor import", "unknown argument '%s'", a);
    }
    if (!from || !src || (strcmp(from, "defender") && strcmp(from, "oz-monitor")))
        return cs_cli_usage_error("monitor import",
                                  "needs --from defender FILE.json or --from oz-monitor DIR");
    imp m = {0};
    cs_buf_init(&m.y, 0);
    cs_buf_init(&m.ch, 0);
    cs_buf_init(&m.evm, 0);
    cs_buf_init(&m.rep, 0);
    int rc = 0;
    if (strcmp(from, "defender") == 0) {
        rc = from_defender(&m, src);
    } else {
        oz_dir(&m, src, "networks", 1);
        oz_dir(&m, src, "triggers", 2);
        oz_dir(&m, src, "monitors", 0);
    }
    if (!rc && !m.monitors) {
        fprintf(stderr, "chainscope monitor import: %s: no monitor found\n", src);
        rc = CS_EXIT_CONFIG;
    }
    FILE *o = out ? fopen(out, "w") : stdout;
    FILE *r = report ? fopen(report, "w") : stderr;
    if (!rc && (!o || !r)) {
        fprintf(stderr, "chainscope monitor import: cannot write %s\n", !o ? out : report);
        rc = CS_EXIT_FAIL;
    }
    if (!rc) {
        fprintf(o, "# imported from %s (%s) by chainscope monitor import\n", src, from);
        if (m.evm.len)
            fprintf(o, "evm:\n  networks:\n%.*s", (int)m.evm.len, (const char *)m.evm.data);
        if (m.ch.len)
            fprintf(o, "channels:\n%.*s", (int)m.ch.len, (const char *)m.ch.data);
        fprintf(o, "monitors:\n%.*s", (int)m.y.len, (const char *)m.y.data);
        fprintf(r, "%u monitor%s imported%s\n%.*s", m.monitors, m.monitors == 1 ? "" : "s",
                m.rep.len ? "; not carried over:" : "", (int)m.rep.len, (const char *)m.rep.data);
    }
    if (o && o != stdout)
        fclose(o);
    if (r && r != stderr)
        fclose(r);
    cs_buf_free(&m.y);
    cs_buf_free(&m.ch);
    cs_buf_free(&m.evm);
    cs_buf_free(&m.rep);
    return rc;
}
