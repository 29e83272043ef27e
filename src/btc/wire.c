/* The Bitcoin P2P wire codec: networks, framing, hashing, readers, and the
 * decoders of the small messages. Transactions, blocks and headers are in
 * msg_tx.c; encoders in wire_encode.c. */
#include "btc/wire_int.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/value.h"

static const cs_wire_net nets[] = {
    {"main", {0xf9, 0xbe, 0xb4, 0xd9}, 8333},      {"testnet3", {0x0b, 0x11, 0x09, 0x07}, 18333},
    {"testnet4", {0x1c, 0x16, 0x3f, 0x28}, 48333}, /* BIP94 */
    {"signet", {0x0a, 0x03, 0xcf, 0x40}, 38333},   /* BIP325 default signet */
    {"regtest", {0xfa, 0xbf, 0xb5, 0xda}, 18444},
};

const cs_wire_net *cs_wire_net_find(const char *name)
{
    if (!name)
        return NULL;
    if (strcmp(name, "mainnet") == 0 || strcmp(name, "bitcoin") == 0)
        name = "main";
    else if (strcmp(name, "testnet") == 0)
        name = "testnet3";
    for (size_t i = 0; i < sizeof nets / sizeof *nets; i++)
        if (strcmp(nets[i].name, name) == 0)
            return &nets[i];
    return NULL;
}

const cs_wire_net *cs_wire_net_by_magic(const uint8_t *magic)
{
    for (size_t i = 0; i < sizeof nets / sizeof *nets; i++)
        if (memcmp(nets[i].magic, magic, 4) == 0)
            return &nets[i];
    return NULL;
}

int cs_wire_fail(cs_wire_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->reason, sizeof err->reason, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int cs_rd_trunc(cs_rd *r, const char *what)
{
    return cs_wire_fail(r->err, CS_ETRUNC, "%s: truncated payload (reading %s)", r->cmd, what);
}

int cs_rd_compact_slow(cs_rd *r, uint64_t *v, uint64_t max, const char *what)
{
    /* *v is defined on every path: 0 when the read fails. */
    *v = 0;
    uint8_t b;
    int rc = rd_u8(r, &b, what);
    if (rc)
        return rc;
    uint64_t x, min;
    if (b < 0xfd) {
        x = b;
        min = 0;
    } else if (b == 0xfd) {
        if ((rc = rd_need(r, 2, what)))
            return rc;
        x = ld16(r->p);
        r->p += 2;
        min = 0xfd;
    } else if (b == 0xfe) {
        if ((rc = rd_need(r, 4, what)))
            return rc;
        x = ld32(r->p);
        r->p += 4;
        min = 0x10000;
    } else {
        if ((rc = rd_need(r, 8, what)))
            return rc;
        x = ld64(r->p);
        r->p += 8;
        min = 0x100000000ull;
    }
    if (x < min)
        return cs_wire_fail(r->err, CS_EPROTO, "%s: non-canonical CompactSize for %s", r->cmd,
                            what);
    if (x > max)
        return cs_wire_fail(r->err, CS_ELIMIT, "%s: %s of %llu (limit %llu)", r->cmd, what,
                            (unsigned long long)x, (unsigned long long)max);
    *v = x;
    return 0;
}

/* ---- hashing ----------------------------------------------------------- */

int cs_wire_ctx_new(cs_wire_ctx **out)
{
    cs_wire_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return CS_ENOMEM;
    c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    c->sha3 = EVP_MD_fetch(NULL, "SHA3-256", NULL);
    c->md = EVP_MD_CTX_new();
    if (!c->sha256 || !c->sha3 || !c->md) {
        cs_wire_ctx_free(c);
        return CS_ENOMEM;
    }
    *out = c;
    return 0;
}

void cs_wire_ctx_free(cs_wire_ctx *ctx)
{
    if (!ctx)
        return;
    EVP_MD_free(ctx->sha256);
    EVP_MD_free(ctx->sha3);
    EVP_MD_CTX_free(ctx->md);
    free(ctx);
}

void cs_wire_hash256(cs_wire_ctx *ctx, const void *p, size_t n, uint8_t out[32])
{
    uint8_t h1[32];
    SHA256_CTX s;
    (void)ctx;
    SHA256_Init(&s);
    SHA256_Update(&s, p, n);
    SHA256_Final(h1, &s);
    SHA256_Init(&s);
    SHA256_Update(&s, h1, 32);
    SHA256_Final(out, &s);
}

/* ---- small helpers ----------------------------------------------------- */

/* Each byte value as up to 3 digits then '.', and its digit count. */
static char dec_dot[256][4];
static uint8_t dec_len[256];

__attribute__((constructor)) static void dec_table_init(void)
{
    for (int v = 0; v < 256; v++) {
        char tmp[8];
        int n = snprintf(tmp, sizeof tmp, "%d.", v);
        memcpy(dec_dot[v], tmp, 4);
        dec_len[v] = (uint8_t)(n - 1);
    }
}

uint8_t *cs_fw_ipv4(uint8_t *q, const uint8_t *a)
{
    /* writes 4 bytes per part and advances by the part's length */
    for (int i = 0; i < 4; i++) {
        memcpy(q, dec_dot[a[i]], 4);
        q += dec_len[a[i]] + 1;
    }
    return q - 1;
}

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

uint8_t *cs_fw_ip16(uint8_t *q, const uint8_t *ip)
{
    if (memcmp(ip, v4mapped, 12) == 0)
        return cs_fw_ipv4(q, ip + 12);
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, ip, buf, sizeof buf);
    size_t n = strlen(buf);
    memcpy(q, buf, n);
    return q + n;
}

void cs_wire_hash_hex(const uint8_t h[32], char out[65])
{
    cs_hex_rev32((uint8_t *)out, h);
    out[64] = 0;
}

void cs_vw_kv_hash(cs_vw *w, const char *k, const uint8_t h[32])
{
    size_t kl = strlen(k);
    uint8_t *q = fw_begin(w, kl + 1 + 66);
    if (!q)
        return;
    q = fw_key(q, k, kl);
    fw_commit(w, fw_hash(q, h));
}

void cs_wire_ip_str(const uint8_t ip[16], char *buf, size_t len)
{
    if (memcmp(ip, v4mapped, 12) == 0) {
        if (len >= 16)
            *cs_fw_ipv4((uint8_t *)buf, ip + 12) = 0;
        else if (len)
            buf[0] = 0;
    } else {
        inet_ntop(AF_INET6, ip, buf, (socklen_t)len);
    }
}

int cs_wire_ip_parse(const char *s, uint8_t ip[16])
{
    if (inet_pton(AF_INET, s, ip + 12) == 1) {
        memcpy(ip, v4mapped, 12);
        return 0;
    }
    if (inet_pton(AF_INET6, s, ip) == 1)
        return 0;
    return CS_EINVAL;
}

/* BIP155 network ids and their address lengths. */
enum { NET_IPV4 = 1, NET_IPV6 = 2, NET_TORV2 = 3, NET_TORV3 = 4, NET_I2P = 5, NET_CJDNS = 6 };
static const struct {
    const char *name;
    uint8_t len;
} bip155[] = {
    {NULL, 0}, {"ipv4", 4}, {"ipv6", 16}, {"torv2", 10}, {"torv3", 32}, {"i2p", 32}, {"cjdns", 16},
};

bool cs_wire_addrv2_str(cs_wire_ctx *ctx, uint8_t net, const uint8_t *a, size_t len, char *buf,
                        size_t buflen)
{
    switch (net) {
    case NET_IPV4:
        inet_ntop(AF_INET, a, buf, (socklen_t)buflen);
        return true;
    case NET_IPV6:
    case NET_CJDNS:
        inet_ntop(AF_INET6, a, buf, (socklen_t)buflen);
        return true;
    case NET_TORV2: {
        if (buflen < 23)
            return false;
        size_t o = cs_base32(a, 10, buf);
        memcpy(buf + o, ".onion", 7);
        return true;
    }
    case NET_TORV3: {
        /* rend-spec-v3: base32(pubkey | checksum[2] | version), where
         * checksum = SHA3-256(".onion checksum" | pubkey | version) */
        uint8_t full[35], d[32];
        unsigned int dl;
        const uint8_t ver = 3;
        if (buflen < 63)
            return false;
        EVP_DigestInit_ex2(ctx->md, ctx->sha3, NULL);
        EVP_DigestUpdate(ctx->md, ".onion checksum", 15);
        EVP_DigestUpdate(ctx->md, a, 32);
        EVP_DigestUpdate(ctx->md, &ver, 1);
        EVP_DigestFinal_ex(ctx->md, d, &dl);
        memcpy(full, a, 32);
        full[32] = d[0];
        full[33] = d[1];
        full[34] = ver;
        size_t o = cs_base32(full, 35, buf);
        memcpy(buf + o, ".onion", 7);
        return true;
    }
    case NET_I2P: {
        if (buflen < 61)
            return false;
        size_t o = cs_base32(a, 32, buf);
        memcpy(buf + o, ".b32.i2p", 9);
        return true;
    }
    default:
        (void)len;
        return false;
    }
}

void cs_vw_kv_text(cs_vw *w, const char *k, const uint8_t *s, size_t n)
{
    cs_vw_key(w, k);
    if (cs_utf8_valid(s, n))
        cs_vw_str(w, (const char *)s, n);
    else
        cs_vw_bytes(w, s, n);
}

static const struct {
    uint32_t type;
    const char *name;
} inv_names[] = {
    {0, "error"},
    {1, "tx"},
    {2, "block"},
    {3, "filtered_block"},
    {4, "cmpct_block"},
    {5, "wtx"},
    {0x40000001, "witness_tx"},
    {0x40000002, "witness_block"},
    {0x40000003, "filtered_witness_block"},
};

static const uint8_t inv_len[6] = {5, 2, 5, 14, 11, 3};

const char *cs_wire_inv_name(uint32_t type)
{
    if (type <= 5)
        return inv_names[type].name;
    for (size_t i = 6; i < sizeof inv_names / sizeof *inv_names; i++)
        if (inv_names[i].type == type)
            return inv_names[i].name;
    return NULL;
}

/* ---- framing ----------------------------------------------------------- */

int cs_wire_header_parse(const uint8_t *p, size_t n, const cs_wire_net *net, cs_wire_hdr *h,
                         cs_wire_err *err)
{
    if (n < CS_WIRE_HEADER_SIZE)
        return cs_wire_fail(err, CS_ETRUNC, "truncated header (%zu of 24 bytes)", n);
    if (net ? memcmp(p, net->magic, 4) != 0 : cs_wire_net_by_magic(p) == NULL)
        return cs_wire_fail(err, CS_EPROTO, "bad magic %02x%02x%02x%02x%s%s%s", p[0], p[1], p[2],
                            p[3], net ? " (expected " : "", net ? net->name : "", net ? ")" : "");
    memcpy(h->magic, p, 4);
    size_t i = 0;
    for (; i < 12 && p[4 + i]; i++) {
        if (p[4 + i] < 0x21 || p[4 + i] > 0x7e)
            return cs_wire_fail(err, CS_EPROTO, "invalid command: byte 0x%02x at %zu", p[4 + i], i);
        h->command[i] = (char)p[4 + i];
    }
    if (i == 0)
        return cs_wire_fail(err, CS_EPROTO, "invalid command: empty");
    h->command[i] = 0;
    for (size_t j = i; j < 12; j++)
        if (p[4 + j])
            return cs_wire_fail(err, CS_EPROTO, "invalid command: data after NUL padding");
    h->length = ld32(p + 16);
    memcpy(h->checksum, p + 20, 4);
    if (h->length > CS_WIRE_MAX_PAYLOAD)
        return cs_wire_fail(err, CS_ELIMIT, "%s: length %u over %u", h->command, h->length,
                            CS_WIRE_MAX_PAYLOAD);
    return 0;
}

int cs_wire_decode(cs_wire_ctx *ctx, const uint8_t *p, size_t n, const cs_wire_net *net,
                   unsigned flags, cs_wire_msg *msg, cs_vw *w, size_t *used, cs_wire_err *err)
{
    if (n < CS_WIRE_HEADER_SIZE) {
        *used = CS_WIRE_HEADER_SIZE;
        return cs_wire_fail(err, CS_ETRUNC, "truncated header (%zu of 24 bytes)", n);
    }
    int rc = cs_wire_header_parse(p, n, net, &msg->hdr, err);
    if (rc)
        return rc;
    size_t total = CS_WIRE_HEADER_SIZE + (size_t)msg->hdr.length;
    *used = total;
    if (n < total)
        return cs_wire_fail(err, CS_ETRUNC, "%s: truncated payload (%zu of %u bytes)",
                            msg->hdr.command, n - CS_WIRE_HEADER_SIZE, msg->hdr.length);
    msg->payload = p + CS_WIRE_HEADER_SIZE;
    msg->size = msg->hdr.length;
    msg->checksum_ok = true;
    const uint8_t *hash = NULL;
    if (!(flags & CS_WIRE_NO_CHECKSUM)) {
        cs_wire_hash256(ctx, msg->payload, msg->size, msg->hash);
        hash = msg->hash;
        if (memcmp(msg->hash, msg->hdr.checksum, 4) != 0) {
            msg->checksum_ok = false;
            return cs_wire_fail(err, CS_EPROTO,
                                "%s: bad checksum %02x%02x%02x%02x (payload hashes to "
                                "%02x%02x%02x%02x)",
                                msg->hdr.command, msg->hdr.checksum[0], msg->hdr.checksum[1],
                                msg->hdr.checksum[2], msg->hdr.checksum[3], msg->hash[0],
                                msg->hash[1], msg->hash[2], msg->hash[3]);
        }
    }
    if (flags & CS_WIRE_NO_FIELDS)
        return 0;
    return cs_wire_decode_payload(ctx, msg->hdr.command, msg->payload, msg->size, hash, w, err);
}

/* ---- the small messages ------------------------------------------------ */

/* A version/addr network address without time: services, ip, port. */
static int netaddr(cs_rd *r, cs_vw *w, bool with_time)
{
    int rc = rd_need(r, with_time ? 30 : 26, "address");
    if (rc)
        return rc;
    const uint8_t *p = r->p;
    char ip[64];
    if (with_time) {
        cs_vw_kv_u64(w, "time", ld32(p));
        p += 4;
    }
    cs_vw_kv_u64(w, "services", ld64(p));
    cs_wire_ip_str(p + 8, ip, sizeof ip);
    cs_vw_kv_str(w, "addr", ip);
    cs_vw_kv_u64(w, "port", (uint64_t)((p[24] << 8) | p[25]));
    r->p = p + 26;
    return 0;
}

static int msg_version(cs_rd *r, cs_vw *w)
{
    int rc = rd_need(r, 20, "version, services, timestamp");
    if (rc)
        return rc;
    const uint8_t *p = r->p;
    cs_vw_kv_i64(w, "version", (int32_t)ld32(p));
    cs_vw_kv_u64(w, "services", ld64(p + 4));
    cs_vw_kv_i64(w, "timestamp", (int64_t)ld64(p + 12));
    r->p += 20;
    cs_vw_key(w, "addr_recv");
    cs_vw_object_begin(w);
    rc = netaddr(r, w, false);
    cs_vw_object_end(w);
    if (rc)
        return rc;
    /* Fields after addr_recv are optional on the wire for very old peers:
     * each is read only if bytes remain (as nodes do). */
    if (!rd_left(r))
        return 0;
    cs_vw_key(w, "addr_from");
    cs_vw_object_begin(w);
    rc = netaddr(r, w, false);
    cs_vw_object_end(w);
    if (rc)
        return rc;
    uint64_t nonce;
    if ((rc = rd_u64(r, &nonce, "nonce")))
        return rc;
    cs_vw_kv_u64(w, "nonce", nonce);
    if (!rd_left(r))
        return 0;
    uint64_t ualen;
    if ((rc = rd_compact(r, &ualen, CS_WIRE_MAX_SIZE, "user agent length")))
        return rc;
    if (ualen > CS_WIRE_MAX_USER_AGENT)
        return cs_wire_fail(r->err, CS_ELIMIT, "version: user agent of %llu bytes (limit %d)",
                            (unsigned long long)ualen, CS_WIRE_MAX_USER_AGENT);
    const uint8_t *ua;
    if ((rc = rd_skip(r, ualen, &ua, "user agent")))
        return rc;
    cs_vw_kv_text(w, "user_agent", ua, ualen);
    if (!rd_left(r))
        return 0;
    uint32_t h;
    if ((rc = rd_u32(r, &h, "start height")))
        return rc;
    cs_vw_kv_i64(w, "start_height", (int32_t)h);
    if (!rd_left(r))
        return 0;
    uint8_t relay;
    rd_u8(r, &relay, "relay");
    cs_vw_kv_bool(w, "relay", relay != 0);
    return 0;
}

static int msg_addr(cs_rd *r, cs_vw *w)
{
    uint64_t n;
    int rc = rd_compact(r, &n, CS_WIRE_MAX_ADDR, "address count");
    if (rc)
        return rc;
    if ((rc = rd_need(r, n * 30, "addresses")))
        return rc;
    size_t arr;
    if (!fw_list_open(w, n, "addresses", 9, &arr))
        return 0;
    for (uint64_t i = 0; i < n; i++) {
        /* 9 + 5+6 + 9+11 + 5+2+40 + 5+4: under 100 bytes */
        uint8_t *q = fw_begin(w, 112), *o;
        if (!q)
            return 0;
        const uint8_t *p = r->p;
        q = fw_open(q, CS_VT_OBJECT, &o);
        q = FW_KEY(q, "time");
        q = fw_uint(q, ld32(p));
        q = FW_KEY(q, "services");
        q = fw_uint(q, ld64(p + 4));
        q = FW_KEY(q, "addr");
        uint8_t *len = q + 1;
        *q = CS_VT_STR;
        uint8_t *end = cs_fw_ip16(q + 2, p + 12);
        *len = (uint8_t)(end - (q + 2));
        q = FW_KEY(end, "port");
        q = fw_uint(q, (uint64_t)((p[28] << 8) | p[29]));
        fw_set(w, fw_close(q, o, 4));
        r->p += 30;
    }
    fw_close_at(w, arr, (uint32_t)n);
    return 0;
}

static int msg_addrv2(cs_wire_ctx *ctx, cs_rd *r, cs_vw *w)
{
    uint64_t n;
    int rc = rd_compact(r, &n, CS_WIRE_MAX_ADDR, "address count");
    if (rc)
        return rc;
    cs_vw_kv_u64(w, "count", n);
    cs_vw_key(w, "addresses");
    cs_vw_array_begin(w);
    for (uint64_t i = 0; i < n; i++) {
        uint32_t t;
        uint64_t services, len;
        uint8_t net;
        const uint8_t *a;
        uint16_t port;
        if ((rc = rd_u32(r, &t, "time")) ||
            (rc = rd_compact(r, &services, UINT64_MAX, "services")) ||
            (rc = rd_u8(r, &net, "network id")) ||
            (rc = rd_compact(r, &len, CS_WIRE_MAX_ADDRV2_LEN, "address length")))
            return rc;
        /* BIP155: a known network's address has exactly its length */
        if (net >= NET_IPV4 && net <= NET_CJDNS && len != bip155[net].len)
            return cs_wire_fail(r->err, CS_EPROTO, "addrv2: %s address of %llu bytes (must be %u)",
                                bip155[net].name, (unsigned long long)len, bip155[net].len);
        if ((rc = rd_skip(r, len, &a, "address")) || (rc = rd_u16be(r, &port, "port")))
            return rc;
        cs_vw_object_begin(w);
        cs_vw_kv_u64(w, "time", t);
        cs_vw_kv_u64(w, "services", services);
        char buf[72];
        if (net >= NET_IPV4 && net <= NET_CJDNS) {
            cs_vw_kv_str(w, "network", bip155[net].name);
            cs_wire_addrv2_str(ctx, net, a, len, buf, sizeof buf);
            cs_vw_kv_str(w, "addr", buf);
        } else {
            cs_vw_kv_str(w, "network", "unknown");
            cs_vw_kv_u64(w, "network_id", net);
            cs_vw_kv_bytes(w, "addr", a, len);
        }
        cs_vw_kv_u64(w, "port", port);
        cs_vw_object_end(w);
    }
    cs_vw_array_end(w);
    return 0;
}

static int msg_inv(cs_rd *r, cs_vw *w)
{
    uint64_t n;
    int rc = rd_compact(r, &n, CS_WIRE_MAX_INV, "inventory count");
    if (rc)
        return rc;
    if ((rc = rd_need(r, n * 36, "inventory")))
        return rc;
    size_t arr;
    if (!fw_list_open(w, n, "inventory", 9, &arr))
        return 0;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t type = ld32(r->p);
        const char *name = cs_wire_inv_name(type);
        uint8_t *q = fw_begin(w, 9 + 5 + 2 + 24 + 8 + 6 + 5 + 66), *o;
        if (!q)
            return 0;
        q = fw_open(q, CS_VT_OBJECT, &o);
        q = FW_KEY(q, "type");
        if (name) {
            q = fw_str(q, name, type <= 5 ? inv_len[type] : strlen(name));
        } else {
            q = fw_str(q, "unknown", 7);
            q = FW_KEY(q, "type_id");
            q = fw_uint(q, type);
        }
        q = FW_KEY(q, "hash");
        q = fw_hash(q, r->p + 4);
        fw_set(w, fw_close(q, o, name ? 2 : 3));
        r->p += 36;
    }
    fw_close_at(w, arr, (uint32_t)n);
    return 0;
}

static int msg_locator(cs_rd *r, cs_vw *w)
{
    uint32_t version;
    uint64_t n;
    int rc;
    if ((rc = rd_u32(r, &version, "version")) ||
        (rc = rd_compact(r, &n, CS_WIRE_MAX_LOCATOR, "locator count")) ||
        (rc = rd_need(r, n * 32 + 32, "locator hashes")))
        return rc;
    cs_vw_kv_u64(w, "version", version);
    cs_vw_key(w, "locator");
    cs_vw_array_begin(w);
    for (uint64_t i = 0; i < n; i++) {
        uint8_t *q = fw_begin(w, 66);
        if (!q)
            return 0;
        fw_commit(w, fw_hash(q, r->p));
        r->p += 32;
    }
    cs_vw_array_end(w);
    cs_vw_kv_hash(w, "hash_stop", r->p);
    r->p += 32;
    return 0;
}

static int msg_reject(cs_rd *r, cs_vw *w)
{
    uint64_t n;
    const uint8_t *s;
    uint8_t code;
    int rc;
    if ((rc = rd_compact(r, &n, 12, "message name length")) ||
        (rc = rd_skip(r, n, &s, "message name")))
        return rc;
    cs_vw_kv_text(w, "message", s, n);
    if ((rc = rd_u8(r, &code, "code")))
        return rc;
    cs_vw_kv_u64(w, "code", code);
    if ((rc = rd_compact(r, &n, 111, "reason length")) || (rc = rd_skip(r, n, &s, "reason")))
        return rc;
    cs_vw_kv_text(w, "reason", s, n);
    if (rd_left(r) >= 32) {
        cs_vw_kv_hash(w, "data", r->p);
        r->p += 32;
    }
    return 0;
}

/* Dispatches on the command. Unknown commands keep their payload as bytes. */
int cs_wire_decode_payload(cs_wire_ctx *ctx, const char *command, const uint8_t *payload, size_t n,
                           const uint8_t *hash, cs_vw *w, cs_wire_err *err)
{
    cs_rd r = {payload, payload + n, command, err};
    int rc = 0;
    uint64_t u;
    uint32_t u32;
    uint8_t b;
    switch (command[0]) {
    case 'a':
        if (strcmp(command, "addr") == 0)
            rc = msg_addr(&r, w);
        else if (strcmp(command, "addrv2") == 0)
            rc = msg_addrv2(ctx, &r, w);
        else
            goto raw;
        break;
    case 'b':
        if (strcmp(command, "block") == 0)
            rc = cs_msg_block(ctx, &r, w);
        else
            goto raw;
        break;
    case 'c':
        if (strcmp(command, "cmpctblock") == 0)
            rc = cs_msg_cmpctblock(ctx, &r, w);
        else
            goto raw;
        break;
    case 'f':
        if (strcmp(command, "feefilter") != 0)
            goto raw;
        if (!(rc = rd_u64(&r, &u, "feerate")))
            cs_vw_kv_i64(w, "feerate", (int64_t)u);
        break;
    case 'g':
        if (strcmp(command, "getdata") == 0)
            rc = msg_inv(&r, w);
        else if (strcmp(command, "getheaders") == 0 || strcmp(command, "getblocks") == 0)
            rc = msg_locator(&r, w);
        else if (strcmp(command, "getaddr") != 0)
            goto raw;
        break;
    case 'h':
        if (strcmp(command, "headers") == 0)
            rc = cs_msg_headers(ctx, &r, w);
        else
            goto raw;
        break;
    case 'i':
        if (strcmp(command, "inv") == 0)
            rc = msg_inv(&r, w);
        else
            goto raw;
        break;
    case 'm':
        if (strcmp(command, "mempool") != 0)
            goto raw;
        break;
    case 'n':
        if (strcmp(command, "notfound") == 0)
            rc = msg_inv(&r, w);
        else
            goto raw;
        break;
    case 'p':
        if (strcmp(command, "ping") != 0 && strcmp(command, "pong") != 0)
            goto raw;
        /* BIP31: a nonce; pings from before it are empty */
        if (n == 0 && command[1] == 'i')
            break;
        if (!(rc = rd_u64(&r, &u, "nonce")))
            FW_KV_UINT(w, "nonce", u);
        break;
    case 'r':
        if (strcmp(command, "reject") == 0)
            rc = msg_reject(&r, w);
        else
            goto raw;
        break;
    case 's':
        if (strcmp(command, "sendcmpct") == 0) {
            if (!(rc = rd_u8(&r, &b, "announce")) && !(rc = rd_u64(&r, &u, "version"))) {
                cs_vw_kv_bool(w, "announce", b != 0);
                cs_vw_kv_u64(w, "version", u);
            }
        } else if (strcmp(command, "sendtxrcncl") == 0) {
            if (!(rc = rd_u32(&r, &u32, "version")) && !(rc = rd_u64(&r, &u, "salt"))) {
                cs_vw_kv_u64(w, "version", u32);
                cs_vw_kv_u64(w, "salt", u);
            }
        } else if (strcmp(command, "sendaddrv2") != 0 && strcmp(command, "sendheaders") != 0) {
            goto raw;
        }
        break;
    case 't':
        if (strcmp(command, "tx") == 0)
            rc = cs_msg_tx(ctx, &r, hash, w);
        else
            goto raw;
        break;
    case 'v':
        if (strcmp(command, "version") == 0)
            rc = msg_version(&r, w);
        else if (strcmp(command, "verack") != 0)
            goto raw;
        break;
    case 'w':
        if (strcmp(command, "wtxidrelay") != 0)
            goto raw;
        break;
    default:
    raw:
        cs_vw_kv_bytes(w, "payload", payload, n);
        r.p = r.end;
        break;
    }
    if (rc)
        return rc;
    if (r.p < r.end)
        cs_vw_kv_u64(w, "trailing_bytes", (uint64_t)(r.end - r.p));
    if (w->err)
        return cs_wire_fail(err, w->err, "%s: fields do not fit the event buffer", command);
    return 0;
}
