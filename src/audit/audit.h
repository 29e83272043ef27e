/* Node audit: the inventory of networks and nodes, and the check result.
 *
 * The inventory is plain C structs, filled by the `audit:` config section
 * (cs_audit_config_load, audit/config_audit.c) or by tests. Every check run
 * yields cs_audit_result rows: one per (network, node, check), all rows of
 * one sweep stamped with the sweep's start time. The ledger
 * (audit/ledger.h) stores them; reports (audit/report.h) read them back.
 *
 * States: ok (the node passed), fail (it did not), unknown (the auditor
 * itself could not tell, e.g. its own reference node is down). Availability
 * is ok / (ok + fail): unknown is left out and counted apart. */
#ifndef CS_AUDIT_AUDIT_H
#define CS_AUDIT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cs_audit_state { CS_AUDIT_OK = 0, CS_AUDIT_FAIL = 1, CS_AUDIT_UNKNOWN = 2 };

enum cs_audit_kind { CS_AUDIT_EVM = 0, CS_AUDIT_BITCOIN = 1, CS_AUDIT_ANTELOPE = 2 };

enum cs_audit_role {
    CS_ROLE_MINER = 0,
    CS_ROLE_VALIDATOR,
    CS_ROLE_PRODUCER,
    CS_ROLE_WITNESS,
    CS_ROLE_RPC,
    CS_ROLE_SEED,
    CS_ROLE_CUSTOM,
    CS_ROLE_COUNT
};

/* The pseudo-node that network-wide checks (head_age, advancing) are
 * recorded under. Node names in a config may not start with '@'. */
#define CS_AUDIT_CHAIN_NODE "@chain"
/* The per-node aggregate check that SLAs are computed on: fail if any
 * check of the node failed in the sweep, else unknown if any was unknown,
 * else ok. */
#define CS_AUDIT_AVAILABLE "available"

/* An EVM node with only `ipc` is asked at rpc = this scheme + the path
 * (the JSON-RPC client speaks IPC for it: net/jsonrpc.h). */
#define CS_AUDIT_IPC_SCHEME "ipc://"

#define CS_AUDIT_MAX_NETWORKS 64
#define CS_AUDIT_MAX_NODES 1024 /* per network */
#define CS_AUDIT_MAX_CHECKS 16  /* names in a node's `checks:` list */
#define CS_AUDIT_DETAIL_MAX 512 /* bytes of a result's detail */

/* One result row. Strings are borrowed by whoever receives the row. */
typedef struct cs_audit_result {
    int64_t time; /* Unix seconds: the sweep's start */
    const char *network;
    const char *node;
    const char *check;
    int state; /* enum cs_audit_state */
    bool has_value;
    double value;       /* the measured quantity: height, lag, rate, ... */
    const char *detail; /* for people: what was seen, why it failed */
} cs_audit_result;

/* A node in the inventory. Every string is owned by the node (freed by
 * cs_audit_config_free); NULL when not configured. */
typedef struct cs_audit_node {
    char *name;
    int role;         /* enum cs_audit_role */
    char *role_label; /* shown in reports (e.g. "miner*"); NULL: the role's name */
    char *owner;
    char *contact;
    char *since;    /* YYYY-MM-DD, as registered */
    char *rpc;      /* RPC URL: EVM JSON-RPC, Bitcoin RPC, Antelope API base;
                     * for an EVM node with only `ipc`, "ipc://" + that path */
    char *ipc;      /* EVM IPC path (geth.ipc) */
    char *p2p;      /* host:port */
    char *enode;    /* enode://<128 hex>@ip:port */
    char *address;  /* registered IP; default: the enode's or p2p's host */
    char *signer;   /* clique signer address, 0x-hex */
    char *account;  /* Antelope producer account */
    char *rpc_user; /* Bitcoin RPC basic auth */
    char *rpc_password;
    char *rpc_cookie;                  /* Bitcoin .cookie file (read at each check) */
    char *checks[CS_AUDIT_MAX_CHECKS]; /* explicit list; nchecks 0: by role */
    size_t nchecks;
    bool pending;  /* registered, not yet voted in ("miner*"): not counted in the size */
    int line, col; /* where the node was configured (1-based; 0 unknown) */
} cs_audit_node;

/* Per-network thresholds; 0 means "use the default" (see docs/audit.md). */
typedef struct cs_audit_limits {
    uint32_t timeout_ms;        /* each request (default 5000) */
    uint32_t head_max_age;      /* s: best head younger than this (default 60) */
    uint32_t lag_blocks;        /* max blocks behind the best head (default 5) */
    uint32_t lag_seconds;       /* max seconds behind the best head (default 60) */
    uint32_t min_peers;         /* default 1 */
    uint32_t seal_within;       /* s: a signer must have sealed within this (default 600) */
    uint32_t seal_blocks;       /* recent blocks inspected for signers (default 64, max 256) */
    uint32_t lib_lag;           /* Antelope: max head - LIB (default 400) */
    uint32_t headers_lag;       /* Bitcoin: max headers - blocks (default 2) */
    uint32_t min_out_peers;     /* Bitcoin: default 1 */
    uint32_t max_missed_blocks; /* Antelope: per producer per observation (default 0) */
    uint32_t observe_ms;        /* Antelope: how long to follow producers (default 0: one sample) */
    uint32_t sample_ms;         /* Antelope: get_info period while observing (default 1000) */
} cs_audit_limits;

/* Antelope: the bp.json and endpoint validation of every registered
 * producer (docs/antelope-bp.md). Strings owned by the network. */
#define CS_AUDIT_BP_MAX_VERSIONS 32
typedef struct cs_audit_bp {
    bool enabled;    /* bp_json: true */
    char **versions; /* accepted server_version_string values (NULL: any) */
    size_t nversions;
    char *ca_file;           /* PEM trust for the producers' HTTPS (NULL: the system's) */
    uint32_t cert_warn_days; /* a certificate expiring sooner fails bp_cert (default 7) */
    uint32_t concurrency;    /* producers validated at once (default 8) */
    uint32_t limit;          /* producers of get_producers validated, by rank (default 100) */
} cs_audit_bp;

typedef struct cs_audit_network {
    char *name;
    int kind;               /* enum cs_audit_kind */
    char *auditor;          /* EVM: name of the node the auditor runs on (admin_*, clique_*) */
    char *chain_id;         /* Antelope: expected chain_id */
    char *version;          /* Antelope: expected server_version_string (NULL: any) */
    bool add_missing_peers; /* EVM: admin_addPeer a registered node missing from admin_peers */
    char *p2p_network;      /* Bitcoin: the P2P network of the `p2p` check's handshake (its
                               magic: main, testnet3, testnet4, signet, regtest); NULL: main */
    cs_audit_limits lim;
    cs_audit_bp bp;       /* Antelope: bp.json and endpoint checks (check_antelope_bp.c) */
    cs_audit_node *nodes; /* owned */
    size_t nnodes;
    int line, col;
} cs_audit_network;

/* The `audit:` section. */
typedef struct cs_audit_config {
    cs_audit_network *nets; /* owned */
    size_t nnets;
    char *db;               /* ledger path (default chainscope-audit.db) */
    char *schedule;         /* "every 1h", "@hourly", or five cron fields */
    char *report_schedule;  /* when the daily report is sent (default "0 0 * * *") */
    char *report_format;    /* text, md, html, json (default text) */
    char **report_channels; /* notification channel names (src/notify/) */
    size_t nreport_channels;
    bool mask_ips;
    bool report_glyphs;             /* report.glyphs: 🟢 🟩 ✅ beside the words */
    uint32_t sla_bp[CS_ROLE_COUNT]; /* threshold per role, basis points (9900 = 99 %) */
    uint32_t sla_interval;          /* s between checks, to show how many a month expects */
} cs_audit_config;

const char *cs_audit_state_name(int state); /* "ok", "fail", "unknown" */
const char *cs_audit_kind_name(int kind);   /* "evm", "bitcoin", "antelope" */
const char *cs_audit_role_name(int role);   /* "miner", ... */
int cs_audit_role_parse(const char *s);     /* -1 if unknown */
int cs_audit_kind_parse(const char *s);     /* -1 if unknown */

/* The limits with every 0 replaced by its default for the network kind. */
cs_audit_limits cs_audit_limits_effective(const cs_audit_limits *l, int kind);

/* Whether `check` applies to node n of network net: the node's `checks:`
 * list when given, else the defaults for its kind, role and endpoints. */
bool cs_audit_node_has_check(const cs_audit_network *net, const cs_audit_node *n,
                             const char *check);

/* A pending node: `pending: true`, or a label ending in '*' (the Jouleverse
 * audit's "miner*"). Shown in reports, left out of the network's size. */
bool cs_audit_node_pending(const cs_audit_node *n);

/* The registered IP of a node: `address`, else the host of `enode`, else
 * of `p2p`. Writes "" if none. */
void cs_audit_node_ip(const cs_audit_node *n, char *out, size_t outlen);

/* Masks an IP for publication: 203.0.113.7 -> 203.0.x.x, IPv6 keeps the
 * first two groups (2001:db8::5 -> 2001:db8:x:x, ::1 -> x:x:x:x). */
void cs_audit_mask_ip(const char *ip, char *out, size_t outlen);
/* Copies text with every IPv4 and IPv6 address in it masked as
 * cs_audit_mask_ip does (in enode URLs, host:port, [v6]:port and prose).
 * At the bound the copy is cut before an address, never inside one. */
void cs_audit_mask_text(const char *in, char *out, size_t outlen);

/* Finds a network / node by name; NULL if absent. Borrowed. */
const cs_audit_network *cs_audit_find_network(const cs_audit_config *c, const char *name);
const cs_audit_node *cs_audit_find_node(const cs_audit_network *net, const char *name);

/* Default SLA thresholds: 99 % for every role. */
void cs_audit_config_init(cs_audit_config *c);
void cs_audit_config_free(cs_audit_config *c);

/* SLA verdict on integers, so edges are exact: pass iff ok + fail > 0 and
 * ok * 10000 >= threshold_bp * (ok + fail). *needed (may be NULL) gets the
 * fewest ok checks that pass: ceil(threshold_bp * (ok + fail) / 10000). */
bool cs_audit_sla_pass(uint64_t ok, uint64_t fail, uint32_t threshold_bp, uint64_t *needed);

#endif
