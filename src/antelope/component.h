/* The Antelope follower as a component of `chainscope run`, configured by
 * the `antelope:` section (docs/antelope.md):
 *
 *   antelope:
 *     networks:
 *       - name: eos
 *         api: [http://127.0.0.1:8888, http://10.0.0.2:8888]
 *         confirm: head            # or lib
 *         db: /var/lib/chainscope/antelope.db
 *         own:
 *           - account: examplebp
 *             nodes: [{name: bp-master, api: http://10.0.0.7:8888}]
 */
#ifndef CS_ANTELOPE_COMPONENT_H
#define CS_ANTELOPE_COMPONENT_H

#include "config/config.h"
#include "core/runtime.h"
#include "core/schema.h"

extern const cs_event_def cs_schema_antelope[];

int cs_antelope_config_parse(cs_cfg *c, struct fy_node *node, void **out);
void cs_antelope_config_free(void *conf);
int cs_antelope_component_start(cs_runtime *rt, void *conf, void **state);
void cs_antelope_component_stop(void *state, void (*done)(void *arg), void *arg);

/* The database path of network `network` of a parsed section (NULL: the
 * only one), or NULL with err set. Borrowed. */
const char *cs_antelope_config_db(const void *conf, const char *network, const char **name,
                                  char *err, size_t errlen);

#endif
