"""Each example of python/examples run briefly against a simnet through a
`chainscope run` connector, its output checked."""
import os
import subprocess
import sys
import time

import chainscope
from conftest import EXAMPLES, cslib, start_simnet


def run_example(name, srv, *args, timeout=60):
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, name), "--socket", srv.socket,
                        "--control", srv.control] + list(args), capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_connect(connector, simnet):
    out = run_example("connect.py", connector, simnet[0], "--seconds", "1")
    assert "connecting to %s" % simnet[0] in out
    assert "handshake: version 70016, user agent /" in out
    with chainscope.Control(connector.control) as ctl:
        assert ctl.peers() == []  # it disconnects at the end


def test_getaddr_many_peers(connector, tmp):
    sim, addrs = start_simnet(20)
    try:
        listing = tmp.file("nodes.txt", "".join(a + "\n" for a in addrs))
        seen = tmp.file("seen.txt")
        out = run_example("getaddr.py", connector, "--from", listing, "--seconds", "3",
                          "--out", seen)
    finally:
        cslib.stop(sim)
    assert "20 of 20 peers completed the handshake" in out
    assert "getaddr sent to 20 peers" in out
    last = out.strip().splitlines()[-1]
    n, peers = int(last.split()[0]), int(last.split()[4])
    assert peers == 20 and n >= 20, out
    with open(seen) as f:
        got = f.read().split()
    assert len(got) == n
    # simnet's graph links node i to node i + 1: answers name simnet nodes
    assert set(addrs[1:]) & set(got)


def announcing_peer(block_hash, delay):
    """A python3-bitcoinlib peer that completes the handshake, waits `delay`
    seconds and announces a block by inv."""
    import bitcoin.messages as m
    from bitcoin.net import CInv
    from btcpeer import version_msg

    def behaviour(conn):
        while conn.recv().command != b"version":
            pass
        conn.send(version_msg())
        conn.send(m.msg_verack())
        time.sleep(delay)
        inv = CInv()
        inv.type = 2
        inv.hash = block_hash
        msg = m.msg_inv()
        msg.inv = [inv]
        conn.send(msg)
        time.sleep(5)
    return behaviour


def test_watch_blocks(connector, simnet):
    import btcpeer
    h = bytes(range(32))
    servers = []
    for delay in (1.0, 1.5):
        s = btcpeer.PeerServer()
        s.behaviours.put(announcing_peer(h, delay))
        servers.append(s)
    p = subprocess.Popen([sys.executable, os.path.join(EXAMPLES, "watch_blocks.py"),
                          "--socket", connector.socket, "--seconds", "10"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = p.stdout.readline()  # subscribed: the peers may come now
        assert "watching block announcements" in first, first + p.stderr.read()
        with chainscope.Control(connector.control) as ctl:
            for a in simnet[:3]:
                ctl.connect(a)
            for s in servers:
                ctl.connect("127.0.0.1:%d" % s.port)
        rest, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
        for s in servers:
            s.close()
    assert p.returncode == 0, err
    out = {"text": first + rest}
    text = out["text"]
    lines = [l for l in text.splitlines() if l.startswith("block ")]
    assert "watching block announcements" in text
    assert "first announced by 127.0.0.1:%d (inv)" % servers[0].port in lines[0], text
    assert "announced by 127.0.0.1:%d (inv)" % servers[1].port in lines[1], text
    assert "ms later" in lines[1]
    assert lines[-1].endswith(": 2 peers"), text
    hexes = {l.split()[1].rstrip(":") for l in lines}
    assert hexes == {h[::-1].hex()}  # shown in display order, as bitcoind shows it


def test_disconnect_duplicates(connector, simnet):
    with chainscope.Control(connector.control) as ctl:
        ids = [ctl.connect(simnet[0]), ctl.connect(simnet[0]), ctl.connect(simnet[1]),
               ctl.connect(simnet[0])]
        cslib.wait_for(lambda: len(ctl.peers()) == 4, what="4 peers")
        out = run_example("disconnect_duplicates.py", connector)
        left = {p["id"] for p in ctl.peers()}
    host, port = simnet[0].rsplit(":", 1)
    assert "%s %s: 3 connections, keeping peer %d, closing %d %d" % (
        host, port, ids[0], ids[1], ids[3]) in out, out
    assert "4 peers, 2 duplicates closed" in out
    assert left == {ids[0], ids[2]}
