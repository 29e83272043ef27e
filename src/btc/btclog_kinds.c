/* The table of known debug.log line kinds: one row per kind gives its
 * event type bitcoind.log.<kind>, its summary, the pattern of Core's line
 * and the fields the pattern captures (with their types and docs). The
 * schema (docs/events.md) and the matcher (btclog_parse.c) both read it.
 *
 * Pattern syntax (docs/btc.md "Adding a line kind"): literal text;
 * {name} captures a field typed by the row's field list (u64, i64 and double
 * read a number, string reads up to the next literal character of the
 * pattern, or to the end); {_} skips like a string; {? ...} is an optional
 * part (not nested). A pattern matches the start of the message; what
 * follows it is ignored. ALT rows add another format of a kind defined
 * above (older Core versions).
 *
 * The formats are those of Bitcoin Core's LogPrintf/LogDebug call sites
 * (net_processing.cpp, net.cpp, validation.cpp, blockencodings.cpp,
 * validationinterface.cpp), from 0.21 on; ALT rows keep older formats. */
#include "btc/btclog_int.h"

#define END                                                                                        \
    {                                                                                              \
        NULL, NULL, false, NULL                                                                    \
    }
#define COMMON                                                                                     \
    {"node", "string", false, "the node's configured name"},                                       \
        {"log_time", "string", true, "the line's timestamp as Core wrote it (ISO 8601, UTC)"},     \
        {"thread", "string", true, "the thread name (-logthreadnames)"},                           \
        {"source", "string", true, "file:line (-logsourcelocations)"},                             \
        {"function", "string", true, "the logging function (-logsourcelocations)"},                \
        {"category", "string", true, "the debug category of the line (net, mempool, bench, ...)"}, \
    {                                                                                              \
        "level", "string", true,                                                                   \
            "the level Core wrote beside or instead of the category (trace, debug, info, "         \
            "warning, "                                                                            \
            "error)"                                                                               \
    }
#define PEER(doc)                                                                                  \
    {                                                                                              \
        "peer", "u64", false, doc                                                                  \
    }

/* Expanded twice: KIND rows make a schema entry and a pattern; ALT rows
 * only a pattern. */
#define BTCLOG_TABLE(KIND, ALT)                                                                    \
    KIND(peer_connected,                                                                           \
         "a peer completed the handshake (Core logs outbound ones always, "                        \
         "inbound ones with -debug=net)",                                                          \
         "New {conntype} {transport} peer connected: version: {version}, blocks={blocks}, "        \
         "peer={id}{?, peeraddr={addr}}{? peeraddr={addr}}{?, mapped_as={mapped_as}}",             \
         {"conntype", "string", true,                                                              \
          "outbound-full-relay, block-relay-only, inbound, manual, feeler, addr-fetch"},           \
         {"transport", "string", true, "v1 or v2 (BIP324); absent in older Core"},                 \
         {"version", "i64", false, "the peer's protocol version"},                                 \
         {"blocks", "i64", false, "the peer's starting height"},                                   \
         {"id", "u64", false, "Core's peer id"},                                                   \
         {"addr", "string", true, "the peer's address:port (-logips)"},                            \
         {"mapped_as", "u64", true, "the peer's AS number (-asmap)"})                              \
    ALT(peer_connected, "New outbound peer connected: version: {version}, blocks={blocks}, "       \
                        "peer={id}{?, peeraddr={addr}}{? ({conntype})}")                           \
    KIND(peer_disconnected, "Core closed a peer's socket (-debug=net)",                            \
         "disconnecting peer={id}{? peeraddr={addr}}{?, peeraddr={addr}}",                         \
         {"id", "u64", false, "Core's peer id"},                                                   \
         {"addr", "string", true,                                                                  \
          "the peer's address:port (from the line with -logips, else from its connected line)"},   \
         {"conntype", "string", true, "the connection type its connected line gave"})              \
    ALT(peer_disconnected, "Resetting socket for peer={id}{? peeraddr={addr}}")                    \
    KIND(update_tip, "a new best block (validation.cpp UpdateTip)",                                \
         "UpdateTip: new best={hash} height={height} version={version} log2_work={log2_work} "     \
         "tx={tx} date='{date}' progress={progress} cache={cache_mib}MiB({cache_txo}txo)"          \
         "{? warning='{warning}'}",                                                                \
         {"hash", "string", false, "the tip's block hash"},                                        \
         {"height", "u64", false, "its height"},                                                   \
         {"version", "string", false, "its version field, hex (0x20000000)"},                      \
         {"log2_work", "double", false, "log2 of the chain's total work"},                         \
         {"tx", "u64", false, "transactions in the chain up to it"},                               \
         {"date", "string", false, "the block's time"},                                            \
         {"progress", "double", false, "estimated verification progress, 0 to 1"},                 \
         {"cache_mib", "double", false, "the UTXO cache's memory, MiB"},                           \
         {"cache_txo", "u64", false, "coins in the UTXO cache"},                                   \
         {"warning", "string", true, "the warnings Core appended"})                                \
    KIND(block_connected, "a block was connected to the chain (-debug=validation)",                \
         "BlockConnected: block hash={hash} block height={height}",                                \
         {"hash", "string", false, "the block's hash"}, {"height", "u64", false, "its height"})    \
    KIND(block_timing, "one step of connecting a block and its time (-debug=bench)",               \
         "- {stage}: {ms}ms{? [{total_s}s ({avg_ms}ms/blk)]}",                                     \
         {"stage", "string", false,                                                                \
          "the step: Connect block (the whole), Load block from disk, Connect total, Flush, "      \
          "Writing chainstate, Connect postprocess, Sanity checks, Verify N txins, ..."},          \
         {"ms", "double", false, "this block's time in the step, milliseconds"},                   \
         {"total_s", "double", true, "the step's time over every block since start, seconds"},     \
         {"avg_ms", "double", true, "the step's mean time per block, milliseconds"})               \
    KIND(cmpctblock_init, "a compact block arrived and reconstruction began (-debug=cmpctblock)",  \
         "Initialized PartiallyDownloadedBlock for block {hash} using a cmpctblock of size "       \
         "{size}",                                                                                 \
         {"hash", "string", false, "the block's hash"},                                            \
         {"size", "u64", false, "the compact block's size, bytes"})                                \
    KIND(cmpctblock, "a compact block was reconstructed (-debug=cmpctblock)",                      \
         "Successfully reconstructed block {hash} with {prefilled} txn prefilled, "                \
         "{from_mempool} txn from mempool (incl at least {from_extra} from extra pool) and "       \
         "{missing} txn requested",                                                                \
         {"hash", "string", false, "the block's hash"},                                            \
         {"prefilled", "u64", false, "transactions the peer sent in the compact block"},           \
         {"from_mempool", "u64", false, "transactions found in the mempool"},                      \
         {"from_extra", "u64", false, "of those, at least this many from the extra pool"},         \
         {"missing", "u64", false, "transactions missing, requested from the peer"},               \
         {"elapsed_ms", "double", true,                                                            \
          "time from its cmpctblock_init line (needs timestamps; micros for precision)"})          \
    KIND(mempool_accept, "a transaction from a peer entered the mempool (-debug=mempool)",         \
         "AcceptToMemoryPool: peer={peer}: accepted {txid} (wtxid={wtxid}) (poolsz {pool_txs} "    \
         "txn, {pool_kb} kB)",                                                                     \
         PEER("the peer that sent it"), {"txid", "string", false, "the transaction id"},           \
         {"wtxid", "string", false, "its witness id"},                                             \
         {"pool_txs", "u64", false, "transactions in the mempool after it"},                       \
         {"pool_kb", "u64", false, "the mempool's memory, kB"})                                    \
    KIND(mempool_reject, "a transaction from a peer was refused (-debug=mempoolrej)",              \
         "{txid} (wtxid={wtxid}) from peer={peer} was not accepted: {reason}{?, {detail}}",        \
         {"txid", "string", false, "the transaction id"},                                          \
         {"wtxid", "string", false, "its witness id"}, PEER("the peer that sent it"),              \
         {"reason", "string", false,                                                               \
          "the reject reason (mempool min fee not met, txn-mempool-conflict, ...)"},               \
         {"detail", "string", true, "what Core added after the reason"})                           \
    KIND(misbehaving, "Core scored a peer's misbehaviour (-debug=net)",                            \
         "Misbehaving: peer={peer} ({score_before} -> {score}){? DISCOURAGE THRESHOLD "            \
         "EXCEEDED}{?: {message}}",                                                                \
         PEER("the peer"), {"score_before", "i64", true, "its score before (older Core)"},         \
         {"score", "i64", true, "its score after (older Core)"},                                   \
         {"message", "string", true, "what it did"})                                               \
    ALT(misbehaving, "Misbehaving: peer={peer}{?: {message}}")                                     \
    KIND(discouraged, "Core disconnected a peer and discouraged its address (-debug=net)",         \
         "Disconnecting and discouraging peer {peer}!", PEER("the peer"))                          \
    KIND(stale_tip, "Core sees no new block for long and looks for an extra outbound peer",        \
         "Potential stale tip detected, will try using extra outbound peer (last tip update: "     \
         "{seconds} seconds ago)",                                                                 \
         {"seconds", "u64", false, "time since the tip last moved"})                               \
    KIND(new_outbound, "Core opens a new outbound connection (-debug=net)",                        \
         "trying {transport} connection {addr} lastseen={lastseen_h}hrs",                          \
         {"transport", "string", true, "v1 or v2 (absent in older Core)"},                         \
         {"addr", "string", false, "the address tried"},                                           \
         {"lastseen_h", "double", false, "hours since the address was last seen"})                 \
    ALT(new_outbound, "trying connection {addr} lastseen={lastseen_h}hrs")                         \
    KIND(new_header, "a new block header arrived and was accepted",                                \
         "Saw new header hash={hash} height={height}",                                             \
         {"hash", "string", false, "the header's hash"}, {"height", "u64", false, "its height"})   \
    ALT(new_header, "Saw new cmpctblock header hash={hash} height={height}")

#define SCHEMA_KIND(name, summary, pattern, ...)                                                   \
    {"bitcoind.log." #name, "debug.log", summary, (const cs_field_def[]){COMMON, __VA_ARGS__, END}},
#define SCHEMA_ALT(name, pattern)

const cs_event_def cs_schema_btclog[] = {
    BTCLOG_TABLE(SCHEMA_KIND, SCHEMA_ALT){
        "bitcoind.p2p.connected", "btclog p2p", "a configured node connected to its p2p_listen",
        (const cs_field_def[]){
            {"node", "string", false, "the node's configured name"},
            {"peer", "object", false, "the connection: {id, addr, port, direction}"},
            {"user_agent", "string", false, "the node's user agent"},
            {"version", "i64", false, "its protocol version"},
            {"start_height", "i64", false, "its best height"},
            END}},
    {"bitcoind.p2p.rates", "btclog p2p",
     "every p2p_rates_interval: what a configured node sent on its own connection, per second",
     (const cs_field_def[]){{"node", "string", false, "the node's configured name"},
                            {"connected", "bool", false, "whether the node is connected now"},
                            {"seconds", "double", false, "the time the rates are over"},
                            {"inv_per_s", "double", false, "inv messages"},
                            {"inv_items_per_s", "double", false, "inventory entries in them"},
                            {"addr_per_s", "double", false, "addr and addrv2 messages"},
                            {"addr_entries_per_s", "double", false, "addresses in them"},
                            {"feefilter_per_s", "double", false, "feefilter messages"},
                            {"feerate", "i64", true, "the last feefilter's feerate, sat/kvB"},
                            {"rtt_ms", "double", true, "the last ping round trip"},
                            END}},
    {NULL, NULL, NULL, NULL},
};

#define ROW_KIND(name, summary, pattern, ...) {#name, pattern},
#define ROW_ALT(name, pattern) {#name, pattern},

const cs_btclog_row cs_btclog_rows[] = {BTCLOG_TABLE(ROW_KIND, ROW_ALT){NULL, NULL}};
