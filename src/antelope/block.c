/* Antelope block decoding (see block.h). */
#include "antelope/block.h"
#include "core/error.h"
#include "net/jsonr.h"

#include <stdio.h>
#include <string.h>

#define MAX_TOKENS (1u << 22) /* a block of a few MB at most */

bool cs_ant_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 12)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '1' && s[i] <= '5') || s[i] == '.'))
            return false;
    return true;
}

static bool is_hex64(const char *s)
{
    if (strlen(s) != CS_ANT_ID_HEX)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* The block number in an id's first 4 bytes (big-endian). */
static uint64_t id_num(const char *id)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 4 | (uint64_t)(id[i] <= '9' ? id[i] - '0' : id[i] - 'a' + 10);
    return v;
}

/* Counts transactions and the actions of those sent packed (a deferred
 * transaction appears as its id string alone). */
static void count_actions(const cs_jsonr *j, uint32_t trxs, cs_ant_block *b)
{
    if (!trxs || cs_jsonr_at(j, trxs)->type != CS_JT_ARR)
        return;
    for (uint32_t t = cs_jsonr_first(j, trxs); t; t = cs_jsonr_next_item(j, trxs, t)) {
        b->trx_count++;
        uint32_t tx = cs_jsonr_get(j, cs_jsonr_get(j, t, "trx"), "transaction");
        static const char *const lists[] = {"actions", "context_free_actions"};
        for (size_t k = 0; tx && k < 2; k++) {
            uint32_t a = cs_jsonr_get(j, tx, lists[k]);
            if (a && cs_jsonr_at(j, a)->type == CS_JT_ARR)
                b->action_count += cs_jsonr_at(j, a)->len;
        }
    }
}

int cs_ant_block_decode(const char *text, size_t n, cs_ant_block *b, char *why, size_t whylen)
{
    memset(b, 0, sizeof *b);
    cs_jsonr j;
    cs_jsonr_init(&j, MAX_TOKENS, 64);
    int rc = cs_jsonr_parse(&j, text, n);
    if (rc) {
        snprintf(why, whylen, "block: not JSON (%s)", j.err);
        cs_jsonr_free(&j);
        return rc == CS_ENOMEM ? rc : CS_EPARSE;
    }
    rc = CS_EPROTO;
    uint32_t t;
    char ts[40];
    if (cs_jsonr_at(&j, 0)->type != CS_JT_OBJ) {
        snprintf(why, whylen, "block: not an object");
    } else if (!(t = cs_jsonr_get(&j, 0, "block_num")) || cs_jsonr_u64(&j, t, &b->num) ||
               b->num == 0 || b->num > UINT32_MAX) {
        snprintf(why, whylen, "block: no block_num");
    } else if (cs_jsonr_copy(&j, cs_jsonr_get(&j, 0, "id"), b->id, sizeof b->id),
               !is_hex64(b->id)) {
        snprintf(why, whylen, "block %llu: id is not 64 hex digits", (unsigned long long)b->num);
    } else if (id_num(b->id) != b->num) {
        snprintf(why, whylen, "block %llu: id %.8s... does not carry its number",
                 (unsigned long long)b->num, b->id);
    } else if (cs_jsonr_copy(&j, cs_jsonr_get(&j, 0, "previous"), b->previous,
                             sizeof b->previous),
               !is_hex64(b->previous)) {
        snprintf(why, whylen, "block %llu: previous is not 64 hex digits",
                 (unsigned long long)b->num);
    } else if (cs_jsonr_copy(&j, cs_jsonr_get(&j, 0, "producer"), b->producer,
                             sizeof b->producer),
               !cs_ant_name_valid(b->producer)) {
        snprintf(why, whylen, "block %llu: producer is not an account name",
                 (unsigned long long)b->num);
    } else if (cs_jsonr_copy(&j, cs_jsonr_get(&j, 0, "timestamp"), ts, sizeof ts),
               cs_ant_time_parse(ts, &b->time_ms) || b->time_ms < CS_ANT_EPOCH_MS ||
                   (b->time_ms - CS_ANT_EPOCH_MS) % CS_ANT_SLOT_MS) {
        snprintf(why, whylen, "block %llu: timestamp '%s' is not a slot time",
                 (unsigned long long)b->num, ts);
    } else {
        if ((t = cs_jsonr_get(&j, 0, "schedule_version")))
            cs_jsonr_u64(&j, t, &b->schedule_version);
        count_actions(&j, cs_jsonr_get(&j, 0, "transactions"), b);
        rc = 0;
    }
    cs_jsonr_free(&j);
    return rc;
}
