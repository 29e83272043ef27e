/* The Antelope follower's event types, registered in the schema registry
 * by cli/components.c. Documented for users in docs/antelope.md. */
#include "core/schema.h"

static const cs_field_def f_block[] = {
    {"num", "u64", false, "block number"},
    {"id", "string", false, "block id, 64 hex digits (the number in the first 8)"},
    {"previous", "string", false, "the previous block's id"},
    {"producer", "string", false, "the producer account that signed it"},
    {"timestamp", "u64", false, "the block's slot time, Unix ms"},
    {"schedule_version", "u64", false, "version of the producer schedule it was made under"},
    {"trx_count", "u64", false, "transactions in the block"},
    {"action_count", "u64", false, "actions (and context-free actions) of its transactions"},
    {"lib", "u64", false, "the node's last irreversible block when fetched"},
    {"replaces", "string", true, "on a fork: the id of the block it replaced at this height"},
    {NULL, NULL, false, NULL},
};

static const cs_field_def f_schedule[] = {
    {"kind", "string", false, "\"proposed\", \"pending\" or \"active\""},
    {"version", "u64", false, "schedule version"},
    {"producers", "array", false, "producer accounts, in schedule order"},
    {"block", "u64", false, "the head when it was read"},
    {NULL, NULL, false, NULL},
};

static const cs_field_def f_round[] = {
    {"schedule_version", "u64", false, "the schedule of the round"},
    {"first_block", "u64", false, "its first block (0: none)"},
    {"last_block", "u64", false, "its last block (0: none)"},
    {"start", "u64", false, "its first slot, Unix ms"},
    {"end", "u64", false, "the end of its last slot, Unix ms"},
    {"producers", "array", false,
     "per scheduled producer, in order: {producer, produced (0..12), missed (0..12), "
     "round_missed, standby (false)}"},
    {"missed_producers", "array", false, "producers without a block in the round"},
    {"standbys", "array", false, "registered producers outside the schedule"},
    {NULL, NULL, false, NULL},
};

static const cs_field_def f_fork[] = {
    {"num", "u64", false, "the first height whose block was replaced"},
    {"old_id", "string", false, "the replaced block at that height"},
    {"new_id", "string", false, "its replacement"},
    {"depth", "u64", false, "blocks replaced"},
    {"below_lib", "bool", false, "whether a replaced block was at or below the LIB seen"},
    {NULL, NULL, false, NULL},
};

static const cs_field_def f_missed[] = {
    {"producer", "string", false, "the producer of the slot"},
    {"slot_time", "u64", false, "the slot's time, Unix ms"},
    {"expected_block", "u64", false, "the number its block would have had"},
    {"consecutive", "u64", false, "the producer's missed slots in a row this round"},
    {NULL, NULL, false, NULL},
};

static const cs_field_def f_double[] = {
    {"account", "string", false, "our producer account"},
    {"round_start", "u64", false, "the round's first slot, Unix ms"},
    {"block", "u64", false, "the height at which the nodes hold different blocks"},
    {"nodes", "array", false, "the nodes that signed, one per block"},
    {"ids", "array", false, "the blocks' ids, in the order of nodes"},
    {NULL, NULL, false, NULL},
};

static const cs_field_def f_none[] = {
    {"account", "string", false, "our producer account, scheduled in the round"},
    {"round_start", "u64", false, "the round's first slot, Unix ms"},
    {"nodes", "u64", false, "nodes configured for the account"},
    {NULL, NULL, false, NULL},
};

static const cs_field_def f_node[] = {
    {"node", "string", false, "the node's name (antelope.networks[].own[].nodes[].name)"},
    {"api", "string", false, "its API URL"},
    {"head", "u64", false, "its head block"},
    {"lib", "u64", false, "its last irreversible block"},
    {"head_lag", "u64", false, "blocks its head is behind the followed endpoint's"},
    {"lib_lag", "u64", false, "blocks its LIB is behind the followed endpoint's"},
    {"chain_id", "string", false, "its chain id"},
    {"server_version", "string", false, "server_version_string (else server_version)"},
    {"latency_ms", "u64", false, "time to the get_info answer"},
    {"ok", "bool", false, "answered, right chain, lag within max_lag"},
    {"reason", "string", true, "why not ok"},
    {NULL, NULL, false, NULL},
};

const cs_event_def cs_schema_antelope[] = {
    {"antelope.block", "antelope follower", "a block, in order; on a fork, again with `replaces`",
     f_block},
    {"antelope.schedule", "antelope follower",
     "a producer schedule (proposed, pending, active) when first read and when it changes",
     f_schedule},
    {"antelope.round", "antelope follower",
     "a completed round: each scheduled producer's blocks of 12", f_round},
    {"antelope.fork", "antelope follower",
     "published blocks were replaced; the new ones follow as antelope.block", f_fork},
    {"antelope.slot.missed", "antelope follower",
     "a slot without a block, published within a slot of its end", f_missed},
    {"antelope.double_production", "antelope follower",
     "two nodes of our account signed different blocks at one height in a round", f_double},
    {"antelope.own.none", "antelope follower",
     "our account was scheduled in a round and none of its nodes produced", f_none},
    {"antelope.node", "antelope follower", "one check of our producer node's get_info", f_node},
    {NULL, NULL, NULL, NULL},
};
