/* Antelope blocks as the chain API answers them (get_block, get_block_info;
 * tests/data/antelope/README.md): the header fields the follower needs,
 * and the counts of transactions and actions. A pure decoder, fuzzed by
 * tests/fuzz/fuzz_ant_block.c. */
#ifndef CS_ANTELOPE_BLOCK_H
#define CS_ANTELOPE_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "antelope/producers.h"

#define CS_ANT_ID_HEX 64 /* a block id: sha256, its first 4 bytes the number */

typedef struct cs_ant_block {
    uint64_t num;
    char id[CS_ANT_ID_HEX + 1];
    char previous[CS_ANT_ID_HEX + 1];
    char producer[CS_ANT_NAME_MAX];
    int64_t time_ms; /* the block's slot time, Unix ms */
    uint64_t schedule_version;
    uint64_t trx_count;    /* transactions (get_block_info: 0) */
    uint64_t action_count; /* actions and context-free actions of packed transactions */
} cs_ant_block;

/* Decodes one answer of get_block or get_block_info (text[0..n), not
 * NUL-terminated). Checks: block_num, a 64-hex id whose first 8 digits
 * are the number, a 64-hex previous, an account-name producer, a slot
 * timestamp. Errors: CS_EPARSE (not JSON), CS_EPROTO (a field missing or
 * wrong; why says which), CS_ENOMEM. */
int cs_ant_block_decode(const char *text, size_t n, cs_ant_block *b, char *why, size_t whylen);

/* Is s an Antelope account name (1 to 12 of a-z, 1-5 and '.')? */
bool cs_ant_name_valid(const char *s);

#endif
