#include "evm/chain.h"
#include "core/error.h"
#include "evm/hex.h"

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

/* Checks 16 bytes of hex digits and writes them lowercased. JSON strings
 * hold no bytes below 0x20 (the reader refuses them), so x | 0x20 maps
 * exactly 'A'..'F' onto 'a'..'f' and leaves digits alone. */
static inline bool hex16(const char *s, char *out)
{
    __m128i x = _mm_or_si128(_mm_loadu_si128((const __m128i *)s), _mm_set1_epi8(0x20));
    __m128i d = _mm_sub_epi8(x, _mm_set1_epi8('0'));
    __m128i isd = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
    __m128i a = _mm_sub_epi8(x, _mm_set1_epi8('a'));
    __m128i isa = _mm_cmpeq_epi8(_mm_min_epu8(a, _mm_set1_epi8(5)), a);
    if (_mm_movemask_epi8(_mm_or_si128(isd, isa)) != 0xffff)
        return false;
    _mm_storeu_si128((__m128i *)out, x);
    return true;
}

int cs_evm_hexstr(const cs_jsonr *r, uint32_t i, size_t bytes, char *out)
{
    const cs_jtok *t = cs_jsonr_at(r, i);
    if (t->type != CS_JT_STR || t->len != 2 * bytes + 2)
        return CS_EPARSE;
    const char *s = cs_jsonr_ptr(r, i);
    if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return CS_EPARSE;
    out[0] = '0';
    out[1] = 'x';
    size_t k = 2;
    for (; k + 16 <= t->len; k += 16)
        if (!hex16(s + k, out + k))
            return CS_EPARSE;
    for (; k < t->len; k++) {
        char c = s[k];
        if (c >= 'A' && c <= 'F')
            c = (char)(c | 0x20);
        else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return CS_EPARSE;
        out[k] = c;
    }
    out[t->len] = 0;
    return 0;
}

/* Finds the members named in `names` in one pass over obj: idx[k] gets the
 * value's token or 0. */
static void members(const cs_jsonr *r, uint32_t obj, const char *const *names, size_t n,
                    const uint8_t *lens, uint32_t *idx)
{
    memset(idx, 0, n * sizeof *idx);
    for (uint32_t k = cs_jsonr_first(r, obj); k; k = cs_jsonr_next_key(r, obj, k)) {
        const cs_jtok *t = cs_jsonr_at(r, k);
        const char *s = cs_jsonr_ptr(r, k);
        for (size_t j = 0; j < n; j++)
            if (t->len == lens[j] && s[0] == names[j][0] && memcmp(s, names[j], t->len) == 0) {
                idx[j] = k + 1;
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

/* Writes key: quantity (exact, 256-bit) if the member is present. */
static bool kv_quantity(emitctx *c, cs_vw *w, const char *key, uint32_t i, const char *what)
{
    if (!i || cs_jsonr_at(c->r, i)->type == CS_JT_NULL)
        return true;
    uint8_t be[32];
    if (cs_jsonr_u256(c->r, i, be)) {
        eerr(c, "%s is not a hex quantity", what);
        return false;
    }
    cs_vw_key(w, key);
    cs_vw_big(w, be, 32, false);
    return true;
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

enum { L_ADDRESS, L_TOPICS, L_DATA, L_LOGINDEX, L_TXHASH, L_BLOCKHASH, L_REMOVED, L_N };
static const char *const log_names[L_N] = {"address",         "topics",    "data",   "logIndex",
                                           "transactionHash", "blockHash", "removed"};
static const uint8_t log_lens[L_N] = {7, 6, 4, 8, 15, 9, 7};

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
    if (f[L_LOGINDEX] && cs_jsonr_u64(r, f[L_LOGINDEX], &log_index)) {
        eerr(c, "log %u: logIndex is not a quantity", pos);
        return false;
    }
    if (f[L_TXHASH]) {
        char h[67];
        if (cs_evm_hexstr(r, f[L_TXHASH], 32, h) || strcmp(h, c->txh) != 0) {
            eerr(c, "log %u: transactionHash does not match the receipt's", pos);
            return false;
        }
    }
    if (f[L_BLOCKHASH] && c->b->hash[0]) {
        char h[67];
        if (cs_evm_hexstr(r, f[L_BLOCKHASH], 32, h) || strcmp(h, c->b->hash) != 0) {
            eerr(c, "log %u: blockHash does not match the block's", pos);
            return false;
        }
    }
    uint32_t tp = f[L_TOPICS];
    if (!tp || cs_jsonr_at(r, tp)->type != CS_JT_ARR || cs_jsonr_at(r, tp)->len > 4) {
        eerr(c, "log %u: topics missing or not an array of at most 4", pos);
        return false;
    }
    uint8_t topics[4][32];
    char topic_hex[4][67];
    size_t nt = 0;
    for (uint32_t it = cs_jsonr_first(r, tp); it; it = cs_jsonr_next_item(r, tp, it), nt++) {
        size_t got;
        if (cs_evm_hexstr(r, it, 32, topic_hex[nt]) ||
            cs_hex_decode(topic_hex[nt], 66, topics[nt], 32, &got)) {
            eerr(c, "log %u: topic %zu is not 32 bytes of 0x hex", pos, nt);
            return false;
        }
    }
    size_t dl = 0;
    if (!f[L_DATA]) {
        eerr(c, "log %u: no data", pos);
        return false;
    }
    if (hexdata(c, f[L_DATA], scratch, &dl, "log data"))
        return false;

    cs_vw *w = cs_publisher_begin(pub);
    cs_vw_kv_strn(w, "address", addr, 42);
    cs_vw_key(w, "topics");
    cs_vw_array_begin(w);
    for (size_t k = 0; k < nt; k++)
        cs_vw_str(w, topic_hex[k], 66);
    cs_vw_array_end(w);
    cs_vw_kv_bytes(w, "data", scratch->data, dl);
    cs_vw_kv_u64(w, "block_number", c->b->number);
    cs_vw_kv_strn(w, "block_hash", c->b->hash, 66);
    cs_vw_kv_strn(w, "tx_hash", c->txh, 66);
    cs_vw_kv_u64(w, "tx_index", tx_index);
    cs_vw_kv_u64(w, "log_index", log_index);
    if (f[L_REMOVED])
        cs_vw_kv_bool(w, "removed", cs_jsonr_at(r, f[L_REMOVED])->type == CS_JT_TRUE);
    uint8_t abin[20];
    size_t got;
    cs_hex_decode(addr, 42, abin, 20, &got);
    const cs_abi *abi = cs_evm_abis_find(abis, abin);
    if (abi) {
        const cs_abi_event *ev;
        char derr[256];
        int drc = cs_abi_decode_log(abi, (const uint8_t(*)[32])topics, nt, scratch->data, dl, 0, w,
                                    "args", &ev, derr, sizeof derr);
        if (drc == 0) {
            cs_vw_kv_str(w, "event", ev->name);
            cs_vw_kv_str(w, "signature", ev->signature);
            counts->decoded_logs++;
        } else if (drc != CS_ENOTFOUND) { /* an event of the ABI that does not fit */
            cs_vw_kv_str(w, "decode_error", derr);
            counts->decode_errors++;
        }
    }
    if (cs_publisher_emit(pub, "evm.log", NULL, addr, NULL) == 0)
        counts->logs++;
    return true;
}

enum {
    R_TXHASH,
    R_TXINDEX,
    R_BLOCKHASH,
    R_BLOCKNUMBER,
    R_FROM,
    R_TO,
    R_STATUS,
    R_GASUSED,
    R_CUMGAS,
    R_EGP,
    R_CONTRACT,
    R_LOGS,
    R_TYPE,
    R_N
};
static const char *const rc_names[R_N] = {"transactionHash",
                                          "transactionIndex",
                                          "blockHash",
                                          "blockNumber",
                                          "from",
                                          "to",
                                          "status",
                                          "gasUsed",
                                          "cumulativeGasUsed",
                                          "effectiveGasPrice",
                                          "contractAddress",
                                          "logs",
                                          "type"};
static const uint8_t rc_lens[R_N] = {15, 16, 9, 11, 4, 2, 6, 7, 17, 17, 15, 4, 4};

enum { T_HASH, T_VALUE, T_INPUT, T_NONCE, T_GAS, T_GASPRICE, T_MAXFEE, T_MAXPRIO, T_N };
static const char *const tx_names[T_N] = {
    "hash", "value", "input", "nonce", "gas", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas"};
static const uint8_t tx_lens[T_N] = {4, 5, 5, 5, 3, 8, 12, 20};

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
    if (f[R_BLOCKHASH] && b->hash[0]) {
        char h[67];
        if (cs_evm_hexstr(r, f[R_BLOCKHASH], 32, h) || strcmp(h, b->hash) != 0) {
            eerr(&c, "receipt: blockHash is not the block's %s", b->hash);
            return c.rc;
        }
    }
    uint64_t bn;
    if (f[R_BLOCKNUMBER] && (cs_jsonr_u64(r, f[R_BLOCKNUMBER], &bn) || bn != b->number)) {
        eerr(&c, "receipt: blockNumber is not the block's");
        return c.rc;
    }
    uint64_t tx_index = 0, status = 0, gas_used = 0;
    if (!f[R_TXINDEX] || cs_jsonr_u64(r, f[R_TXINDEX], &tx_index)) {
        eerr(&c, "receipt: transactionIndex missing or not a quantity");
        return c.rc;
    }
    if (!f[R_GASUSED] || cs_jsonr_u64(r, f[R_GASUSED], &gas_used)) {
        eerr(&c, "receipt: gasUsed missing or not a quantity");
        return c.rc;
    }
    uint32_t logs = f[R_LOGS];
    if (!logs || cs_jsonr_at(r, logs)->type != CS_JT_ARR) {
        eerr(&c, "receipt: logs missing or not an array");
        return c.rc;
    }
    char from[43] = "", to[43] = "";
    if (!f[R_FROM] || cs_evm_hexstr(r, f[R_FROM], 20, from)) {
        eerr(&c, "receipt: from missing or not an address");
        return c.rc;
    }
    if (f[R_TO] && cs_jsonr_at(r, f[R_TO])->type != CS_JT_NULL &&
        cs_evm_hexstr(r, f[R_TO], 20, to)) {
        eerr(&c, "receipt: to is not an address");
        return c.rc;
    }

    cs_vw *w = cs_publisher_begin(pub);
    cs_vw_kv_strn(w, "hash", c.txh, 66);
    cs_vw_kv_u64(w, "block_number", b->number);
    cs_vw_kv_strn(w, "block_hash", b->hash, 66);
    cs_vw_kv_u64(w, "index", tx_index);
    cs_vw_kv_strn(w, "from", from, 42);
    if (to[0])
        cs_vw_kv_strn(w, "to", to, 42);
    else
        kv_hexstr(&c, w, "contract_address", f[R_CONTRACT], 20, "receipt: contractAddress");
    if (f[R_STATUS]) { /* absent before Byzantium (a root instead) */
        if (cs_jsonr_u64(r, f[R_STATUS], &status))
            eerr(&c, "receipt: status is not a quantity");
        cs_vw_kv_u64(w, "status", status);
    }
    cs_vw_kv_u64(w, "gas_used", gas_used);
    kv_quantity(&c, w, "cumulative_gas_used", f[R_CUMGAS], "receipt: cumulativeGasUsed");
    kv_quantity(&c, w, "effective_gas_price", f[R_EGP], "receipt: effectiveGasPrice");
    kv_quantity(&c, w, "type", f[R_TYPE], "receipt: type");
    cs_vw_kv_u64(w, "logs", cs_jsonr_at(r, logs)->len);
    if (tx) {
        c.r = tj; /* the transaction's fields come from its own document */
        kv_quantity(&c, w, "value", t[T_VALUE], "transaction: value");
        kv_quantity(&c, w, "nonce", t[T_NONCE], "transaction: nonce");
        kv_quantity(&c, w, "gas", t[T_GAS], "transaction: gas");
        kv_quantity(&c, w, "gas_price", t[T_GASPRICE], "transaction: gasPrice");
        kv_quantity(&c, w, "max_fee_per_gas", t[T_MAXFEE], "transaction: maxFeePerGas");
        kv_quantity(&c, w, "max_priority_fee_per_gas", t[T_MAXPRIO],
                    "transaction: maxPriorityFeePerGas");
        size_t il = 0;
        if (t[T_INPUT] && hexdata(&c, t[T_INPUT], scratch, &il, "transaction: input") == 0) {
            cs_vw_kv_bytes(w, "input", scratch->data, il);
            uint8_t tb[20];
            size_t got;
            const cs_abi *abi = to[0] && cs_hex_decode(to, 42, tb, 20, &got) == 0
                                    ? cs_evm_abis_find(abis, tb)
                                    : NULL;
            if (abi && il >= 4) {
                const cs_abi_func *fn;
                char derr[256];
                int drc = cs_abi_decode_call(abi, scratch->data, il, 0, w, "args", &fn, derr,
                                             sizeof derr);
                if (drc == 0) {
                    cs_vw_kv_str(w, "function", fn->name);
                    cs_vw_kv_str(w, "signature", fn->signature);
                } else if (drc != CS_ENOTFOUND) { /* a function of the ABI that does not fit */
                    cs_vw_kv_str(w, "decode_error", derr);
                }
            }
        }
        c.r = r;
    }
    int rc = cs_publisher_emit(pub, "evm.tx", NULL, to[0] ? to : from, NULL);
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
    cs_vw_kv_u64(w, "number", ref->number);
    cs_vw_kv_strn(w, "hash", ref->hash, 66);
    cs_vw_kv_strn(w, "parent_hash", parent_hash, 66);
    cs_vw_kv_u64(w, "timestamp", ref->time);
    kv_hexstr(&c, w, "miner", f[B_MINER], 20, "block: miner");
    kv_quantity(&c, w, "gas_used", f[B_GASUSED], "block: gasUsed");
    kv_quantity(&c, w, "gas_limit", f[B_GASLIMIT], "block: gasLimit");
    kv_quantity(&c, w, "base_fee", f[B_BASEFEE], "block: baseFeePerGas");
    cs_vw_kv_u64(w, "tx_count", f[B_TXS] ? cs_jsonr_at(r, f[B_TXS])->len : 0);
    int rc = cs_publisher_emit(pub, "evm.block", NULL, key, NULL);
    if (rc && !c.rc)
        snprintf(err, errlen, "block %llu: cannot publish: %s", (unsigned long long)ref->number,
                 cs_strerror(rc));
    return c.rc ? c.rc : rc;
}
