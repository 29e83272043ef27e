/* The events of the Bitcoin Core RPC extractor (bitcoind.*) and of the
 * fork watch (chain.*). One entry per type; docs/events.md is generated
 * from these. The snapshot types list the fields of Core's answer that the
 * extractor copies (bitcoind_decode.c reads this table): a field is
 * copied when the answer has it with a JSON type that fits. */
#include "btc/events.h"
#include "core/schema.h"

#define NODE                                                                                       \
    {                                                                                              \
        "node", "string", false, "the configured node name (also the event key)"                   \
    }
#define END                                                                                        \
    {                                                                                              \
        NULL, NULL, false, NULL                                                                    \
    }

static const cs_field_def f_peers[] = {
    NODE,
    {"count", "u64", false, "peers connected"},
    {"inbound", "u64", false, "of them inbound"},
    {"outbound", "u64", false, "of them outbound"},
    {"by_conntype", "object", false,
     "peers per connection_type (inbound, outbound-full-relay, block-relay-only, manual, "
     "addr-fetch, feeler)"},
    {"by_network", "object", false, "peers per network (ipv4, ipv6, onion, i2p, cjdns, ...)"},
    {"by_transport", "object", false, "peers per transport_protocol_type (v1, v2, detecting)"},
    {"ping_mean_ms", "double", true, "mean of the peers' last ping time (pingtime), ms"},
    {"ping_median_ms", "double", true, "median of the peers' last ping time, ms"},
    {"ping_min_ms", "double", true, "lowest minping of any peer, ms"},
    {"listed", "u64", false, "peers whose address is on at least one configured list"},
    {"connected", "u64", false, "peers new since the previous poll"},
    {"disconnected", "u64", false, "peers gone since the previous poll"},
    END};

#define PEER_FIELDS                                                                                \
    NODE, {"id", "i64", false, "the node's peer id (getpeerinfo id)"},                             \
        {"addr", "string", false, "the peer's address and port"},                                  \
        {"network", "string", false, "ipv4, ipv6, onion, i2p, cjdns, not_publicly_routable"},      \
        {"conntype", "string", false,                                                              \
         "connection_type: inbound, outbound-full-relay, block-relay-only, manual, addr-fetch, "   \
         "feeler"},                                                                                \
        {"inbound", "bool", false, "whether the peer connected to the node"},                      \
        {"transport", "string", false, "v1, v2 or detecting (\"\" before Core 26)"},               \
        {"version", "i64", false, "the peer's protocol version"},                                  \
        {"subver", "string", false, "the peer's user agent"},                                      \
        {"services", "string", false, "the peer's service bits, hex"},                             \
        {"lists", "array", false,                                                                  \
         "names of the configured lists the address is on (empty: none)"},                         \
    {                                                                                              \
        "asn", "u64", true, "the address's AS number, from the configured ASN file"                \
    }

static const cs_field_def f_peer_conn[] = {
    PEER_FIELDS,
    {"initial", "bool", false, "the peer was already connected at the first poll"},
    {"startingheight", "i64", true, "the peer's best height when it connected"},
    END};
static const cs_field_def f_peer_disc[] = {
    PEER_FIELDS,
    {"seconds", "u64", true, "how long it was connected (from its conntime)"},
    {"bytessent", "u64", true, "bytes sent to it, at the last poll it was seen"},
    {"bytesrecv", "u64", true, "bytes received from it, at the last poll it was seen"},
    END};

const cs_field_def cs_bitcoind_f_mempool[] = {
    NODE,
    {"loaded", "bool", false, "whether the mempool is fully loaded"},
    {"size", "u64", false, "transactions"},
    {"bytes", "u64", false, "sum of the transactions' virtual sizes"},
    {"usage", "u64", false, "memory used, bytes"},
    {"total_fee", "double", true, "total fees, BTC"},
    {"maxmempool", "u64", false, "the memory bound, bytes"},
    {"mempoolminfee", "double", false, "lowest fee rate accepted now, BTC/kvB"},
    {"minrelaytxfee", "double", false, "the minimum relay fee rate, BTC/kvB"},
    {"incrementalrelayfee", "double", true, "the incremental relay fee rate, BTC/kvB"},
    {"unbroadcastcount", "u64", true, "transactions not yet seen by a peer"},
    {"fullrbf", "bool", true, "whether full replace-by-fee is on"},
    END};
const cs_field_def cs_bitcoind_f_uptime[] = {
    NODE, {"seconds", "u64", false, "seconds since the node started"}, END};
const cs_field_def cs_bitcoind_f_nettotals[] = {
    NODE,
    {"totalbytesrecv", "u64", false, "bytes received since start"},
    {"totalbytessent", "u64", false, "bytes sent since start"},
    {"timemillis", "u64", false, "the node's clock, ms since the epoch"},
    {"uploadtarget", "object", false,
     "the upload target: timeframe, target, target_reached, serve_historical_blocks, "
     "bytes_left_in_cycle, time_left_in_cycle"},
    END};
const cs_field_def cs_bitcoind_f_memory[] = {
    NODE,
    {"locked", "object", false,
     "locked memory manager: used, free, total, locked, chunks_used, chunks_free"},
    {"locked.used", "u64", false, "bytes used"},
    {"locked.free", "u64", false, "bytes available in current arenas"},
    {"locked.total", "u64", false, "bytes managed"},
    {"locked.locked", "u64", false, "bytes locked (less than total when locking failed)"},
    END};
#define TABLES "{new, tried, total}: entries in the new and tried tables"
const cs_field_def cs_bitcoind_f_addrman[] = {
    NODE,
    {"ipv4", "object", true, TABLES},
    {"ipv6", "object", true, TABLES},
    {"onion", "object", true, TABLES},
    {"i2p", "object", true, TABLES},
    {"cjdns", "object", true, TABLES},
    {"all_networks", "object", false, TABLES},
    {"all_networks.new", "u64", false, "entries in the new table"},
    {"all_networks.tried", "u64", false, "entries in the tried table"},
    END};
const cs_field_def cs_bitcoind_f_chaintxstats[] = {
    NODE,
    {"time", "u64", false, "the time of the window's last block"},
    {"txcount", "u64", true, "transactions in the chain up to that block"},
    {"window_final_block_hash", "string", false, "the window's last block"},
    {"window_final_block_height", "u64", false, "its height"},
    {"window_block_count", "u64", false, "blocks in the window"},
    {"window_interval", "u64", true, "seconds the window spans"},
    {"window_tx_count", "u64", true, "transactions in the window"},
    {"txrate", "double", true, "transactions per second in the window"},
    END};
const cs_field_def cs_bitcoind_f_network[] = {
    NODE,
    {"version", "u64", false, "the node's version as a number (280100)"},
    {"subversion", "string", false, "its user agent"},
    {"protocolversion", "u64", false, "its protocol version"},
    {"localservices", "string", false, "its service bits, hex"},
    {"localservicesnames", "array", false, "their names"},
    {"localrelay", "bool", false, "whether it relays transactions"},
    {"timeoffset", "i64", false, "its time offset, seconds"},
    {"networkactive", "bool", false, "whether P2P networking is on"},
    {"connections", "u64", false, "peers"},
    {"connections_in", "u64", false, "inbound peers"},
    {"connections_out", "u64", false, "outbound peers"},
    {"networks", "array", false,
     "per network: name, limited, reachable, proxy, proxy_randomize_credentials"},
    {"relayfee", "double", false, "minimum relay fee rate, BTC/kvB"},
    {"incrementalfee", "double", false, "incremental fee rate, BTC/kvB"},
    {"localaddresses", "array", false, "its own addresses: address, port, score"},
    {"warnings", "any", false, "a string (Core 27 and before) or an array of strings (Core 28 on)"},
    END};
const cs_field_def cs_bitcoind_f_blockchain[] = {
    NODE,
    {"chain", "string", false, "main, test, testnet4, signet, regtest"},
    {"blocks", "u64", false, "height of the active chain's tip"},
    {"headers", "u64", false, "height of the best header"},
    {"bestblockhash", "string", false, "the tip's hash"},
    {"bits", "string", true, "the tip's nBits, hex (Core 29 on)"},
    {"target", "string", true, "the tip's target, hex (Core 29 on)"},
    {"difficulty", "double", false, "the difficulty"},
    {"time", "u64", false, "the tip's block time"},
    {"mediantime", "u64", false, "the tip's median time past"},
    {"verificationprogress", "double", false, "estimate of verification progress, 0..1"},
    {"initialblockdownload", "bool", false, "whether the node is in initial block download"},
    {"chainwork", "string", false, "total work of the active chain, hex"},
    {"size_on_disk", "u64", false, "block and undo files, bytes"},
    {"pruned", "bool", false, "whether blocks are pruned"},
    {"pruneheight", "u64", true, "lowest complete block stored (when pruned)"},
    {"automatic_pruning", "bool", true, "whether automatic pruning is on (when pruned)"},
    {"prune_target_size", "u64", true, "the pruning target, bytes (automatic pruning)"},
    {"warnings", "any", false, "a string (Core 27 and before) or an array of strings (Core 28 on)"},
    END};
static const cs_field_def f_orphans[] = {NODE,
                                         {"count", "u64", false, "transactions in the orphanage"},
                                         {"bytes", "u64", false, "their serialized size"},
                                         {"vsize", "u64", false, "their virtual size"},
                                         {"peers", "u64", false, "distinct peers they came from"},
                                         END};
static const cs_field_def f_rawaddrman[] = {
    NODE,
    {"new", "u64", false, "entries in the new table"},
    {"tried", "u64", false, "entries in the tried table"},
    {"first", "bool", false, "the first snapshot: nothing to compare with yet"},
    {"seconds", "double", false, "since the previous snapshot (0 for the first)"},
    {"new_gained", "u64", false, "new-table positions filled that were empty"},
    {"new_replaced", "u64", false, "new-table positions now holding another address"},
    {"new_removed", "u64", false, "new-table positions emptied"},
    {"tried_gained", "u64", false, "tried-table positions filled that were empty"},
    {"tried_replaced", "u64", false, "tried-table positions now holding another address"},
    {"tried_removed", "u64", false, "tried-table positions emptied"},
    {"new_gained_per_hour", "double", false, "new_gained scaled to an hour"},
    {"new_replaced_per_hour", "double", false, "new_replaced scaled to an hour"},
    {"tried_gained_per_hour", "double", false, "tried_gained scaled to an hour"},
    {"tried_replaced_per_hour", "double", false, "tried_replaced scaled to an hour"},
    {"by_network", "object", false, "entries of both tables per network"},
    END};
static const cs_field_def f_chaintips[] = {
    NODE,
    {"count", "u64", false, "tips the node knows"},
    {"tips", "array", false, "each tip: height, hash, branchlen, status"},
    {"tips[].status", "string", false, "active, valid-fork, valid-headers, headers-only, invalid"},
    END};
static const cs_field_def f_failed[] = {
    NODE,
    {"method", "string", false, "the RPC"},
    {"error", "string", false, "why, for people (timed out, refused, JSON-RPC error ...)"},
    {"attempt", "u64", false, "failures of this RPC in a row (1 for the first)"},
    {"code", "i64", true, "the JSON-RPC error code, when the node answered with one"},
    {"retry_ms", "u64", false, "when the next attempt is due"},
    END};

static const cs_field_def f_tip[] = {NODE,
                                     {"height", "u64", false, "the new best tip's height"},
                                     {"hash", "string", false, "its hash"},
                                     {"previous", "string", true, "the best tip before it"},
                                     END};
static const cs_field_def f_stale[] = {
    NODE,
    {"height", "u64", false, "the stale block's height"},
    {"hash", "string", false, "its hash"},
    {"status", "string", false,
     "how it was seen: outrun (a node's tip left behind by the best chain) or the "
     "getchaintips status (valid-fork, valid-headers, headers-only)"},
    END};
static const cs_field_def f_reorg[] = {
    NODE,
    {"depth", "u64", false, "blocks taken off the node's active chain"},
    {"fork_height", "u64", false, "height of the last block both chains share"},
    {"old_tip", "string", false, "the tip before"},
    {"new_tip", "string", false, "the tip after"},
    {"old_height", "u64", false, "its height"},
    {"new_height", "u64", false, "its height"},
    END};
static const cs_field_def f_lagging[] = {
    NODE,
    {"height", "u64", false, "the node's tip height"},
    {"best_height", "u64", false, "the best tip of the network"},
    {"behind", "u64", false, "best_height - height"},
    END};
static const cs_field_def f_unreachable[] = {
    NODE, {"error", "string", false, "why getchaintips failed"}, END};
static const cs_field_def f_invalid[] = {NODE,
                                         {"height", "u64", false, "the invalid block's height"},
                                         {"hash", "string", false, "its hash"},
                                         END};
static const cs_field_def f_stuck[] = {
    NODE,
    {"height", "u64", false, "the tip's height"},
    {"hash", "string", false, "the tip"},
    {"seconds", "u64", false, "since the tip last moved (at least forks.stale_after)"},
    END};

const cs_event_def cs_schema_bitcoind[] = {
    {"bitcoind.peers", "bitcoind", "a getpeerinfo answer, summed up", f_peers},
    {"bitcoind.peer.connected", "bitcoind", "a peer id new in getpeerinfo", f_peer_conn},
    {"bitcoind.peer.disconnected", "bitcoind", "a peer id gone from getpeerinfo", f_peer_disc},
    {"bitcoind.mempool", "bitcoind", "a getmempoolinfo answer", cs_bitcoind_f_mempool},
    {"bitcoind.uptime", "bitcoind", "an uptime answer", cs_bitcoind_f_uptime},
    {"bitcoind.nettotals", "bitcoind", "a getnettotals answer", cs_bitcoind_f_nettotals},
    {"bitcoind.memory", "bitcoind", "a getmemoryinfo answer", cs_bitcoind_f_memory},
    {"bitcoind.addrman", "bitcoind", "a getaddrmaninfo answer", cs_bitcoind_f_addrman},
    {"bitcoind.chaintxstats", "bitcoind", "a getchaintxstats answer", cs_bitcoind_f_chaintxstats},
    {"bitcoind.network", "bitcoind", "a getnetworkinfo answer", cs_bitcoind_f_network},
    {"bitcoind.blockchain", "bitcoind", "a getblockchaininfo answer", cs_bitcoind_f_blockchain},
    {"bitcoind.orphans", "bitcoind", "a getorphantxs answer: the orphanage's size", f_orphans},
    {"bitcoind.rawaddrman", "bitcoind",
     "a getrawaddrman answer compared with the previous one: table gains and replacements",
     f_rawaddrman},
    {"bitcoind.chaintips", "bitcoind", "a getchaintips answer", f_chaintips},
    {"bitcoind.rpc.failed", "bitcoind", "an RPC failed (after its retries)", f_failed},
    {"chain.tip", "fork watch", "a new best tip of the network", f_tip},
    {"chain.stale", "fork watch", "a block off the best chain", f_stale},
    {"chain.reorg", "fork watch, evm follower",
     "a node's active chain switched branches (the EVM follower publishes it beside evm.reorg, "
     "`node` being the follower's key)",
     f_reorg},
    {"chain.lagging", "fork watch", "a node fell forks.lag_blocks behind the best tip", f_lagging},
    {"chain.unreachable", "fork watch", "a node stopped answering getchaintips", f_unreachable},
    {"chain.invalid", "fork watch", "a node marks a block invalid (within 144 blocks of its tip)",
     f_invalid},
    {"chain.stuck", "fork watch", "a node's tip has not moved for forks.stale_after", f_stuck},
    {NULL, NULL, NULL, NULL},
};
