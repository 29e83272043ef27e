/* Reading a JSON-RPC outcome for people and for judges: cs_rpc_why and
 * cs_rpc_item (see rpc.h). */
#include "core/error.h"
#include "net/jsonrpc.h"

#include <stdio.h>

const char *cs_rpc_why(const cs_rpc_result *res, uint64_t timeout_ms, char *buf, size_t len)
{
    if (res->error == CS_ETIMEDOUT)
        snprintf(buf, len, "timed out after %llu ms", (unsigned long long)timeout_ms);
    else if (res->error == CS_EPROTO && res->code)
        snprintf(buf, len, "JSON-RPC error %lld: %s", (long long)res->code, res->message);
    else
        snprintf(buf, len, "%s%s", res->message[0] ? res->message : cs_strerror(res->error),
                 res->code == 401 ? " (authentication failed)" : "");
    return buf;
}

int cs_rpc_item(const cs_rpc_result *res, size_t k, const char *method, uint32_t *tok, char *why,
                size_t len)
{
    if (k < res->n && res->results[k]) {
        *tok = res->results[k];
        return 0;
    }
    snprintf(why, len, "%s: JSON-RPC error %lld", method,
             k < res->n ? (long long)res->codes[k] : 0LL);
    return CS_EPROTO;
}
