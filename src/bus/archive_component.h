/* The archive sink and the replay source as components of `chainscope run`
 * (core/runtime.h), with their `archive:` and `replay:` sections
 * (docs/archive.md). */
#ifndef CS_BUS_ARCHIVE_COMPONENT_H
#define CS_BUS_ARCHIVE_COMPONENT_H

#include <stdbool.h>
#include <stdint.h>

#include "bus/archiver.h"
#include "config/config.h"
#include "core/runtime.h"
#include "core/schema.h"

typedef struct cs_archive_conf {
    cs_archiver_opts o; /* o.dir and o.prefix point at dir and prefix */
    char *dir, *prefix;
    char **filters;
    size_t nfilters;
} cs_archive_conf;

typedef struct cs_replay_conf {
    char **files; /* may be empty: the section then only sets `notify` */
    size_t nfiles;
    char **filters;
    size_t nfilters;
    int64_t from_ns, to_ns;
    double speed; /* 0: as fast as possible */
    bool notify;  /* alerts of replayed events go to the channels */
} cs_replay_conf;

int cs_archive_conf_parse(cs_cfg *c, struct fy_node *node, void **out);
void cs_archive_conf_free(void *conf);
int cs_archive_component_start(cs_runtime *rt, void *conf, void **state);
void cs_archive_component_stop(void *state, void (*done)(void *arg), void *arg);
/* SIGHUP: closes the segment and opens a new one. The new section is
 * taken but its keys apply at the next start (a warning says so when they
 * differ). */
int cs_archive_component_reload(void *state, void *conf);

int cs_replay_conf_parse(cs_cfg *c, struct fy_node *node, void **out);
void cs_replay_conf_free(void *conf);
int cs_replay_component_start(cs_runtime *rt, void *conf, void **state);
void cs_replay_component_stop(void *state, void (*done)(void *arg), void *arg);

/* True when a config asks that alerts of replayed events be notified
 * (`replay.notify: true`). */
bool cs_replay_notify_allowed(const struct cs_config *cfg);

/* replay.finished (docs/events.md). */
extern const cs_event_def cs_schema_archive[];

#endif
