/* The audit as a component of `chainscope run` (core/runtime.h): the
 * scheduler on the runtime's loop and bus, with the HTTP adapter. */
#ifndef CS_AUDIT_COMPONENT_H
#define CS_AUDIT_COMPONENT_H

#include "audit/schedule.h"
#include "core/runtime.h"

/* conf: the parsed `audit:` section (borrowed for the component's life). */
int cs_audit_component_start(cs_runtime *rt, void *conf, void **state);
void cs_audit_component_stop(void *state, void (*done)(void *arg), void *arg);

/* Where daily reports go. The default logs that a report is ready and to
 * which channels it would go; the notification channels (src/notify/)
 * replace it with cs_audit_set_report_hook before components start. */
void cs_audit_set_report_hook(cs_audit_report_hook hook, void *arg);

#endif
