/* The `monitors` component of `chainscope run`: the monitor engine on the
 * bus. It publishes `alert.fired` for every alert (through a spool that
 * publishes it again until a notifier acknowledges it, bus/spool.h) and
 * knows no notifier: the notify component subscribes, in this process or
 * in another one behind a log server. Its section is monitors:
 * (rules/monitor_config.h); when the config also has channels: and
 * notify:, monitor channels are checked against them and the severity
 * defaults and explorer links are taken from notify:. */
#ifndef CS_RULES_COMPONENT_H
#define CS_RULES_COMPONENT_H

#include "config/config.h"
#include "core/runtime.h"

/* cs_component_def start/stop for the "monitors" section. */
int cs_monitors_start(cs_runtime *rt, void *conf, void **state);
void cs_monitors_stop(void *state, void (*done)(void *arg), void *arg);
/* SIGHUP: the new monitors replace the running ones; channels and notify
 * need a restart. Takes conf (frees it on failure). */
int cs_monitors_reload(void *state, void *conf);

#endif
