#!/usr/bin/python3
"""Writes get_info_sequence.json: successive /v1/chain/get_info answers of a
nodeos 5.0 node (the shape recorded from a node; see _source) while the
three producers alpha, bravo, charlie take their turns, one answer per
produced block, and bravo misses its whole turn (12 blocks) once.

Run from this directory: /usr/bin/python3 make_sequence.py
"""
import json

EPOCH_MS = 946684800000
schedule = ["alpha", "bravo", "charlie"]
start_slot = 36 * 40000000  # a slot where alpha's turn begins (multiple of 36)
template = {
    "server_version": "7fd7cd4c",
    "chain_id": "aca376f206b8fc25a6ed44dbdc66547c36c6c33e3a119ffbeaef943642f0e906",
    "head_block_num": 0,
    "last_irreversible_block_num": 0,
    "last_irreversible_block_id": "",
    "head_block_id": "",
    "head_block_time": "",
    "head_block_producer": "",
    "virtual_block_cpu_limit": 200000000,
    "virtual_block_net_limit": 1048576000,
    "block_cpu_limit": 200000,
    "block_net_limit": 1048576,
    "server_version_string": "v5.0.0",
    "fork_db_head_block_num": 0,
    "fork_db_head_block_id": "",
    "server_full_version_string": "v5.0.0-7fd7cd4c",
    "total_cpu_weight": "380852451862079",
    "total_net_weight": "95381063416286",
    "earliest_available_block_num": 1,
    "last_irreversible_block_time": "",
}


def ts(slot):
    ms = EPOCH_MS + slot * 500
    import datetime
    d = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d" % (ms % 1000)


out = []
num = 350000000
for s in range(start_slot, start_slot + 36 * 2):
    producer = schedule[(s % 36) // 12]
    if producer == "bravo" and s < start_slot + 36:
        continue  # bravo misses its first turn
    num += 1
    r = dict(template)
    r["head_block_num"] = num
    r["fork_db_head_block_num"] = num
    r["last_irreversible_block_num"] = num - 325
    r["head_block_id"] = "%08x" % num + "0" * 56
    r["fork_db_head_block_id"] = r["head_block_id"]
    r["last_irreversible_block_id"] = "%08x" % (num - 325) + "0" * 56
    r["head_block_time"] = ts(s)
    r["last_irreversible_block_time"] = ts(s - 325)
    r["head_block_producer"] = producer
    out.append(r)

doc = {
    "_source": "nodeos v5.0.0 /v1/chain/get_info (field set recorded from a node, ids shortened); "
               "the head advances one produced block per answer. The fixture server shifts "
               "every *_time by a whole number of rounds (18 s) so the last answer is recent.",
    "responses": out,
}
with open("get_info_sequence.json", "w") as f:
    json.dump(doc, f, indent=1)
