#!/usr/bin/python3
"""The audit's Bitcoin `p2p` check against real peers: one node whose p2p
address is a `chainscope simnet` node (the handshake succeeds: ok with its
user agent, version and start height) and one whose address is a closed
port (fail: refused). `chainscope audit --once` must name both in the text
and JSON reports and record both in the ledger, and exit 1 (a node is
down)."""
import json
import os
import socket
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cslib import TempDir, cs, start, stop  # noqa: E402


def closed_port():
    """A port nothing listens on: bound, never listened on, so a SYN there
    is answered with a reset (refused) while we hold it."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


def main():
    tmp = TempDir()
    sim = start([os.environ["CHAINSCOPE"], "simnet", "--nodes", "2"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    holder = None
    try:
        line = sim.stderr.readline()
        assert line.startswith("simnet:"), "simnet did not start: %r" % line
        first = line.split("first ")[1].strip()
        holder, port = closed_port()
        cfg = tmp.file("audit.yaml", """audit:
  db: %s
  networks:
    - name: btc-sim
      kind: bitcoin
      p2p_network: regtest
      timeout: 3s
      nodes:
        - name: sim-good
          role: seed
          p2p: "%s"
        - name: sim-closed
          role: seed
          p2p: "127.0.0.1:%d"
""" % (tmp.file("audit.db"), first, port))
        r = cs("audit", "--once", "-c", cfg, timeout=60)
        out = r.stdout
        assert r.returncode == 1, "exit %d, stderr %s" % (r.returncode, r.stderr)
        assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr
        assert "sim-good" in out and "sim-closed" in out, out
        assert "p2p: 127.0.0.1:%d: refused" % port in out, out

        r = cs("audit", "--once", "-c", cfg, "--format", "json", timeout=60)
        assert "/Satoshi:26.1.0/ version 70016, start height 822465, handshake" in out, out
        rep = json.loads(r.stdout)
        net = rep["networks"][0]
        nodes = {n["name"]: n for n in net["nodes"]}
        good = {c["check"]: c for c in nodes["sim-good"]["checks"]}["p2p"]
        bad = {c["check"]: c for c in nodes["sim-closed"]["checks"]}["p2p"]
        assert good["state"] == "ok", good
        assert good["detail"].startswith("/Satoshi:26.1.0/ version 70016, start height 822465, handshake "), good
        assert "start height" in good["detail"] and "handshake" in good["detail"], good
        assert isinstance(good["value"], (int, float)) and 0 <= good["value"] < 3000, good
        assert nodes["sim-good"]["status"] == "up" and nodes["sim-good"]["connected"] == "yes"
        assert bad["state"] == "fail" and bad["detail"].endswith("refused"), bad
        assert nodes["sim-closed"]["status"] == "down" and nodes["sim-closed"]["connected"] == "no"

        db = sqlite3.connect(tmp.file("audit.db"))
        rows = db.execute("SELECT node, state, detail FROM results WHERE check_name = 'p2p' "
                          "ORDER BY time, node").fetchall()
        db.close()
        assert len(rows) == 4, rows
        assert ("sim-closed", 1, "127.0.0.1:%d: refused" % port) in rows, rows
        assert [r[1] for r in rows if r[0] == "sim-good"] == [0, 0], rows
    finally:
        if holder:
            holder.close()
        stop(sim)
    print("ok: audit p2p check")


if __name__ == "__main__":
    main()
