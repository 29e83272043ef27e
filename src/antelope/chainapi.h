/* The Antelope chain API (nodeos /v1/chain/...) calls the audit asks: POST
 * get_info and get_producer_schedule through the shared HTTP client
 * (net/http_client.h), answers read into plain structs for the caller to
 * judge. Each calls cb exactly once unless it returns an error (CS_EINVAL,
 * CS_ELIMIT, CS_ENOMEM); structs are borrowed until cb returns. `error` is
 * 0 or a CS_E* code with `why` for people. Nothing blocks the loop. */
#ifndef CS_ANTELOPE_CHAINAPI_H
#define CS_ANTELOPE_CHAINAPI_H

#include <stddef.h>
#include <stdint.h>

#include "antelope/producers.h"
#include "net/http_client.h"

#define CS_ANT_MAX_BODY (16u << 20) /* bytes of an answer; beyond: CS_ELIMIT */

/* POSTs body (a JSON text, copied) to base + path (e.g. "/v1/chain/get_block"),
 * answers bounded by CS_ANT_MAX_BODY; cb as cs_http_request_start's.
 * Errors: CS_EINVAL (URL too long) and cs_http_request_start's. */
int cs_ant_post(cs_http_client *http, const char *base, const char *path, const char *body,
                uint32_t timeout_ms, cs_http_cb cb, void *arg);

typedef struct cs_ant_info {
    int error;
    char why[256];
    uint64_t head, lib;
    int64_t head_ms; /* head_block_time, Unix ms */
    char producer[CS_ANT_NAME_MAX];
    char chain_id[80];
    char version[96]; /* server_version_string, else server_version */
} cs_ant_info;
typedef void (*cs_ant_info_cb)(const cs_ant_info *info, void *arg);
/* base: the API's base URL (trailing slashes ignored). */
int cs_ant_get_info(cs_http_client *http, const char *base, uint32_t timeout_ms, cs_ant_info_cb cb,
                    void *arg);

typedef struct cs_ant_schedule {
    int error;
    char why[256];
    size_t n; /* active producers, in order; at most CS_ANT_MAX_PRODUCERS */
    char names[CS_ANT_MAX_PRODUCERS][CS_ANT_NAME_MAX];
} cs_ant_schedule;
typedef void (*cs_ant_schedule_cb)(const cs_ant_schedule *s, void *arg);
int cs_ant_get_schedule(cs_http_client *http, const char *base, uint32_t timeout_ms,
                        cs_ant_schedule_cb cb, void *arg);

#endif
