/* The `audit:` config section (docs/audit.md). */
#ifndef CS_AUDIT_AUDIT_CONFIG_H
#define CS_AUDIT_AUDIT_CONFIG_H

#include "config/config.h"

/* Section parser for cs_config_load: *out becomes a cs_audit_config
 * (audit/audit.h), freed with cs_audit_config_section_free. Errors name
 * file:line:col. */
int cs_audit_config_parse(cs_cfg *c, struct fy_node *node, void **out);
void cs_audit_config_section_free(void *conf);

#endif
