#include "cli/components.h"

#include <stdlib.h>

#include "antelope/component.h"
#include "audit/audit_config.h"
#include "audit/component.h"
#include "audit/events.h"
#include "btc/bitcoind.h"
#include "bus/archive_component.h"
#include "bus/nats.h"
#include "btc/component.h"
#include "btc/events.h"
#include "evm/component.h"
#include "evm/events.h"
#include "notify/channel.h"
#include "notify/component.h"
#include "notify/conf.h"
#include "notify/events.h"
#include "rules/component.h"
#include "rules/events.h"
#include "rules/monitor_config.h"
#include "web/component.h"

/* One entry per component, in start order: sinks (notify, monitors)
 * before the sources, so that they see the first events; stopping goes in
 * reverse (the sources stop first, notify last). */
const cs_component cs_components[] = {
    {{"channels", "notification channels (docs/monitors.md)", cs_channels_conf_parse,
      cs_channels_conf_free},
     {NULL, NULL, NULL, NULL}},
    {{"notify", "outbox, default channels per severity, explorer links (docs/monitors.md)",
      cs_notify_conf_parse, cs_notify_conf_free},
     {"notify", cs_notify_start, cs_notify_stop, NULL}},
    {{"monitors", "contract and event monitors (docs/monitors.md)", cs_monitors_conf_parse,
      cs_monitors_conf_free},
     {"monitors", cs_monitors_start, cs_monitors_stop, cs_monitors_reload}},
    {{"archive", "archive sink: events into compressed segment files (docs/archive.md)",
      cs_archive_conf_parse, cs_archive_conf_free},
     {"archive", cs_archive_component_start, cs_archive_component_stop,
      cs_archive_component_reload}},
    {{"dashboard",
      "the dashboard, its JSON APIs and the live feed on the HTTP server (docs/dashboard.md)",
      cs_web_conf_parse, cs_web_conf_free},
     {"dashboard", cs_web_start, cs_web_stop, NULL}},
    {{"audit", "node audit: scheduled checks, ledger, daily report, SLA", cs_audit_config_parse,
      cs_audit_config_section_free},
     {"audit", cs_audit_component_start, cs_audit_component_stop, cs_audit_component_reload}},
    {{"connector", "Bitcoin P2P connector: peers, every message an event, control socket",
      cs_btc_config_parse, cs_btc_config_free},
     {"connector", cs_btc_component_start, cs_btc_component_stop, cs_btc_component_reload}},
    {{"bitcoind", "Bitcoin Core nodes over RPC: snapshots, peers, addrman, chain tips and forks",
      cs_bitcoind_config_parse, cs_bitcoind_config_free},
     {"bitcoind", cs_bitcoind_start, cs_bitcoind_stop, cs_bitcoind_reload}},
    {{"evm", "EVM chain follower (blocks, txs, decoded logs, reorgs) and node probes",
      cs_evm_config_parse, cs_evm_config_free},
     {"evm", cs_evm_component_start, cs_evm_component_stop, NULL}},
    {{"antelope", "Antelope chain follower: blocks, rounds, missed slots, forks, own producers",
      cs_antelope_config_parse, cs_antelope_config_free},
     {"antelope", cs_antelope_component_start, cs_antelope_component_stop, NULL}},
    /* As a source it starts after the sinks (before replay); as a sink it is
     * subscribed before the loop runs, so it misses no source's event. */
    {{"nats", "NATS bridge: publish events to NATS and JetStream, subscribe (docs/nats.md)",
      cs_nats_conf_parse, cs_nats_conf_free},
     {"nats", cs_nats_start, cs_nats_stop, NULL}},
    /* last: archived events flow once every sink is listening */
    {{"replay", "replay archived events onto the bus, marked as replayed (docs/archive.md)",
      cs_replay_conf_parse, cs_replay_conf_free},
     {"replay", cs_replay_component_start, cs_replay_component_stop, NULL}},
    {{NULL, NULL, NULL, NULL}, {NULL, NULL, NULL, NULL}},
};

const size_t cs_ncomponents = sizeof cs_components / sizeof *cs_components - 1;

const cs_cfg_section *cs_component_sections(void)
{
    static cs_cfg_section table[sizeof cs_components / sizeof *cs_components];
    for (size_t i = 0; i < cs_ncomponents; i++)
        table[i] = cs_components[i].section;
    return table;
}

int cs_cli_load_config(const char *path, cs_config **out, char *err, size_t errlen)
{
    return cs_config_load(path, cs_component_sections(), cs_ncomponents, out, err, errlen);
}

void cs_components_register_schemas(void)
{
    /* The core's own group is always there; each component's table lives
     * beside its publisher. */
    static const cs_event_def *const tables[] = {
        cs_schema_archive, cs_schema_audit,    cs_schema_btc,  cs_schema_bitcoind, cs_schema_btclog,
        cs_schema_evm,     cs_schema_monitors, cs_schema_nats, cs_schema_notify,
        cs_schema_antelope};
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++)
        cs_schema_register(tables[i]); /* 10 of CS_SCHEMA_MAX_GROUPS: cannot fail */
}
