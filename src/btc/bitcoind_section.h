/* The `bitcoind:` config section and its component (bitcoind_section.c). */
#ifndef CS_BTC_BITCOIND_SECTION_H
#define CS_BTC_BITCOIND_SECTION_H

#include "config/config.h"
#include "core/runtime.h"

int cs_bitcoind_section_parse(cs_cfg *c, struct fy_node *node, void **out);
void cs_bitcoind_section_free(void *conf);
int cs_bitcoind_section_start(cs_runtime *rt, void *conf, void **state);
void cs_bitcoind_section_stop(void *state, void (*done)(void *arg), void *arg);

#endif
