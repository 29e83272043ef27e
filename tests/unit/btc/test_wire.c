/* Tests of the Bitcoin wire codec: real messages decode to the fields a user
 * sees, encoders round-trip, and every malformed case gives its reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "btc/wire.h"
#include "core/error.h"
#include "core/json.h"

static cs_wire_ctx *ctx;
static const cs_wire_net *mainnet;

static size_t unhex(const char *s, uint8_t *out, size_t max)
{
    size_t n = 0;
    while (s[0] && s[1] && n < max) {
        unsigned v;
        sscanf(s, "%2x", &v);
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

/* Decoded message: rc, fields as a value, reason. */
typedef struct dec {
    int rc;
    cs_wire_err err;
    cs_wire_msg msg;
    cs_vw w;
    cs_val root;
} dec;

static void dec_bytes(dec *d, const uint8_t *p, size_t n)
{
    size_t used;
    memset(&d->err, 0, sizeof d->err);
    cs_vw_init(&d->w, 0);
    cs_vw_object_begin(&d->w);
    d->rc = cs_wire_decode(ctx, p, n, mainnet, 0, &d->msg, &d->w, &used, &d->err);
    if (d->rc == 0) {
        cs_vw_object_end(&d->w);
        assert_int_equal(cs_vw_error(&d->w), 0);
        assert_int_equal(used, n);
        assert_int_equal(cs_val_read(d->w.buf.data, d->w.buf.len, &d->root, NULL), 0);
        assert_int_equal(cs_val_validate(d->w.buf.data, d->w.buf.len), 0);
    }
}

/* Frames command+payload (hex) and decodes it. */
static void dec_payload(dec *d, const char *cmd, const uint8_t *payload, size_t n)
{
    cs_buf b;
    cs_buf_init(&b, 0);
    assert_int_equal(cs_wire_frame(ctx, &b, mainnet, cmd, payload, n), 0);
    dec_bytes(d, b.data, b.len);
    cs_buf_free(&b);
}

static void dec_hexpayload(dec *d, const char *cmd, const char *hex)
{
    static uint8_t buf[1 << 20];
    dec_payload(d, cmd, buf, unhex(hex, buf, sizeof buf));
}

static void dec_free(dec *d)
{
    cs_vw_free(&d->w);
}

static uint64_t f_u64(dec *d, const char *path)
{
    cs_val v;
    assert_int_equal(cs_val_path(&d->root, path, strlen(path), &v), 0);
    assert_int_equal(v.kind, CS_VAL_INT);
    return v.neg ? (uint64_t)v.i : v.u;
}

static void f_str(dec *d, const char *path, const char *want)
{
    cs_val v;
    int rc = cs_val_path(&d->root, path, strlen(path), &v);
    if (rc)
        fail_msg("no field %s", path);
    if (v.kind == CS_VAL_BYTES) {
        char hex[1024] = "0x";
        for (size_t i = 0; i < v.n && i < 500; i++)
            sprintf(hex + 2 + 2 * i, "%02x", v.p[i]);
        assert_string_equal(hex, want);
        return;
    }
    assert_int_equal(v.kind, CS_VAL_STR);
    if (!cs_val_str_eq(&v, want))
        fail_msg("%s: got '%.*s', want '%s'", path, (int)v.n, v.p, want);
}

static bool f_has(dec *d, const char *path)
{
    cs_val v;
    return cs_val_path(&d->root, path, strlen(path), &v) == 0;
}

static void want_error(dec *d, int code, const char *reason_part)
{
    assert_int_equal(d->rc, code);
    if (!strstr(d->err.reason, reason_part))
        fail_msg("reason '%s' lacks '%s'", d->err.reason, reason_part);
}

/* Reads a fixture: the n-th hex line (comments skipped). */
static size_t fixture(const char *name, int nth, uint8_t *out, size_t max)
{
    char path[512], line[8192];
    snprintf(path, sizeof path, "%s/btc/%s", CS_TEST_DATA, name);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int i = 0;
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        if (i++ == nth) {
            line[strcspn(line, "\r\n")] = 0;
            n = unhex(line, out, max);
            break;
        }
    }
    fclose(f);
    assert_true(n > 0);
    return n;
}

/* ---- real messages ----------------------------------------------------- */

static void test_genesis_block(void **state)
{
    uint8_t buf[4096];
    dec d;
    dec_bytes(&d, buf, fixture("genesis.hex", 0, buf, sizeof buf));
    assert_int_equal(d.rc, 0);
    assert_string_equal(d.msg.hdr.command, "block");
    f_str(&d, "hash", "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f");
    f_str(&d, "merkle_root", "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b");
    assert_int_equal(f_u64(&d, "time"), 1231006505);
    assert_int_equal(f_u64(&d, "bits"), 0x1d00ffff);
    assert_int_equal(f_u64(&d, "nonce"), 2083236893);
    assert_int_equal(f_u64(&d, "tx_count"), 1);
    dec_free(&d);

    dec_bytes(&d, buf, fixture("genesis.hex", 1, buf, sizeof buf));
    assert_int_equal(d.rc, 0);
    f_str(&d, "txid", "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b");
    f_str(&d, "wtxid", "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b");
    assert_int_equal(f_u64(&d, "size"), 204);
    assert_int_equal(f_u64(&d, "vsize"), 204);
    assert_int_equal(f_u64(&d, "inputs[0].vout"), 0xffffffff);
    assert_int_equal(f_u64(&d, "outputs[0].value"), 5000000000ull);
    f_str(&d, "outputs[0].script_pubkey",
          "0x4104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f3"
          "5504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac");
    dec_free(&d);
}

static void test_version(void **state)
{
    uint8_t buf[4096];
    dec d;
    size_t n = fixture("version.hex", 0, buf, sizeof buf);
    dec_bytes(&d, buf, n);
    assert_int_equal(d.rc, 0);
    assert_int_equal(f_u64(&d, "version"), 70016);
    assert_int_equal(f_u64(&d, "services"), 1 | 8 | 1024);
    assert_int_equal(f_u64(&d, "timestamp"), 1700000000);
    f_str(&d, "addr_recv.addr", "203.0.113.7");
    assert_int_equal(f_u64(&d, "addr_recv.port"), 8333);
    assert_int_equal(f_u64(&d, "nonce"), 0x1122334455667788ull);
    f_str(&d, "user_agent", "/Satoshi:27.0.0/");
    assert_int_equal(f_u64(&d, "start_height"), 840000);
    cs_val v;
    assert_int_equal(cs_val_path(&d.root, "relay", 5, &v), 0);
    assert_true(v.kind == CS_VAL_BOOL && v.b);
    dec_free(&d);

    /* without the relay byte (BIP37 made it optional) */
    dec_payload(&d, "version", buf + 24, n - 24 - 1);
    assert_int_equal(d.rc, 0);
    assert_false(f_has(&d, "relay"));
    assert_int_equal(f_u64(&d, "start_height"), 840000);
    dec_free(&d);

    /* a very old peer stops after addr_recv */
    dec_payload(&d, "version", buf + 24, 46);
    assert_int_equal(d.rc, 0);
    assert_false(f_has(&d, "user_agent"));
    f_str(&d, "addr_recv.addr", "203.0.113.7");
    dec_free(&d);

    /* user agent of 257 bytes */
    uint8_t big[400];
    memcpy(big, buf + 24, 80);
    big[80] = 0xfd;
    big[81] = 0x01;
    big[82] = 0x01;
    memset(big + 83, 'a', 257);
    dec_payload(&d, "version", big, 83 + 257 + 4);
    want_error(&d, CS_ELIMIT, "user agent of 257 bytes (limit 256)");
    dec_free(&d);
}

static void test_ping_roundtrip(void **state)
{
    cs_buf b;
    cs_buf_init(&b, 0);
    uint8_t p[8];
    memcpy(p, "\x2a\0\0\0\0\0\0\x80", 8);
    assert_int_equal(cs_wire_frame(ctx, &b, mainnet, "ping", p, 8), 0);
    /* bytes on the wire: magic, "ping", length 8, checksum */
    assert_memory_equal(b.data, "\xf9\xbe\xb4\xd9ping\0\0\0\0\0\0\0\0\x08\0\0\0", 20);
    dec d;
    dec_bytes(&d, b.data, b.len);
    assert_int_equal(d.rc, 0);
    assert_true(d.msg.checksum_ok);
    assert_int_equal(f_u64(&d, "nonce"), 0x800000000000002aull);
    dec_free(&d);
    cs_buf_free(&b);
    /* an empty pre-BIP31 ping has no nonce; an empty pong is truncated */
    dec_payload(&d, "ping", NULL, 0);
    assert_int_equal(d.rc, 0);
    assert_false(f_has(&d, "nonce"));
    dec_free(&d);
    dec_payload(&d, "pong", NULL, 0);
    want_error(&d, CS_ETRUNC, "pong: truncated payload (reading nonce)");
    dec_free(&d);
}

static void test_small_messages(void **state)
{
    dec d;
    const char *empty[] = {"verack",     "getaddr",     "sendaddrv2",
                           "wtxidrelay", "sendheaders", "mempool"};
    for (size_t i = 0; i < 6; i++) {
        dec_payload(&d, empty[i], NULL, 0);
        assert_int_equal(d.rc, 0);
        assert_int_equal(d.root.count, 0);
        dec_free(&d);
    }
    dec_hexpayload(&d, "sendcmpct", "010200000000000000");
    assert_int_equal(d.rc, 0);
    assert_int_equal(f_u64(&d, "version"), 2);
    dec_free(&d);
    dec_hexpayload(&d, "feefilter", "e803000000000000");
    assert_int_equal(f_u64(&d, "feerate"), 1000);
    dec_free(&d);
    dec_hexpayload(&d, "sendtxrcncl", "010000000807060504030201");
    assert_int_equal(f_u64(&d, "version"), 1);
    assert_int_equal(f_u64(&d, "salt"), 0x0102030405060708ull);
    dec_free(&d);
    /* reject: "tx", 0x10 invalid, reason, txid */
    dec_hexpayload(&d, "reject",
                   "02747810086261642d74786e73"
                   "0100000000000000000000000000000000000000000000000000000000000000");
    assert_int_equal(d.rc, 0);
    f_str(&d, "message", "tx");
    assert_int_equal(f_u64(&d, "code"), 0x10);
    f_str(&d, "reason", "bad-txns");
    f_str(&d, "data", "0000000000000000000000000000000000000000000000000000000000000001");
    dec_free(&d);
    /* unknown command: raw bytes */
    dec_hexpayload(&d, "getcfilters", "00aabb");
    f_str(&d, "payload", "0x00aabb");
    dec_free(&d);
    /* trailing bytes are reported, not fatal */
    dec_hexpayload(&d, "verack", "00");
    assert_int_equal(d.rc, 0);
    assert_int_equal(f_u64(&d, "trailing_bytes"), 1);
    dec_free(&d);
}

static void test_addr(void **state)
{
    cs_wire_addr a[2] = {0};
    a[0].time = 1700000000;
    a[0].services = 1033;
    cs_wire_ip_parse("198.51.100.9", a[0].ip);
    a[0].port = 8333;
    a[1].time = 5;
    cs_wire_ip_parse("2001:db8::7", a[1].ip);
    a[1].port = 18333;
    cs_buf p;
    cs_buf_init(&p, 0);
    assert_int_equal(cs_wire_put_addr(&p, a, 2), 0);
    dec d;
    dec_payload(&d, "addr", p.data, p.len);
    assert_int_equal(d.rc, 0);
    assert_int_equal(f_u64(&d, "count"), 2);
    assert_int_equal(f_u64(&d, "addresses[0].time"), 1700000000);
    assert_int_equal(f_u64(&d, "addresses[0].services"), 1033);
    f_str(&d, "addresses[0].addr", "198.51.100.9");
    assert_int_equal(f_u64(&d, "addresses[0].port"), 8333);
    f_str(&d, "addresses[1].addr", "2001:db8::7");
    dec_free(&d);
    cs_buf_free(&p);

    /* 1001 entries */
    static uint8_t big[3 + 1001 * 30];
    big[0] = 0xfd;
    big[1] = 1001 & 0xff;
    big[2] = 1001 >> 8;
    dec_payload(&d, "addr", big, sizeof big);
    want_error(&d, CS_ELIMIT, "addr: address count of 1001 (limit 1000)");
    dec_free(&d);
    /* count says 2, one entry there */
    dec_hexpayload(&d, "addr", "02000000000000000000000000000000000000000000ffff0102030420");
    want_error(&d, CS_ETRUNC, "addr: truncated payload");
    dec_free(&d);
}

static void test_addrv2(void **state)
{
    dec d;
    /* one of each network, as a node would send them */
    dec_hexpayload(&d, "addrv2",
                   "07"
                   "01000000"
                   "fd0904"
                   "01"
                   "04"
                   "01020304"
                   "208d"
                   "02000000"
                   "01"
                   "02"
                   "10"
                   "20010db8000000000000000000000001"
                   "0001"
                   "03000000"
                   "00"
                   "04"
                   "20"
                   "79bcc625184b05194975c28b66b66b0469f7f6556fb1ac3189a79b40dda32f1f"
                   "208d"
                   "04000000"
                   "00"
                   "05"
                   "20"
                   "a2894dabaec08c0051a481a6dac88b64f98232ae42d4b6fd2fa81952dfe36a87"
                   "0000"
                   "05000000"
                   "00"
                   "06"
                   "10"
                   "fc000000000000000000000000000001"
                   "208d"
                   "06000000"
                   "00"
                   "63"
                   "04"
                   "deadbeef"
                   "0001"
                   "07000000"
                   "00"
                   "03"
                   "0a"
                   "00112233445566778899"
                   "0002");
    assert_int_equal(d.rc, 0);
    assert_int_equal(f_u64(&d, "count"), 7);
    f_str(&d, "addresses[0].network", "ipv4");
    f_str(&d, "addresses[0].addr", "1.2.3.4");
    assert_int_equal(f_u64(&d, "addresses[0].services"), 1033);
    assert_int_equal(f_u64(&d, "addresses[0].port"), 8333);
    f_str(&d, "addresses[1].addr", "2001:db8::1");
    f_str(&d, "addresses[2].network", "torv3");
    f_str(&d, "addresses[2].addr",
          "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion");
    f_str(&d, "addresses[3].network", "i2p");
    f_str(&d, "addresses[3].addr", "ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkdq.b32.i2p");
    f_str(&d, "addresses[4].network", "cjdns");
    f_str(&d, "addresses[4].addr", "fc00::1");
    f_str(&d, "addresses[5].network", "unknown");
    assert_int_equal(f_u64(&d, "addresses[5].network_id"), 0x63);
    f_str(&d, "addresses[5].addr", "0xdeadbeef");
    f_str(&d, "addresses[6].network", "torv2");
    dec_free(&d);

    /* BIP155: IPv4 address must be 4 bytes */
    dec_hexpayload(&d, "addrv2",
                   "01"
                   "00000000"
                   "00"
                   "01"
                   "05"
                   "0102030405"
                   "208d");
    want_error(&d, CS_EPROTO, "addrv2: ipv4 address of 5 bytes (must be 4)");
    dec_free(&d);
    /* BIP155: at most 512 address bytes */
    dec_hexpayload(&d, "addrv2",
                   "01"
                   "00000000"
                   "00"
                   "63"
                   "fd0102");
    want_error(&d, CS_ELIMIT, "address length of 513 (limit 512)");
    dec_free(&d);
    /* non-canonical services CompactSize */
    dec_hexpayload(&d, "addrv2",
                   "01"
                   "00000000"
                   "fd0100"
                   "01"
                   "04"
                   "01020304"
                   "208d");
    want_error(&d, CS_EPROTO, "addrv2: non-canonical CompactSize for services");
    dec_free(&d);
    static uint8_t big[3 + 1001 * 10];
    big[0] = 0xfd;
    big[1] = 1001 & 0xff;
    big[2] = 1001 >> 8;
    dec_payload(&d, "addrv2", big, sizeof big);
    want_error(&d, CS_ELIMIT, "address count of 1001 (limit 1000)");
    dec_free(&d);
}

static void test_inv(void **state)
{
    uint32_t types[3] = {1, 0x40000002, 77};
    uint8_t hashes[3][32] = {{0}};
    hashes[0][0] = 0xab;  /* shows last in display order */
    hashes[1][31] = 0xcd; /* shows first */
    cs_buf p;
    cs_buf_init(&p, 0);
    assert_int_equal(cs_wire_put_inv(&p, types, (const uint8_t(*)[32])hashes, 3), 0);
    const char *cmds[] = {"inv", "getdata", "notfound"};
    for (int c = 0; c < 3; c++) {
        dec d;
        dec_payload(&d, cmds[c], p.data, p.len);
        assert_int_equal(d.rc, 0);
        assert_int_equal(f_u64(&d, "count"), 3);
        f_str(&d, "inventory[0].type", "tx");
        f_str(&d, "inventory[0].hash",
              "00000000000000000000000000000000000000000000000000000000000000ab");
        f_str(&d, "inventory[1].type", "witness_block");
        f_str(&d, "inventory[1].hash",
              "cd00000000000000000000000000000000000000000000000000000000000000");
        f_str(&d, "inventory[2].type", "unknown");
        assert_int_equal(f_u64(&d, "inventory[2].type_id"), 77);
        dec_free(&d);
    }
    cs_buf_free(&p);
    /* 50001 entries */
    static uint8_t big[3 + 50001 * 36];
    big[0] = 0xfd;
    big[1] = 50001 & 0xff;
    big[2] = 50001 >> 8;
    dec d;
    dec_payload(&d, "inv", big, sizeof big);
    want_error(&d, CS_ELIMIT, "inv: inventory count of 50001 (limit 50000)");
    dec_free(&d);
}

static void test_locator_headers(void **state)
{
    static char hex[2 * (1 + 102 * 32 + 4 + 32) + 16];
    dec d;
    /* getheaders with 2 locator hashes */
    strcpy(hex, "80110100"
                "02");
    for (int i = 0; i < 3; i++)
        strcat(hex, "0100000000000000000000000000000000000000000000000000000000000000");
    dec_hexpayload(&d, "getheaders", hex);
    assert_int_equal(d.rc, 0);
    assert_int_equal(f_u64(&d, "version"), 70016);
    f_str(&d, "locator[1]", "0000000000000000000000000000000000000000000000000000000000000001");
    f_str(&d, "hash_stop", "0000000000000000000000000000000000000000000000000000000000000001");
    dec_free(&d);
    /* 102 locator hashes */
    strcpy(hex, "80110100"
                "66");
    for (int i = 0; i < 103; i++)
        strcat(hex, "0000000000000000000000000000000000000000000000000000000000000000");
    dec_hexpayload(&d, "getblocks", hex);
    want_error(&d, CS_ELIMIT, "getblocks: locator count of 102 (limit 101)");
    dec_free(&d);

    /* headers: the genesis header, then 2001 headers */
    uint8_t blk[4096], p[128];
    fixture("genesis.hex", 0, blk, sizeof blk);
    p[0] = 1;
    memcpy(p + 1, blk + 24, 80);
    p[81] = 0;
    dec_payload(&d, "headers", p, 82);
    assert_int_equal(d.rc, 0);
    f_str(&d, "headers[0].hash",
          "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f");
    dec_free(&d);
    p[81] = 1;
    dec_payload(&d, "headers", p, 82);
    want_error(&d, CS_EPROTO, "transaction count of 1 (must be 0)");
    dec_free(&d);
    uint8_t h2001[3] = {0xfd, 2001 & 0xff, 2001 >> 8};
    dec_payload(&d, "headers", h2001, 3);
    want_error(&d, CS_ELIMIT, "headers: header count of 2001 (limit 2000)");
    dec_free(&d);
}

/* A segwit transaction: 1 input with a 2-item witness, 1 output. */
#define SW_WITNESS                                                                                 \
    "02"                                                                                           \
    "02"                                                                                           \
    "3045"                                                                                         \
    "01"                                                                                           \
    "02"
#define SEGWIT_TX                                                                                  \
    "02000000"                                                                                     \
    "0001"                                                                                         \
    "01"                                                                                           \
    "1111111111111111111111111111111111111111111111111111111111111111"                             \
    "01000000"                                                                                     \
    "00"                                                                                           \
    "fdffffff"                                                                                     \
    "01"                                                                                           \
    "e803000000000000"                                                                             \
    "160014"                                                                                       \
    "0000000000000000000000000000000000000000" SW_WITNESS "00000000"

static void test_segwit_tx(void **state)
{
    dec d;
    dec_hexpayload(&d, "tx", SEGWIT_TX);
    assert_int_equal(d.rc, 0);
    cs_val v;
    assert_int_equal(cs_val_path(&d.root, "segwit", 6, &v), 0);
    assert_true(v.b);
    /* size 90, stripped 90-2-6 = 82: weight 82*3+90 = 336, vsize 84 */
    assert_int_equal(f_u64(&d, "size"), 90);
    assert_int_equal(f_u64(&d, "weight"), 336);
    assert_int_equal(f_u64(&d, "vsize"), 84);
    assert_int_equal(f_u64(&d, "inputs[0].vout"), 1);
    assert_int_equal(f_u64(&d, "inputs[0].sequence"), 0xfffffffd);
    f_str(&d, "inputs[0].witness[0]", "0x3045");
    f_str(&d, "inputs[0].witness[1]", "0x02");
    assert_int_equal(f_u64(&d, "outputs[0].value"), 1000);
    /* txid hashes the stripped form; wtxid the whole */
    uint8_t raw[200], stripped[200], h[32];
    char hex[65];
    size_t n = unhex(SEGWIT_TX, raw, sizeof raw);
    memcpy(stripped, raw, 4);
    memcpy(stripped + 4, raw + 6, 74);
    memcpy(stripped + 78, raw + n - 4, 4);
    cs_wire_hash256(ctx, stripped, 82, h);
    cs_wire_hash_hex(h, hex);
    f_str(&d, "txid", hex);
    cs_wire_hash256(ctx, raw, n, h);
    cs_wire_hash_hex(h, hex);
    f_str(&d, "wtxid", hex);
    dec_free(&d);

    /* witness flag with all witnesses empty */
    char bad[400];
    strcpy(bad, SEGWIT_TX);
    strcpy(strstr(bad, SW_WITNESS "00000000"), "00"
                                               "00000000");
    dec_hexpayload(&d, "tx", bad);
    want_error(&d, CS_EPROTO, "tx: superfluous witness record");
    dec_free(&d);
    /* unknown optional data flag */
    strcpy(bad, SEGWIT_TX);
    bad[11] = '3';
    dec_hexpayload(&d, "tx", bad);
    want_error(&d, CS_EPROTO, "unknown transaction optional data 0x02");
    dec_free(&d);
    /* cut inside the output script */
    strcpy(bad, SEGWIT_TX);
    bad[130] = 0;
    dec_hexpayload(&d, "tx", bad);
    want_error(&d, CS_ETRUNC, "tx: truncated payload (reading script_pubkey)");
    dec_free(&d);
}

static void test_cmpctblock(void **state)
{
    uint8_t blk[4096], p[400];
    fixture("genesis.hex", 0, blk, sizeof blk);
    size_t n = 0;
    memcpy(p, blk + 24, 80);
    n = 80;
    memcpy(p + n, "\x07\0\0\0\0\0\0\0", 8);
    n += 8;
    p[n++] = 2;
    memset(p + n, 0xee, 12);
    n += 12;
    p[n++] = 1;
    p[n++] = 0;
    /* the coinbase, prefilled */
    size_t txlen = 285 - 81;
    memcpy(p + n, blk + 24 + 81, txlen);
    n += txlen;
    dec d;
    dec_payload(&d, "cmpctblock", p, n);
    assert_int_equal(d.rc, 0);
    f_str(&d, "header.hash", "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f");
    assert_int_equal(f_u64(&d, "nonce"), 7);
    assert_int_equal(f_u64(&d, "shortid_count"), 2);
    assert_int_equal(f_u64(&d, "prefilled_count"), 1);
    dec_free(&d);
}

/* ---- framing errors ---------------------------------------------------- */

static void test_framing_errors(void **state)
{
    uint8_t m[64];
    size_t n = unhex("f9beb4d970696e67000000000000000008000000f27162782a00000000000000", m, 64);
    dec d;
    dec_bytes(&d, m, n);
    assert_int_equal(d.rc, 0);
    dec_free(&d);

    m[0] = 0xfa;
    dec_bytes(&d, m, n);
    want_error(&d, CS_EPROTO, "bad magic fabeb4d9 (expected main)");
    dec_free(&d);
    m[0] = 0xf9;

    m[20] ^= 1;
    dec_bytes(&d, m, n);
    want_error(&d, CS_EPROTO, "ping: bad checksum");
    assert_false(d.msg.checksum_ok);
    dec_free(&d);
    m[20] ^= 1;

    uint8_t big[24];
    memcpy(big, m, 24);
    big[16] = 0x01;
    big[17] = 0x09;
    big[18] = 0x3d;
    big[19] = 0x00; /* 4000001 */
    dec_bytes(&d, big, 24);
    want_error(&d, CS_ELIMIT, "ping: length 4000001 over 4000000");
    dec_free(&d);

    dec_bytes(&d, m, 20);
    want_error(&d, CS_ETRUNC, "truncated header (20 of 24 bytes)");
    dec_free(&d);
    dec_bytes(&d, m, n - 1);
    want_error(&d, CS_ETRUNC, "ping: truncated payload (7 of 8 bytes)");
    dec_free(&d);

    m[6] = 0x01; /* control byte in command */
    dec_bytes(&d, m, n);
    want_error(&d, CS_EPROTO, "invalid command");
    dec_free(&d);
    m[6] = 'n';
    m[10] = 'x'; /* data after the NUL padding */
    dec_bytes(&d, m, n);
    want_error(&d, CS_EPROTO, "data after NUL padding");
    dec_free(&d);
}

static void test_compactsize(void **state)
{
    dec d;
    /* 0xfd encoding of a value below 0xfd */
    dec_hexpayload(&d, "inv",
                   "fd0200"
                   "00");
    want_error(&d, CS_EPROTO, "inv: non-canonical CompactSize for inventory count");
    dec_free(&d);
    dec_hexpayload(&d, "inv", "fe00010000");
    want_error(&d, CS_EPROTO, "non-canonical");
    dec_free(&d);
    dec_hexpayload(&d, "inv", "ff0000010000000000");
    want_error(&d, CS_EPROTO, "non-canonical");
    dec_free(&d);
    dec_hexpayload(&d, "inv", "fd01");
    want_error(&d, CS_ETRUNC, "truncated");
    dec_free(&d);
}

static void test_encode_desc(void **state)
{
    const char *json[] = {
        "{\"command\":\"version\",\"version\":70016,\"services\":1033,\"nonce\":9,"
        "\"user_agent\":\"/t:1/\",\"start_height\":7,\"relay\":true,"
        "\"addr_recv\":{\"addr\":\"10.0.0.1\",\"port\":8333}}",
        "{\"command\":\"inv\",\"inventory\":[{\"type\":\"wtx\",\"hash\":"
        "\"00000000000000000000000000000000000000000000000000000000000000ff\"}]}",
        "{\"command\":\"foo\",\"payload\":\"0x0102\"}",
    };
    const char *check[][2] = {
        {"user_agent", "/t:1/"},
        {"inventory[0].hash", "00000000000000000000000000000000000000000000000000000000000000ff"},
        {"payload", "0x0102"},
    };
    for (int i = 0; i < 3; i++) {
        cs_vw w;
        char perr[100];
        cs_vw_init(&w, 0);
        assert_int_equal(cs_json_parse_value(json[i], strlen(json[i]), &w, perr, sizeof perr), 0);
        cs_val v;
        assert_int_equal(cs_val_read(w.buf.data, w.buf.len, &v, NULL), 0);
        cs_buf out;
        cs_buf_init(&out, 0);
        cs_wire_err err = {0};
        assert_int_equal(cs_wire_encode_desc(ctx, mainnet, &v, &out, &err), 0);
        dec d;
        dec_bytes(&d, out.data, out.len);
        assert_int_equal(d.rc, 0);
        f_str(&d, check[i][0], check[i][1]);
        if (i == 0) {
            assert_int_equal(f_u64(&d, "services"), 1033);
            assert_int_equal(f_u64(&d, "start_height"), 7);
        }
        dec_free(&d);
        cs_buf_free(&out);
        cs_vw_free(&w);
    }
}

static void test_networks(void **state)
{
    assert_memory_equal(cs_wire_net_find("testnet4")->magic, "\x1c\x16\x3f\x28", 4);
    assert_memory_equal(cs_wire_net_find("testnet")->magic, "\x0b\x11\x09\x07", 4);
    assert_memory_equal(cs_wire_net_find("signet")->magic, "\x0a\x03\xcf\x40", 4);
    assert_memory_equal(cs_wire_net_find("regtest")->magic, "\xfa\xbf\xb5\xda", 4);
    assert_int_equal(cs_wire_net_find("mainnet")->port, 8333);
    assert_null(cs_wire_net_find("dogecoin"));
}

static int setup(void **state)
{
    mainnet = cs_wire_net_find("main");
    return cs_wire_ctx_new(&ctx);
}

static int teardown(void **state)
{
    cs_wire_ctx_free(ctx);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_genesis_block),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_ping_roundtrip),
        cmocka_unit_test(test_small_messages),
        cmocka_unit_test(test_addr),
        cmocka_unit_test(test_addrv2),
        cmocka_unit_test(test_inv),
        cmocka_unit_test(test_locator_headers),
        cmocka_unit_test(test_segwit_tx),
        cmocka_unit_test(test_cmpctblock),
        cmocka_unit_test(test_framing_errors),
        cmocka_unit_test(test_compactsize),
        cmocka_unit_test(test_encode_desc),
        cmocka_unit_test(test_networks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
