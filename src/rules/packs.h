/* Rule packs and contract templates compiled into the binary (YAML files
 * under src/rules/packs/ and src/rules/templates/, docs/monitors.md "Rule
 * packs" and "Templates").
 *
 *   monitors:
 *     - include: [builtin:p2p-attacks, builtin:node-health]
 *     - name: p2p-ping-spam          # a pack rule's name: changes that rule
 *       window: {threshold: 50}
 *     - name: p2p-addr-spam
 *       enabled: false               # switches it off
 *
 * A pack is {description, monitors: [...]} in the monitors section's own
 * syntax. A template is a monitor with {{address}}, {{network}}, {{name}}
 * and {{param}} placeholders after `# key: value` header lines. */
#ifndef CS_RULES_PACKS_H
#define CS_RULES_PACKS_H

#include <stddef.h>

typedef struct cs_embedded {
    const char *name;
    const char *text; /* NUL-terminated */
    size_t len;
} cs_embedded;

/* Ends with {NULL, NULL, 0}. */
extern const cs_embedded cs_builtin_packs[];
extern const cs_embedded cs_builtin_templates[];

/* By name ("p2p-attacks" or "builtin:p2p-attacks"); NULL when none. */
const cs_embedded *cs_pack_find(const char *name);
const cs_embedded *cs_template_find(const char *name);

/* The value of a "# key: value" header line of a template (or a pack's
 * top-level scalar `key: value` line) into out; 0 or CS_ENOTFOUND. */
int cs_embedded_header(const cs_embedded *e, const char *key, char *out, size_t cap);

#endif
