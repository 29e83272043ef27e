/* The audit as a component of `chainscope run` (core/runtime.h): the
 * scheduler on the runtime's loop and bus, its checks over the shared HTTP
 * client, its daily reports to the notification channels. */
#ifndef CS_AUDIT_COMPONENT_H
#define CS_AUDIT_COMPONENT_H

#include "audit/schedule.h"
#include "core/runtime.h"

/* conf: the parsed `audit:` section (borrowed for the component's life). */
int cs_audit_component_start(cs_runtime *rt, void *conf, void **state);
void cs_audit_component_stop(void *state, void (*done)(void *arg), void *arg);
/* SIGHUP: the new inventory, schedules and report settings take over (after
 * the sweep or report in flight); the ledger stays. Takes conf (frees it on
 * failure: the old settings stay). */
int cs_audit_component_reload(void *state, void *conf);

/* Where daily reports go. By default (hook NULL) to the notification
 * channels audit.report.channels names, as an `audit.report` event that
 * the notify component delivers (in this process or another), or to the
 * log when it names none. A hook set before the component starts replaces that (tests). */
void cs_audit_set_report_hook(cs_audit_report_hook hook, void *arg);

#endif
