#!/usr/bin/python3
"""The connector's chainscope_p2p_* metrics, scraped from /metrics of a
`chainscope run` with a connector section while it talks to
python3-bitcoinlib peers: one that completes the handshake, answers pings
and sends an addr and an unknown command; one that breaks a rule; a port
that refuses; an inbound connection that never speaks. The exposition must
pass `promtool check metrics` and hold the counts these peers caused."""
import os
import re
import socket
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bitcoin.messages as m  # noqa: E402
from bitcoin.net import CAddress  # noqa: E402
from btcpeer import PeerServer, frame, msg_empty, version_msg  # noqa: E402
from cslib import Server, TempDir, free_port, main, wait_for  # noqa: E402


def handshake(conn):
    conn.recv()  # their version
    conn.send(version_msg())
    conn.send(msg_empty(b"wtxidrelay"))
    conn.send(msg_empty(b"sendaddrv2"))
    conn.send(m.msg_verack())
    while conn.recv().command != b"verack":
        pass


def good_peer(conn):
    handshake(conn)
    addr = m.msg_addr()
    for i in range(3):
        a = CAddress()
        a.nTime, a.nServices, a.ip, a.port = 1700000000 + i, 1, "10.0.0.%d" % (i + 1), 8333
        addr.addrs.append(a)
    conn.send(addr)
    conn.send(frame(b"xyzzy", b"\x01\x02"))  # not a protocol command: "other"
    try:
        while True:
            msg = conn.recv()
            if msg.command == b"ping":
                pong = m.msg_pong()
                pong.nonce = msg.nonce
                conn.send(pong)
    except (EOFError, OSError):
        return "closed"


def bad_peer(conn):
    handshake(conn)
    bad = bytearray(frame(b"ping", bytes(8)))
    bad[20] ^= 0xff
    conn.send(bytes(bad))
    try:
        while True:
            conn.recv()
    except (EOFError, OSError):
        return "closed"


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        return r.read().decode()


def samples(text):
    """{'name{labels}': value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


class ConnectorMetricsTest(unittest.TestCase):
    def test_metrics(self):
        tmp = TempDir()
        good, bad = PeerServer(), PeerServer()
        good.behaviours.put(good_peer)
        bad.behaviours.put(bad_peer)
        refused = free_port()  # nothing listens there
        listen = free_port()
        srv = Server(tmp, "connector:\n  network: regtest\n  listen: [127.0.0.1:%d]\n"
                     "  connect: [127.0.0.1:%d, 127.0.0.1:%d, 127.0.0.1:%d]\n"
                     "  ping_interval: 1s\n"
                     % (listen, good.port, bad.port, refused), http=True)
        silent = None
        try:
            wait_for(lambda: "chainscope_p2p_peers" in scrape(srv.http_port), what="metrics")
            silent = socket.create_connection(("127.0.0.1", listen), timeout=5)

            def settled():
                s = samples(scrape(srv.http_port))
                return (s.get('chainscope_p2p_peers{direction="out",state="ready"}') == 1
                        and s.get('chainscope_p2p_peers{direction="in",state="handshake"}') == 1
                        and s.get("chainscope_p2p_ping_rtt_seconds_count", 0) >= 2
                        and s.get('chainscope_p2p_disconnects_total{reason="malformed",by="us"}')
                        == 1 and s)
            s = wait_for(settled, timeout=15, what="metrics of the peers' traffic")
            body = scrape(srv.http_port)
            p = subprocess.run(["promtool", "check", "metrics"], input=body, text=True,
                               capture_output=True)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr + body)

            self.assertEqual(s["chainscope_p2p_connection_attempts_total"], 3)
            self.assertEqual(s['chainscope_p2p_connection_failures_total{reason="refused"}'], 1)
            self.assertEqual(s["chainscope_p2p_connections_accepted_total"], 1)
            self.assertEqual(s['chainscope_p2p_peers{direction="out",state="connecting"}'], 0)
            self.assertEqual(s['chainscope_p2p_peers{direction="in",state="ready"}'], 0)
            msgs = 'chainscope_p2p_messages_total{command="%s",direction="%s"}'
            byts = 'chainscope_p2p_message_bytes_total{command="%s",direction="%s"}'
            self.assertEqual(s[msgs % ("addr", "in")], 1)
            self.assertEqual(s[byts % ("addr", "in")], 24 + 1 + 3 * 30)
            self.assertEqual(s[msgs % ("other", "in")], 1)
            self.assertEqual(s[byts % ("other", "in")], 24 + 2)
            self.assertEqual(s[msgs % ("version", "in")], 2)  # good and bad peer
            self.assertEqual(s[msgs % ("version", "out")], 2)
            self.assertEqual(s[msgs % ("verack", "out")], 2)
            self.assertEqual(s[byts % ("verack", "out")], 2 * 24)
            self.assertGreaterEqual(s[msgs % ("pong", "in")], 2)
            self.assertGreaterEqual(s[msgs % ("ping", "out")], s[msgs % ("pong", "in")])
            # the bad ping was refused: it is not a well-formed message
            self.assertNotIn(msgs % ("ping", "in"), s)
            self.assertGreater(s["chainscope_p2p_ping_rtt_seconds_sum"], 0)
            self.assertEqual(s['chainscope_p2p_ping_rtt_seconds_bucket{le="+Inf"}'],
                             s["chainscope_p2p_ping_rtt_seconds_count"])
            self.assertRegex(body, r"# TYPE chainscope_p2p_ping_rtt_seconds histogram")

            # the silent inbound peer goes away: a disconnect by the peer
            silent.close()
            silent = None
            wait_for(lambda: samples(scrape(srv.http_port)).get(
                'chainscope_p2p_disconnects_total{reason="closed_by_peer",by="peer"}') == 1,
                what="disconnect by peer")
            s = samples(scrape(srv.http_port))
            self.assertEqual(s['chainscope_p2p_peers{direction="in",state="handshake"}'], 0)
        finally:
            if silent:
                silent.close()
            self.assertEqual(srv.stop(), 0, srv.logtext()[-2000:])
            good.close()
            bad.close()
            tmp.cleanup()


if __name__ == "__main__":
    main()
