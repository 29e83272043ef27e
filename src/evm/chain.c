#include "evm/chain.h"
#include "evm/events.h"
#include "core/error.h"
#include "evm/chain_fw.h"
#include "core/hex.h"

#include <emmintrin.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- ABIs by address ----------------------------------------------------- */

typedef struct abi_slot {
    uint8_t addr[20];
    cs_abi *abi; /* NULL: empty slot */
} abi_slot;

struct cs_evm_abis {
    abi_slot *slots; /* open addressing, power-of-two size */
    size_t nslots, used;
    cs_abi *any;
};

int cs_evm_abis_new(cs_evm_abis **out)
{
    cs_evm_abis *m = calloc(1, sizeof *m);
    if (!m)
        return CS_ENOMEM;
    m->nslots = 16;
    m->slots = calloc(m->nslots, sizeof *m->slots);
    if (!m->slots) {
        free(m);
        return CS_ENOMEM;
    }
    *out = m;
    return 0;
}

void cs_evm_abis_free(cs_evm_abis *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nslots; i++)
        cs_abi_free(m->slots[i].abi);
    cs_abi_free(m->any);
    free(m->slots);
    free(m);
}

static size_t slot_of(const cs_evm_abis *m, const uint8_t addr[20])
{
    uint64_t h;
    memcpy(&h, addr + 12, 8); /* addresses are hashes: any 8 bytes spread well */
    size_t i = (size_t)h & (m->nslots - 1);
    while (m->slots[i].abi && memcmp(m->slots[i].addr, addr, 20) != 0)
        i = (i + 1) & (m->nslots - 1);
    return i;
}

int cs_evm_abis_add(cs_evm_abis *m, const uint8_t *address, cs_abi *abi)
{
    if (!address) {
        cs_abi_free(m->any);
        m->any = abi;
        return 0;
    }
    if ((m->used + 1) * 2 > m->nslots) {
        size_t nn = m->nslots * 2;
        abi_slot *ns = calloc(nn, sizeof *ns);
        if (!ns) {
            cs_abi_free(abi);
            return CS_ENOMEM;
        }
        abi_slot *old = m->slots;
        size_t on = m->nslots;
        m->slots = ns;
        m->nslots = nn;
        for (size_t i = 0; i < on; i++)
            if (old[i].abi)
                m->slots[slot_of(m, old[i].addr)] = old[i];
        free(old);
    }
    size_t i = slot_of(m, address);
    if (m->slots[i].abi)
        cs_abi_free(m->slots[i].abi);
    else
        m->used++;
    memcpy(m->slots[i].addr, address, 20);
    m->slots[i].abi = abi;
    return 0;
}

int cs_evm_abis_add_spec(cs_evm_abis *m, const char *spec, char *err, size_t errlen)
{
    const char *eq = strchr(spec, '=');
    uint8_t addr[20];
    const char *file = spec;
    if (eq) {
        size_t got;
        if (cs_hex_decode(spec, (size_t)(eq - spec), addr, 20, &got) || got != 20) {
            snprintf(err, errlen, "'%.*s' is not a 20-byte 0x address (expected ADDRESS=FILE)",
                     (int)(eq - spec), spec);
            return CS_EINVAL;
        }
        file = eq + 1;
    }
    cs_abi *abi;
    int rc = cs_abi_load_file(file, &abi, err, errlen);
    if (rc)
        return rc;
    return cs_evm_abis_add(m, eq ? addr : NULL, abi);
}

const cs_abi *cs_evm_abis_find(const cs_evm_abis *m, const uint8_t address[20])
{
    if (!m)
        return NULL;
    if (m->used) {
        size_t i = slot_of(m, address);
        if (m->slots[i].abi)
            return m->slots[i].abi;
    }
    return m->any;
}

/* ---- field helpers -------------------------------------------------------- */

/* Checks 16 hex digits at s and gives them lowercased in *lower; false if
 * one is not a digit. JSON strings hold no bytes below 0x20 (the reader
 * refuses them), so x | 0x20 maps exactly 'A'..'F' onto 'a'..'f' and leaves
 * digits alone. */
static inline bool hex16(const char *s, __m128i *lower)
{
    __m128i x = _mm_or_si128(_mm_loadu_si128((const __m128i *)s), _mm_set1_epi8(0x20));
    __m128i d = _mm_sub_epi8(x, _mm_set1_epi8('0'));
    __m128i isd = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
    __m128i a = _mm_sub_epi8(x, _mm_set1_epi8('a'));
    __m128i isa = _mm_cmpeq_epi8(_mm_min_epu8(a, _mm_set1_epi8(5)), a);
    *lower = x;
    return _mm_movemask_epi8(_mm_or_si128(isd, isa)) == 0xffff;
}

/* Copies the 0x hex string s[0..len) of exactly `bytes` bytes, lowercased,
 * to out (len bytes, no NUL). false if it is not one. */
static inline bool hexcopy(const char *s, uint32_t len, size_t bytes, char *out)
{
    if (len != 2 * bytes + 2 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return false;
    out[0] = '0';
    out[1] = 'x';
    size_t k = 2;
    for (; k + 16 <= len; k += 16) {
        __m128i x;
        if (!hex16(s + k, &x))
            return false;
        _mm_storeu_si128((__m128i *)(out + k), x);
    }
    for (; k < len; k++) {
        char c = s[k];
        if (c >= 'A' && c <= 'F')
            c = (char)(c | 0x20);
        else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
        out[k] = c;
    }
    return true;
}

int cs_evm_hexstr(const cs_jsonr *r, uint32_t i, size_t bytes, char *out)
{
    const cs_jtok *t = cs_jsonr_at(r, i);
    if (t->type != CS_JT_STR || !hexcopy(cs_jsonr_ptr(r, i), t->len, bytes, out))
        return CS_EPARSE;
    out[t->len] = 0;
    return 0;
}

/* Is token i the hash `lower` (0x and 64 lowercase digits) in any case?
 * The common case, the very same text, is one comparison. */
static bool is_hash(const cs_jsonr *r, uint32_t i, const char *lower)
{
    const cs_jtok *t = cs_jsonr_at(r, i);
    if (t->type == CS_JT_STR && t->len == 66 && memcmp(cs_jsonr_ptr(r, i), lower, 66) == 0)
        return true;
    char h[67];
    return cs_evm_hexstr(r, i, 32, h) == 0 && memcmp(h, lower, 66) == 0;
}

/* A hex quantity string ("0x1a") of at most 16 digits as a number; false
 * for anything else (the caller then asks cs_jsonr_u64/u256, which know
 * every form and say why one is wrong). */
static inline bool qty64(const cs_jsonr *r, uint32_t i, uint64_t *v)
{
    const cs_jtok *t = cs_jsonr_at(r, i);
    const char *s = cs_jsonr_ptr(r, i);
    if (t->type != CS_JT_STR || t->len < 3 || t->len > 18 || s[0] != '0' ||
        (s[1] != 'x' && s[1] != 'X'))
        return false;
    uint64_t x = 0;
    for (uint32_t k = 2; k < t->len; k++) {
        int d = cs_hex_digit(s[k]);
        if (d < 0)
            return false;
        x = x << 4 | (uint64_t)d;
    }
    *v = x;
    return true;
}

/* cs_jsonr_u64 with the common case inline. */
static inline int u64_of(const cs_jsonr *r, uint32_t i, uint64_t *v)
{
    return qty64(r, i, v) ? 0 : cs_jsonr_u64(r, i, v);
}

/* Whether the n bytes at a and b are equal: a key and a name of the same
 * length, compared with at most two loads each up to 16 bytes. */
static inline bool same(const char *a, const char *b, size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t a0, a1, b0, b1;
        memcpy(&a0, a, 8);
        memcpy(&b0, b, 8);
        memcpy(&a1, a + n - 8, 8);
        memcpy(&b1, b + n - 8, 8);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    if (n >= 4 && n < 8) {
        uint32_t a0, a1, b0, b1;
        memcpy(&a0, a, 4);
        memcpy(&b0, b, 4);
        memcpy(&a1, a + n - 4, 4);
        memcpy(&b1, b + n - 4, 4);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    return memcmp(a, b, n) == 0;
}

/* Finds the members named in `names` in one pass over obj: idx[k] gets the
 * value's token or 0. Each key is compared first with the name after the
 * one the previous key matched, so that an object whose keys come in the
 * order of `names` (the order nodes write them in) costs one comparison a
 * key; other orders cost at most n. */
static void members(const cs_jsonr *r, uint32_t obj, const char *const *names, size_t n,
                    const uint8_t *lens, uint32_t *idx)
{
    memset(idx, 0, n * sizeof *idx);
    size_t j0 = 0;
    for (uint32_t k = cs_jsonr_first(r, obj); k; k = cs_jsonr_next_key(r, obj, k)) {
        const cs_jtok *t = cs_jsonr_at(r, k);
        const char *s = cs_jsonr_ptr(r, k);
        for (size_t m = 0, j = j0; m < n; m++, j = j + 1 == n ? 0 : j + 1)
            if (t->len == lens[j] && same(s, names[j], t->len)) {
                idx[j] = k + 1;
                j0 = j + 1 == n ? 0 : j + 1;
                break;
            }
    }
}

typedef struct emitctx {
    const cs_jsonr *r;
    const cs_evm_blockref *b;
    char *err;
    size_t errlen;
    int rc;       /* the first error */
    char txh[67]; /* for messages */
} emitctx;

static void eerr(emitctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void eerr(emitctx *c, const char *fmt, ...)
{
    if (c->rc)
        return;
    c->rc = CS_EPARSE;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "block %llu tx %s: %s", (unsigned long long)c->b->number,
             c->txh[0] ? c->txh : "?", msg);
}

/* A quantity read ahead of writing: absent, 64-bit or 256-bit. */
typedef struct qty {
    enum { Q_NONE, Q_U64, Q_BIG } kind;
    uint64_t u;
    uint8_t be[32];
} qty;

/* Reads member i (0: absent) of c->r as an exact quantity. A malformed one
 * is recorded as the error (if it is the first) and left out, like an
 * absent one. */
static void read_qty(emitctx *c, uint32_t i, qty *q, const char *what)
{
    q->kind = Q_NONE;
    if (!i || cs_jsonr_at(c->r, i)->type == CS_JT_NULL)
        return;
    if (qty64(c->r, i, &q->u)) {
        q->kind = Q_U64;
        return;
    }
    if (cs_jsonr_u256(c->r, i, q->be)) {
        eerr(c, "%s is not a hex quantity", what);
        return;
    }
    q->kind = Q_BIG;
}

/* Writes key: v if v is there (at most kl + 35 bytes) and counts it. */
static inline uint8_t *fw_qty(uint8_t *q, const char *k, size_t kl, const qty *v, uint32_t *items)
{
    if (v->kind == Q_NONE)
        return q;
    ++*items;
    q = fw_key(q, k, kl);
    return v->kind == Q_U64 ? fw_uint(q, v->u) : fw_big(q, v->be);
}
#define FW_QTY(q, lit, v, items) fw_qty(q, lit, sizeof(lit) - 1, v, items)

/* Writes key: quantity (exact, 256-bit) if the member is present. */
static void kv_quantity(emitctx *c, cs_vw *w, const char *key, uint32_t i, const char *what)
{
    qty v;
    read_qty(c, i, &v, what);
    size_t kl = strlen(key);
    uint32_t items = 0;
    uint8_t *q = fw_begin(w, kl + 40);
    if (q) {
        q = fw_qty(q, key, kl, &v, &items);
        fw_commit(w, q, items);
    }
}

static bool kv_hexstr(emitctx *c, cs_vw *w, const char *key, uint32_t i, size_t bytes,
                      const char *what)
{
    if (!i || cs_jsonr_at(c->r, i)->type == CS_JT_NULL)
        return true;
    char s[67];
    if (cs_evm_hexstr(c->r, i, bytes, s)) {
        eerr(c, "%s is not a %zu-byte 0x hex string", what, bytes);
        return false;
    }
    cs_vw_kv_strn(w, key, s, 2 + 2 * bytes);
    return true;
}

/* Decodes hex data of member i into *buf (grown as needed). */
static int hexdata(emitctx *c, uint32_t i, cs_buf *buf, size_t *len, const char *what)
{
    const cs_jtok *t = cs_jsonr_at(c->r, i);
    if (t->type != CS_JT_STR) {
        eerr(c, "%s is not a string", what);
        return CS_EPARSE;
    }
    size_t need = t->len / 2;
    buf->len = 0;
    if (cs_buf_reserve(buf, need + 1)) {
        eerr(c, "%s is too large (%u hex digits)", what, t->len);
        return CS_ELIMIT;
    }
    int rc = cs_jsonr_hex(c->r, i, buf->data, need + 1, len);
    if (rc) {
        eerr(c, "%s: %s", what, (t->len & 1) ? "odd number of hex digits" : "not 0x hex");
        return rc;
    }
    return 0;
}

/* Data up to this size is decoded straight into the payload; larger data
 * goes through the caller's scratch buffer and its bound. */
#define DIRECT_DATA_MAX 65536

/* Writes the bytes of the hex data string token i as a bytes value straight
 * into the payload at q (room for its length + 16 bytes). NULL (and the
 * error recorded as hexdata words it) if it is not 0x hex. */
static uint8_t *fw_hexdata(emitctx *c, uint8_t *q, uint32_t i, const char *what)
{
    const cs_jtok *t = cs_jsonr_at(c->r, i);
    const char *s = cs_jsonr_ptr(c->r, i);
    if (t->len < 2 || (t->len & 1) || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) {
        eerr(c, "%s: %s", what, (t->len & 1) ? "odd number of hex digits" : "not 0x hex");
        return NULL;
    }
    size_t n = (t->len - 2) / 2;
    *q++ = CS_VT_BYTES;
    q = fw_varint(q, n);
    if (cs_hex_decode_n(s + 2, n, q)) {
        eerr(c, "%s: not 0x hex", what);
        return NULL;
    }
    return q + n;
}

enum {
    L_ADDRESS,
    L_TOPICS,
    L_DATA,
    L_BLOCKNUMBER, /* not read: listed to keep the order */
    L_TXHASH,
    L_TXINDEX, /* not read: listed to keep the order */
    L_BLOCKHASH,
    L_LOGINDEX,
    L_REMOVED,
    L_N
};
/* In the order nodes write them. */
static const char *const log_names[L_N] = {"address",     "topics",          "data",
                                           "blockNumber", "transactionHash", "transactionIndex",
                                           "blockHash",   "logIndex",        "removed"};
static const uint8_t log_lens[L_N] = {7, 6, 4, 11, 15, 16, 9, 8, 7};

/* Publishes one evm.log. Returns false (and records why) for a bad log. */
static bool emit_log(emitctx *c, cs_publisher *pub, uint32_t lg, uint64_t tx_index, uint32_t pos,
                     const cs_evm_abis *abis, cs_buf *scratch, cs_evm_counts *counts)
{
    const cs_jsonr *r = c->r;
    uint32_t f[L_N];
    if (cs_jsonr_at(r, lg)->type != CS_JT_OBJ) {
        eerr(c, "log %u is not an object", pos);
        return false;
    }
    members(r, lg, log_names, L_N, log_lens, f);
    char addr[43];
    if (!f[L_ADDRESS] || cs_evm_hexstr(r, f[L_ADDRESS], 20, addr)) {
        eerr(c, "log %u: address missing or not a 20-byte 0x hex string", pos);
        return false;
    }
    uint64_t log_index = pos;
    if (f[L_LOGINDEX] && u64_of(r, f[L_LOGINDEX], &log_index)) {
        eerr(c, "log %u: logIndex is not a quantity", pos);
        return false;
    }
    if (f[L_TXHASH] && !is_hash(r, f[L_TXHASH], c->txh)) {
        eerr(c, "log %u: transactionHash does not match the receipt's", pos);
        return false;
    }
    if (f[L_BLOCKHASH] && c->b->hash[0] && !is_hash(r, f[L_BLOCKHASH], c->b->hash)) {
        eerr(c, "log %u: blockHash does not match the block's", pos);
        return false;
    }
    uint32_t tp = f[L_TOPICS];
    if (!tp || cs_jsonr_at(r, tp)->type != CS_JT_ARR || cs_jsonr_at(r, tp)->len > 4) {
        eerr(c, "log %u: topics missing or not an array of at most 4", pos);
        return false;
    }
    const cs_abi *abi = NULL;
    if (abis) {
        uint8_t abin[20];
        cs_hex_decode_n(addr + 2, 20, abin); /* checked by hexcopy */
        abi = cs_evm_abis_find(abis, abin);
    }
    /* Small data without an ABI to decode it is decoded into the payload;
     * other data through scratch, which the ABI decoder reads. */
    const cs_jtok *dt = f[L_DATA] ? cs_jsonr_at(r, f[L_DATA]) : NULL;
    bool direct = false;
    size_t room = 600; /* everything but the data's bytes fits in 600 */
    if (!abi && dt && dt->type == CS_JT_STR && dt->len / 2 <= DIRECT_DATA_MAX) {
        direct = true;
        room += dt->len / 2;
    }

    cs_vw *w = cs_publisher_begin(pub);
    uint8_t *q = fw_begin(w, room);
    if (!q)
        return true; /* cannot happen below the writer's bound */
    q = fw_str(FW_KEY(q, CS_EVF_LOG_ADDRESS), addr, 42);
    uint8_t *arr;
    q = fw_open(FW_KEY(q, CS_EVF_LOG_TOPICS), CS_VT_ARRAY, &arr);
    uint8_t topics[4][32];
    size_t nt = 0;
    for (uint32_t it = cs_jsonr_first(r, tp); it; it = cs_jsonr_next_item(r, tp, it), nt++) {
        const cs_jtok *t = cs_jsonr_at(r, it);
        *q++ = CS_VT_STR;
        *q++ = 66;
        if (t->type != CS_JT_STR || !hexcopy(cs_jsonr_ptr(r, it), t->len, 32, (char *)q)) {
            eerr(c, "log %u: topic %zu is not 32 bytes of 0x hex", pos, nt);
            return false;
        }
        if (abi)
            cs_hex_decode_n((const char *)q + 2, 32, topics[nt]); /* checked above */
        q += 66;
    }
    q = fw_close(q, arr, (uint32_t)nt);
    if (!dt) {
        eerr(c, "log %u: no data", pos);
        return false;
    }
    size_t dl = 0;
    if (direct) {
        if (!(q = fw_hexdata(c, FW_KEY(q, "data"), f[L_DATA], "log data")))
            return false;
        fw_commit(w, q, 3);
    } else {
        fw_commit(w, q, 2);
        if (hexdata(c, f[L_DATA], scratch, &dl, "log data"))
            return false;
        cs_vw_kv_bytes(w, "data", scratch->data, dl);
    }
    if ((q = fw_begin(w, 200))) {
        q = fw_uint(FW_KEY(q, CS_EVF_BLOCK_NUMBER), c->b->number);
        q = fw_str(FW_KEY(q, CS_EVF_BLOCK_HASH), c->b->hash, 66);
        q = fw_str(FW_KEY(q, CS_EVF_LOG_TX_HASH), c->txh, 66);
        q = fw_uint(FW_KEY(q, "tx_index"), tx_index);
        q = fw_uint(FW_KEY(q, CS_EVF_LOG_INDEX), log_index);
        uint32_t items = 5;
        if (f[L_REMOVED]) {
            q = fw_bool(FW_KEY(q, "removed"), cs_jsonr_at(r, f[L_REMOVED])->type == CS_JT_TRUE);
            items++;
        }
        fw_commit(w, q, items);
    }
    if (abi) {
        const cs_abi_event *ev;
        char derr[256];
        int drc = cs_abi_decode_log(abi, (const uint8_t(*)[32])topics, nt, scratch->data, dl, 0, w,
                                    CS_EVF_ARGS, &ev, derr, sizeof derr);
        if (drc == 0) {
            cs_vw_kv_str(w, CS_EVF_LOG_EVENT, ev->name);
            cs_vw_kv_str(w, CS_EVF_LOG_SIGNATURE, ev->signature);
            counts->decoded_logs++;
        } else if (drc != CS_ENOTFOUND) { /* an event of the ABI that does not fit */
            cs_vw_kv_str(w, "decode_error", derr);
            counts->decode_errors++;
        }
    }
    if (cs_publisher_emit(pub, CS_EVT_LOG, NULL, addr, NULL) == 0)
        counts->logs++;
    return true;
}

/* In the order nodes write them (alphabetical). */
enum {
    R_BLOCKHASH,
    R_BLOCKNUMBER,
    R_CONTRACT,
    R_CUMGAS,
    R_EGP,
    R_FROM,
    R_GASUSED,
    R_LOGS,
    R_LOGSBLOOM, /* not read: listed to keep the order */
    R_STATUS,
    R_TO,
    R_TXHASH,
    R_TXINDEX,
    R_TYPE,
    R_N
};
static const char *const rc_names[R_N] = {"blockHash",
                                          "blockNumber",
                                          "contractAddress",
                                          "cumulativeGasUsed",
                                          "effectiveGasPrice",
                                          "from",
                                          "gasUsed",
                                          "logs",
                                          "logsBloom",
                                          "status",
                                          "to",
                                          "transactionHash",
                                          "transactionIndex",
                                          "type"};
static const uint8_t rc_lens[R_N] = {9, 11, 15, 17, 17, 4, 7, 4, 9, 6, 2, 15, 16, 4};

/* In the order nodes write them. */
enum { T_GAS, T_GASPRICE, T_MAXFEE, T_MAXPRIO, T_HASH, T_INPUT, T_NONCE, T_VALUE, T_N };
static const char *const tx_names[T_N] = {
    "gas", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas", "hash", "input", "nonce", "value"};
static const uint8_t tx_lens[T_N] = {3, 8, 12, 20, 4, 5, 5, 5};

int cs_evm_emit_receipt(cs_publisher *pub, const cs_jsonr *r, uint32_t rcpt, const cs_jsonr *tj,
                        uint32_t tx, const cs_evm_blockref *b, const cs_evm_abis *abis,
                        cs_buf *scratch, cs_evm_counts *counts, char *err, size_t errlen)
{
    emitctx c = {.r = r, .b = b, .err = err, .errlen = errlen};
    if (!tj)
        tj = r;
    uint32_t f[R_N], t[T_N];
    if (cs_jsonr_at(r, rcpt)->type != CS_JT_OBJ) {
        eerr(&c, "the receipt is not an object");
        return c.rc;
    }
    members(r, rcpt, rc_names, R_N, rc_lens, f);
    if (!f[R_TXHASH] || cs_evm_hexstr(r, f[R_TXHASH], 32, c.txh)) {
        c.txh[0] = 0;
        eerr(&c, "receipt: transactionHash missing or not a 32-byte 0x hex string");
        return c.rc;
    }
    if (tx) {
        if (cs_jsonr_at(tj, tx)->type != CS_JT_OBJ) {
            eerr(&c, "the transaction is not an object");
            return c.rc;
        }
        members(tj, tx, tx_names, T_N, tx_lens, t);
        char th[67];
        if (!t[T_HASH] || cs_evm_hexstr(tj, t[T_HASH], 32, th)) {
            eerr(&c, "transaction: hash missing or malformed");
            return c.rc;
        }
        if (strcmp(th, c.txh) != 0) {
            eerr(&c, "the receipt does not match transaction %s", th);
            return c.rc;
        }
    } else {
        memset(t, 0, sizeof t);
    }
    if (f[R_BLOCKHASH] && b->hash[0] && !is_hash(r, f[R_BLOCKHASH], b->hash)) {
        eerr(&c, "receipt: blockHash is not the block's %s", b->hash);
        return c.rc;
    }
    uint64_t bn;
    if (f[R_BLOCKNUMBER] && (u64_of(r, f[R_BLOCKNUMBER], &bn) || bn != b->number)) {
        eerr(&c, "receipt: blockNumber is not the block's");
        return c.rc;
    }
    uint64_t tx_index = 0, status = 0, gas_used = 0;
    if (!f[R_TXINDEX] || u64_of(r, f[R_TXINDEX], &tx_index)) {
        eerr(&c, "receipt: transactionIndex missing or not a quantity");
        return c.rc;
    }
    if (!f[R_GASUSED] || u64_of(r, f[R_GASUSED], &gas_used)) {
        eerr(&c, "receipt: gasUsed missing or not a quantity");
        return c.rc;
    }
    uint32_t logs = f[R_LOGS];
    if (!logs || cs_jsonr_at(r, logs)->type != CS_JT_ARR) {
        eerr(&c, "receipt: logs missing or not an array");
        return c.rc;
    }
    char from[43] = "", to[43] = "", contract[43] = "";
    if (!f[R_FROM] || cs_evm_hexstr(r, f[R_FROM], 20, from)) {
        eerr(&c, "receipt: from missing or not an address");
        return c.rc;
    }
    if (f[R_TO] && cs_jsonr_at(r, f[R_TO])->type != CS_JT_NULL &&
        cs_evm_hexstr(r, f[R_TO], 20, to)) {
        eerr(&c, "receipt: to is not an address");
        return c.rc;
    }

    /* The other fields, read in the order they are written: a malformed
     * one is left out (status: written as 0) and the first is the error. */
    if (!to[0] && f[R_CONTRACT] && cs_jsonr_at(r, f[R_CONTRACT])->type != CS_JT_NULL &&
        cs_evm_hexstr(r, f[R_CONTRACT], 20, contract)) {
        contract[0] = 0;
        eerr(&c, "receipt: contractAddress is not a 20-byte 0x hex string");
    }
    if (f[R_STATUS] && u64_of(r, f[R_STATUS], &status)) /* absent before Byzantium */
        eerr(&c, "receipt: status is not a quantity");
    qty cum, egp, type, tq[6];
    read_qty(&c, f[R_CUMGAS], &cum, "receipt: cumulativeGasUsed");
    read_qty(&c, f[R_EGP], &egp, "receipt: effectiveGasPrice");
    read_qty(&c, f[R_TYPE], &type, "receipt: type");
    c.r = tj; /* the transaction's fields come from its own document */
    read_qty(&c, t[T_VALUE], &tq[0], "transaction: value");
    read_qty(&c, t[T_NONCE], &tq[1], "transaction: nonce");
    read_qty(&c, t[T_GAS], &tq[2], "transaction: gas");
    read_qty(&c, t[T_GASPRICE], &tq[3], "transaction: gasPrice");
    read_qty(&c, t[T_MAXFEE], &tq[4], "transaction: maxFeePerGas");
    read_qty(&c, t[T_MAXPRIO], &tq[5], "transaction: maxPriorityFeePerGas");
    c.r = r;

    /* At most 13 keys of at most 24 bytes and values of at most 68. */
    cs_vw *w = cs_publisher_begin(pub);
    uint8_t *q = fw_begin(w, 1280);
    if (q) {
        q = fw_str(FW_KEY(q, CS_EVF_TX_HASH), c.txh, 66);
        q = fw_uint(FW_KEY(q, CS_EVF_BLOCK_NUMBER), b->number);
        q = fw_str(FW_KEY(q, CS_EVF_BLOCK_HASH), b->hash, 66);
        q = fw_uint(FW_KEY(q, "index"), tx_index);
        q = fw_str(FW_KEY(q, CS_EVF_TX_FROM), from, 42);
        uint32_t items = 5;
        if (to[0] || contract[0]) {
            q = to[0] ? fw_str(FW_KEY(q, CS_EVF_TX_TO), to, 42)
                      : fw_str(FW_KEY(q, "contract_address"), contract, 42);
            items++;
        }
        if (f[R_STATUS]) {
            q = fw_uint(FW_KEY(q, CS_EVF_TX_STATUS), status);
            items++;
        }
        q = fw_uint(FW_KEY(q, "gas_used"), gas_used);
        items++;
        q = FW_QTY(q, "cumulative_gas_used", &cum, &items);
        q = FW_QTY(q, "effective_gas_price", &egp, &items);
        q = FW_QTY(q, "type", &type, &items);
        q = fw_uint(FW_KEY(q, "logs"), cs_jsonr_at(r, logs)->len);
        items++;
        q = FW_QTY(q, CS_EVF_TX_VALUE, &tq[0], &items);
        q = FW_QTY(q, "nonce", &tq[1], &items);
        q = FW_QTY(q, "gas", &tq[2], &items);
        q = FW_QTY(q, "gas_price", &tq[3], &items);
        q = FW_QTY(q, "max_fee_per_gas", &tq[4], &items);
        q = FW_QTY(q, "max_priority_fee_per_gas", &tq[5], &items);
        fw_commit(w, q, items);
    }
    if (tx) {
        c.r = tj;
        size_t il = 0;
        if (t[T_INPUT] && hexdata(&c, t[T_INPUT], scratch, &il, "transaction: input") == 0) {
            cs_vw_kv_bytes(w, CS_EVF_TX_INPUT, scratch->data, il);
            uint8_t tb[20];
            const cs_abi *abi = abis && to[0] && cs_hex_decode_n(to + 2, 20, tb) == 0
                                    ? cs_evm_abis_find(abis, tb)
                                    : NULL;
            if (abi && il >= 4) {
                const cs_abi_func *fn;
                char derr[256];
                int drc = cs_abi_decode_call(abi, scratch->data, il, 0, w, CS_EVF_ARGS, &fn, derr,
                                             sizeof derr);
                if (drc == 0) {
                    cs_vw_kv_str(w, CS_EVF_TX_FUNCTION, fn->name);
                    cs_vw_kv_str(w, CS_EVF_TX_SIGNATURE, fn->signature);
                } else if (drc != CS_ENOTFOUND) { /* a function of the ABI that does not fit */
                    cs_vw_kv_str(w, "decode_error", derr);
                }
            }
        }
        c.r = r;
    }
    int rc = cs_publisher_emit(pub, CS_EVT_TX, NULL, to[0] ? to : from, NULL);
    if (rc && !c.rc) {
        eerr(&c, "cannot publish evm.tx: %s", cs_strerror(rc));
    } else if (!rc) {
        counts->txs++;
    }
    uint32_t pos = 0;
    for (uint32_t lg = cs_jsonr_first(r, logs); lg; lg = cs_jsonr_next_item(r, logs, lg), pos++)
        emit_log(&c, pub, lg, tx_index, pos, abis, scratch, counts);
    return c.rc;
}

enum { B_NUMBER, B_HASH, B_PARENT, B_TIME, B_MINER, B_GASUSED, B_GASLIMIT, B_BASEFEE, B_TXS, B_N };
static const char *const blk_names[B_N] = {"number",    "hash",          "parentHash",
                                           "timestamp", "miner",         "gasUsed",
                                           "gasLimit",  "baseFeePerGas", "transactions"};
static const uint8_t blk_lens[B_N] = {6, 4, 10, 9, 5, 7, 8, 13, 12};

int cs_evm_read_block(const cs_jsonr *r, uint32_t blk, cs_evm_blockref *ref, char *parent_hash,
                      char *err, size_t errlen)
{
    uint32_t f[B_N];
    if (cs_jsonr_at(r, blk)->type != CS_JT_OBJ) {
        snprintf(err, errlen, "the block is not an object");
        return CS_EPARSE;
    }
    members(r, blk, blk_names, B_N, blk_lens, f);
    memset(ref, 0, sizeof *ref);
    if (!f[B_NUMBER] || cs_jsonr_u64(r, f[B_NUMBER], &ref->number)) {
        snprintf(err, errlen, "block: number missing or not a quantity");
        return CS_EPARSE;
    }
    if (!f[B_HASH] || cs_evm_hexstr(r, f[B_HASH], 32, ref->hash)) {
        snprintf(err, errlen, "block %llu: hash missing or malformed",
                 (unsigned long long)ref->number);
        return CS_EPARSE;
    }
    if (!f[B_PARENT] || cs_evm_hexstr(r, f[B_PARENT], 32, parent_hash)) {
        snprintf(err, errlen, "block %llu: parentHash missing or malformed",
                 (unsigned long long)ref->number);
        return CS_EPARSE;
    }
    if (f[B_TIME] && cs_jsonr_u64(r, f[B_TIME], &ref->time)) {
        snprintf(err, errlen, "block %llu: timestamp is not a quantity",
                 (unsigned long long)ref->number);
        return CS_EPARSE;
    }
    uint32_t txs = f[B_TXS];
    if (!txs || cs_jsonr_at(r, txs)->type != CS_JT_ARR) {
        snprintf(err, errlen, "block %llu: transactions missing or not an array",
                 (unsigned long long)ref->number);
        return CS_EPARSE;
    }
    return 0;
}

int cs_evm_emit_block(cs_publisher *pub, const cs_jsonr *r, uint32_t blk, const char *key,
                      const cs_evm_blockref *ref, const char *parent_hash, char *err, size_t errlen)
{
    uint32_t f[B_N];
    members(r, blk, blk_names, B_N, blk_lens, f);
    emitctx c = {.r = r, .b = ref, .err = err, .errlen = errlen};
    strcpy(c.txh, "-");
    cs_vw *w = cs_publisher_begin(pub);
    cs_vw_kv_u64(w, CS_EVF_NUMBER, ref->number);
    cs_vw_kv_strn(w, CS_EVF_HASH, ref->hash, 66);
    cs_vw_kv_strn(w, "parent_hash", parent_hash, 66);
    cs_vw_kv_u64(w, "timestamp", ref->time);
    kv_hexstr(&c, w, "miner", f[B_MINER], 20, "block: miner");
    kv_quantity(&c, w, "gas_used", f[B_GASUSED], "block: gasUsed");
    kv_quantity(&c, w, "gas_limit", f[B_GASLIMIT], "block: gasLimit");
    kv_quantity(&c, w, "base_fee", f[B_BASEFEE], "block: baseFeePerGas");
    cs_vw_kv_u64(w, "tx_count", f[B_TXS] ? cs_jsonr_at(r, f[B_TXS])->len : 0);
    int rc = cs_publisher_emit(pub, CS_EVT_BLOCK, NULL, key, NULL);
    if (rc && !c.rc)
        snprintf(err, errlen, "block %llu: cannot publish: %s", (unsigned long long)ref->number,
                 cs_strerror(rc));
    return c.rc ? c.rc : rc;
}
