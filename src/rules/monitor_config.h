/* The `monitors:` config section (docs/monitors.md): a list of monitors,
 * parsed into cs_monitor_def structs with file:line:col errors. Conditions
 * are compiled while parsing so that a bad one is reported at its place. */
#ifndef CS_RULES_MONITOR_CONFIG_H
#define CS_RULES_MONITOR_CONFIG_H

#include "config/config.h"
#include "rules/monitor.h"

typedef struct cs_monitors_conf {
    cs_monitor_def *defs;
    size_t n;
} cs_monitors_conf;

/* cs_cfg_section parse/free for "monitors". *out: a cs_monitors_conf. */
int cs_monitors_conf_parse(cs_cfg *c, struct fy_node *node, void **out);
void cs_monitors_conf_free(void *conf);

#endif
