/* The `notify` component of `chainscope run`: a sink. It runs when the
 * config has a notify: section (notify/conf.h), with the channels of
 * channels: (notify/channel.h). It subscribes to `alert.fired` (the
 * monitors) and `audit.report` (the audit), queues each one in its outbox
 * and delivers it (notify/notifier.h); once an event is committed to the
 * outbox it publishes `notify.ack` {id}, which tells the publisher's spool
 * (bus/spool.h) to stop publishing it again. Those events may come from
 * this process or from another one (docs/monitors.md, "Running monitors
 * and notify apart"). */
#ifndef CS_NOTIFY_COMPONENT_H
#define CS_NOTIFY_COMPONENT_H

#include "core/runtime.h"

/* cs_component_def start/stop for the "notify" section. */
int cs_notify_start(cs_runtime *rt, void *conf, void **state);
void cs_notify_stop(void *state, void (*done)(void *arg), void *arg);

#endif
