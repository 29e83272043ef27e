/* Fuzzes the decoders of Bitcoin Core's RPC answers (btc/bitcoind_int.h):
 * the input is one JSON answer, read by every decoder the bitcoind
 * component applies to a `result` (snapshot field copies, getpeerinfo,
 * getrawaddrman and its comparison, getchaintips, getorphantxs,
 * getblockheader), and the tips and header it yields go through the fork
 * watch as a node's answer would. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "btc/bitcoind_int.h"

static cs_btcd_addrman prev, cur;

static void ignore(const cs_forks_event *ev, void *arg)
{
    (void)ev;
    (void)arg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!prev.new_slots && (cs_btcd_addrman_init(&prev) || cs_btcd_addrman_init(&cur)))
        return 0;
    cs_jsonr j;
    cs_jsonr_init(&j, 1u << 20, 0);
    if (cs_jsonr_parse(&j, (const char *)data, size) != 0) {
        cs_jsonr_free(&j);
        return 0;
    }
    uint32_t r = cs_jsonr_get(&j, 0, "result");
    if (!r)
        r = 0; /* the answer itself */
    const cs_field_def *tables[] = {cs_bitcoind_f_mempool,      cs_bitcoind_f_nettotals,
                                    cs_bitcoind_f_memory,       cs_bitcoind_f_addrman,
                                    cs_bitcoind_f_chaintxstats, cs_bitcoind_f_network,
                                    cs_bitcoind_f_blockchain};
    cs_vw w;
    cs_vw_init(&w, 1u << 22);
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
        cs_vw_reset(&w);
        cs_vw_object_begin(&w);
        cs_btcd_copy_fields(&j, r, tables[i], &w);
        cs_vw_object_end(&w);
    }
    cs_vw_free(&w);
    cs_btcd_peer *p;
    size_t n;
    if (cs_btcd_peers_parse(&j, r, &p, &n) == 0)
        free(p);
    if (cs_btcd_addrman_parse(&j, r, &cur) == 0) {
        cs_btcd_addrman_diff d;
        cs_btcd_addrman_compare(&prev, &cur, &d);
        cs_btcd_addrman t = prev;
        prev = cur;
        cur = t;
    }
    cs_btcd_orphans o;
    cs_btcd_orphans_parse(&j, r, &o);
    static const char *const names[] = {"a", "b"};
    cs_forks_opts fo = {.nodes = names, .nnodes = 2, .max_headers = 64, .emit = ignore};
    cs_forks *f;
    if (cs_forks_new(&fo, &f) == 0) {
        char hash[65], prevh[65];
        uint64_t height;
        if (cs_btcd_header_parse(&j, r, hash, &height, prevh) == 0)
            cs_forks_add(f, hash, height, prevh);
        cs_btcd_tip *t;
        if (cs_btcd_tips_parse(&j, r, &t, &n) == 0) {
            cs_forks_tips(f, 0, t, n, 1);
            cs_forks_tips(f, 1, t, n / 2, 2);
            cs_forks_tips(f, 0, t + n / 2, n - n / 2, 3);
            cs_forks_sweep(f, 1u << 30);
            cs_buf b;
            cs_buf_init(&b, 0);
            cs_forks_json(f, 10, &b);
            cs_buf_free(&b);
            free(t);
        }
        cs_forks_free(f);
    }
    cs_jsonr_free(&j);
    return 0;
}
