"""The follower's cursor writes never hold the loop: another process keeps
the cursor database write-locked for 3 s while the follower publishes 40
blocks. Each write waits up to SQLite's busy timeout (2 s) on the thread
pool; the loop goes on (its longest turn stays far below the timeout), and
once the lock is released the cursor reaches the last block. Before, each
block's commit waited on the loop thread."""
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "bench"))
import evm_common as ec  # noqa: E402
from evm_bigblocks import BigNode  # noqa: E402

BLOCKS = 40


def follow(node, db, first, last):
    r = subprocess.run([ec.CS, "evm", "follow", "--rpc", node.url, "--from", str(first),
                        "--until", str(last), "--quiet", "--db", db, "--poll", "50",
                        "--no-subscribe"], capture_output=True, text=True, timeout=120)
    st = {}
    for line in r.stderr.splitlines():
        if line.startswith("evm_follow_") and ":" in line:
            k, v = line.split(":", 1)
            st[k] = float(v.split()[0])
    return r, st


def main():
    tmp = tempfile.mkdtemp(prefix="cs-evm-locked-")
    db = os.path.join(tmp, "cursor.db")
    node = BigNode(BLOCKS + 1, txs=2, input_bytes=8)
    try:
        r, _ = follow(node, db, 1, 1)  # creates the database
        assert r.returncode == 0, r.stderr
        locked = threading.Event()

        def hold():
            c = sqlite3.connect(db, isolation_level=None)
            c.execute("BEGIN IMMEDIATE")
            locked.set()
            time.sleep(3)
            c.execute("COMMIT")
            c.close()

        t = threading.Thread(target=hold)
        t.start()
        locked.wait(10)
        r, st = follow(node, db, 2, BLOCKS + 1)
        t.join()
        assert r.returncode == 0, r.stderr
        assert st.get("evm_follow_blocks") == BLOCKS, r.stderr
        turn = st["evm_follow_max_loop_turn"]
        assert turn < 1000, f"the longest loop turn was {turn} ms:\n{r.stderr}"
        c = sqlite3.connect(db)
        nxt = c.execute("SELECT next FROM evm_cursor WHERE network='evm'").fetchone()[0]
        c.close()
        assert nxt == BLOCKS + 2, f"cursor at {nxt}, expected {BLOCKS + 2}:\n{r.stderr}"
        print(f"ok: {BLOCKS} blocks under a 3 s write lock, longest loop turn {turn} ms, "
              f"cursor at {nxt}")
    finally:
        node.close()


if __name__ == "__main__":
    main()
