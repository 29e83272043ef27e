/* The connector's metrics on a Prometheus registry (core/metrics.h):
 * peers by direction and state, connection attempts and failures, inbound
 * connections, messages and bytes by command and direction, ping round
 * trips, disconnects by reason. docs/btc.md lists them.
 *
 * Label values come from bounded sets only: commands outside the protocol's
 * list count as "other", reasons map to a fixed set of tokens, so that a
 * peer cannot grow the registry. Series on the message path are looked up
 * once and kept. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "btc/connector_int.h"
#include "core/error.h"

/* Every command Bitcoin Core sends or reads (protocol.h), sorted. */
static const char *const commands[] = {
    "addr",        "addrv2",      "block",       "blocktxn",     "cfcheckpt",    "cfheaders",
    "cfilter",     "cmpctblock",  "feefilter",   "filteradd",    "filterclear",  "filterload",
    "getaddr",     "getblocks",   "getblocktxn", "getcfcheckpt", "getcfheaders", "getcfilters",
    "getdata",     "getheaders",  "headers",     "inv",          "mempool",      "merkleblock",
    "notfound",    "ping",        "pong",        "reject",       "sendaddrv2",   "sendcmpct",
    "sendheaders", "sendtxrcncl", "tx",          "verack",       "version",      "wtxidrelay",
};
#define NCMD (sizeof commands / sizeof *commands)

struct cs_conn_metrics {
    cs_metrics *reg;
    cs_mfamily *peers, *failures, *disconnects, *msgs, *bytes;
    cs_mseries *attempts, *accepted, *inbound_dropped, *rtt, *partial, *read_pauses;
    /* [command index, NCMD for "other"][0 out, 1 in], found on first use */
    cs_mseries *msg_s[NCMD + 1][2], *byte_s[NCMD + 1][2];
};

static int cmd_cmp(const void *k, const void *e)
{
    return strcmp(k, *(const char *const *)e);
}

/* The label of a command: itself if the protocol knows it, else "other". */
static size_t cmd_index(const char *cmd)
{
    const char *const *e = bsearch(cmd, commands, NCMD, sizeof *commands, cmd_cmp);
    return e ? (size_t)(e - commands) : NCMD;
}

/* Close codes as label tokens. The codes are the connector's own (a fixed
 * set, docs/btc.md) or libuv error names (a fixed set too). The names that
 * labelled these closes before codes existed are kept: libuv's connect
 * errors by what they mean, every malformed message as "malformed". */
static const struct {
    const char *code, *label;
} labels[] = {
    {"EOF", "closed_by_peer"},
    {"ECONNRESET", "reset"},
    {"ECONNREFUSED", "refused"},
    {"ETIMEDOUT", "timeout"},
    {"ENETUNREACH", "unreachable"},
    {"EHOSTUNREACH", "unreachable"},
    {"EADDRNOTAVAIL", "address_not_available"},
    {"connect_timeout", "timeout"},
    {"bad_magic", "malformed"},
    {"bad_command", "malformed"},
    {"oversized", "malformed"},
    {"bad_checksum", "malformed"},
    {"bad_payload", "malformed"},
};

static const char *code_label(const char *code, char *buf, size_t len)
{
    for (size_t i = 0; i < sizeof labels / sizeof *labels; i++)
        if (strcmp(code, labels[i].code) == 0)
            return labels[i].label;
    size_t n = strlen(code);
    if (n == 0 || n >= len)
        return "other";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)code[i];
        if (!isalnum(ch) && ch != '_')
            return "other";
        buf[i] = (char)tolower(ch);
    }
    buf[n] = 0;
    return buf;
}

static const char *const dirs[2] = {"out", "in"};
static const char *const states[] = {"connecting", "handshake", "ready"};

/* Refreshes the peer gauges before each rendering: counted by walking the
 * peer table, so that nothing on the connection path keeps them. */
static void collect(cs_metrics *m, void *arg)
{
    cs_connector *c = arg;
    (void)m;
    double n[2][3] = {{0}};
    for (size_t i = 0; i < c->npeers; i++) {
        const cs_peer *p = c->peers[i];
        if (p->state <= PS_READY)
            n[p->dir == CS_PEER_IN][p->state]++;
    }
    for (int d = 0; d < 2; d++)
        for (int s = 0; s < 3; s++) {
            if (d == CS_PEER_IN && s == PS_CONNECTING)
                continue; /* inbound peers are never connecting */
            const char *v[] = {dirs[d], states[s]};
            cs_mseries_set(cs_mfamily_series(c->metrics->peers, v), n[d][s]);
        }
    cs_mseries_set(c->metrics->partial, (double)c->partial_bytes);
}

int cs_conn_metrics_init(cs_connector *c, cs_metrics *reg)
{
    static const char *const l_peers[] = {"direction", "state", NULL};
    static const char *const l_reason[] = {"reason", NULL};
    static const char *const l_disc[] = {"reason", "by", NULL};
    static const char *const l_msg[] = {"command", "direction", NULL};
    static const double rtt_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,    0.25,  0.5,    1,     2.5,  5,     10};
    struct cs_conn_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return CS_ENOMEM;
    m->reg = reg;
    m->peers = cs_metrics_family(reg, CS_METRIC_GAUGE, "chainscope_p2p_peers",
                                 "Bitcoin P2P peers by direction (in, out) and state (connecting, "
                                 "handshake, ready).",
                                 l_peers, NULL, 0);
    m->failures = cs_metrics_family(
        reg, CS_METRIC_COUNTER, "chainscope_p2p_connection_failures_total",
        "Outbound connections that could not be opened, by reason.", l_reason, NULL, 0);
    m->disconnects = cs_metrics_family(reg, CS_METRIC_COUNTER, "chainscope_p2p_disconnects_total",
                                       "Connections that ended, by reason and by whom (us, peer).",
                                       l_disc, NULL, 0);
    m->msgs = cs_metrics_family(reg, CS_METRIC_COUNTER, "chainscope_p2p_messages_total",
                                "Well-formed messages by command (other: not a protocol command) "
                                "and direction (in, out).",
                                l_msg, NULL, 0);
    m->bytes =
        cs_metrics_family(reg, CS_METRIC_COUNTER, "chainscope_p2p_message_bytes_total",
                          "Bytes of those messages, 24-byte header included.", l_msg, NULL, 0);
    m->rtt = cs_mfamily_series(
        cs_metrics_family(reg, CS_METRIC_HISTOGRAM, "chainscope_p2p_ping_rtt_seconds",
                          "Round trip of our pings: ping sent to its pong received.", NULL,
                          rtt_buckets, sizeof rtt_buckets / sizeof *rtt_buckets),
        NULL);
    m->attempts = cs_metrics_counter(reg, "chainscope_p2p_connection_attempts_total",
                                     "Outbound connections started.");
    m->accepted = cs_metrics_counter(reg, "chainscope_p2p_connections_accepted_total",
                                     "Inbound connections accepted.");
    m->inbound_dropped = cs_metrics_counter(
        reg, "chainscope_p2p_inbound_dropped_total",
        "Inbound connections closed at once because the connector was at max_peers.");
    m->partial = cs_metrics_gauge(reg, "chainscope_p2p_partial_bytes",
                                  "Bytes held for incomplete messages, all peers together "
                                  "(bounded by connector.partial_budget).");
    m->read_pauses = cs_metrics_counter(
        reg, "chainscope_p2p_read_pauses_total",
        "Times the connector stopped reading every peer because the bus was pressed.");
    if (!m->peers || !m->failures || !m->disconnects || !m->msgs || !m->bytes || !m->rtt ||
        !m->attempts || !m->accepted || !m->inbound_dropped || !m->partial || !m->read_pauses) {
        free(m);
        return CS_EINVAL; /* a family of that name exists with other labels */
    }
    int rc = cs_metrics_on_collect(reg, collect, c);
    if (rc) {
        free(m);
        return rc;
    }
    c->metrics = m;
    collect(reg, c); /* the gauges exist from the start, at 0 */
    return 0;
}

void cs_conn_metrics_free(cs_connector *c)
{
    if (!c->metrics)
        return;
    cs_metrics_off_collect(c->metrics->reg, collect, c);
    free(c->metrics);
    c->metrics = NULL;
}

void cs_conn_metrics_msg(cs_connector *c, const char *cmd, bool in, size_t bytes)
{
    struct cs_conn_metrics *m = c->metrics;
    if (!m)
        return;
    size_t i = cmd_index(cmd);
    if (!m->msg_s[i][in]) {
        const char *v[] = {i < NCMD ? commands[i] : "other", dirs[in]};
        m->msg_s[i][in] = cs_mfamily_series(m->msgs, v);
        m->byte_s[i][in] = cs_mfamily_series(m->bytes, v);
    }
    cs_mseries_inc(m->msg_s[i][in], 1);
    cs_mseries_inc(m->byte_s[i][in], (double)bytes);
}

void cs_conn_metrics_event(cs_connector *c, enum cs_conn_metric what, const cs_peer *p)
{
    struct cs_conn_metrics *m = c->metrics;
    if (!m)
        return;
    char buf[32];
    switch (what) {
    case CS_CM_ATTEMPT:
        cs_mseries_inc(m->attempts, 1);
        break;
    case CS_CM_ACCEPTED:
        cs_mseries_inc(m->accepted, 1);
        break;
    case CS_CM_INBOUND_DROPPED:
        cs_mseries_inc(m->inbound_dropped, 1);
        break;
    case CS_CM_FAILED: {
        const char *v[] = {code_label(p->code, buf, sizeof buf)};
        cs_mseries_inc(cs_mfamily_series(m->failures, v), 1);
        break;
    }
    case CS_CM_CLOSED: {
        const char *v[] = {code_label(p->code, buf, sizeof buf),
                           p->flags & PF_BY_PEER ? "peer" : "us"};
        cs_mseries_inc(cs_mfamily_series(m->disconnects, v), 1);
        break;
    }
    case CS_CM_RTT:
        cs_mseries_observe(m->rtt, p->rtt_ms / 1000.0);
        break;
    case CS_CM_READ_PAUSE:
        cs_mseries_inc(m->read_pauses, 1);
        break;
    }
}
