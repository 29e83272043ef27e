/* Tests of the Bitcoin Core extractor's pure parts: the fork watch's
 * events for tips, forks, reorgs, lagging and stuck nodes; the answer
 * decoders on the recorded-shape fixtures; address lists and ASNs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "btc/bitcoind_int.h"
#include "btc/wire.h"
#include "core/error.h"

/* ---- fork watch ---------------------------------------------------------- */

typedef struct seen {
    char types[64][24];
    cs_forks_event ev[64];
    char hash[64][65];
    size_t n;
} seen;

static void record(const cs_forks_event *ev, void *arg)
{
    seen *s = arg;
    if (s->n == 64)
        return;
    snprintf(s->types[s->n], sizeof s->types[0], "%s", ev->type);
    s->ev[s->n] = *ev;
    snprintf(s->hash[s->n], 65, "%s", ev->hash ? ev->hash : (ev->new_tip ? ev->new_tip : ""));
    s->n++;
}

static const cs_forks_event *find(const seen *s, const char *type, size_t *count)
{
    const cs_forks_event *e = NULL;
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->types[i], type)) {
            if (!e)
                e = &s->ev[i];
            k++;
        }
    if (count)
        *count = k;
    return e;
}

/* A readable 64-digit hash: branch letter and height. */
static const char *H(char b, unsigned h)
{
    static char buf[8][65];
    static int k;
    char *s = buf[k++ % 8];
    snprintf(s, 65, "%c%063u", b, h);
    return s;
}

static void tip(cs_forks *f, size_t node, const char *hash, uint64_t height, uint64_t now)
{
    cs_btcd_tip t = {.height = height, .branchlen = 0};
    snprintf(t.hash, sizeof t.hash, "%s", hash);
    strcpy(t.status, "active");
    cs_forks_tips(f, node, &t, 1, now);
}

static void test_fork_and_reorg(void **state)
{
    (void)state;
    static const char *const names[] = {"a", "b"};
    seen s = {0};
    cs_forks_opts o = {.network = "btc-main",
                       .nodes = names,
                       .nnodes = 2,
                       .max_headers = 1000,
                       .lag_blocks = 1,
                       .stale_after_ms = 5000,
                       .emit = record,
                       .arg = &s};
    cs_forks *f;
    assert_int_equal(cs_forks_new(&o, &f), 0);
    /* a shared chain 0..10 on branch m */
    for (unsigned h = 0; h <= 10; h++)
        assert_int_equal(cs_forks_add(f, H('m', h), h, h ? H('m', h - 1) : NULL), 0);
    tip(f, 0, H('m', 10), 10, 0);
    tip(f, 1, H('m', 10), 10, 0);
    size_t n;
    assert_non_null(find(&s, "chain.tip", &n));
    assert_int_equal(n, 1);
    /* a forks: 11a; b forks: 11b; both at 11 */
    cs_forks_add(f, H('a', 11), 11, H('m', 10));
    cs_forks_add(f, H('b', 11), 11, H('m', 10));
    tip(f, 0, H('a', 11), 11, 100);
    assert_non_null(find(&s, "chain.lagging", &n));
    assert_int_equal(find(&s, "chain.lagging", NULL)->node, 1);
    tip(f, 1, H('b', 11), 11, 100);
    assert_null(find(&s, "chain.stale", NULL)); /* equal heights: a fork, not stale yet */
    /* a goes on: 11b is outrun */
    cs_forks_add(f, H('a', 12), 12, H('a', 11));
    tip(f, 0, H('a', 12), 12, 200);
    const cs_forks_event *st = find(&s, "chain.stale", &n);
    assert_non_null(st);
    assert_int_equal(n, 1);
    assert_int_equal(st->height, 11);
    assert_string_equal(st->status, "outrun");
    /* b reorganises onto a's chain */
    tip(f, 1, H('a', 12), 12, 300);
    const cs_forks_event *r = find(&s, "chain.reorg", &n);
    assert_non_null(r);
    assert_int_equal(n, 1);
    assert_int_equal(r->node, 1);
    assert_int_equal(r->depth, 1);
    assert_int_equal(r->fork_height, 10);
    assert_int_equal(cs_forks_best_height(f), 12);
    /* stuck after stale_after, once */
    cs_forks_sweep(f, 5100);
    find(&s, "chain.stuck", &n);
    assert_int_equal(n, 0);
    cs_forks_sweep(f, 5300);
    cs_forks_sweep(f, 9000);
    find(&s, "chain.stuck", &n);
    assert_int_equal(n, 2);
    /* unreachable once */
    cs_forks_unreachable(f, 0, "refused");
    cs_forks_unreachable(f, 0, "refused");
    find(&s, "chain.unreachable", &n);
    assert_int_equal(n, 1);
    /* invalid tips once per node and hash */
    cs_btcd_tip t[2] = {{.height = 12}, {.height = 12, .branchlen = 1}};
    snprintf(t[0].hash, 65, "%s", H('a', 12));
    strcpy(t[0].status, "active");
    snprintf(t[1].hash, 65, "%s", H('x', 12));
    strcpy(t[1].status, "invalid");
    cs_forks_tips(f, 1, t, 2, 9100);
    cs_forks_tips(f, 1, t, 2, 9200);
    find(&s, "chain.invalid", &n);
    assert_int_equal(n, 1);
    cs_buf b;
    cs_buf_init(&b, 0);
    assert_int_equal(cs_forks_json(f, 5, &b), 0);
    cs_buf_putc(&b, 0);
    assert_non_null(strstr((char *)b.data, "\"best\":{\"height\":12"));
    assert_non_null(strstr((char *)b.data, "\"state\":\"unreachable\""));
    cs_buf_free(&b);
    /* on a node far ahead, an old invalid tip is history, not news */
    cs_btcd_tip far[2] = {{.height = 500}, {.height = 12, .branchlen = 1}};
    snprintf(far[0].hash, 65, "%s", H('a', 500));
    strcpy(far[0].status, "active");
    snprintf(far[1].hash, 65, "%s", H('y', 12));
    strcpy(far[1].status, "invalid");
    cs_forks_tips(f, 0, far, 2, 9300);
    find(&s, "chain.invalid", &n);
    assert_int_equal(n, 1);

    cs_forks_free(f);
}

/* Past max_headers the older half goes; tips and linking still work. */
static void test_prune(void **state)
{
    (void)state;
    static const char *const names[] = {"a"};
    seen s = {0};
    cs_forks_opts o = {.nodes = names, .nnodes = 1, .max_headers = 100, .emit = record, .arg = &s};
    cs_forks *f;
    assert_int_equal(cs_forks_new(&o, &f), 0);
    for (unsigned h = 1; h <= 500; h++) {
        assert_int_equal(cs_forks_add(f, H('m', h), h, H('m', h - 1)), 0);
        tip(f, 0, H('m', h), h, h);
        assert_true(cs_forks_size(f) <= 100);
    }
    assert_int_equal(cs_forks_best_height(f), 500);
    assert_null(find(&s, "chain.reorg", NULL));
    assert_true(cs_forks_known(f, H('m', 499)));
    assert_false(cs_forks_known(f, H('m', 10)));
    /* 300 branches at one height: still bounded */
    for (unsigned k = 0; k < 300; k++) {
        char x[65];
        snprintf(x, sizeof x, "f%031u%032u", k, 501u);
        assert_int_equal(cs_forks_add(f, x, 501, H('m', 500)), 0);
        assert_true(cs_forks_size(f) <= 100);
    }
    cs_forks_free(f);
}

/* ---- decoders ------------------------------------------------------------ */

static char *slurp(const char *name, size_t *n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/bitcoind/%s", CS_TEST_DATA, name);
    char *text = NULL, err[128];
    assert_int_equal(cs_btcd_read_file(path, &text, err, sizeof err), 0);
    *n = strlen(text);
    return text;
}

static uint32_t result_of(cs_jsonr *j, const char *name, char **text)
{
    size_t n;
    *text = slurp(name, &n);
    cs_jsonr_init(j, 0, 0);
    assert_int_equal(cs_jsonr_parse(j, *text, n), 0);
    uint32_t r = cs_jsonr_get(j, 0, "result");
    assert_true(r != 0);
    return r;
}

static void test_peers(void **state)
{
    (void)state;
    cs_jsonr j;
    char *text;
    uint32_t r = result_of(&j, "getpeerinfo.json", &text);
    cs_btcd_peer *p;
    size_t n;
    assert_int_equal(cs_btcd_peers_parse(&j, cs_jsonr_get(&j, r, "peers"), &p, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(p[1].id, 1);
    assert_string_equal(p[1].addr, "[2001:db8::17]:8333");
    assert_true(p[1].has_ip);
    assert_int_equal(p[1].ip[0], 0x20);
    assert_string_equal(p[1].conntype, "block-relay-only");
    assert_string_equal(p[0].transport, "v2");
    assert_true(p[2].inbound);
    assert_false(p[3].has_ip); /* onion */
    assert_true(p[0].pingtime > 0.031 && p[0].pingtime < 0.032);
    free(p);
    assert_int_equal(cs_btcd_peers_parse(&j, cs_jsonr_get(&j, r, "extra"), &p, &n), 0);
    assert_int_equal(n, 2);
    assert_true(p[1].pingtime < 0); /* absent */
    free(p);
    assert_int_equal(cs_btcd_peers_parse(&j, 0, &p, &n), CS_EPROTO); /* the object */
    cs_jsonr_free(&j);
    free(text);
}

static void test_addrman(void **state)
{
    (void)state;
    cs_jsonr j;
    char *text;
    uint32_t r = result_of(&j, "getrawaddrman.json", &text);
    cs_btcd_addrman a, b;
    assert_int_equal(cs_btcd_addrman_init(&a), 0);
    assert_int_equal(cs_btcd_addrman_init(&b), 0);
    assert_int_equal(cs_btcd_addrman_parse(&j, r, &a), 0);
    assert_int_equal(a.nnew, 3);
    assert_int_equal(a.ntried, 2);
    assert_int_equal(a.by_net[1][2], 1); /* an onion in tried */
    assert_true(a.new_slots[17 * 64 + 3] != 0);
    assert_true(a.tried_slots[250 * 64 + 63] != 0);
    b = (cs_btcd_addrman){.new_slots = b.new_slots, .tried_slots = b.tried_slots};
    memcpy(b.new_slots, a.new_slots, CS_BTCD_NEW_SLOTS * 8);
    memcpy(b.tried_slots, a.tried_slots, CS_BTCD_TRIED_SLOTS * 8);
    b.new_slots[1] = 42;           /* gained */
    b.new_slots[17 * 64 + 3] ^= 1; /* replaced */
    b.tried_slots[5 * 64 + 9] = 0; /* removed */
    cs_btcd_addrman_diff d;
    cs_btcd_addrman_compare(&a, &b, &d);
    assert_int_equal(d.new_gained, 1);
    assert_int_equal(d.new_replaced, 1);
    assert_int_equal(d.tried_removed, 1);
    assert_int_equal(d.tried_gained + d.tried_replaced + d.new_removed, 0);
    cs_btcd_addrman_free(&a);
    cs_btcd_addrman_free(&b);
    cs_jsonr_free(&j);
    free(text);
}

static void test_snapshot_fields(void **state)
{
    (void)state;
    cs_jsonr j;
    char *text;
    uint32_t r = result_of(&j, "getblockchaininfo_29.json", &text);
    cs_vw w;
    cs_vw_init(&w, 0);
    cs_vw_object_begin(&w);
    int n = cs_btcd_copy_fields(&j, r, cs_bitcoind_f_blockchain, &w);
    cs_vw_object_end(&w);
    assert_int_equal(n, 15); /* every key of the answer */
    cs_val v, x;
    assert_int_equal(cs_val_read(w.buf.data, w.buf.len, &v, NULL), 0);
    assert_int_equal(cs_val_get(&v, "difficulty", 10, &x), 0);
    assert_int_equal(x.kind, CS_VAL_DOUBLE); /* 1 in the answer, a double by its schema */
    assert_int_equal(cs_val_get(&v, "blocks", 6, &x), 0);
    assert_int_equal(x.kind, CS_VAL_INT);
    assert_int_equal(x.u, 100);
    cs_vw_free(&w);
    assert_int_equal(
        cs_btcd_copy_fields(&j, cs_jsonr_get(&j, r, "blocks"), cs_bitcoind_f_blockchain, &w), -1);
    cs_jsonr_free(&j);
    free(text);
}

/* warnings: a string in Core 27, an array from 28; bits and target from 29. */
static void test_versions(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        const cs_field_def *fields;
        cs_vkind warnings;
        bool bits;
    } cases[] = {
        {"getblockchaininfo_27.json", cs_bitcoind_f_blockchain, CS_VAL_STR, false},
        {"getblockchaininfo_28.json", cs_bitcoind_f_blockchain, CS_VAL_ARRAY, false},
        {"getblockchaininfo_29.json", cs_bitcoind_f_blockchain, CS_VAL_ARRAY, true},
        {"getnetworkinfo_27.json", cs_bitcoind_f_network, CS_VAL_STR, false},
        {"getnetworkinfo_29.json", cs_bitcoind_f_network, CS_VAL_ARRAY, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cs_jsonr j;
        char *text;
        uint32_t r = result_of(&j, cases[i].file, &text);
        cs_vw w;
        cs_vw_init(&w, 0);
        cs_vw_object_begin(&w);
        assert_true(cs_btcd_copy_fields(&j, r, cases[i].fields, &w) > 10);
        cs_vw_object_end(&w);
        cs_val v, x;
        assert_int_equal(cs_val_read(w.buf.data, w.buf.len, &v, NULL), 0);
        assert_int_equal(cs_val_get(&v, "warnings", 8, &x), 0);
        assert_int_equal(x.kind, cases[i].warnings);
        assert_int_equal(cs_val_get(&v, "bits", 4, &x) == 0, cases[i].bits);
        cs_vw_free(&w);
        cs_jsonr_free(&j);
        free(text);
    }
}

static void test_tips_orphans_header(void **state)
{
    (void)state;
    cs_jsonr j;
    char *text;
    uint32_t r = result_of(&j, "getorphantxs_29.json", &text);
    cs_btcd_orphans o;
    assert_int_equal(cs_btcd_orphans_parse(&j, r, &o), 0);
    assert_int_equal(o.count, 2);
    assert_int_equal(o.bytes, 414);
    assert_int_equal(o.vsize, 252);
    assert_int_equal(o.peers, 2);
    cs_jsonr_free(&j);
    free(text);
    const char *tips = "[{\"height\":5,\"hash\":\"" /* 64 digits */
                       "0000000000000000000000000000000000000000000000000000000000000005\","
                       "\"branchlen\":0,\"status\":\"active\"},{\"height\":\"x\"}]";
    cs_jsonr_init(&j, 0, 0);
    assert_int_equal(cs_jsonr_parse(&j, tips, strlen(tips)), 0);
    cs_btcd_tip *t;
    size_t n;
    assert_int_equal(cs_btcd_tips_parse(&j, 0, &t, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(t[0].status, "active");
    free(t);
    cs_jsonr_free(&j);
}

/* ---- lists and ASNs ------------------------------------------------------ */

static void test_lists(void **state)
{
    (void)state;
    cs_btcd_list l = {0};
    char err[128];
    assert_int_equal(
        cs_btcd_list_parse(&l, "# spies\n192.0.2.0/25\n\n2001:db8::/32 # v6\n", err, sizeof err),
        0);
    uint8_t ip[16];
    cs_wire_ip_parse("192.0.2.66", ip);
    assert_true(cs_btcd_list_has(&l, ip));
    cs_wire_ip_parse("192.0.2.200", ip);
    assert_false(cs_btcd_list_has(&l, ip));
    cs_wire_ip_parse("2001:db8:1::5", ip);
    assert_true(cs_btcd_list_has(&l, ip));
    assert_int_equal(cs_btcd_list_parse(&l, "10.0.0.0/8\nnot-an-ip\n", err, sizeof err), CS_EPARSE);
    assert_non_null(strstr(err, "line 2"));
    assert_int_equal(l.n, 2); /* the old list stays */
    cs_btcd_list_free(&l);

    cs_btcd_asns a = {0};
    assert_int_equal(cs_btcd_asns_parse(&a,
                                        "1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n"
                                        "1.0.1.0\t1.0.3.255\t0\tNone\tNot routed\n"
                                        "203.0.113.0/24\tAS64501\n",
                                        err, sizeof err),
                     0);
    assert_int_equal(a.n, 2);
    cs_wire_ip_parse("1.0.0.7", ip);
    assert_int_equal(cs_btcd_asn_of(&a, ip), 13335);
    cs_wire_ip_parse("1.0.2.7", ip);
    assert_int_equal(cs_btcd_asn_of(&a, ip), 0);
    cs_wire_ip_parse("203.0.113.250", ip);
    assert_int_equal(cs_btcd_asn_of(&a, ip), 64501);
    assert_int_equal(cs_btcd_asns_parse(&a, "1.2.3.4\n", err, sizeof err), CS_EPARSE);
    cs_btcd_asns_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fork_and_reorg),
        cmocka_unit_test(test_prune),
        cmocka_unit_test(test_peers),
        cmocka_unit_test(test_addrman),
        cmocka_unit_test(test_snapshot_fields),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_tips_orphans_header),
        cmocka_unit_test(test_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
