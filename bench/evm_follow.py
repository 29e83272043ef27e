#!/usr/bin/python3
"""EVM follower throughput against anvil (run by `make bench`; never fails on
a number). Prints `name: value unit` lines:

  follow: blocks of 100 transfer() transactions (one decoded log each),
          published by `chainscope evm follow --quiet` from a standing start:
          blocks/s and tx/s;
  catch-up: 10,000 mined blocks followed from the first to the last: seconds.
  big blocks: 16 blocks of 10 MB (2,500 transactions each) from a node that
          serves them from memory (bench/evm_bigblocks.py), 8 at a time: the
          longest loop turn (a 10 ms timer's lag) and the most CPU the loop
          thread used between two of its ticks.

usage: bench/evm_follow.py [BUILD_DIR]   (needs node and the npm test peers)
"""
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(SRC, "build")
os.environ.setdefault("CHAINSCOPE", os.path.join(build, "chainscope"))
os.environ.setdefault("CS_SOURCE_DIR", SRC)
import evm_common as ec  # noqa: E402
from evm_bigblocks import BigNode  # noqa: E402

BLOCKS, PER_BLOCK, CATCHUP = 40, 100, 10000


def follow(url, first, last, abi=None, concurrency=16):
    args = [ec.CS, "evm", "follow", "--rpc", url, "--from", str(first), "--until", str(last),
            "--quiet", "--concurrency", str(concurrency), "--poll", "50"]
    if abi:
        args += ["--abi", abi]
    t0 = time.time()
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    dt = time.time() - t0
    stats = {}
    for line in r.stderr.splitlines():
        if line.startswith("evm_follow_") and ":" in line:
            k, v = line.split(":", 1)
            stats[k] = float(v.split()[0])
    return dt, stats


def main():
    if not os.path.exists(ec.ANVIL):
        print("evm_follow: skipped (anvil not installed)")
        return
    tmp = tempfile.mkdtemp(prefix="cs-bench-evm-")
    try:
        _, url = ec.start_anvil(ec.free_port(), extra=["--gas-limit", "100000000"])
        ec.helper("compile", tmp)
        addr = ec.helper("deploy", url, tmp)["address"]
        r = ec.helper("fill", url, addr, BLOCKS, PER_BLOCK)
        dt, st = follow(url, r["first"], r["last"], f"{addr}={os.path.join(tmp, 'Emitter.abi.json')}")
        if st:
            print(f"evm_follow_blocks_per_s: {st['evm_follow_blocks_per_s']:.0f} blocks/s")
            print(f"evm_follow_tx_per_s: {st['evm_follow_txs_per_s']:.0f} tx/s")
            print(f"evm_follow_logs: {st['evm_follow_logs']:.0f} logs")
            # Where the time goes: the follower's own CPU per block (the rest is
            # anvil building the responses).
            print(f"evm_follow_cpu_per_block: {st['evm_follow_cpu_seconds'] * 1000 / BLOCKS:.2f} ms")
        head = int(ec.rpc(url, "eth_blockNumber"), 16)
        ec.rpc(url, "anvil_mine", [hex(CATCHUP)], timeout=300)
        dt, st = follow(url, head + 1, head + CATCHUP)
        if st:
            print(f"evm_follow_catchup_10000_blocks: {st['evm_follow_seconds']:.2f} s")
            print(f"evm_follow_catchup_rate: {st['evm_follow_blocks_per_s']:.0f} blocks/s")
            print(f"evm_follow_catchup_cpu: {st['evm_follow_cpu_seconds']:.2f} s")
        big = BigNode(16)
        try:
            dt, st = follow(big.url, 1, 16, concurrency=8)
        finally:
            big.close()
        if st:
            print(f"evm_follow_bigblocks_rate: {st['evm_follow_blocks_per_s']:.1f} blocks/s")
            print(f"evm_follow_bigblocks_max_loop_turn: {st['evm_follow_max_loop_turn']:.1f} ms")
            print(f"evm_follow_bigblocks_max_loop_cpu: {st['evm_follow_max_loop_cpu']:.1f} ms")
    finally:
        ec.stop_all()


if __name__ == "__main__":
    main()
