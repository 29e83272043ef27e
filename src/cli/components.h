/* The table of components `chainscope run` can start, each with its config
 * section. A new component adds one entry in components.c. */
#ifndef CS_CLI_COMPONENTS_H
#define CS_CLI_COMPONENTS_H

#include <stddef.h>

#include "config/config.h"
#include "core/runtime.h"

typedef struct cs_component {
    cs_cfg_section section;
    cs_component_def def;
} cs_component;

extern const cs_component cs_components[];
extern const size_t cs_ncomponents;

/* The config sections of every component, in table order (for
 * cs_config_load). */
const cs_cfg_section *cs_component_sections(void);

/* Registers every component's event schema (core/schema.h); main() calls
 * it before any command runs. */
void cs_components_register_schemas(void);

/* Loads a config file with every component's section parser. */
int cs_cli_load_config(const char *path, cs_config **out, char *err, size_t errlen);

#endif
