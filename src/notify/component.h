/* The `monitors` component of `chainscope run`: the monitor engine on the
 * bus, feeding the notifier and its outbox. Its config is three sections:
 * monitors: (rules/monitor_config.h), channels: (notify/channel.h) and
 * notify: (notify/notifier.h). */
#ifndef CS_NOTIFY_COMPONENT_H
#define CS_NOTIFY_COMPONENT_H

#include "config/config.h"
#include "core/runtime.h"

/* cs_component_def start/stop for the "monitors" section. */
int cs_monitors_start(cs_runtime *rt, void *conf, void **state);
void cs_monitors_stop(void *state, void (*done)(void *arg), void *arg);
/* SIGHUP: the new monitors replace the running ones; channels and notify
 * need a restart. Takes conf (frees it on failure). */
int cs_monitors_reload(void *state, void *conf);

#endif
