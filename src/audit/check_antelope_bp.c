/* Antelope: bp.json and endpoint validation of the registered producers
 * (`bp_json: true`, docs/antelope-bp.md).
 *
 * The producer table (get_producers, the first bp_limit rows) comes from
 * the network's first node with an API; then at most `concurrency`
 * producers at once: each one's URL/chains.json and URL/bp.json (the
 * chain's bp.json when chains.json names one), validated, then every
 * advertised endpoint probed (API get_info with an Origin, TLS certificate,
 * P2P handshake bytes). One result per check per producer, recorded under
 * the producer's account; where a producer has several endpoints the worst
 * verdict wins and its detail names the endpoint. The sweep holds its
 * network until the last producer is judged, then frees itself. */
#include "antelope/bpjson.h"
#include "antelope/endpoint.h"
#include "audit/check_int.h"
#include "core/error.h"
#include "core/log.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The pseudo-node of results about the producer table itself. */
#define BP_TABLE_NODE "@producers"
/* Pages of get_producers read at most (a node answers what it can in its
 * time limit and names the next row in `more`). */
#define BP_MAX_PAGES 100
/* Endpoints probed per producer (at most 4 * CS_BPJ_MAX_NODES + 1): an API
 * and a certificate for each node's ssl_endpoint, an API for its
 * api_endpoint, its p2p_endpoint, and the certificate of the producer's
 * own URL; the same endpoint twice is probed once. */

enum { EP_API, EP_TLS, EP_P2P };

typedef struct bp_slot bp_slot;

typedef struct bp_ep {
    bp_slot *slot;
    int kind;
    char where[CS_BPJ_URL_MAX]; /* the URL or host:port */
    /* an http API that redirected to https: asked again there, once */
    bool to_https;
    char target[CS_ANT_URL_MAX];
    cs_ant_api_result api;
    cs_ant_tls_result tls;
    cs_ant_p2p_result p2p;
} bp_ep;

typedef struct bp_sweep bp_sweep;

struct bp_slot {
    bp_sweep *sw;
    bool busy;
    size_t row; /* in sw->rows */
    int pending;
    int stage; /* 1: documents, 2: the chain's bp.json, 3: endpoints */
    char base[CS_ANT_URL_MAX];
    char bp_url[CS_ANT_URL_MAX + 64];
    /* chains.json */
    int chains_state;
    char chains_detail[CS_AUDIT_DETAIL_MAX];
    char chain_path[CS_BPJ_URL_MAX]; /* "" when none, or the default */
    /* bp.json */
    int bp_err; /* transport error, HTTP status not 200, or the parser's */
    char bp_why[CS_AUDIT_DETAIL_MAX];
    cs_bpjson doc;
    bp_ep *eps;
    size_t neps;
};

struct bp_sweep {
    net_run *nr;
    const cs_audit_bp *cfg;
    char rpc[CS_ANT_URL_MAX];
    char chain_id[80];
    cs_ant_producer_row *rows; /* bp_limit of them */
    size_t n, next, done;
    double total_votes;
    unsigned pages;             /* of get_producers read */
    char more[CS_ANT_NAME_MAX]; /* the page asked for: "" the first */
    bp_slot *slots;
    size_t nslots;
    bool pumping; /* in pump(): a producer judged at once does not recurse */
};

static void slot_start(bp_slot *sl, size_t row);

/* ---- verdicts ----------------------------------------------------------- */

/* One check's verdict over a producer's endpoints: the worst wins (fail,
 * then unknown, then ok); among equals the first seen. */
typedef struct verdict {
    int state; /* -1: nothing seen */
    bool has_value;
    double value;
    char detail[CS_AUDIT_DETAIL_MAX];
} verdict;

static int rank_of(int state)
{
    return state == CS_AUDIT_FAIL      ? 3
           : state == CS_AUDIT_UNKNOWN ? 2
           : state == CS_AUDIT_OK      ? 1
                                       : 0;
}

static void see(verdict *v, int state, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void see(verdict *v, int state, const char *fmt, ...)
{
    if (rank_of(state) <= rank_of(v->state))
        return;
    v->state = state;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->detail, sizeof v->detail, fmt, ap);
    va_end(ap);
}

static void record(bp_slot *sl, const char *check, const verdict *v, const char *none)
{
    const char *owner = sl->sw->rows[sl->row].owner;
    if (v->state < 0)
        cs_audit_nr_result(sl->sw->nr, owner, check, CS_AUDIT_UNKNOWN, false, 0, "%s", none);
    else
        cs_audit_nr_result(sl->sw->nr, owner, check, v->state, v->has_value, v->value, "%s",
                           v->detail);
}

/* ---- the sweep's end ---------------------------------------------------- */

static void sweep_free(bp_sweep *sw)
{
    net_run *nr = sw->nr;
    free(sw->rows);
    free(sw->slots);
    free(sw);
    cs_audit_nr_release(nr);
}

/* Starts producers in free slots while rows remain; once every producer
 * is judged, frees the sweep. A producer judged at once (no URL, nothing
 * sent) comes back here through slot_done: the loop above it goes on
 * instead of recursing. */
static void pump(bp_sweep *sw)
{
    if (sw->pumping)
        return;
    sw->pumping = true;
    for (size_t i = 0; i < sw->nslots && sw->next < sw->n; i++)
        if (!sw->slots[i].busy) {
            slot_start(&sw->slots[i], sw->next++);
            i = (size_t)-1; /* a slot may have come free: look again from the first */
        }
    sw->pumping = false;
    if (sw->done == sw->n)
        sweep_free(sw);
}

/* A producer is judged: its slot is free for the next one. */
static void slot_done(bp_slot *sl)
{
    bp_sweep *sw = sl->sw;
    free(sl->eps);
    sl->eps = NULL;
    sl->neps = 0;
    sl->busy = false;
    sw->done++;
    pump(sw);
}

/* ---- judging ------------------------------------------------------------ */

static bool version_listed(const cs_audit_bp *cfg, const char *v)
{
    for (size_t i = 0; i < cfg->nversions; i++)
        if (strcmp(cfg->versions[i], v) == 0)
            return true;
    return false;
}

/* The verdicts of a producer's endpoints, once every probe has answered. */
static void judge_endpoints(bp_slot *sl, bool have_doc)
{
    bp_sweep *sw = sl->sw;
    const cs_audit_bp *cfg = sw->cfg;
    verdict api = {.state = -1}, cid = api, ver = api, cors = api, tls = api, cert = api, p2p = api;
    bool any_api = false, ssl = false;
    const char *redirect = NULL, *http_only = NULL, *ssl_url = NULL;
    for (size_t i = 0; i < sl->neps; i++) {
        const bp_ep *e = &sl->eps[i];
        const char *w = e->where;
        if (e->kind == EP_API) {
            const cs_ant_api_result *r = &e->api;
            bool https = strncmp(w, "https://", 8) == 0;
            char via[sizeof e->where + sizeof e->target + 8];
            if (e->to_https) {
                redirect = redirect ? redirect : w;
                snprintf(via, sizeof via, "%s -> %s", w, e->target);
                w = via;
            }
            any_api = true;
            if (https) {
                ssl = true;
                ssl_url = ssl_url ? ssl_url : w;
            }
            if (!r->error && r->status >= 300 && r->status < 400) {
                /* to another http URL (or https twice): not followed further */
                if (!https && !e->to_https)
                    http_only = http_only ? http_only : w;
                continue;
            }
            if (!https && !e->to_https)
                http_only = http_only ? http_only : w;
            if (r->error) {
                see(&api, CS_AUDIT_FAIL, "%s: %s", w, r->why);
                continue;
            }
            see(&api, CS_AUDIT_OK, "%s answers get_info (%.0f ms)", w, r->seconds * 1000);
            if (strcmp(r->chain_id, sw->chain_id) == 0)
                see(&cid, CS_AUDIT_OK, "%s: %.16s...", w, r->chain_id);
            else
                see(&cid, CS_AUDIT_FAIL, "%s: chain id %.16s..., expected %.16s...", w,
                    r->chain_id[0] ? r->chain_id : "(none)", sw->chain_id);
            if (!cfg->nversions)
                see(&ver, CS_AUDIT_UNKNOWN, "%s: %s (no `versions` configured)", w,
                    r->version[0] ? r->version : "no version");
            else if (version_listed(cfg, r->version))
                see(&ver, CS_AUDIT_OK, "%s: %s", w, r->version);
            else
                see(&ver, CS_AUDIT_FAIL, "%s: %s is not in `versions`", w,
                    r->version[0] ? r->version : "no version");
            if (r->cors[0])
                see(&cors, CS_AUDIT_OK, "%s: Access-Control-Allow-Origin: %s", w, r->cors);
            else
                see(&cors, CS_AUDIT_FAIL, "%s: no Access-Control-Allow-Origin", w);
        } else if (e->kind == EP_TLS) {
            const cs_ant_tls_result *r = &e->tls;
            if (r->error)
                see(&tls, CS_AUDIT_FAIL, "%s: %s", w, r->why);
            else
                see(&tls, CS_AUDIT_OK, "%s verifies (%s)", w, r->subject);
            if (r->not_after && (!cert.has_value || r->days < cert.value)) {
                /* the soonest certificate decides */
                cert.state = r->days < (double)cfg->cert_warn_days ? CS_AUDIT_FAIL : CS_AUDIT_OK;
                cert.has_value = true;
                cert.value = trunc(r->days * 10) / 10;
                if (r->days < 0)
                    snprintf(cert.detail, sizeof cert.detail, "%s: expired %.1f days ago", w,
                             -cert.value);
                else
                    snprintf(cert.detail, sizeof cert.detail, "%s: expires in %.1f days%s", w,
                             cert.value,
                             cert.state == CS_AUDIT_FAIL ? " (under cert_warn_days)" : "");
            } else if (!r->not_after && !cert.has_value) {
                see(&cert, CS_AUDIT_UNKNOWN, "%s: no certificate read: %s", w, r->why);
            }
        } else {
            const cs_ant_p2p_result *r = &e->p2p;
            if (r->error)
                see(&p2p, CS_AUDIT_FAIL, "%s: %s", w, r->why);
            else
                see(&p2p, CS_AUDIT_OK, "%s: %s (%llu ms)", w, r->why, (unsigned long long)r->ms);
        }
    }
    verdict https = {.state = -1};
    if (ssl)
        see(&https, CS_AUDIT_OK, "https endpoint advertised: %s", ssl_url);
    else if (redirect)
        see(&https, CS_AUDIT_OK, "%s redirects to https", redirect);
    else if (http_only)
        see(&https, CS_AUDIT_FAIL, "http only: %s (no https endpoint, no redirect)", http_only);
    const char *nodoc = "no bp.json read: its endpoints are not known";
    const char *noapi = !have_doc ? nodoc
                        : any_api ? "no API endpoint answered directly"
                                  : "no API endpoint advertised";
    record(sl, "bp_api", &api, noapi);
    record(sl, "bp_chain_id", &cid, noapi);
    if (!cfg->nversions && ver.state < 0)
        see(&ver, CS_AUDIT_UNKNOWN, "no `versions` configured");
    record(sl, "bp_version", &ver, noapi);
    record(sl, "bp_cors", &cors, noapi);
    record(sl, "bp_https", &https, have_doc ? "no API endpoint advertised" : nodoc);
    record(sl, "bp_tls", &tls, "no https endpoint");
    record(sl, "bp_cert", &cert, "no https endpoint");
    record(sl, "bp_p2p", &p2p, have_doc ? "no p2p endpoint advertised" : nodoc);
}

/* bp_json and bp_chains, from the documents. Returns whether there is a
 * document whose endpoints can be probed. */
static bool judge_documents(bp_slot *sl)
{
    bp_sweep *sw = sl->sw;
    net_run *nr = sw->nr;
    const char *owner = sw->rows[sl->row].owner;
    cs_audit_nr_result(nr, owner, "bp_chains", sl->chains_state, false, 0, "%s", sl->chains_detail);
    if (sl->bp_err) {
        cs_audit_nr_result(nr, owner, "bp_json", CS_AUDIT_FAIL, false, 0, "%s: %s", sl->bp_url,
                           sl->bp_why);
        return false;
    }
    const cs_bpjson *d = &sl->doc;
    char errs[CS_AUDIT_DETAIL_MAX] = "";
    size_t k = 0;
    bool account_ok = strcmp(d->account, owner) == 0;
    if (!account_ok && d->account[0])
        k += (size_t)snprintf(errs, sizeof errs, "producer_account_name '%s' is not %s; ",
                              d->account, owner);
    for (size_t i = 0; i < d->nerrors && k < sizeof errs; i++)
        k += (size_t)snprintf(errs + k, sizeof errs - k, "%s%s", i ? "; " : "", d->errors[i]);
    size_t total = d->nerrors_total + (!account_ok && d->account[0] ? 1 : 0);
    if (total)
        cs_audit_nr_result(nr, owner, "bp_json", CS_AUDIT_FAIL, true, (double)total,
                           "%zu schema error%s: %s", total, total == 1 ? "" : "s", errs);
    else
        cs_audit_nr_result(nr, owner, "bp_json", CS_AUDIT_OK, true, 0, "%s: %zu node%s (%s)",
                           sl->bp_url, d->nodes_total, d->nodes_total == 1 ? "" : "s",
                           d->candidate[0] ? d->candidate : "no candidate name");
    return true;
}

/* ---- probes ------------------------------------------------------------- */

static void slot_release(bp_slot *sl);

/* The base of an API URL a redirect names: its get_info path dropped. */
static void api_base(const char *location, char *out, size_t len)
{
    static const char path[] = "/v1/chain/get_info";
    size_t n = strlen(location), p = sizeof path - 1;
    if (n >= p && strcmp(location + n - p, path) == 0)
        n -= p;
    snprintf(out, len, "%.*s", (int)n, location);
}

static void on_api(const cs_ant_api_result *r, void *arg)
{
    bp_ep *e = arg;
    e->api = *r;
    if (!e->to_https && !r->error && r->status >= 300 && r->status < 400 &&
        strncmp(e->where, "http://", 7) == 0 && strncmp(r->location, "https://", 8) == 0) {
        /* http -> https, as it should: the API is judged where it leads */
        bp_sweep *sw = e->slot->sw;
        e->to_https = true;
        api_base(r->location, e->target, sizeof e->target);
        int rc = cs_ant_api_probe(cs_audit_nr_http(sw->nr), e->target, sw->cfg->ca_file,
                                  sw->nr->lim.timeout_ms, on_api, e);
        if (!rc)
            return;
        e->api.error = rc;
        cs_audit_nr_not_sent(rc, e->api.why, sizeof e->api.why);
    }
    slot_release(e->slot);
}

static void on_tls(const cs_ant_tls_result *r, void *arg)
{
    bp_ep *e = arg;
    e->tls = *r;
    slot_release(e->slot);
}

static void on_p2p(const cs_ant_p2p_result *r, void *arg)
{
    bp_ep *e = arg;
    e->p2p = *r;
    slot_release(e->slot);
}

/* Adds an endpoint unless it is there already or the bound is reached. */
static void add_ep(bp_slot *sl, int kind, const char *where, size_t cap)
{
    if (!where[0] || sl->neps >= cap)
        return;
    for (size_t i = 0; i < sl->neps; i++)
        if (sl->eps[i].kind == kind && strcmp(sl->eps[i].where, where) == 0)
            return;
    bp_ep *e = &sl->eps[sl->neps++];
    e->slot = sl;
    e->kind = kind;
    snprintf(e->where, sizeof e->where, "%s", where);
}

static void probe_endpoints(bp_slot *sl, bool have_doc)
{
    bp_sweep *sw = sl->sw;
    net_run *nr = sw->nr;
    uint32_t to = nr->lim.timeout_ms;
    sl->stage = 3;
    sl->eps = calloc(have_doc ? 4 * sl->doc.nnodes + 1 : 1, sizeof *sl->eps);
    if (!sl->eps) {
        CS_WARN("audit", "%s: out of memory probing %s", nr->net->name, sw->rows[sl->row].owner);
        slot_done(sl);
        return;
    }
    size_t cap = have_doc ? 4 * sl->doc.nnodes + 1 : 1;
    if (have_doc)
        for (size_t i = 0; i < sl->doc.nnodes; i++) {
            const cs_bpj_node *n = &sl->doc.nodes[i];
            add_ep(sl, EP_API, n->api, cap);
            add_ep(sl, EP_API, n->ssl, cap);
            add_ep(sl, EP_TLS, n->ssl, cap);
            add_ep(sl, EP_P2P, n->p2p, cap);
        }
    if (strncmp(sl->base, "https://", 8) == 0)
        add_ep(sl, EP_TLS, sl->base, cap);
    sl->pending = 1;
    for (size_t i = 0; i < sl->neps; i++) {
        bp_ep *e = &sl->eps[i];
        int rc;
        sl->pending++;
        if (e->kind == EP_API)
            rc = cs_ant_api_probe(cs_audit_nr_http(nr), e->where, sw->cfg->ca_file, to, on_api, e);
        else if (e->kind == EP_TLS)
            rc = cs_ant_tls_probe(cs_audit_nr_loop(nr), e->where, sw->cfg->ca_file, to, on_tls, e);
        else
            rc = cs_ant_p2p_probe(cs_audit_nr_loop(nr), e->where, to, on_p2p, e);
        if (rc) {
            char why[128];
            cs_audit_nr_not_sent(rc, why, sizeof why);
            if (rc == CS_EINVAL)
                snprintf(why, sizeof why, "not a valid endpoint");
            e->api.error = e->tls.error = e->p2p.error = rc;
            snprintf(e->api.why, sizeof e->api.why, "%s", why);
            snprintf(e->tls.why, sizeof e->tls.why, "%s", why);
            snprintf(e->p2p.why, sizeof e->p2p.why, "%s", why);
            sl->pending--;
        }
    }
    slot_release(sl);
}

/* ---- documents ---------------------------------------------------------- */

/* A transport failure or a status other than 200 into err/why; 0 when the
 * body can be read. */
static int http_failed(const cs_http_response *res, char *why, size_t len)
{
    if (res->error) {
        snprintf(why, len, "%s", res->error_text[0] ? res->error_text : cs_strerror(res->error));
        return res->error;
    }
    if (res->status != 200) {
        snprintf(why, len, "HTTP %ld", res->status);
        return CS_ENOTFOUND;
    }
    return 0;
}

static void on_bp(const cs_http_response *res, void *arg)
{
    bp_slot *sl = arg;
    memset(&sl->doc, 0, sizeof sl->doc);
    sl->bp_err = http_failed(res, sl->bp_why, sizeof sl->bp_why);
    if (!sl->bp_err) {
        sl->bp_err = cs_bpjson_parse(res->body, res->body_len, &sl->doc);
        if (sl->bp_err)
            snprintf(sl->bp_why, sizeof sl->bp_why, "not a bp.json: %s", sl->doc.errors[0]);
    }
    slot_release(sl);
}

static void on_chains(const cs_http_response *res, void *arg)
{
    bp_slot *sl = arg;
    bp_sweep *sw = sl->sw;
    char why[256];
    int rc = http_failed(res, why, sizeof why);
    if (rc) {
        sl->chains_state = CS_AUDIT_UNKNOWN;
        snprintf(sl->chains_detail, sizeof sl->chains_detail, "no chains.json (%s)", why);
    } else {
        rc = cs_bpjson_chains_pick(res->body, res->body_len, sw->chain_id, sl->chain_path,
                                   sizeof sl->chain_path);
        sl->chains_state = rc ? CS_AUDIT_FAIL : CS_AUDIT_OK;
        if (rc == CS_ENOTFOUND)
            snprintf(sl->chains_detail, sizeof sl->chains_detail,
                     "chains.json does not list the chain %.16s...", sw->chain_id);
        else if (rc)
            snprintf(sl->chains_detail, sizeof sl->chains_detail,
                     "chains.json is not {\"chains\": {chain id: path}}: %s", cs_strerror(rc));
        else
            snprintf(sl->chains_detail, sizeof sl->chains_detail, "chain %.16s...: %s",
                     sw->chain_id, sl->chain_path);
        if (rc)
            sl->chain_path[0] = 0;
    }
    slot_release(sl);
}

/* The URL of a document: absolute as given, else under the producer's URL. */
static void doc_url(const bp_slot *sl, const char *path, char *out, size_t len)
{
    if (strncmp(path, "https://", 8) == 0 || strncmp(path, "http://", 7) == 0)
        snprintf(out, len, "%s", path);
    else
        snprintf(out, len, "%s%s%s", sl->base, path[0] == '/' ? "" : "/", path);
}

static void fetch(bp_slot *sl, const char *url, cs_http_cb cb)
{
    bp_sweep *sw = sl->sw;
    sl->pending++;
    int rc = cs_ant_fetch(cs_audit_nr_http(sw->nr), url, sw->cfg->ca_file, sw->nr->lim.timeout_ms,
                          cb, sl);
    if (rc) {
        cs_http_response res = {.error = rc, .error_text = ""};
        cb(&res, sl); /* judged as an unanswered fetch */
    }
}

/* Every request of the slot's stage answered: the next stage. */
static void slot_release(bp_slot *sl)
{
    if (--sl->pending > 0)
        return;
    if (sl->stage == 1) {
        char url[sizeof sl->bp_url];
        doc_url(sl, sl->chain_path, url, sizeof url);
        if (sl->chain_path[0] && strcmp(url, sl->bp_url) != 0) {
            sl->stage = 2;
            snprintf(sl->bp_url, sizeof sl->bp_url, "%s", url);
            sl->pending = 1;
            fetch(sl, sl->bp_url, on_bp);
            slot_release(sl);
            return;
        }
        sl->stage = 2;
    }
    if (sl->stage == 2) {
        probe_endpoints(sl, judge_documents(sl));
        return;
    }
    judge_endpoints(sl, sl->bp_err == 0);
    slot_done(sl);
}

static void slot_start(bp_slot *sl, size_t row)
{
    bp_sweep *sw = sl->sw;
    const cs_ant_producer_row *r = &sw->rows[row];
    memset(sl, 0, sizeof *sl);
    sl->sw = sw;
    sl->busy = true;
    sl->row = row;
    double share = sw->total_votes > 0 ? r->votes / sw->total_votes * 100 : 0;
    cs_audit_nr_result(sw->nr, r->owner, "bp_rank", CS_AUDIT_OK, true, (double)(row + 1),
                       "votes %.2f%%, %s", share, r->active ? "active" : "inactive");
    size_t bl = strlen(r->url);
    while (bl && r->url[bl - 1] == '/')
        bl--;
    if (strncmp(r->url, "https://", 8) != 0 && strncmp(r->url, "http://", 7) != 0) {
        sl->chains_state = CS_AUDIT_UNKNOWN;
        snprintf(sl->chains_detail, sizeof sl->chains_detail, "no producer URL");
        sl->bp_err = CS_EINVAL;
        snprintf(sl->bp_why, sizeof sl->bp_why, "the producer table's url is not http(s)");
        snprintf(sl->bp_url, sizeof sl->bp_url, "'%s'", r->url);
        sl->stage = 2;
        sl->pending = 1;
        slot_release(sl);
        return;
    }
    snprintf(sl->base, sizeof sl->base, "%.*s", (int)bl, r->url);
    snprintf(sl->bp_url, sizeof sl->bp_url, "%s/bp.json", sl->base);
    char url[sizeof sl->bp_url];
    snprintf(url, sizeof url, "%s/chains.json", sl->base);
    sl->stage = 1;
    sl->pending = 1;
    fetch(sl, url, on_chains);
    fetch(sl, sl->bp_url, on_bp);
    slot_release(sl);
}

/* ---- the producer table ------------------------------------------------- */

/* The rows read, once the table's pages are in: producers to judge. */
static void judge_producers(bp_sweep *sw)
{
    net_run *nr = sw->nr;
    if (sw->n == 0) {
        cs_audit_nr_result(nr, BP_TABLE_NODE, "bp_rank", CS_AUDIT_UNKNOWN, false, 0,
                           "get_producers at %s: no producer registered", sw->rpc);
        sweep_free(sw);
        return;
    }
    sw->nslots = sw->cfg->concurrency < sw->n ? sw->cfg->concurrency : sw->n;
    sw->slots = calloc(sw->nslots, sizeof *sw->slots);
    if (!sw->slots) {
        cs_audit_nr_result(nr, BP_TABLE_NODE, "bp_rank", CS_AUDIT_UNKNOWN, false, 0,
                           "out of memory for %zu producers", sw->n);
        sweep_free(sw);
        return;
    }
    for (size_t i = 0; i < sw->nslots; i++)
        sw->slots[i].sw = sw;
    pump(sw);
}

static void ask_producers(bp_sweep *sw);

/* A page of the producer table: its rows appended (up to bp_limit), then the
 * next page (`more`) or the judging. A page that adds nothing, or the
 * BP_MAX_PAGES-th, ends the reading. */
static void on_producers(const cs_ant_producers *p, void *arg)
{
    bp_sweep *sw = arg;
    net_run *nr = sw->nr;
    if (p->error) {
        cs_audit_nr_result(nr, BP_TABLE_NODE, "bp_rank", CS_AUDIT_UNKNOWN, false, 0,
                           "get_producers at %s%s%s: %s%s", sw->rpc, sw->more[0] ? " from " : "",
                           sw->more, p->why,
                           sw->n ? " (the producers of the pages before are judged)" : "");
        judge_producers(sw);
        return;
    }
    if (!sw->rows && !(sw->rows = calloc(sw->cfg->limit, sizeof *sw->rows))) {
        cs_audit_nr_result(nr, BP_TABLE_NODE, "bp_rank", CS_AUDIT_UNKNOWN, false, 0,
                           "out of memory for %u producers", sw->cfg->limit);
        sweep_free(sw);
        return;
    }
    if (!sw->pages)
        sw->total_votes = p->total_votes;
    sw->pages++;
    size_t added = 0;
    for (size_t i = 0; i < p->n && sw->n < sw->cfg->limit; i++) {
        if (sw->n && strcmp(sw->rows[sw->n - 1].owner, p->rows[i].owner) == 0)
            continue; /* a page may begin where the last ended */
        sw->rows[sw->n++] = p->rows[i];
        added++;
    }
    if (sw->n < sw->cfg->limit && p->more[0] && added && sw->pages < BP_MAX_PAGES) {
        snprintf(sw->more, sizeof sw->more, "%s", p->more);
        ask_producers(sw);
        return;
    }
    judge_producers(sw);
}

static void ask_producers(bp_sweep *sw)
{
    int rc = cs_ant_get_producers(cs_audit_nr_http(sw->nr), sw->rpc, sw->more,
                                  (uint32_t)(sw->cfg->limit - sw->n), sw->nr->lim.timeout_ms,
                                  on_producers, sw);
    if (rc) {
        cs_ant_producers p = {.error = rc};
        cs_audit_nr_not_sent(rc, p.why, sizeof p.why);
        on_producers(&p, sw);
    }
}

/* Without a configured chain_id, the API node's. */
static void on_chain_info(const cs_ant_api_result *r, void *arg)
{
    bp_sweep *sw = arg;
    if (r->error || !r->chain_id[0]) {
        cs_audit_nr_result(sw->nr, BP_TABLE_NODE, "bp_rank", CS_AUDIT_UNKNOWN, false, 0,
                           "get_info at %s (for the chain id): %s", sw->rpc,
                           r->error ? r->why : "no chain_id");
        sweep_free(sw);
        return;
    }
    snprintf(sw->chain_id, sizeof sw->chain_id, "%s", r->chain_id);
    ask_producers(sw);
}

void cs_audit_ant_bp_start(net_run *nr)
{
    const cs_audit_network *net = nr->net;
    const char *rpc = NULL;
    for (size_t i = 0; i < net->nnodes && !rpc; i++)
        rpc = net->nodes[i].rpc;
    if (!net->bp.enabled)
        return;
    if (!rpc) {
        cs_audit_nr_result(nr, BP_TABLE_NODE, "bp_rank", CS_AUDIT_UNKNOWN, false, 0,
                           "no node with an API to read the producer table from");
        return;
    }
    bp_sweep *sw = calloc(1, sizeof *sw);
    if (!sw) {
        cs_audit_nr_result(nr, BP_TABLE_NODE, "bp_rank", CS_AUDIT_UNKNOWN, false, 0,
                           "out of memory");
        return;
    }
    sw->nr = nr;
    sw->cfg = &net->bp;
    snprintf(sw->rpc, sizeof sw->rpc, "%s", rpc);
    cs_audit_nr_hold(nr); /* released by sweep_free */
    if (net->chain_id) {
        snprintf(sw->chain_id, sizeof sw->chain_id, "%s", net->chain_id);
        ask_producers(sw);
        return;
    }
    int rc =
        cs_ant_api_probe(cs_audit_nr_http(nr), rpc, NULL, nr->lim.timeout_ms, on_chain_info, sw);
    if (rc) {
        cs_ant_api_result r = {.error = rc};
        cs_audit_nr_not_sent(rc, r.why, sizeof r.why);
        on_chain_info(&r, sw);
    }
}
