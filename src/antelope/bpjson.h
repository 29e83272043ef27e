/* bp.json and chains.json: the block producer information a producer
 * publishes at the `url` of its regproducer action (the bp-info standard),
 * read and checked against that standard's schema.
 *
 * cs_bpjson_parse reads a bp.json document into a cs_bpjson: what the
 * endpoint checks need (the account, the nodes and their endpoints) and
 * every schema violation found, each named by its JSON path ("org.email:
 * missing", "nodes[2].node_type: 'validator' is not producer, full, query
 * or seed"). Nothing is allocated beyond the caller's struct; bounds are
 * CS_BPJ_MAX_NODES nodes kept (more are checked, counted in nodes_total)
 * and CS_BPJ_MAX_ERRORS violations kept (more are counted in nerrors_total).
 *
 * cs_bpjson_chains_pick reads a chains.json ({"chains": {"<chain id>":
 * "<path of that chain's bp.json>"}}) and gives the path for a chain. */
#ifndef CS_ANTELOPE_BPJSON_H
#define CS_ANTELOPE_BPJSON_H

#include <stddef.h>
#include <stdint.h>

#define CS_BPJ_MAX_TEXT (1u << 20) /* bytes of a document; beyond: CS_ELIMIT */
#define CS_BPJ_MAX_NODES 32
#define CS_BPJ_MAX_ERRORS 16
#define CS_BPJ_ERROR_MAX 160
#define CS_BPJ_URL_MAX 256

/* node_type bits (a string or an array of them) */
enum {
    CS_BPJ_PRODUCER = 1,
    CS_BPJ_FULL = 2,
    CS_BPJ_QUERY = 4,
    CS_BPJ_SEED = 8,
};

typedef struct cs_bpj_node {
    unsigned types;           /* CS_BPJ_* bits */
    char p2p[CS_BPJ_URL_MAX]; /* host:port, "" when absent */
    char api[CS_BPJ_URL_MAX]; /* http:// URL, "" when absent */
    char ssl[CS_BPJ_URL_MAX]; /* https:// URL, "" when absent */
} cs_bpj_node;

typedef struct cs_bpjson {
    char account[16];    /* producer_account_name ("" when missing) */
    char candidate[128]; /* org.candidate_name */
    size_t nnodes;       /* kept, at most CS_BPJ_MAX_NODES */
    size_t nodes_total;  /* in the document */
    cs_bpj_node nodes[CS_BPJ_MAX_NODES];
    size_t nerrors;       /* kept, at most CS_BPJ_MAX_ERRORS */
    size_t nerrors_total; /* found */
    char errors[CS_BPJ_MAX_ERRORS][CS_BPJ_ERROR_MAX];
} cs_bpjson;

/* Parses and validates text[0..n). Returns 0 when the text is a JSON
 * object (out->nerrors_total then says whether it keeps to the schema),
 * CS_EPARSE when it is not JSON or not an object, CS_ELIMIT past
 * CS_BPJ_MAX_TEXT or the reader's bounds, CS_ENOMEM; on an error
 * out->errors[0] says why. out is the caller's, wholly overwritten. */
int cs_bpjson_parse(const char *text, size_t n, cs_bpjson *out);

/* The path of chain_id's bp.json in a chains.json, copied into path
 * (len bytes). 0, or CS_ENOTFOUND when the chain is not listed, CS_EPARSE when
 * the text is not a chains.json, CS_ELIMIT when the path does not fit. */
int cs_bpjson_chains_pick(const char *text, size_t n, const char *chain_id, char *path, size_t len);

/* "producer,full" for the bits, into out. */
void cs_bpjson_types_name(unsigned types, char *out, size_t len);

#endif
