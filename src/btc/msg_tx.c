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
static uint64_t cs_take(const uint8_t **p)
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
        /* txid: version | inputs and outputs | locktime, without witness */
        uint8_t h1[32];
        unsigned int hl;
        EVP_DigestInit_ex2(ctx->md, ctx->sha256, NULL);
        EVP_DigestUpdate(ctx->md, t.start, 4);
        EVP_DigestUpdate(ctx->md, t.vin, (size_t)(t.outs_end - t.vin));
        EVP_DigestUpdate(ctx->md, t.end - 4, 4);
        EVP_DigestFinal_ex(ctx->md, h1, &hl);
        EVP_DigestInit_ex2(ctx->md, ctx->sha256, NULL);
        EVP_DigestUpdate(ctx->md, h1, 32);
        EVP_DigestFinal_ex(ctx->md, txid, &hl);
        stripped = 8 + (size_t)(t.outs_end - t.vin);
    } else {
        memcpy(txid, wtxid, 32);
    }
    size_t weight = stripped * 3 + size;
    cs_vw_kv_hash(w, "txid", txid);
    cs_vw_kv_hash(w, "wtxid", wtxid);
    cs_vw_kv_i64(w, "version", (int32_t)ld32(t.start));
    cs_vw_kv_bool(w, "segwit", t.segwit);
    cs_vw_kv_u64(w, "size", size);
    cs_vw_kv_u64(w, "vsize", (weight + 3) / 4);
    cs_vw_kv_u64(w, "weight", weight);
    cs_vw_kv_u64(w, "locktime", ld32(t.end - 4));

    const uint8_t *p = t.vin;
    const uint8_t *wit = t.outs_end;
    cs_take(&p); /* input count */
    cs_vw_key(w, "inputs");
    cs_vw_array_begin(w);
    for (uint64_t i = 0; i < t.nin; i++) {
        cs_vw_object_begin(w);
        cs_vw_kv_hash(w, "txid", p);
        cs_vw_kv_u64(w, "vout", ld32(p + 32));
        p += 36;
        uint64_t len = cs_take(&p);
        cs_vw_kv_bytes(w, "script_sig", p, len);
        p += len;
        cs_vw_kv_u64(w, "sequence", ld32(p));
        p += 4;
        if (t.segwit) {
            cs_vw_key(w, "witness");
            cs_vw_array_begin(w);
            uint64_t items = cs_take(&wit);
            for (uint64_t j = 0; j < items; j++) {
                uint64_t il = cs_take(&wit);
                cs_vw_bytes(w, wit, il);
                wit += il;
            }
            cs_vw_array_end(w);
        }
        cs_vw_object_end(w);
    }
    cs_vw_array_end(w);
    cs_take(&p); /* output count */
    cs_vw_key(w, "outputs");
    cs_vw_array_begin(w);
    for (uint64_t i = 0; i < t.nout; i++) {
        cs_vw_object_begin(w);
        cs_vw_kv_i64(w, "value", (int64_t)ld64(p));
        p += 8;
        uint64_t len = cs_take(&p);
        cs_vw_kv_bytes(w, "script_pubkey", p, len);
        p += len;
        cs_vw_object_end(w);
    }
    cs_vw_array_end(w);
    return 0;
}

void cs_msg_header_fields(cs_wire_ctx *ctx, const uint8_t *h, cs_vw *w)
{
    uint8_t hash[32];
    cs_wire_hash256(ctx, h, 80, hash);
    cs_vw_kv_hash(w, "hash", hash);
    cs_vw_kv_i64(w, "version", (int32_t)ld32(h));
    cs_vw_kv_hash(w, "prev_block", h + 4);
    cs_vw_kv_hash(w, "merkle_root", h + 36);
    cs_vw_kv_u64(w, "time", ld32(h + 68));
    cs_vw_kv_u64(w, "bits", ld32(h + 72));
    cs_vw_kv_u64(w, "nonce", ld32(h + 76));
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
