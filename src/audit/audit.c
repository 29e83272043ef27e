#include "audit/audit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = {"ok", "fail", "unknown"};
static const char *const kind_names[] = {"evm", "bitcoin", "antelope"};
static const char *const role_names[] = {"miner", "validator", "producer", "witness",
                                         "rpc",   "seed",      "custom"};

const char *cs_audit_state_name(int state)
{
    return state >= 0 && state <= 2 ? state_names[state] : "?";
}

const char *cs_audit_kind_name(int kind)
{
    return kind >= 0 && kind <= 2 ? kind_names[kind] : "?";
}

const char *cs_audit_role_name(int role)
{
    return role >= 0 && role < CS_ROLE_COUNT ? role_names[role] : "?";
}

int cs_audit_role_parse(const char *s)
{
    for (int i = 0; i < CS_ROLE_COUNT; i++)
        if (strcmp(s, role_names[i]) == 0)
            return i;
    return -1;
}

int cs_audit_kind_parse(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, kind_names[i]) == 0)
            return i;
    return -1;
}

cs_audit_limits cs_audit_limits_effective(const cs_audit_limits *l, int kind)
{
    cs_audit_limits e = *l;
    /* Bitcoin blocks come every 10 minutes, and an hour without one
     * happens; Antelope produces every 0.5 s. */
    if (kind == CS_AUDIT_BITCOIN && !e.head_max_age)
        e.head_max_age = 7200;
    if (kind == CS_AUDIT_ANTELOPE) {
        if (!e.head_max_age)
            e.head_max_age = 30;
        if (!e.lag_blocks)
            e.lag_blocks = 20;
        if (!e.lag_seconds)
            e.lag_seconds = 10;
    }
#define DEF(f, v)                                                                                  \
    if (!e.f)                                                                                      \
    e.f = (v)
    DEF(timeout_ms, 5000);
    DEF(head_max_age, 60);
    DEF(lag_blocks, 5);
    DEF(lag_seconds, 60);
    DEF(min_peers, 1);
    DEF(seal_within, 600);
    DEF(seal_blocks, 64);
    DEF(lib_lag, 400);
    DEF(headers_lag, 2);
    DEF(min_out_peers, 1);
    DEF(sample_ms, 1000);
#undef DEF
    if (e.seal_blocks > 256)
        e.seal_blocks = 256;
    return e;
}

static bool is(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

bool cs_audit_node_has_check(const cs_audit_network *net, const cs_audit_node *n, const char *check)
{
    if (is(check, CS_AUDIT_AVAILABLE))
        return true;
    if (n->nchecks) {
        for (size_t i = 0; i < n->nchecks; i++)
            if (is(n->checks[i], check))
                return true;
        return false;
    }
    bool rpc = n->rpc != NULL;
    switch (net->kind) {
    case CS_AUDIT_EVM:
        if (is(check, "rpc") || is(check, "lag") || is(check, "peers"))
            return rpc;
        if (is(check, "connected") || is(check, "enode_ip"))
            return n->enode && net->auditor && !is(net->auditor, n->name);
        if (is(check, "sealing"))
            return n->signer && (n->role == CS_ROLE_MINER || n->role == CS_ROLE_VALIDATOR);
        return false;
    case CS_AUDIT_BITCOIN:
        if (is(check, "p2p"))
            return n->p2p != NULL;
        return rpc && (is(check, "rpc") || is(check, "tip_age") || is(check, "sync") ||
                       is(check, "peers") || is(check, "tips"));
    case CS_AUDIT_ANTELOPE:
        if (is(check, "api") || is(check, "lag") || is(check, "lib_lag") || is(check, "version"))
            return rpc;
        if (is(check, "chain_id"))
            return rpc && net->chain_id;
        if (is(check, "producing")) /* the schedule and the best node's samples tell */
            return n->account && n->role == CS_ROLE_PRODUCER;
        return false;
    }
    return false;
}

bool cs_audit_node_pending(const cs_audit_node *n)
{
    size_t l = n->role_label ? strlen(n->role_label) : 0;
    return n->pending || (l > 1 && n->role_label[l - 1] == '*');
}

/* Copies the host of "scheme://id@host:port", "host:port" or "[v6]:port". */
static void host_of(const char *s, char *out, size_t outlen)
{
    const char *p = strstr(s, "://");
    p = p ? p + 3 : s;
    const char *at = strchr(p, '@');
    if (at)
        p = at + 1;
    size_t n;
    if (*p == '[') {
        p++;
        const char *e = strchr(p, ']');
        n = e ? (size_t)(e - p) : strlen(p);
    } else {
        const char *e = strchr(p, ':');
        const char *q = strchr(p, '?');
        n = e ? (size_t)(e - p) : q ? (size_t)(q - p) : strlen(p);
    }
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, p, n);
    out[n] = 0;
}

void cs_audit_node_ip(const cs_audit_node *n, char *out, size_t outlen)
{
    if (!outlen)
        return;
    out[0] = 0;
    if (n->address)
        snprintf(out, outlen, "%s", n->address);
    else if (n->enode)
        host_of(n->enode, out, outlen);
    else if (n->p2p)
        host_of(n->p2p, out, outlen);
}

void cs_audit_mask_ip(const char *ip, char *out, size_t outlen)
{
    if (!outlen)
        return;
    if (strchr(ip, ':')) {
        /* The first two groups, "x" for an empty one ("::1"), so the mask
         * never reads as an address itself. */
        const char *c1 = strchr(ip, ':');
        const char *g2 = c1 + 1, *c2 = strchr(g2, ':');
        int n1 = (int)(c1 - ip), n2 = c2 ? (int)(c2 - g2) : (int)strlen(g2);
        snprintf(out, outlen, "%.*s:%.*s:x:x", n1 ? n1 : 1, n1 ? ip : "x", n2 ? n2 : 1,
                 n2 ? g2 : "x");
        return;
    }
    const char *d1 = strchr(ip, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d2) {
        snprintf(out, outlen, "%s", *ip ? "x" : "");
        return;
    }
    snprintf(out, outlen, "%.*s.x.x", (int)(d2 - ip), ip);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The length of a dotted IPv4 address at p (four groups of 1..3 digits, no
 * digit or ".digit" after it), or 0. */
static size_t ipv4_at(const char *p)
{
    size_t i = 0;
    for (int g = 0; g < 4; g++) {
        size_t d = 0;
        while (d < 3 && is_digit(p[i + d]))
            d++;
        if (!d || is_digit(p[i + d]))
            return 0;
        i += d;
        if (g < 3) {
            if (p[i] != '.')
                return 0;
            i++;
        }
    }
    return p[i] == '.' && is_digit(p[i + 1]) ? 0 : i;
}

/* The length of an IPv6 address at p: a run of hex digits, colons and dots
 * with "::" in it or at least seven colons (so "12:00:00" is no address),
 * or 0. */
static size_t ipv6_at(const char *p)
{
    size_t i = 0, colons = 0;
    bool dbl = false;
    while (is_hex(p[i]) || p[i] == ':' || p[i] == '.') {
        if (p[i] == ':') {
            colons++;
            dbl |= p[i + 1] == ':';
        }
        i++;
    }
    while (i && p[i - 1] == '.') /* a sentence's full stop */
        i--;
    return (dbl || colons >= 7) && colons >= 2 ? i : 0;
}

void cs_audit_mask_text(const char *in, char *out, size_t outlen)
{
    if (!outlen)
        return;
    size_t o = 0;
    char tok[64], m[72];
    for (const char *p = in; *p && o + 1 < outlen;) {
        bool start = p == in || !(is_hex(p[-1]) || p[-1] == '.' || p[-1] == ':');
        size_t n = start ? ipv6_at(p) : 0;
        if (!n && start && is_digit(*p))
            n = ipv4_at(p);
        if (!n) {
            out[o++] = *p++;
            continue;
        }
        snprintf(tok, sizeof tok, "%.*s", (int)n, p);
        cs_audit_mask_ip(tok, m, sizeof m);
        size_t ml = strlen(m);
        if (o + ml >= outlen)
            break; /* bound: cut here rather than show a part of an address */
        memcpy(out + o, m, ml);
        o += ml;
        p += n;
    }
    out[o] = 0;
}

const cs_audit_network *cs_audit_find_network(const cs_audit_config *c, const char *name)
{
    for (size_t i = 0; i < c->nnets; i++)
        if (is(c->nets[i].name, name))
            return &c->nets[i];
    return NULL;
}

const cs_audit_node *cs_audit_find_node(const cs_audit_network *net, const char *name)
{
    for (size_t i = 0; i < net->nnodes; i++)
        if (is(net->nodes[i].name, name))
            return &net->nodes[i];
    return NULL;
}

void cs_audit_config_init(cs_audit_config *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < CS_ROLE_COUNT; i++)
        c->sla_bp[i] = 9900;
    c->sla_interval = 3600;
}

static void node_free(cs_audit_node *n)
{
    char **fields[] = {&n->name,   &n->role_label, &n->owner,    &n->contact,      &n->since,
                       &n->rpc,    &n->ipc,        &n->p2p,      &n->enode,        &n->address,
                       &n->signer, &n->account,    &n->rpc_user, &n->rpc_password, &n->rpc_cookie};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        free(*fields[i]);
    for (size_t i = 0; i < n->nchecks; i++)
        free(n->checks[i]);
}

void cs_audit_config_free(cs_audit_config *c)
{
    for (size_t i = 0; i < c->nnets; i++) {
        cs_audit_network *net = &c->nets[i];
        for (size_t j = 0; j < net->nnodes; j++)
            node_free(&net->nodes[j]);
        free(net->nodes);
        free(net->name);
        free(net->auditor);
        free(net->chain_id);
        free(net->version);
        free(net->p2p_network);
        for (size_t j = 0; j < net->bp.nversions; j++)
            free(net->bp.versions[j]);
        free(net->bp.versions);
        free(net->bp.ca_file);
    }
    free(c->nets);
    free(c->db);
    free(c->schedule);
    free(c->report_schedule);
    free(c->report_format);
    for (size_t i = 0; i < c->nreport_channels; i++)
        free(c->report_channels[i]);
    free(c->report_channels);
    memset(c, 0, sizeof *c);
}

bool cs_audit_sla_pass(uint64_t ok, uint64_t fail, uint32_t threshold_bp, uint64_t *needed)
{
    uint64_t total = ok + fail;
    if (needed)
        *needed = (total * threshold_bp + 9999) / 10000;
    return total > 0 && ok * 10000 >= (uint64_t)threshold_bp * total;
}
