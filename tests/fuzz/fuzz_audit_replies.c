/* Fuzzes the audit's handling of node replies: every HTTP response of a
 * sweep (EVM JSON-RPC batches, Bitcoin Core RPC, Antelope chain API) is the
 * fuzz input, for a config that exercises every check. The replies come in
 * through the HTTP client's test seam (net/http_client.h), so the JSON-RPC
 * client, the chains' probes and the checks all run as in the program. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "audit/audit.h"
#include "audit/check.h"
#include "core/error.h"
#include "core/log.h"
#include "net/http_client.h"

static cs_http_request *queue[4096];
static size_t nq;

static int fake_start(void *impl, cs_http_request *r, const cs_http_opts *o)
{
    if (nq >= sizeof queue / sizeof *queue)
        return CS_ELIMIT;
    queue[nq++] = r;
    return 0;
}

static void fake_cancel(void *impl, cs_http_request *r)
{
    for (size_t i = 0; i < nq; i++)
        if (queue[i] == r) {
            queue[i] = queue[--nq];
            return;
        }
}

static void done(cs_audit_run *run, void *arg)
{
    *(int *)arg = 1;
}

static cs_audit_node evm_nodes[3], btc_nodes[1], ant_nodes[2];
static cs_audit_network nets[3];
static cs_audit_config cfg;

static void setup(void)
{
    cs_audit_config_init(&cfg);
    evm_nodes[0] = (cs_audit_node){.name = "aud", .role = CS_ROLE_WITNESS, .rpc = "http://a"};
    evm_nodes[1] = (cs_audit_node){.name = "m",
                                   .role = CS_ROLE_MINER,
                                   .rpc = "http://m",
                                   .signer = "0xab",
                                   .enode = "enode://aa@1.2.3.4:1"};
    evm_nodes[2] = (cs_audit_node){
        .name = "w", .role = CS_ROLE_WITNESS, .rpc = "http://w", .enode = "enode://bb@[::1]:1"};
    btc_nodes[0] = (cs_audit_node){
        .name = "b", .role = CS_ROLE_RPC, .rpc = "http://b", .rpc_user = "u", .rpc_password = "p"};
    ant_nodes[0] = (cs_audit_node){.name = "e", .role = CS_ROLE_RPC, .rpc = "http://e"};
    ant_nodes[1] = (cs_audit_node){
        .name = "p", .role = CS_ROLE_PRODUCER, .rpc = "http://p", .account = "alpha"};
    nets[0] = (cs_audit_network){.name = "evm",
                                 .kind = CS_AUDIT_EVM,
                                 .auditor = "aud",
                                 .add_missing_peers = true,
                                 .nodes = evm_nodes,
                                 .nnodes = 3};
    nets[1] = (cs_audit_network){
        .name = "btc", .kind = CS_AUDIT_BITCOIN, .nodes = btc_nodes, .nnodes = 1};
    nets[2] = (cs_audit_network){.name = "eos",
                                 .kind = CS_AUDIT_ANTELOPE,
                                 .chain_id = "c",
                                 .version = "v",
                                 .nodes = ant_nodes,
                                 .nnodes = 2};
    nets[0].lim.seal_blocks = 4;
    cfg.nets = nets;
    cfg.nnets = 3;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        setup();
        cs_log_set_level(CS_LOG_OFF);
        ready = 1;
    }
    char *body = malloc(size + 1);
    if (!body)
        return 0;
    memcpy(body, data, size);
    body[size] = 0;
    uv_loop_t loop;
    uv_loop_init(&loop);
    cs_http_client *http;
    if (cs_http_client_new(&loop, 0, &http) != 0)
        abort();
    cs_http_transport t = {.start = fake_start, .cancel = fake_cancel};
    cs_http_client_set_transport(http, &t);
    int finished = 0;
    cs_audit_run *run;
    nq = 0;
    if (cs_audit_run_start(&loop, http, &cfg, 1706742007, NULL, done, &finished, &run) == 0) {
        /* Answer every request, including those the answers cause; run
         * the loop for what goes through it (big answers parsed on the
         * thread pool, calls refused at once and failed from the timer). */
        for (size_t rounds = 0; !finished && rounds < 100000; rounds++) {
            if (!nq) {
                uv_run(&loop, UV_RUN_ONCE);
                continue;
            }
            cs_http_request *q = queue[--nq];
            cs_http_response r = {.status = 200, .body = body, .body_len = size, .retry_after = -1};
            cs_http_request_answer(q, &r);
        }
        if (finished) {
            const cs_audit_result *res;
            size_t n = cs_audit_run_results(run, &res);
            for (size_t i = 0; i < n; i++)
                if (res[i].state < 0 || res[i].state > 2)
                    abort();
        }
        if (!finished)
            uv_run(&loop, UV_RUN_DEFAULT); /* a zero-network run ends on its timer */
        cs_audit_run_free(run);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    cs_http_client_close(http, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    free(body);
    return 0;
}
