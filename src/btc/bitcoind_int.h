/* What the files of the Bitcoin Core extractor share: the RPC answer
 * decoders (bitcoind_decode.c), address lists and ASNs
 * (bitcoind_lists.c), the header tree of the fork watch
 * (bitcoind_forks.c). None of these touch the loop, so tests, the fuzz
 * targets and the benchmarks drive them directly. */
#ifndef CS_BTC_BITCOIND_INT_H
#define CS_BTC_BITCOIND_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/schema.h"
#include "core/value.h"
#include "net/jsonr.h"

/* ---- decoders (bitcoind_decode.c) --------------------------------------- */

/* The snapshot field tables of schema_bitcoind.c. */
extern const cs_field_def cs_bitcoind_f_mempool[], cs_bitcoind_f_uptime[],
    cs_bitcoind_f_nettotals[], cs_bitcoind_f_memory[], cs_bitcoind_f_addrman[],
    cs_bitcoind_f_chaintxstats[], cs_bitcoind_f_network[], cs_bitcoind_f_blockchain[];

/* Copies the members of object obj named by the top-level fields of
 * `fields` (but "node") into w, each when its JSON type fits the declared
 * one (double fields take any number). Returns the members copied, or -1
 * when obj is not an object. */
int cs_btcd_copy_fields(const cs_jsonr *j, uint32_t obj, const cs_field_def *fields, cs_vw *w);

/* One getpeerinfo entry, the fields the extractor uses. */
typedef struct cs_btcd_peer {
    int64_t id;
    char addr[96];
    char network[24];
    char conntype[24];
    char transport[12];
    char subver[128];
    char services[20];
    bool inbound;
    int64_t version;
    int64_t startingheight;
    double pingtime; /* seconds; < 0 when absent */
    double minping;  /* seconds; < 0 when absent */
    uint64_t conntime, bytessent, bytesrecv;
    uint8_t ip[16]; /* IPv4-mapped or IPv6; has_ip false for onion, i2p, ... */
    bool has_ip;
} cs_btcd_peer;

/* Reads a getpeerinfo result (an array) into *out (malloc'ed, sorted by
 * id; caller frees), entries without an id skipped. CS_EPROTO when arr is
 * not an array, CS_ENOMEM. */
int cs_btcd_peers_parse(const cs_jsonr *j, uint32_t arr, cs_btcd_peer **out, size_t *n);

/* The address manager as getrawaddrman shows it: each table position
 * holds a 64-bit digest of "address:port" (0: empty). Core's tables:
 * 1024 new buckets and 256 tried buckets of 64 positions. */
#define CS_BTCD_NEW_SLOTS (1024 * 64)
#define CS_BTCD_TRIED_SLOTS (256 * 64)
#define CS_BTCD_MAX_NETS 8 /* ipv4 ipv6 onion i2p cjdns internal not_publicly_routable other */
extern const char *const cs_btcd_net_names[CS_BTCD_MAX_NETS];
typedef struct cs_btcd_addrman {
    uint64_t *new_slots;   /* CS_BTCD_NEW_SLOTS */
    uint64_t *tried_slots; /* CS_BTCD_TRIED_SLOTS */
    uint64_t nnew, ntried;
    uint64_t by_net[2][CS_BTCD_MAX_NETS]; /* [0] new, [1] tried */
    uint64_t bad;                         /* entries with a bad key or position */
} cs_btcd_addrman;
int cs_btcd_addrman_init(cs_btcd_addrman *a);
void cs_btcd_addrman_free(cs_btcd_addrman *a);
/* Reads a getrawaddrman result into a (emptied first). CS_EPROTO when it
 * is not an object. */
int cs_btcd_addrman_parse(const cs_jsonr *j, uint32_t obj, cs_btcd_addrman *a);
typedef struct cs_btcd_addrman_diff {
    uint64_t new_gained, new_replaced, new_removed;
    uint64_t tried_gained, tried_replaced, tried_removed;
} cs_btcd_addrman_diff;
void cs_btcd_addrman_compare(const cs_btcd_addrman *old, const cs_btcd_addrman *cur,
                             cs_btcd_addrman_diff *d);

#define CS_BTCD_MAX_TIPS 4096
typedef struct cs_btcd_tip {
    uint64_t height, branchlen;
    char hash[65];
    char status[16];
} cs_btcd_tip;
/* A getchaintips result into *out (malloc'ed, at most CS_BTCD_MAX_TIPS;
 * caller frees). CS_EPROTO when not an array of tips. */
int cs_btcd_tips_parse(const cs_jsonr *j, uint32_t arr, cs_btcd_tip **out, size_t *n);

/* getorphantxs with verbosity 1. */
typedef struct cs_btcd_orphans {
    uint64_t count, bytes, vsize, peers;
} cs_btcd_orphans;
int cs_btcd_orphans_parse(const cs_jsonr *j, uint32_t arr, cs_btcd_orphans *o);

/* A getblockheader (verbose) result: hash, height and previousblockhash
 * ("" for the genesis block). */
int cs_btcd_header_parse(const cs_jsonr *j, uint32_t obj, char hash[65], uint64_t *height,
                         char prev[65]);

/* ---- lists and ASNs (bitcoind_lists.c) ---------------------------------- */

typedef struct cs_btcd_prefix {
    uint8_t ip[16];
    uint8_t bits; /* of the 128 (IPv4: 96 + its prefix) */
} cs_btcd_prefix;
typedef struct cs_btcd_list {
    char *name;
    cs_btcd_prefix *v;
    size_t n;
} cs_btcd_list;
/* Parses list text: one address or CIDR prefix a line, '#' comments.
 * CS_EPARSE naming the line in err. Replaces l's entries. */
int cs_btcd_list_parse(cs_btcd_list *l, const char *text, char *err, size_t errlen);
bool cs_btcd_list_has(const cs_btcd_list *l, const uint8_t ip[16]);
void cs_btcd_list_free(cs_btcd_list *l);

typedef struct cs_btcd_asn_range {
    uint8_t lo[16], hi[16];
    uint32_t asn;
} cs_btcd_asn_range;
typedef struct cs_btcd_asns {
    cs_btcd_asn_range *v; /* sorted by lo, not overlapping */
    size_t n;
} cs_btcd_asns;
/* TSV lines "first_ip <TAB> last_ip <TAB> asn [...]" (the iptoasn.com
 * layout) or "prefix/len <TAB> asn"; '#' comments; asn 0 lines skipped. */
int cs_btcd_asns_parse(cs_btcd_asns *a, const char *text, char *err, size_t errlen);
uint32_t cs_btcd_asn_of(const cs_btcd_asns *a, const uint8_t ip[16]); /* 0: unknown */
void cs_btcd_asns_free(cs_btcd_asns *a);
/* Reads a whole small file; caller frees. */
int cs_btcd_read_file(const char *path, char **out, char *err, size_t errlen);

/* ---- fork watch (bitcoind_forks.c) -------------------------------------- */

typedef struct cs_forks cs_forks;
/* One event for the caller to publish; strings borrowed for the call. */
typedef struct cs_forks_event {
    const char *type; /* chain.tip, chain.stale, ... */
    size_t node;      /* index into the names given to cs_forks_new */
    uint64_t height, best_height, behind, depth, fork_height, old_height, seconds;
    const char *hash, *previous, *status, *old_tip, *new_tip, *error;
} cs_forks_event;
typedef void (*cs_forks_emit_cb)(const cs_forks_event *ev, void *arg);

typedef struct cs_forks_opts {
    const char *network;
    const char *const *nodes; /* names, borrowed for the tree's life */
    size_t nnodes;
    size_t max_headers;      /* the tree's bound: past it the oldest half goes */
    uint64_t lag_blocks;     /* chain.lagging at this many behind */
    uint64_t stale_after_ms; /* chain.stuck */
    cs_forks_emit_cb emit;
    void *arg;
} cs_forks_opts;

int cs_forks_new(const cs_forks_opts *o, cs_forks **out);
void cs_forks_free(cs_forks *f);
/* Adds a header (again: no-op). prev NULL or "": unknown parent. */
int cs_forks_add(cs_forks *f, const char *hash, uint64_t height, const char *prev);
bool cs_forks_known(const cs_forks *f, const char *hash);
/* The parent hash of a known header when that parent is not in the tree
 * yet ("" otherwise): where a walk down a new branch goes next. */
const char *cs_forks_missing_parent(const cs_forks *f, const char *hash);
/* Whether node has a tip yet. */
bool cs_forks_has_tip(const cs_forks *f, size_t node);
/* Applies a node's getchaintips answer at now_ms; the active tip's header
 * should be in the tree (it is added unlinked otherwise). Emits
 * chain.reorg, chain.tip, chain.stale, chain.invalid, chain.lagging. */
void cs_forks_tips(cs_forks *f, size_t node, const cs_btcd_tip *tips, size_t n, uint64_t now_ms);
/* getchaintips failed: chain.unreachable once until it answers again. */
void cs_forks_unreachable(cs_forks *f, size_t node, const char *error);
/* chain.stuck for nodes whose tip has not moved for stale_after. */
void cs_forks_sweep(cs_forks *f, uint64_t now_ms);
/* The tree as JSON: {"network", "best", "nodes": [...], "headers": [...]}
 * with the headers at most `depth` below the best tip. */
int cs_forks_json(const cs_forks *f, uint64_t depth, cs_buf *out);
size_t cs_forks_size(const cs_forks *f);
uint64_t cs_forks_best_height(const cs_forks *f);
/* A node's tip height (0 without one). */
uint64_t cs_forks_node_height(const cs_forks *f, size_t node);

#endif
