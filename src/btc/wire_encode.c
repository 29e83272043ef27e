/* Encoders: framing, the payloads a connector sends, and messages built
 * from a description (the shape the decoder produces). */
#include "btc/wire_int.h"
#include "core/hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void put_le(cs_buf *out, uint64_t v, int n)
{
    uint8_t b[8];
    for (int i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    cs_buf_append(out, b, (size_t)n);
}

void cs_wire_put_compact(cs_buf *out, uint64_t v)
{
    uint8_t b;
    if (v < 0xfd) {
        b = (uint8_t)v;
        cs_buf_append(out, &b, 1);
    } else if (v <= 0xffff) {
        b = 0xfd;
        cs_buf_append(out, &b, 1);
        put_le(out, v, 2);
    } else if (v <= 0xffffffffu) {
        b = 0xfe;
        cs_buf_append(out, &b, 1);
        put_le(out, v, 4);
    } else {
        b = 0xff;
        cs_buf_append(out, &b, 1);
        put_le(out, v, 8);
    }
}

int cs_wire_frame(cs_wire_ctx *ctx, cs_buf *out, const cs_wire_net *net, const char *command,
                  const void *payload, size_t n)
{
    size_t cl = strlen(command);
    if (cl == 0 || cl > 12 || n > CS_WIRE_MAX_PAYLOAD)
        return CS_EINVAL;
    uint8_t h[CS_WIRE_HEADER_SIZE] = {0};
    memcpy(h, net->magic, 4);
    memcpy(h + 4, command, cl);
    h[16] = (uint8_t)n;
    h[17] = (uint8_t)(n >> 8);
    h[18] = (uint8_t)(n >> 16);
    h[19] = (uint8_t)(n >> 24);
    uint8_t d[32];
    cs_wire_hash256(ctx, payload, n, d);
    memcpy(h + 20, d, 4);
    int rc = cs_buf_reserve(out, sizeof h + n);
    if (rc)
        return rc;
    cs_buf_append(out, h, sizeof h);
    if (n)
        cs_buf_append(out, payload, n);
    return 0;
}

static void put_netaddr(cs_buf *out, const cs_wire_addr *a, bool with_time)
{
    if (with_time)
        put_le(out, a->time, 4);
    put_le(out, a->services, 8);
    cs_buf_append(out, a->ip, 16);
    uint8_t port[2] = {(uint8_t)(a->port >> 8), (uint8_t)a->port};
    cs_buf_append(out, port, 2);
}

int cs_wire_put_version(cs_buf *out, const cs_wire_version *v)
{
    size_t ual = v->user_agent ? strlen(v->user_agent) : 0;
    if (ual > CS_WIRE_MAX_USER_AGENT)
        return CS_ELIMIT;
    int rc = cs_buf_reserve(out, 86 + 9 + ual + 1);
    if (rc)
        return rc;
    put_le(out, (uint32_t)v->version, 4);
    put_le(out, v->services, 8);
    put_le(out, (uint64_t)v->timestamp, 8);
    put_netaddr(out, &v->recv, false);
    put_netaddr(out, &v->from, false);
    put_le(out, v->nonce, 8);
    cs_wire_put_compact(out, ual);
    cs_buf_append(out, v->user_agent ? v->user_agent : "", ual);
    put_le(out, (uint32_t)v->start_height, 4);
    uint8_t relay = v->relay;
    return cs_buf_append(out, &relay, 1);
}

int cs_wire_put_u64(cs_buf *out, uint64_t v)
{
    int rc = cs_buf_reserve(out, 8);
    if (rc)
        return rc;
    put_le(out, v, 8);
    return 0;
}

int cs_wire_put_addr(cs_buf *out, const cs_wire_addr *a, size_t n)
{
    if (n > CS_WIRE_MAX_ADDR)
        return CS_ELIMIT;
    int rc = cs_buf_reserve(out, 9 + n * 30);
    if (rc)
        return rc;
    cs_wire_put_compact(out, n);
    for (size_t i = 0; i < n; i++)
        put_netaddr(out, &a[i], true);
    return 0;
}

void cs_wire_put_addrv2_entry(cs_buf *out, const cs_wire_addrv2 *a)
{
    put_le(out, a->time, 4);
    cs_wire_put_compact(out, a->services);
    cs_buf_append(out, &a->net, 1);
    cs_wire_put_compact(out, a->len);
    cs_buf_append(out, a->addr, a->len);
    uint8_t port[2] = {(uint8_t)(a->port >> 8), (uint8_t)a->port};
    cs_buf_append(out, port, 2);
}

int cs_wire_put_addrv2(cs_buf *out, const cs_wire_addrv2 *a, size_t n)
{
    if (n > CS_WIRE_MAX_ADDR)
        return CS_ELIMIT;
    int rc = cs_buf_reserve(out, 9 + n * 60);
    if (rc)
        return rc;
    cs_wire_put_compact(out, n);
    for (size_t i = 0; i < n; i++)
        cs_wire_put_addrv2_entry(out, &a[i]);
    return 0;
}

int cs_wire_put_inv(cs_buf *out, const uint32_t *types, const uint8_t (*hashes)[32], size_t n)
{
    if (n > CS_WIRE_MAX_INV)
        return CS_ELIMIT;
    int rc = cs_buf_reserve(out, 9 + n * 36);
    if (rc)
        return rc;
    cs_wire_put_compact(out, n);
    for (size_t i = 0; i < n; i++) {
        put_le(out, types[i], 4);
        cs_buf_append(out, hashes[i], 32);
    }
    return 0;
}

/* ---- from a description ------------------------------------------------ */

static uint64_t get_u64(const cs_val *o, const char *k, uint64_t def)
{
    cs_val v;
    if (cs_val_get(o, k, strlen(k), &v) == 0 && v.kind == CS_VAL_INT)
        return v.neg ? (uint64_t)v.i : v.u;
    if (cs_val_get(o, k, strlen(k), &v) == 0 && v.kind == CS_VAL_BOOL)
        return v.b;
    return def;
}

/* A string field copied into buf (NUL-terminated); false if absent. */
static bool get_str(const cs_val *o, const char *k, char *buf, size_t len)
{
    cs_val v;
    if (cs_val_get(o, k, strlen(k), &v) != 0 || v.kind != CS_VAL_STR || v.n >= len)
        return false;
    memcpy(buf, v.p, v.n);
    buf[v.n] = 0;
    return true;
}

/* Hex text (with or without 0x) into out; returns bytes or -1. */
static long unhex(const uint8_t *s, size_t n, uint8_t *out, size_t max)
{
    size_t len;
    if (cs_hex_decode((const char *)s, n, out, max, &len) != 0)
        return -1;
    return (long)len;
}

/* A bytes field (BYTES, or a hex string) appended to out. */
static int get_bytes(const cs_val *o, const char *k, cs_buf *out)
{
    cs_val v;
    if (cs_val_get(o, k, strlen(k), &v) != 0)
        return CS_ENOTFOUND;
    if (v.kind == CS_VAL_BYTES)
        return cs_buf_append(out, v.p, v.n);
    if (v.kind != CS_VAL_STR)
        return CS_ETYPE;
    int rc = cs_buf_reserve(out, v.n / 2 + 1);
    if (rc)
        return rc;
    long m = unhex(v.p, v.n, out->data + out->len, out->cap - out->len);
    if (m < 0)
        return CS_EPARSE;
    out->len += (size_t)m;
    return 0;
}

static int parse_hash(const cs_val *o, const char *k, uint8_t h[32])
{
    char hex[80];
    uint8_t tmp[32];
    if (!get_str(o, k, hex, sizeof hex) || unhex((const uint8_t *)hex, strlen(hex), tmp, 32) != 32)
        return CS_EINVAL;
    for (int i = 0; i < 32; i++)
        h[i] = tmp[31 - i];
    return 0;
}

static int desc_netaddr(const cs_val *o, const char *k, cs_wire_addr *a)
{
    cs_val v;
    char ip[64] = "0.0.0.0";
    memset(a, 0, sizeof *a);
    if (cs_val_get(o, k, strlen(k), &v) != 0)
        return cs_wire_ip_parse(ip, a->ip);
    a->services = get_u64(&v, "services", 0);
    a->port = (uint16_t)get_u64(&v, "port", 0);
    get_str(&v, "addr", ip, sizeof ip);
    return cs_wire_ip_parse(ip, a->ip);
}

/* Parses a BIP155 address from its text form. */
static int addrv2_parse(const cs_val *e, cs_wire_addrv2 *a)
{
    char s[128];
    cs_val v;
    if (cs_val_get(e, "addr", 4, &v) == 0 && v.kind == CS_VAL_BYTES) {
        if (v.n > 32)
            return CS_ERANGE;
        a->net = (uint8_t)get_u64(e, "network_id", 0);
        a->len = (uint8_t)v.n;
        memcpy(a->addr, v.p, v.n);
        return 0;
    }
    if (!get_str(e, "addr", s, sizeof s))
        return CS_EINVAL;
    char net[16] = "";
    get_str(e, "network", net, sizeof net);
    size_t n = strlen(s);
    if (strcmp(net, "unknown") == 0) {
        long m = unhex((const uint8_t *)s, n, a->addr, 32);
        if (m < 0)
            return CS_EINVAL;
        a->net = (uint8_t)get_u64(e, "network_id", 0);
        a->len = (uint8_t)m;
        return 0;
    }
    if (n > 8 && strcmp(s + n - 8, ".b32.i2p") == 0) {
        a->net = 5;
        a->len = 32;
        return cs_base32_decode(s, n - 8, a->addr, 32) == 32 ? 0 : CS_EINVAL;
    }
    if (n > 6 && strcmp(s + n - 6, ".onion") == 0) {
        uint8_t full[35];
        int m = cs_base32_decode(s, n - 6, full, sizeof full);
        if (m == 35) {
            a->net = 4;
            a->len = 32;
            memcpy(a->addr, full, 32);
            return 0;
        }
        if (m == 10) {
            a->net = 3;
            a->len = 10;
            memcpy(a->addr, full, 10);
            return 0;
        }
        return CS_EINVAL;
    }
    uint8_t ip[16];
    if (cs_wire_ip_parse(s, ip) != 0)
        return CS_EINVAL;
    static const uint8_t v4m[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(ip, v4m, 12) == 0) {
        a->net = 1;
        a->len = 4;
        memcpy(a->addr, ip + 12, 4);
    } else {
        a->net = strcmp(net, "cjdns") == 0 ? 6 : 2;
        a->len = 16;
        memcpy(a->addr, ip, 16);
    }
    return 0;
}

static int inv_type(const cs_val *e, uint32_t *t)
{
    cs_val v;
    if (cs_val_get(e, "type", 4, &v) != 0)
        return CS_EINVAL;
    if (v.kind == CS_VAL_INT) {
        *t = (uint32_t)v.u;
        return 0;
    }
    static const uint32_t ids[] = {0, 1, 2, 3, 4, 5, 0x40000001, 0x40000002, 0x40000003};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
        if (cs_val_str_eq(&v, cs_wire_inv_name(ids[i]))) {
            *t = ids[i];
            return 0;
        }
    if (cs_val_str_eq(&v, "unknown")) {
        *t = (uint32_t)get_u64(e, "type_id", 0);
        return 0;
    }
    return CS_EINVAL;
}

static int desc_payload(const cs_val *d, const char *cmd, cs_buf *p, cs_wire_err *err)
{
    cs_val arr, e;
    cs_val_iter it;
    int rc;
    if (cs_val_get(d, "payload", 7, &arr) == 0) {
        rc = get_bytes(d, "payload", p);
        return rc ? cs_wire_fail(err, CS_EINVAL, "%s: payload must be hex bytes", cmd) : 0;
    }
    if (strcmp(cmd, "version") == 0) {
        cs_wire_version v = {0};
        char ua[CS_WIRE_MAX_USER_AGENT + 1] = "/chainscope:" CS_VERSION "/";
        v.version = (int32_t)get_u64(d, "version", CS_WIRE_PROTOCOL_VERSION);
        v.services = get_u64(d, "services", 0);
        v.timestamp = (int64_t)get_u64(d, "timestamp", (uint64_t)time(NULL));
        if (desc_netaddr(d, "addr_recv", &v.recv) || desc_netaddr(d, "addr_from", &v.from))
            return cs_wire_fail(err, CS_EINVAL, "version: bad addr_recv or addr_from");
        v.nonce = get_u64(d, "nonce", 0);
        get_str(d, "user_agent", ua, sizeof ua);
        v.user_agent = ua;
        v.start_height = (int32_t)get_u64(d, "start_height", 0);
        v.relay = get_u64(d, "relay", 0) != 0;
        return cs_wire_put_version(p, &v);
    }
    if (strcmp(cmd, "ping") == 0 || strcmp(cmd, "pong") == 0)
        return cs_wire_put_u64(p, get_u64(d, "nonce", 0));
    if (strcmp(cmd, "feefilter") == 0)
        return cs_wire_put_u64(p, get_u64(d, "feerate", 0));
    if (strcmp(cmd, "sendcmpct") == 0) {
        uint8_t b = get_u64(d, "announce", 0) != 0;
        cs_buf_append(p, &b, 1);
        return cs_wire_put_u64(p, get_u64(d, "version", 2));
    }
    if (strcmp(cmd, "sendtxrcncl") == 0) {
        uint32_t v = (uint32_t)get_u64(d, "version", 1);
        cs_buf_append(p, &v, 4);
        return cs_wire_put_u64(p, get_u64(d, "salt", 0));
    }
    if (strcmp(cmd, "addr") == 0 || strcmp(cmd, "addrv2") == 0 || strcmp(cmd, "inv") == 0 ||
        strcmp(cmd, "getdata") == 0 || strcmp(cmd, "notfound") == 0) {
        bool inv = cmd[0] == 'i' || cmd[0] == 'g' || cmd[0] == 'n';
        const char *k = inv ? "inventory" : "addresses";
        if (cs_val_get(d, k, strlen(k), &arr) != 0 || arr.kind != CS_VAL_ARRAY)
            return cs_wire_fail(err, CS_EINVAL, "%s: needs an array \"%s\"", cmd, k);
        if (arr.count > (inv ? CS_WIRE_MAX_INV : CS_WIRE_MAX_ADDR))
            return cs_wire_fail(err, CS_ELIMIT, "%s: %u entries (limit %u)", cmd, arr.count,
                                inv ? CS_WIRE_MAX_INV : CS_WIRE_MAX_ADDR);
        cs_wire_put_compact(p, arr.count);
        cs_val_iter_init(&it, &arr);
        uint32_t i = 0;
        while ((rc = cs_val_next(&it, NULL, NULL, &e)) == 1) {
            if (e.kind != CS_VAL_OBJECT)
                return cs_wire_fail(err, CS_EINVAL, "%s: entry %u is not an object", cmd, i);
            if (inv) {
                uint32_t t;
                uint8_t h[32];
                if (inv_type(&e, &t) || parse_hash(&e, "hash", h))
                    return cs_wire_fail(err, CS_EINVAL, "%s: entry %u needs type and hash", cmd, i);
                put_le(p, t, 4);
                cs_buf_append(p, h, 32);
            } else if (cmd[4] == 0) {
                cs_wire_addr a;
                char ip[64] = "";
                memset(&a, 0, sizeof a);
                a.time = (uint32_t)get_u64(&e, "time", 0);
                a.services = get_u64(&e, "services", 0);
                a.port = (uint16_t)get_u64(&e, "port", 0);
                if (!get_str(&e, "addr", ip, sizeof ip) || cs_wire_ip_parse(ip, a.ip))
                    return cs_wire_fail(err, CS_EINVAL, "addr: entry %u: bad address", i);
                put_netaddr(p, &a, true);
            } else {
                cs_wire_addrv2 a = {0};
                a.time = (uint32_t)get_u64(&e, "time", 0);
                a.services = get_u64(&e, "services", 0);
                a.port = (uint16_t)get_u64(&e, "port", 0);
                if (addrv2_parse(&e, &a))
                    return cs_wire_fail(err, CS_EINVAL, "addrv2: entry %u: bad address", i);
                cs_wire_put_addrv2_entry(p, &a);
            }
            i++;
        }
        return rc < 0 ? cs_wire_fail(err, CS_EINVAL, "%s: malformed array", cmd) : 0;
    }
    static const char *const empty[] = {"verack",     "getaddr",     "sendaddrv2",
                                        "wtxidrelay", "sendheaders", "mempool"};
    for (size_t i = 0; i < sizeof empty / sizeof *empty; i++)
        if (strcmp(cmd, empty[i]) == 0)
            return 0;
    return cs_wire_fail(err, CS_EINVAL,
                        "%s: cannot encode this command from fields; give "
                        "\"payload\" as hex",
                        cmd);
}

int cs_wire_encode_desc(cs_wire_ctx *ctx, const cs_wire_net *net, const cs_val *desc, cs_buf *out,
                        cs_wire_err *err)
{
    char cmd[16];
    if (desc->kind != CS_VAL_OBJECT || !get_str(desc, "command", cmd, sizeof cmd) ||
        strlen(cmd) == 0 || strlen(cmd) > 12)
        return cs_wire_fail(err, CS_EINVAL, "a message needs \"command\" (1 to 12 characters)");
    cs_buf p;
    cs_buf_init(&p, CS_WIRE_MAX_PAYLOAD);
    int rc = desc_payload(desc, cmd, &p, err);
    if (rc == 0)
        rc = cs_wire_frame(ctx, out, net, cmd, p.data, p.len);
    if (rc && err && !err->reason[0])
        cs_wire_fail(err, rc, "%s: %s", cmd, cs_strerror(rc));
    cs_buf_free(&p);
    return rc;
}
