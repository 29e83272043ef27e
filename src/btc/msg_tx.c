/* Decoders of the chain messages: tx, block, headers, cmpctblock. */
#include "btc/wire_int.h"

/* Where the parts of a transaction are, found by tx_scan. */
typedef struct txinfo {
    const uint8_t *start;    /* version */
    const uint8_t *vin;      /* input count (after marker and flag) */
    const uint8_t *outs_end; /* end of the outputs: witness or locktime */
    const uint8_t *end;      /* after locktime */
    uint64_t nin, nout;
    bool segwit;
} txinfo;

static int scan_inputs(cs_rd *r, uint64_t *n)
{
    int rc = rd_compact(r, n, CS_WIRE_MAX_SIZE, "input count");
    if (rc)
        return rc;
    for (uint64_t i = 0; i < *n; i++) {
        uint64_t len;
        if ((rc = rd_skip(r, 36, NULL, "prevout")) ||
            (rc = rd_compact(r, &len, CS_WIRE_MAX_SIZE, "script_sig length")) ||
            (rc = rd_skip(r, len + 4, NULL, "script_sig and sequence")))
            return rc;
    }
    return 0;
}

static int scan_outputs(cs_rd *r, uint64_t *n)
{
    int rc = rd_compact(r, n, CS_WIRE_MAX_SIZE, "output count");
    if (rc)
        return rc;
    for (uint64_t i = 0; i < *n; i++) {
        uint64_t len;
        if ((rc = rd_skip(r, 8, NULL, "value")) ||
            (rc = rd_compact(r, &len, CS_WIRE_MAX_SIZE, "script_pubkey length")) ||
            (rc = rd_skip(r, len, NULL, "script_pubkey")))
            return rc;
    }
    return 0;
}

/* Reads one witness stack; *empty tells whether it had no items. */
static int scan_witness(cs_rd *r, bool *empty)
{
    uint64_t n, len;
    int rc = rd_compact(r, &n, CS_WIRE_MAX_SIZE, "witness item count");
    if (rc)
        return rc;
    *empty = n == 0;
    for (uint64_t i = 0; i < n; i++)
        if ((rc = rd_compact(r, &len, CS_WIRE_MAX_SIZE, "witness item length")) ||
            (rc = rd_skip(r, len, NULL, "witness item")))
            return rc;
    return 0;
}

/* Walks one transaction the way nodes read it (BIP144): an empty input
 * vector followed by a non-zero flag byte marks the extended format. */
static int tx_scan(cs_rd *r, txinfo *t)
{
    int rc;
    t->start = r->p;
    t->segwit = false;
    if ((rc = rd_skip(r, 4, NULL, "version")))
        return rc;
    t->vin = r->p;
    if ((rc = scan_inputs(r, &t->nin)))
        return rc;
    uint8_t flags = 0;
    if (t->nin == 0) {
        if ((rc = rd_u8(r, &flags, "segwit flag")))
            return rc;
        if (flags != 0) {
            t->vin = r->p;
            if ((rc = scan_inputs(r, &t->nin)) || (rc = scan_outputs(r, &t->nout)))
                return rc;
        } else {
            t->nout = 0; /* the byte read was the output count */
        }
    } else if ((rc = scan_outputs(r, &t->nout))) {
        return rc;
    }
    t->outs_end = r->p;
    if (flags & 1) {
        flags ^= 1;
        t->segwit = true;
        bool all_empty = true;
        for (uint64_t i = 0; i < t->nin; i++) {
            bool empty;
            if ((rc = scan_witness(r, &empty)))
                return rc;
            all_empty &= empty;
        }
        if (all_empty)
            return cs_wire_fail(r->err, CS_EPROTO, "%s: superfluous witness record", r->cmd);
    }
    if (flags)
        return cs_wire_fail(r->err, CS_EPROTO, "%s: unknown transaction optional data 0x%02x",
                            r->cmd, flags);
    if ((rc = rd_skip(r, 4, NULL, "locktime")))
        return rc;
    t->end = r->p;
    return 0;
}

int cs_tx_skip(cs_rd *r)
{
    txinfo t;
    return tx_scan(r, &t);
}

/* Reads a CompactSize known to be valid (checked by tx_scan). */
static inline __attribute__((always_inline)) uint64_t cs_take(const uint8_t **p)
{
    const uint8_t *q = *p;
    uint64_t v;
    if (q[0] < 0xfd) {
        v = q[0];
        *p = q + 1;
    } else if (q[0] == 0xfd) {
        v = ld16(q + 1);
        *p = q + 3;
    } else if (q[0] == 0xfe) {
        v = ld32(q + 1);
        *p = q + 5;
    } else {
        v = ld64(q + 1);
        *p = q + 9;
    }
    return v;
}

/* SHA-256d of a segwit transaction without its witness (the txid):
 * version | inputs and outputs | locktime. */
static void txid_stripped(const txinfo *t, uint8_t txid[32])
{
    uint8_t h1[32];
    SHA256_CTX s;
    SHA256_Init(&s);
    SHA256_Update(&s, t->start, 4);
    SHA256_Update(&s, t->vin, (size_t)(t->outs_end - t->vin));
    SHA256_Update(&s, t->end - 4, 4);
    SHA256_Final(h1, &s);
    SHA256_Init(&s);
    SHA256_Update(&s, h1, 32);
    SHA256_Final(txid, &s);
}

/* Writes the fields of a transaction (docs/btc.md, "tx"). The scan already
 * checked every length, so the writer walks the bytes without checks and
 * writes through the fast field writer: one bounds check per input or
 * output rather than one per value. */
int cs_msg_tx(cs_wire_ctx *ctx, cs_rd *r, const uint8_t *hash, cs_vw *w)
{
    txinfo t;
    int rc = tx_scan(r, &t);
    if (rc)
        return rc;
    uint8_t wtxid[32], txid[32];
    size_t size = (size_t)(t.end - t.start);
    if (hash && t.start == r->end - size)
        memcpy(wtxid, hash, 32);
    else
        cs_wire_hash256(ctx, t.start, size, wtxid);
    size_t stripped = size;
    if (t.segwit) {
        txid_stripped(&t, txid);
        stripped = 8 + (size_t)(t.outs_end - t.vin);
    } else {
        memcpy(txid, wtxid, 32);
    }
    size_t weight = stripped * 3 + size;

    /* 2 hashes of 5+66, 6 numbers of 10+11 at most, a bool, a key and an
     * array header: under 300 bytes */
    uint8_t *q = fw_begin(w, 320);
    if (!q)
        return 0;
    q = FW_KEY(q, "txid");
    q = fw_hash(q, txid);
    q = FW_KEY(q, "wtxid");
    q = fw_hash(q, wtxid);
    q = FW_KEY(q, "version");
    q = fw_int(q, (int32_t)ld32(t.start));
    q = FW_KEY(q, "segwit");
    *q++ = t.segwit ? CS_VT_TRUE : CS_VT_FALSE;
    q = FW_KEY(q, "size");
    q = fw_uint(q, size);
    q = FW_KEY(q, "vsize");
    q = fw_uint(q, (weight + 3) / 4);
    q = FW_KEY(q, "weight");
    q = fw_uint(q, weight);
    q = FW_KEY(q, "locktime");
    q = fw_uint(q, ld32(t.end - 4));
    q = FW_KEY(q, "inputs");
    size_t arr;
    q = fw_open_at(w, q, CS_VT_ARRAY, &arr);
    fw_set(w, q);
    fw_count(w, 10); /* the eight above, inputs and outputs */

    const uint8_t *p = t.vin;
    const uint8_t *wit = t.outs_end;
    cs_take(&p); /* input count */
    for (uint64_t i = 0; i < t.nin; i++) {
        const uint8_t *sp = p + 36;
        uint64_t slen = cs_take(&sp);
        /* the witness stack of this input: its items and its end */
        uint64_t items = 0;
        const uint8_t *wend = wit;
        if (t.segwit) {
            items = cs_take(&wend);
            for (uint64_t j = 0; j < items; j++) {
                uint64_t il = cs_take(&wend);
                wend += il;
            }
        }
        uint8_t *o, *a;
        q = fw_begin(w, 200 + slen + (size_t)(wend - wit) + items * 10);
        if (!q)
            return 0;
        q = fw_open(q, CS_VT_OBJECT, &o);
        q = FW_KEY(q, "txid");
        q = fw_hash(q, p);
        q = FW_KEY(q, "vout");
        q = fw_uint(q, ld32(p + 32));
        q = FW_KEY(q, "script_sig");
        q = fw_bytes(q, sp, slen);
        p = sp + slen;
        q = FW_KEY(q, "sequence");
        q = fw_uint(q, ld32(p));
        p += 4;
        if (t.segwit) {
            q = FW_KEY(q, "witness");
            q = fw_open(q, CS_VT_ARRAY, &a);
            cs_take(&wit);
            for (uint64_t j = 0; j < items; j++) {
                uint64_t il = cs_take(&wit);
                q = fw_bytes(q, wit, il);
                wit += il;
            }
            q = fw_close(q, a, (uint32_t)items);
        }
        fw_set(w, fw_close(q, o, t.segwit ? 5 : 4));
    }
    fw_close_at(w, arr, (uint32_t)t.nin);
    cs_take(&p); /* output count */
    if (!(q = fw_begin(w, 32)))
        return 0;
    q = FW_KEY(q, "outputs");
    q = fw_open_at(w, q, CS_VT_ARRAY, &arr);
    fw_set(w, q);
    for (uint64_t i = 0; i < t.nout; i++) {
        const uint8_t *sp = p + 8;
        uint64_t slen = cs_take(&sp);
        uint8_t *o;
        q = fw_begin(w, 64 + slen);
        if (!q)
            return 0;
        q = fw_open(q, CS_VT_OBJECT, &o);
        q = FW_KEY(q, "value");
        q = fw_int(q, (int64_t)ld64(p));
        q = FW_KEY(q, "script_pubkey");
        q = fw_bytes(q, sp, slen);
        fw_set(w, fw_close(q, o, 2));
        p = sp + slen;
    }
    fw_close_at(w, arr, (uint32_t)t.nout);
    return 0;
}

void cs_msg_header_fields(cs_wire_ctx *ctx, const uint8_t *h, cs_vw *w)
{
    uint8_t hash[32];
    cs_wire_hash256(ctx, h, 80, hash);
    uint8_t *q = fw_begin(w, 300);
    if (!q)
        return;
    q = FW_KEY(q, "hash");
    q = fw_hash(q, hash);
    q = FW_KEY(q, "version");
    q = fw_int(q, (int32_t)ld32(h));
    q = FW_KEY(q, "prev_block");
    q = fw_hash(q, h + 4);
    q = FW_KEY(q, "merkle_root");
    q = fw_hash(q, h + 36);
    q = FW_KEY(q, "time");
    q = fw_uint(q, ld32(h + 68));
    q = FW_KEY(q, "bits");
    q = fw_uint(q, ld32(h + 72));
    q = FW_KEY(q, "nonce");
    q = fw_uint(q, ld32(h + 76));
    fw_commit(w, q);
    /* fw_commit counted one item; a header is seven */
    if (w->depth)
        w->count[w->depth - 1] += 6;
}

int cs_msg_block(cs_wire_ctx *ctx, cs_rd *r, cs_vw *w)
{
    const uint8_t *h;
    uint64_t n;
    int rc;
    if ((rc = rd_skip(r, 80, &h, "block header")) ||
        (rc = rd_compact(r, &n, CS_WIRE_MAX_SIZE, "transaction count")))
        return rc;
    for (uint64_t i = 0; i < n; i++)
        if ((rc = cs_tx_skip(r)))
            return rc;
    cs_msg_header_fields(ctx, h, w);
    cs_vw_kv_u64(w, "tx_count", n);
    return 0;
}

int cs_msg_headers(cs_wire_ctx *ctx, cs_rd *r, cs_vw *w)
{
    uint64_t n;
    int rc = rd_compact(r, &n, CS_WIRE_MAX_HEADERS, "header count");
    if (rc)
        return rc;
    cs_vw_kv_u64(w, "count", n);
    cs_vw_key(w, "headers");
    cs_vw_array_begin(w);
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *h;
        uint64_t txn;
        if ((rc = rd_skip(r, 80, &h, "block header")) ||
            (rc = rd_compact(r, &txn, CS_WIRE_MAX_SIZE, "transaction count")))
            return rc;
        if (txn != 0)
            return cs_wire_fail(r->err, CS_EPROTO,
                                "headers: header %llu has a transaction count of %llu (must be 0)",
                                (unsigned long long)i, (unsigned long long)txn);
        cs_vw_object_begin(w);
        cs_msg_header_fields(ctx, h, w);
        cs_vw_object_end(w);
    }
    cs_vw_array_end(w);
    return 0;
}

/* BIP152 HeaderAndShortIDs. */
int cs_msg_cmpctblock(cs_wire_ctx *ctx, cs_rd *r, cs_vw *w)
{
    const uint8_t *h;
    uint64_t nonce, nshort, npre;
    int rc;
    if ((rc = rd_skip(r, 80, &h, "block header")) || (rc = rd_u64(r, &nonce, "nonce")) ||
        (rc = rd_compact(r, &nshort, CS_WIRE_MAX_SIZE, "short id count")) ||
        (rc = rd_skip(r, nshort * 6, NULL, "short ids")) ||
        (rc = rd_compact(r, &npre, CS_WIRE_MAX_SIZE, "prefilled count")))
        return rc;
    uint64_t index = 0;
    for (uint64_t i = 0; i < npre; i++) {
        uint64_t d;
        if ((rc = rd_compact(r, &d, 0xffff, "prefilled index")))
            return rc;
        /* indexes are differentially encoded and must fit 16 bits */
        index += d + (i ? 1 : 0);
        if (index > 0xffff)
            return cs_wire_fail(r->err, CS_EPROTO, "cmpctblock: prefilled index overflows");
        if ((rc = cs_tx_skip(r)))
            return rc;
    }
    cs_vw_key(w, "header");
    cs_vw_object_begin(w);
    cs_msg_header_fields(ctx, h, w);
    cs_vw_object_end(w);
    cs_vw_kv_u64(w, "nonce", nonce);
    cs_vw_kv_u64(w, "shortid_count", nshort);
    cs_vw_kv_u64(w, "prefilled_count", npre);
    return 0;
}
