/* The Bitcoin P2P connector as a component of `chainscope run`
 * (core/runtime.h), with its `connector:` config section. */
#ifndef CS_BTC_COMPONENT_H
#define CS_BTC_COMPONENT_H

#include "config/config.h"
#include "core/runtime.h"

/* The `connector:` section; *out is freed with cs_btc_config_free. */
int cs_btc_config_parse(cs_cfg *c, struct fy_node *node, void **out);
void cs_btc_config_free(void *conf);
/* conf: the parsed section (borrowed for the component's life). */
int cs_btc_component_start(cs_runtime *rt, void *conf, void **state);
void cs_btc_component_stop(void *state, void (*done)(void *arg), void *arg);
int cs_btc_component_reload(void *state, void *conf);

#endif
