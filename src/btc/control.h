/* The control socket server: a unix socket (mode 0600) through which
 * clients drive a connector (include/chainscope/control.h is the client
 * library; docs/control-protocol.md the protocol). Every command's result
 * is also published as a ctl.result event. Loop thread only. */
#ifndef CS_BTC_CONTROL_H
#define CS_BTC_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "btc/connector.h"
#include "btc/ctlsrv.h"

typedef struct cs_control cs_control;

typedef struct cs_control_opts {
    const char *path;    /* socket path; copied. NULL: no socket, requests
                            come only through cs_control_exec (tests, fuzzing) */
    size_t max_clients;  /* 0: 64 */
    size_t max_messages; /* registered messages kept: 0: 1024 */
} cs_control_opts;

/* Listens on opts->path (an existing socket file is replaced). The
 * connector must outlive the control server. Caller closes with
 * cs_control_close. */
int cs_control_new(uv_loop_t *loop, cs_connector *conn, const cs_control_opts *opts,
                   cs_control **out);
void cs_control_close(cs_control *ctl);

/* Runs one request as if a client had sent it (without publishing
 * ctl.result): returns the status (0 or a negative CS_E* code) and points
 * *result at the value-encoded result object (borrowed: valid until the
 * next request). */
int cs_control_exec(cs_control *ctl, const cs_control_req *req, const uint8_t **result,
                    size_t *len);

#endif
