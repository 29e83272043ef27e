"""The EVM follower against anvil.

A contract compiled with solc and deployed with ethers emits events of every
kind (indexed and dynamic arguments, tuples, arrays of tuples, an anonymous
event); each arrives once as a decoded evm.log. anvil_reorg makes a real
reorg: evm.reorg names the replaced hashes and the new branch's events are
published. anvil is killed mid-follow and restarted from its state file: the
follower resumes with no gap and no repeat. The follower itself is stopped
and restarted on its SQLite cursor: same.
"""
import os
import sys
import tempfile
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evm_common as ec  # noqa: E402

ONE = "0x" + "00" * 19 + "01"
BIG = 2**200 + 12345


def logs_of(f, txs):
    return [e for e in f.of("evm.log") if e["payload"]["tx_hash"] in txs]


def main():
    tmp = tempfile.mkdtemp(prefix="cs-evm-anvil-")
    state = os.path.join(tmp, "anvil-state.json")
    db = os.path.join(tmp, "cursor.db")
    port = ec.free_port()
    anvil, url = ec.start_anvil(port, state)
    ec.helper("compile", tmp)
    dep = ec.helper("deploy", url, tmp)
    addr, me = dep["address"], dep["from"]
    abi = os.path.join(tmp, "Emitter.abi.json")

    f = ec.Follower("--rpc", url, "--from", 0, "--poll", 100, "--db", db,
                    "--abi", f"{addr}={abi}", "--network", "anvil",
                    stderr_path=os.path.join(tmp, "follow1.err"))

    # 1. Every kind of event, decoded, once.
    calls = [["transfer", ONE, str(BIG)],
             ["note", "tag-a", "héllo ✓", ["0x" + "11" * 32, "0x" + "22" * 32], -5],
             ["place", 7, [ONE, 9, "first"], [[ONE, 10, "m2"], [ONE, 11, "m3"]]],
             ["anon", 42],
             ["many", 3]]
    txs = ec.helper("send", url, addr, calls)["txs"]
    f.wait(lambda f: len(logs_of(f, txs)) >= 7, what="the first 7 logs")
    logs = logs_of(f, txs)
    by_tx = {}
    for e in logs:
        by_tx.setdefault(e["payload"]["tx_hash"], []).append(e["payload"])
    t = by_tx[txs[0]][0]
    assert t["event"] == "Transfer" and t["address"] == addr, t
    assert t["args"] == {"from": me, "to": ONE, "value": str(BIG)}, t["args"]
    n = by_tx[txs[1]][0]
    assert n["event"] == "Note", n
    assert n["args"]["text"] == "héllo ✓" and n["args"]["delta"] == -5, n
    assert n["args"]["ids"] == ["0x" + "11" * 32, "0x" + "22" * 32], n
    # An indexed string is its topic: keccak256("tag-a").
    assert n["args"]["tag"] == n["topics"][1], n
    p = by_tx[txs[2]][0]
    assert p["event"] == "Placed" and p["args"]["id"] == 7, p
    assert p["args"]["order"] == {"token": ONE, "qty": 9, "memo": "first"}, p
    assert p["args"]["more"] == [{"token": ONE, "qty": 10, "memo": "m2"},
                                 {"token": ONE, "qty": 11, "memo": "m3"}], p
    a = by_tx[txs[3]][0]
    assert a["event"] == "Anon" and a["args"] == {"who": me, "amount": 42}, a
    m = sorted(by_tx[txs[4]], key=lambda x: x["log_index"])
    assert [x["args"]["value"] for x in m] == [0, 1, 2], m
    assert [x["log_index"] for x in m] == [0, 1, 2], m
    keys = Counter((e["payload"]["tx_hash"], e["payload"]["log_index"]) for e in f.of("evm.log"))
    assert max(keys.values()) == 1, keys
    # Transactions: status, gas, decoded call.
    f.wait(lambda f: len([e for e in f.of("evm.tx") if e["payload"]["hash"] in txs]) == 5)
    tx0 = [e for e in f.of("evm.tx") if e["payload"]["hash"] == txs[0]][0]["payload"]
    assert tx0["status"] == 1 and tx0["gas_used"] > 21000 and tx0["function"] == "transfer", tx0
    assert tx0["args"] == {"to": ONE, "value": str(BIG)}, tx0
    assert tx0["effective_gas_price"] > 0 and tx0["from"] == me, tx0

    # 2. A real reorg: anvil_reorg replaces the last 2 blocks; the new
    # branch carries a different transfer.
    pre = ec.helper("send", url, addr, [["transfer", ONE, 1], ["transfer", ONE, 2]])["txs"]
    f.wait(lambda f: len(logs_of(f, pre)) == 2, what="the pre-reorg logs")
    head = int(ec.rpc(url, "eth_blockNumber"), 16)
    old_hashes = [ec.rpc(url, "eth_getBlockByNumber", [hex(b), False])["hash"]
                  for b in (head - 1, head)]
    raw = ec.helper("raw", url, addr, [["transfer", ONE, 777]], head - 2)["txs"]
    ec.rpc(url, "anvil_reorg", [2, [[raw[0], 0]]])
    f.wait(lambda f: len(f.of("evm.reorg")) == 1, what="evm.reorg")
    r = f.of("evm.reorg")[0]["payload"]
    assert r["depth"] == 2 and r["common_ancestor"] == head - 2, r
    assert r["old_hashes"] == old_hashes, (r, old_hashes)
    new_hashes = [ec.rpc(url, "eth_getBlockByNumber", [hex(b), False])["hash"]
                  for b in (head - 1, head)]
    assert r["new_hashes"] == new_hashes, (r, new_hashes)
    # The same reorg in the shape every chain shares.
    f.wait(lambda f: len(f.of("chain.reorg")) == 1, what="chain.reorg")
    c = f.of("chain.reorg")[0]
    assert c["network"] == "anvil" and c["payload"] == {
        "node": "anvil", "depth": 2, "fork_height": head - 2, "old_tip": old_hashes[-1],
        "new_tip": new_hashes[-1], "old_height": head, "new_height": head}, c
    f.wait(lambda f: any(e["payload"]["args"].get("value") == 777 for e in f.of("evm.log")
                         if e["payload"].get("event") == "Transfer"), what="the new branch's log")
    f.wait(lambda f: sum(1 for e in f.of("evm.block") if e["payload"]["hash"] in new_hashes) == 2,
           what="the new branch's blocks")

    # 3. anvil dies mid-follow and comes back from its state file.
    ec.stop(anvil)
    time.sleep(1.0)
    assert f.p.poll() is None, "the follower must survive the node going away"
    anvil, url2 = ec.start_anvil(port, state)
    after = ec.helper("send", url, addr, [["transfer", ONE, 31], ["transfer", ONE, 32]])["txs"]
    f.wait(lambda f: len(logs_of(f, after)) == 2, timeout=40, what="logs after anvil restarted")

    # 4. The follower stops; blocks come; it restarts on its cursor.
    assert f.stop() == 0
    published = [e["payload"]["number"] for e in f.of("evm.block")]
    gap = ec.helper("send", url, addr, [["transfer", ONE, 41], ["transfer", ONE, 42]])["txs"]
    f2 = ec.Follower("--rpc", url, "--poll", 100, "--db", db, "--abi", f"{addr}={abi}",
                     "--network", "anvil", stderr_path=os.path.join(tmp, "follow2.err"))
    f2.wait(lambda f: len(logs_of(f, gap)) == 2, what="logs after the follower restarted")
    first = f2.of("evm.block")[0]["payload"]["number"]
    assert first == max(published) + 1, (first, max(published))
    assert "resuming at block" in f2.stderr(), f2.stderr()
    assert f2.stop() == 0

    # No gap and no repeat: every height once, the two reorged heights twice
    # (once per branch), and each log of each branch once.
    heights = Counter(published + [e["payload"]["number"] for e in f2.of("evm.block")])
    top = max(heights)
    for h in range(0, top + 1):
        want = 2 if h in (head - 1, head) else 1
        assert heights[h] == want, (h, heights[h], want)
    seen = Counter((e["payload"]["block_hash"], e["payload"]["log_index"])
                   for e in f.of("evm.log") + f2.of("evm.log"))
    assert max(seen.values()) == 1, seen
    print("ok")


if __name__ == "__main__":
    try:
        main()
    finally:
        ec.stop_all()
