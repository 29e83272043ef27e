"""The follower catching up on big blocks (10 MB of JSON each, 2,500
transactions with their receipts) fetched 8 at a time: no loop turn holds
the loop thread long. Each block is parsed once, on the thread pool, and
published in slices; `evm follow --quiet` reports the most CPU the loop
thread used between two 10 ms ticks. Before, every ready block was copied,
parsed again and published in one callback (about 50 to 65 ms here).
Another process on the machine can only add to a turn's CPU (page faults,
cache misses), never take from it, so the best of three runs is judged."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "bench"))
import evm_common as ec  # noqa: E402
from cslib import SANITIZED  # noqa: E402
from evm_bigblocks import BigNode  # noqa: E402

BLOCKS = 12
# Under sanitizers every allocation and copy is several times slower: the
# bound there only catches a turn that publishes whole blocks at once.
BOUND_MS = 400 if SANITIZED else 40


def follow_once(node):
    r = subprocess.run([ec.CS, "evm", "follow", "--rpc", node.url, "--from", "1", "--until",
                        str(BLOCKS), "--quiet", "--concurrency", "8", "--poll", "50",
                        "--no-subscribe"], capture_output=True, text=True, timeout=300)
    st = {}
    for line in r.stderr.splitlines():
        if line.startswith("evm_follow_") and ":" in line:
            k, v = line.split(":", 1)
            st[k] = float(v.split()[0])
    assert r.returncode == 0, r.stderr
    assert st.get("evm_follow_blocks") == BLOCKS, r.stderr
    assert st["evm_follow_txs"] == BLOCKS * 2500, r.stderr
    assert "reorg" not in r.stderr, r.stderr  # no spurious reorg while catching up
    return st, r.stderr


def main():
    node = BigNode(BLOCKS)
    try:
        seen = []
        for _ in range(3):
            st, err = follow_once(node)
            cpu = st["evm_follow_max_loop_cpu"]
            seen.append(cpu)
            if cpu < BOUND_MS:
                break
        assert min(seen) < BOUND_MS, \
            f"a loop turn took {seen} ms of CPU in three runs (bound {BOUND_MS}):\n{err}"
        print(f"ok: {BLOCKS} blocks of {node.block_bytes} bytes, longest loop turn "
              f"{st['evm_follow_max_loop_turn']} ms ({cpu} ms CPU)")
    finally:
        node.close()


if __name__ == "__main__":
    main()
