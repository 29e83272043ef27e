/* The connector as a component of `chainscope run` (core/runtime.h): the
 * `connector:` config section, the connector and its control socket on the
 * runtime's loop and bus. docs/btc.md lists the keys. */
#include "btc/component.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "btc/control.h"
#include "core/error.h"
#include "core/log.h"

typedef struct conn_conf {
    char *network;
    char **listen;
    size_t nlisten;
    char **connect;
    size_t nconnect;
    char *control;
    char *user_agent;
    char *blocklist;
    uint64_t services, start_height, max_peers, max_send, partial_budget;
    uint64_t connect_timeout, handshake_timeout, idle_timeout, ping_interval, ping_timeout;
    uint64_t partial_timeout;
    bool relay, msg_events;
} conn_conf;

void cs_btc_config_free(void *p)
{
    conn_conf *c = p;
    if (!c)
        return;
    free(c->network);
    cs_cfg_strv_free(c->listen);
    cs_cfg_strv_free(c->connect);
    free(c->control);
    free(c->user_agent);
    free(c->blocklist);
    free(c);
}

int cs_btc_config_parse(cs_cfg *c, struct fy_node *node, void **out)
{
    static const char *const keys[] = {
        "network",       "listen",       "connect",         "control",           "user_agent",
        "services",      "start_height", "relay",           "max_peers",         "max_send",
        "blocklist",     "msg_events",   "connect_timeout", "handshake_timeout", "idle_timeout",
        "ping_interval", "ping_timeout", "partial_budget",  "partial_timeout",   NULL};
    const char *P = "connector";
    conn_conf *cf = calloc(1, sizeof *cf);
    if (!cf)
        return CS_ENOMEM;
    cf->msg_events = true;
    int rc;
    if ((rc = cs_cfg_expect_map(c, node, P, keys)) ||
        (rc = cs_cfg_str(c, node, P, "network", &cf->network, false)) ||
        (rc = cs_cfg_strv(c, node, P, "listen", &cf->listen, &cf->nlisten, false)) ||
        (rc = cs_cfg_strv(c, node, P, "connect", &cf->connect, &cf->nconnect, false)) ||
        (rc = cs_cfg_str(c, node, P, "control", &cf->control, false)) ||
        (rc = cs_cfg_str(c, node, P, "user_agent", &cf->user_agent, false)) ||
        (rc = cs_cfg_uint(c, node, P, "services", &cf->services, 0, UINT64_MAX, false)) ||
        (rc = cs_cfg_uint(c, node, P, "start_height", &cf->start_height, 0, INT32_MAX, false)) ||
        (rc = cs_cfg_bool(c, node, P, "relay", &cf->relay, false)) ||
        (rc = cs_cfg_uint(c, node, P, "max_peers", &cf->max_peers, 1, 100000, false)) ||
        (rc = cs_cfg_size(c, node, P, "max_send", &cf->max_send, false)) ||
        (rc = cs_cfg_str(c, node, P, "blocklist", &cf->blocklist, false)) ||
        (rc = cs_cfg_bool(c, node, P, "msg_events", &cf->msg_events, false)) ||
        (rc = cs_cfg_duration_ms(c, node, P, "connect_timeout", &cf->connect_timeout, false)) ||
        (rc = cs_cfg_duration_ms(c, node, P, "handshake_timeout", &cf->handshake_timeout, false)) ||
        (rc = cs_cfg_duration_ms(c, node, P, "idle_timeout", &cf->idle_timeout, false)) ||
        (rc = cs_cfg_duration_ms(c, node, P, "ping_interval", &cf->ping_interval, false)) ||
        (rc = cs_cfg_duration_ms(c, node, P, "ping_timeout", &cf->ping_timeout, false)) ||
        (rc = cs_cfg_size(c, node, P, "partial_budget", &cf->partial_budget, false)) ||
        (rc = cs_cfg_duration_ms(c, node, P, "partial_timeout", &cf->partial_timeout, false)))
        goto fail;
    if (cf->network && !cs_wire_net_find(cf->network)) {
        rc = cs_cfg_error(c, cs_cfg_get(node, "network"), "connector.network",
                          "unknown network '%s' (main, testnet3, testnet4, signet, regtest)",
                          cf->network);
        goto fail;
    }
    if (cf->user_agent && strlen(cf->user_agent) > CS_WIRE_MAX_USER_AGENT) {
        rc = cs_cfg_error(c, cs_cfg_get(node, "user_agent"), "connector.user_agent",
                          "longer than %d bytes", CS_WIRE_MAX_USER_AGENT);
        goto fail;
    }
    *out = cf;
    return 0;
fail:
    cs_btc_config_free(cf);
    return rc;
}

typedef struct comp {
    cs_connector *conn;
    cs_control *ctl;
    conn_conf *cf;
    void (*done)(void *);
    void *arg;
} comp;

int cs_btc_component_start(cs_runtime *rt, void *conf, void **state)
{
    conn_conf *cf = conf;
    comp *s = calloc(1, sizeof *s);
    if (!s)
        return CS_ENOMEM;
    s->cf = cf;
    char origin[128];
    snprintf(origin, sizeof origin, "connector@%s", rt->node ? rt->node : "local");
    cs_connector_opts o = {.net = cs_wire_net_find(cf->network ? cf->network : "main"),
                           .origin = origin,
                           .user_agent = cf->user_agent,
                           .services = cf->services,
                           .start_height = (int32_t)cf->start_height,
                           .relay = cf->relay,
                           .max_peers = cf->max_peers,
                           .max_send = cf->max_send,
                           .connect_timeout_ms = cf->connect_timeout,
                           .handshake_timeout_ms = cf->handshake_timeout,
                           .idle_timeout_ms = cf->idle_timeout,
                           .ping_interval_ms = cf->ping_interval,
                           .ping_timeout_ms = cf->ping_timeout,
                           .partial_budget = cf->partial_budget,
                           .partial_timeout_ms = cf->partial_timeout,
                           .no_msg_events = !cf->msg_events,
                           .metrics = rt->metrics};
    cs_connector_raise_nofile();
    int rc = cs_connector_new(rt->loop, rt->bus, &o, &s->conn);
    if (rc) {
        free(s);
        return rc;
    }
    char err[256];
    if (cf->blocklist &&
        (rc = cs_connector_load_blocklist(s->conn, cf->blocklist, err, sizeof err)) != 0)
        CS_ERROR("connector", "blocklist %s", err);
    for (size_t i = 0; rc == 0 && i < cf->nlisten; i++)
        if ((rc = cs_connector_listen(s->conn, cf->listen[i], NULL)) != 0)
            CS_ERROR("connector", "cannot listen on %s: %s", cf->listen[i], cs_strerror(rc));
    if (rc == 0 && cf->control) {
        cs_control_opts co = {.path = cf->control};
        if ((rc = cs_control_new(rt->loop, s->conn, &co, &s->ctl)) != 0)
            CS_ERROR("connector", "control socket %s: %s", cf->control, cs_strerror(rc));
    }
    if (rc) {
        cs_connector_close(s->conn, NULL, NULL);
        free(s);
        return rc;
    }
    for (size_t i = 0; i < cf->nconnect; i++)
        if ((rc = cs_connector_connect(s->conn, cf->connect[i], NULL)) != 0)
            CS_WARN("connector", "cannot connect to %s: %s", cf->connect[i], cs_strerror(rc));
    *state = s;
    return 0;
}

static void closed(void *arg)
{
    comp *s = arg;
    void (*done)(void *) = s->done;
    void *darg = s->arg;
    free(s);
    if (done)
        done(darg);
}

void cs_btc_component_stop(void *state, void (*done)(void *arg), void *arg)
{
    comp *s = state;
    s->done = done;
    s->arg = arg;
    if (s->ctl)
        cs_control_close(s->ctl);
    cs_connector_close(s->conn, closed, s);
}

/* SIGHUP: the blocklist is read again; other keys need a restart. */
int cs_btc_component_reload(void *state, void *conf)
{
    comp *s = state;
    conn_conf *cf = conf;
    int rc = 0;
    if (cf->blocklist) {
        char err[256];
        rc = cs_connector_load_blocklist(s->conn, cf->blocklist, err, sizeof err);
        if (rc)
            CS_ERROR("connector", "blocklist not reloaded: %s", err);
        else
            CS_INFO("connector", "blocklist reloaded from %s", cf->blocklist);
    } else {
        cs_connector_set_blocklist(s->conn, "", NULL, 0);
    }
    if (rc == 0) {
        cs_btc_config_free(s->cf);
        s->cf = cf;
    }
    return rc;
}
