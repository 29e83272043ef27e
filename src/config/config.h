/* Configuration: YAML (libfyaml) into plain C structs.
 *
 * The file is one YAML mapping. The foundation owns a few top-level keys
 * (node, log, bus, logserver, http); every other top-level key is the
 * section of one component, parsed by that component's own parser from the
 * table given to cs_config_load. Unknown keys are errors.
 *
 * Every error names file:line:col and the key, e.g.
 *   chainscope.yaml:7:11: logserver.buffer: expected a size like 8MiB, got "lots"
 * Scalars may use ${NAME} (or ${NAME:-default}) to take a value from the
 * environment: that is where secrets come from. */
#ifndef CS_CONFIG_CONFIG_H
#define CS_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fy_node;
struct fy_document;

/* Parsing context handed to section parsers. */
typedef struct cs_cfg {
    const char *file;
    struct fy_document *doc;
    char err[1024]; /* the first error, "file:line:col: key: message" */
    int failed;
    /* Variables substituted so far (owned, freed by cs_config_load): their
     * values are never quoted in err; the variable is named instead. */
    struct cs_cfg_env {
        char *name;
        char *value;
    } * env;
    size_t nenv;
} cs_cfg;

/* Bounds on what a config may make the loader build. */
#define CS_CFG_MAX_FILE (4u << 20)  /* bytes of YAML text */
#define CS_CFG_MAX_NODES 100000u    /* values once aliases are expanded */
#define CS_CFG_MAX_ALIASES 10000u   /* alias uses once aliases are expanded */
#define CS_CFG_MAX_TEXT (16u << 20) /* bytes of scalars once aliases are expanded */
#define CS_CFG_MAX_ENV 64           /* distinct ${VAR}s remembered for redaction */

/* Records an error at node n (NULL: the file) for `key` (may be NULL).
 * Only the first error is kept. Always returns CS_ECONFIG. */
int cs_cfg_error(cs_cfg *c, struct fy_node *n, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The readers below look `key` up in mapping `map`. A missing key leaves
 * *out untouched and returns 0 unless `required`. A present key of the wrong
 * form records an error at the value's position and returns CS_ECONFIG.
 * Strings are returned malloc'ed (caller frees), after ${ENV} substitution.
 * `path` is the dotted name of the mapping for messages ("logserver.tcp"). */
int cs_cfg_str(cs_cfg *c, struct fy_node *map, const char *path, const char *key, char **out,
               bool required);
int cs_cfg_uint(cs_cfg *c, struct fy_node *map, const char *path, const char *key, uint64_t *out,
                uint64_t min, uint64_t max, bool required);
int cs_cfg_double(cs_cfg *c, struct fy_node *map, const char *path, const char *key, double *out,
                  double min, double max, bool required);
int cs_cfg_bool(cs_cfg *c, struct fy_node *map, const char *path, const char *key, bool *out,
                bool required);
/* Durations: "250ms", "30s", "5m", "2h", "1d" or a bare number of seconds. */
int cs_cfg_duration_ms(cs_cfg *c, struct fy_node *map, const char *path, const char *key,
                       uint64_t *out_ms, bool required);
/* Sizes: "512", "64KiB", "8MiB", "1GiB" (also kB/MB/GB as powers of 1000). */
int cs_cfg_size(cs_cfg *c, struct fy_node *map, const char *path, const char *key, uint64_t *out,
                bool required);
/* One of `choices` (NULL-terminated); *out gets its index. */
int cs_cfg_enum(cs_cfg *c, struct fy_node *map, const char *path, const char *key,
                const char *const *choices, int *out, bool required);
/* A string or a sequence of strings. *out is a NULL-terminated array
 * (free with cs_cfg_strv_free), *n its length. */
int cs_cfg_strv(cs_cfg *c, struct fy_node *map, const char *path, const char *key, char ***out,
                size_t *n, bool required);
void cs_cfg_strv_free(char **v);

/* The node of `key` in `map`, or NULL. */
struct fy_node *cs_cfg_get(struct fy_node *map, const char *key);
/* Checks that `n` is a mapping whose keys are all in `allowed` (NULL-
 * terminated); names the first unknown key at its position. */
int cs_cfg_expect_map(cs_cfg *c, struct fy_node *n, const char *path, const char *const *allowed);
/* Text of a scalar node with ${ENV} substituted (malloc'ed), or NULL with
 * an error recorded. */
char *cs_cfg_scalar(cs_cfg *c, struct fy_node *n, const char *path);
/* "file:line:col" of a node, for messages produced after loading. */
void cs_cfg_where(const cs_cfg *c, struct fy_node *n, char *out, size_t outlen);
/* How a message shows the value `text` read from scalar `n`: "\"text\"", or,
 * when the file wrote ${VAR} there, the variable and not its value (a
 * secret put under the wrong key must not be printed). Writes into buf and
 * returns it. */
const char *cs_cfg_shown(struct fy_node *n, const char *text, char *buf, size_t len);
/* Checks that the mappings of sequence `seq` (at `path`, "evm.networks")
 * each have a different `key` (after ${ENV} substitution). The second of
 * two is the error, at its position: "evm.networks[1].name: ...". Items
 * that are not mappings or lack the key are left to the section parser. */
int cs_cfg_unique(cs_cfg *c, struct fy_node *seq, const char *path, const char *key);
/* The same for the keys of mapping `map` (which YAML already keeps apart
 * as written, but ${ENV} can make equal). */
int cs_cfg_unique_keys(cs_cfg *c, struct fy_node *map, const char *path);
/* Checks a listen address "host:port" (IPv4, [IPv6] or localhost, port
 * 0-65535) read from `key` of `map`; *loopback tells whether it is one. */
int cs_cfg_listen(cs_cfg *c, struct fy_node *map, const char *path, const char *key,
                  const char *addr, bool *loopback);

/* A component's section: how to parse it and free what the parse built. */
typedef struct cs_cfg_section {
    const char *name;
    const char *summary;
    int (*parse)(cs_cfg *c, struct fy_node *node, void **out);
    void (*free)(void *conf);
} cs_cfg_section;

/* The foundation's own keys. */
typedef struct cs_config {
    char *file;
    char *node;         /* instance name; default: the host name */
    int log_level;      /* enum cs_log_level */
    uint64_t bus_queue; /* default per-subscriber bound, events */
    /* bus.connect: another process's log server, bridged (bus/bridge.h) */
    char *bus_connect;
    char **bus_import, **bus_export; /* filters: from there onto this bus, and back */
    size_t nbus_import, nbus_export;
    /* local log server */
    bool logserver_enabled;
    char *logserver_socket;
    uint64_t logserver_buffer;              /* bytes queued per client before cut-off */
    char *logserver_tcp;                    /* "host:port" or NULL */
    char *logserver_token;                  /* required when tcp is set */
    uint64_t logserver_max_clients;         /* logged-in clients */
    uint64_t logserver_unix_reserved;       /* of those, kept for the unix socket */
    uint64_t logserver_max_unauthenticated; /* per transport, waiting for HELLO */
    uint64_t logserver_hello_timeout_ms;    /* from connect to HELLO */
    /* HTTP server for /metrics, /healthz and the API */
    bool http_enabled;
    char *http_listen; /* "127.0.0.1:9464" */
    char *http_token;  /* required when listening beyond loopback */
    uint64_t http_max_connections;
    uint64_t http_max_per_ip;         /* connections from one address */
    uint64_t http_request_timeout_ms; /* a whole request, from connect or the last answer */
    bool http_mask_ips;               /* the dashboard and its APIs show no IP address */
    /* console sink inside `run` */
    char **console_filters; /* NULL: no console output */
    size_t nconsole_filters;
    bool console_json;
    uint64_t console_buffer; /* bytes waiting for stdout at most; 0: the default */
    /* component sections present in the file, in table order */
    size_t nsections;
    struct cs_config_section_inst {
        const cs_cfg_section *def;
        void *conf;
    } * sections;
} cs_config;

/* Loads and validates `path`. On error returns CS_ECONFIG (or CS_EIO) and
 * writes the message into err. Caller frees with cs_config_free. */
int cs_config_load(const char *path, const cs_cfg_section *table, size_t ntable, cs_config **out,
                   char *err, size_t errlen);
void cs_config_free(cs_config *cfg);
/* The parsed section `name`, or NULL when the file has none. */
void *cs_config_section(const cs_config *cfg, const char *name);

/* Substitutes ${NAME} and ${NAME:-default} in s. Returns a malloc'ed string,
 * or NULL and writes why into `why` (an unset variable without default, a
 * `${` without its `}`, an empty or over-long name). */
char *cs_cfg_expand_env(const char *s, size_t n, char *why, size_t why_len);

#endif
