#!/usr/bin/python3
"""The audit's Bitcoin `p2p` check against a node that accepts the TCP
connection and resets it before any reply (a firewall or a node that
accepts and drops): the connector closes with code ECONNRESET (whatever
libuv's text for it) and the audit reports it as such, not as a generic
socket error."""
import json
import os
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cslib import TempDir, cs  # noqa: E402


def resetter(listener, stop):
    """Accepts every connection, reads the start of the connector's version
    (so the connection is surely open on its side) and resets it (SO_LINGER
    0: close sends RST)."""
    listener.settimeout(0.2)
    while not stop.is_set():
        try:
            c, _ = listener.accept()
        except OSError:
            continue
        c.settimeout(5)
        try:
            c.recv(24)
        except OSError:
            pass
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()


def main():
    tmp = TempDir()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    stop = threading.Event()
    t = threading.Thread(target=resetter, args=(listener, stop))
    t.start()
    try:
        node = '{name: sim-reset, role: seed, p2p: "127.0.0.1:%d"}' % port
        cfg = tmp.file("audit.yaml", "audit:\n  db: %s\n  networks:\n"
                       "    - {name: btc-sim, kind: bitcoin, p2p_network: regtest, timeout: 3s,"
                       " nodes: [%s]}\n" % (tmp.file("audit.db"), node))
        r = cs("audit", "--once", "-c", cfg, "--format", "json", timeout=60)
        assert r.returncode == 1, "exit %d, stderr %s" % (r.returncode, r.stderr)
        rep = json.loads(r.stdout)
        node = rep["networks"][0]["nodes"][0]
        p2p = {c["check"]: c for c in node["checks"]}["p2p"]
        assert p2p["state"] == "fail", p2p
        assert p2p["detail"] == "127.0.0.1:%d: reset (after accept, before the handshake)" % port, p2p
    finally:
        stop.set()
        t.join()
        listener.close()
        tmp.cleanup()
    print("ok: audit p2p check of a node that resets")


if __name__ == "__main__":
    main()
