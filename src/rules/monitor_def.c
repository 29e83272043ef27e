/* Monitor definitions: names of severities and risk categories, deep copy
 * and release of cs_monitor_def, canonical signatures. */
#include "rules/monitor.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "rules/evm_fields.h"

static const char *const status_labels[] = {"failed", "success", NULL};
const cs_expr_enum cs_evm_tx_enums[1] = {{"status", status_labels, CS_EVT_TX}};

static const cs_expr_alias tx_aliases[] = {CS_EVM_TX_ALIASES};
#define NALIASES (sizeof tx_aliases / sizeof *tx_aliases)
const cs_expr_opts cs_evm_arg_opts = {"args", NULL, 0, cs_evm_tx_enums, 1};
const cs_expr_opts cs_evm_tx_opts = {NULL, tx_aliases, NALIASES, cs_evm_tx_enums, 1};
const cs_expr_opts cs_evm_trigger_opts = {"args", tx_aliases, NALIASES, cs_evm_tx_enums, 1};
const cs_expr_opts cs_evm_event_opts = {NULL, NULL, 0, cs_evm_tx_enums, 1};

static const char *const sev_names[] = {"low", "medium", "high"};
static const char *const risk_names[] = {"none",       "governance", "access-control",
                                         "suspicious", "financial",  "technical"};

const char *cs_severity_name(cs_severity s)
{
    return (unsigned)s < CS_SEV_COUNT ? sev_names[s] : "?";
}

int cs_severity_parse(const char *s)
{
    for (int i = 0; i < CS_SEV_COUNT; i++)
        if (strcasecmp(s, sev_names[i]) == 0)
            return i;
    return -1;
}

const char *cs_risk_name(cs_risk r)
{
    return (unsigned)r <= CS_RISK_TECHNICAL ? risk_names[r] : "?";
}

int cs_risk_parse(const char *s)
{
    for (int i = 0; i <= CS_RISK_TECHNICAL; i++)
        if (strcasecmp(s, risk_names[i]) == 0)
            return i;
    if (strcasecmp(s, "access_control") == 0 || strcasecmp(s, "access control") == 0)
        return CS_RISK_ACCESS_CONTROL;
    if (strcasecmp(s, "suspicious-activity") == 0 || strcasecmp(s, "suspicious activity") == 0)
        return CS_RISK_SUSPICIOUS;
    return -1;
}

const char *cs_suppress_name(cs_suppress s)
{
    switch (s) {
    case CS_SUPPRESS_NONE:
        return "none";
    case CS_SUPPRESS_PAUSED_NEVER:
        return "paused";
    case CS_SUPPRESS_DEDUP:
        return "dedup";
    case CS_SUPPRESS_THRESHOLD:
        return "threshold";
    case CS_SUPPRESS_MIN_INTERVAL:
        return "min_interval";
    case CS_SUPPRESS_FILTER:
        return "filter";
    }
    return "?";
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void free_sigs(cs_monitor_sig *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(s[i].signature);
        free(s[i].condition);
    }
    free(s);
}

void cs_monitor_def_clear(cs_monitor_def *d)
{
    free(d->name);
    free_strv(d->networks, d->nnetworks);
    free_strv(d->channels, d->nchannels);
    free_strv(d->addresses, d->naddresses);
    free(d->abi);
    free_sigs(d->events, d->nevents);
    free_sigs(d->functions, d->nfunctions);
    free(d->tx_condition);
    free_strv(d->subjects, d->nsubjects);
    free(d->condition);
    free(d->window.group_by);
    free(d->window.of);
    free(d->window.cost);
    free(d->window.forget);
    free(d->policy.dedup_key);
    if (d->filter.argv) {
        for (char **a = d->filter.argv; *a; a++)
            free(*a);
        free(d->filter.argv);
    }
    free(d->title);
    free(d->message);
    memset(d, 0, sizeof *d);
}

static int dup_str(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : CS_ENOMEM;
}

static int dup_strv(char ***dst, char *const *src, size_t n)
{
    *dst = NULL;
    if (!n)
        return 0;
    *dst = calloc(n, sizeof **dst);
    if (!*dst)
        return CS_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (dup_str(&(*dst)[i], src[i]))
            return CS_ENOMEM;
    return 0;
}

static int dup_sigs(cs_monitor_sig **dst, const cs_monitor_sig *src, size_t n)
{
    *dst = NULL;
    if (!n)
        return 0;
    *dst = calloc(n, sizeof **dst);
    if (!*dst)
        return CS_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (dup_str(&(*dst)[i].signature, src[i].signature) ||
            dup_str(&(*dst)[i].condition, src[i].condition))
            return CS_ENOMEM;
    return 0;
}

int cs_monitor_def_copy(cs_monitor_def *d, const cs_monitor_def *s)
{
    *d = *s;
    int rc = 0;
    /* counts were copied; on failure the partly built copy is still clearable
     * because every pointer is either NULL or owned */
    d->name = d->abi = d->tx_condition = d->condition = d->title = d->message = NULL;
    d->networks = d->channels = d->addresses = d->subjects = NULL;
    d->events = d->functions = NULL;
    d->window.group_by = d->window.of = d->policy.dedup_key = NULL;
    d->window.cost = d->window.forget = NULL;
    d->filter.argv = NULL;
    size_t nn = d->nnetworks, nc = d->nchannels, na = d->naddresses, ns = d->nsubjects,
           ne = d->nevents, nf = d->nfunctions;
    d->nnetworks = d->nchannels = d->naddresses = d->nsubjects = d->nevents = d->nfunctions = 0;
#define TRY(x)                                                                                     \
    do {                                                                                           \
        if ((rc = (x)) != 0)                                                                       \
            goto fail;                                                                             \
    } while (0)
    TRY(dup_str(&d->name, s->name));
    TRY(dup_str(&d->abi, s->abi));
    TRY(dup_str(&d->tx_condition, s->tx_condition));
    TRY(dup_str(&d->condition, s->condition));
    TRY(dup_str(&d->title, s->title));
    TRY(dup_str(&d->message, s->message));
    TRY(dup_str(&d->window.group_by, s->window.group_by));
    TRY(dup_str(&d->window.of, s->window.of));
    TRY(dup_str(&d->window.cost, s->window.cost));
    TRY(dup_str(&d->window.forget, s->window.forget));
    TRY(dup_str(&d->policy.dedup_key, s->policy.dedup_key));
    d->nnetworks = nn;
    TRY(dup_strv(&d->networks, s->networks, nn));
    d->nchannels = nc;
    TRY(dup_strv(&d->channels, s->channels, nc));
    d->naddresses = na;
    TRY(dup_strv(&d->addresses, s->addresses, na));
    d->nsubjects = ns;
    TRY(dup_strv(&d->subjects, s->subjects, ns));
    d->nevents = ne;
    TRY(dup_sigs(&d->events, s->events, ne));
    d->nfunctions = nf;
    TRY(dup_sigs(&d->functions, s->functions, nf));
    if (s->filter.argv) {
        size_t n = 0;
        while (s->filter.argv[n])
            n++;
        d->filter.argv = calloc(n + 1, sizeof *d->filter.argv);
        if (!d->filter.argv) {
            rc = CS_ENOMEM;
            goto fail;
        }
        for (size_t i = 0; i < n; i++)
            TRY(dup_str(&d->filter.argv[i], s->filter.argv[i]));
    }
#undef TRY
    return 0;
fail:
    cs_monitor_def_clear(d);
    return rc;
}

/* ---- canonical signatures ---------------------------------------------- */

typedef struct sigw {
    char *out;
    size_t cap, len;
    bool over;
} sigw;

static void put(sigw *w, const char *s, size_t n)
{
    if (w->len + n + 1 > w->cap) {
        w->over = true;
        return;
    }
    memcpy(w->out + w->len, s, n);
    w->len += n;
}

static bool is_sp(char c)
{
    return c == ' ' || c == '\t' || c == '\n';
}

/* Canonicalizes the parameter list between s and e (exclusive). */
static int canon_params(sigw *w, const char *s, const char *e, int depth)
{
    if (depth > 8)
        return CS_EPARSE;
    const char *p = s;
    bool first = true;
    while (p < e) {
        while (p < e && is_sp(*p))
            p++;
        if (p == e)
            break;
        if (!first)
            put(w, ",", 1);
        first = false;
        if (e - p >= 5 && memcmp(p, "tuple", 5) == 0 && p + 5 < e && p[5] == '(')
            p += 5;
        if (*p == '(') {
            int lvl = 0;
            const char *q = p;
            for (; q < e; q++) {
                if (*q == '(')
                    lvl++;
                else if (*q == ')' && --lvl == 0)
                    break;
            }
            if (q == e)
                return CS_EPARSE;
            put(w, "(", 1);
            int rc = canon_params(w, p + 1, q, depth + 1);
            if (rc)
                return rc;
            put(w, ")", 1);
            p = q + 1;
            while (p < e && (*p == '[' || *p == ']' || (*p >= '0' && *p <= '9')))
                put(w, p++, 1);
        } else {
            const char *q = p;
            while (q < e && !is_sp(*q) && *q != ',' && *q != '[')
                q++;
            if (q == p)
                return CS_EPARSE;
            size_t tl = (size_t)(q - p);
            if (tl == 4 && memcmp(p, "uint", 4) == 0)
                put(w, "uint256", 7);
            else if (tl == 3 && memcmp(p, "int", 3) == 0)
                put(w, "int256", 6);
            else
                put(w, p, tl);
            p = q;
            while (p < e && (*p == '[' || *p == ']' || (*p >= '0' && *p <= '9')))
                put(w, p++, 1);
        }
        /* skip `indexed`, the name, anything up to the next top-level comma */
        int lvl = 0;
        while (p < e && !(lvl == 0 && *p == ',')) {
            if (*p == '(')
                lvl++;
            else if (*p == ')')
                lvl--;
            p++;
        }
        if (p < e)
            p++;
    }
    return 0;
}

int cs_monitor_canonical_sig(const char *sig, char *out, size_t cap)
{
    sigw w = {out, cap, 0, false};
    const char *p = sig;
    while (is_sp(*p))
        p++;
    if (strncmp(p, "event ", 6) == 0 || strncmp(p, "function ", 9) == 0)
        p = strchr(p, ' ') + 1;
    while (is_sp(*p))
        p++;
    const char *open = strchr(p, '(');
    size_t nl = open ? (size_t)(open - p) : strlen(p);
    while (nl && is_sp(p[nl - 1]))
        nl--;
    if (nl == 0)
        return CS_EPARSE;
    put(&w, p, nl);
    if (open) {
        const char *close = strrchr(open, ')');
        if (!close)
            return CS_EPARSE;
        put(&w, "(", 1);
        int rc = canon_params(&w, open + 1, close, 0);
        if (rc)
            return rc;
        put(&w, ")", 1);
    }
    if (w.over || cap == 0)
        return CS_ELIMIT;
    out[w.len] = 0;
    return (int)w.len;
}
