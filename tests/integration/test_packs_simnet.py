"""The built-in packs on real P2P traffic: `chainscope run` with the
connector and every pack (`include: [builtin:...]`) connects to a simulated
network (`chainscope simnet`) where one node spams addr messages of 200
entries and another spams pings, and the others are polite. p2p-addr-spam
and p2p-addr-bucket (its burst lowered by an override to 500 entries) fire
for the addr spammer only, p2p-ping-spam for the ping spammer only, and no
other rule fires for anyone (false positives: zero). A python3-bitcoinlib
peer that reconnects in a loop to the connector's listener, the last time
with an impossible version, fires p2p-reconnect-loop and
p2p-impossible-version and nothing else; one that answers once and goes
silent fires p2p-peer-silent (its duration overridden to 2 s), one that
answers and closes does not."""
import os
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cslib import CHAINSCOPE, Server, TempDir, cs, free_port, main, start, stop, wait_for  # noqa: E402
from test_monitors_spam import Tail  # noqa: E402
import btcpeer  # noqa: E402


class PacksOnSimnet(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def test_spammers_only(self):
        t = self.tmp
        sim = start([CHAINSCOPE, "simnet", "--nodes", "10", "--addr-spam", "0.1",
                     "--ping-spam", "0.1", "--spam-ms", "100", "--spam-size", "200",
                     "--seed", "4"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            first = sim.stderr.readline().split("first ")[1].strip()
            kinds = {}
            for _ in range(2):
                w = sim.stderr.readline().split()
                kinds[w[1]] = w[2:]
            addr_spammer, ping_spammer = kinds["addr-spam"][0], kinds["ping-spam"][0]
            port = first.split(":")[1]
            nodes = ["127.1.0.%d:%s" % (i, port) for i in range(1, 11)]
            polite = [a for a in nodes if a not in (addr_spammer, ping_spammer)][:3]
            control = t.file("control.sock")
            srv = Server(t, f"""
connector:
  network: regtest
  control: {control}
monitors:
  - include: [builtin:p2p-attacks, builtin:p2p-anomalies, builtin:node-health, builtin:evm-ops]
  - name: p2p-addr-bucket
    window: {{burst: 500}}
""")
            try:
                tail = Tail(t, srv.socket, "alert.fired", "p2p.handshake", "test.ready")
                wait_for(lambda: cs("publish", "--socket", srv.socket,
                                    input='{"type":"test.ready","payload":{}}\n').returncode
                         == 0 and tail.events("test.ready"), timeout=10, what="tail")
                r = cs("ctl", "--socket", control, "connect", addr_spammer, ping_spammer, *polite)
                self.assertEqual(r.returncode, 0, r.stderr)
                wait_for(lambda: len(tail.events("p2p.handshake")) >= 5, timeout=10,
                         what="5 handshakes: " + srv.logtext())
                for _ in range(3):  # the polite nodes answer getaddr: a few addr each
                    cs("ctl", "--socket", control, "send", '{"command":"getaddr"}')
                    time.sleep(0.1)

                def fired():
                    return {(a["payload"]["monitor"]["name"], a["payload"]["event"]["key"])
                            for a in tail.events("alert.fired")}
                want = {"p2p-addr-spam", "p2p-addr-bucket", "p2p-ping-spam"}
                wait_for(lambda: {n for n, _ in fired()} >= want, timeout=15,
                         what="three alerts: %s %s" % (fired(), srv.logtext()))
                time.sleep(1.5)  # the spam goes on: nothing else fires
                got = fired()
                tail.stop()
            finally:
                self.assertEqual(srv.stop(), 0)
        finally:
            stop(sim)
        by_rule = {}
        for name, key in got:
            by_rule.setdefault(name, set()).add(key.split(" ")[-1])
        self.assertEqual(set(by_rule), want, got)  # no other rule: zero false positives
        self.assertEqual(by_rule["p2p-addr-spam"], {addr_spammer})
        self.assertEqual(by_rule["p2p-addr-bucket"], {addr_spammer})
        self.assertEqual(by_rule["p2p-ping-spam"], {ping_spammer})

    def test_reconnect_loop_and_forged_version(self):
        t = self.tmp
        port = free_port()
        srv = Server(t, f"""
connector:
  network: regtest
  listen: [127.0.0.1:{port}]
monitors:
  - include: [builtin:p2p-attacks, builtin:p2p-anomalies, builtin:node-health, builtin:evm-ops]
""")
        try:
            tail = Tail(t, srv.socket, "alert.fired", "p2p.handshake", "test.ready")
            wait_for(lambda: cs("publish", "--socket", srv.socket,
                                input='{"type":"test.ready","payload":{}}\n').returncode
                     == 0 and tail.events("test.ready"), timeout=10, what="tail")
            for i in range(7):
                conn = btcpeer.Conn(socket.create_connection(("127.0.0.1", port), timeout=10))
                conn.send(btcpeer.version_msg(version=999999 if i == 6 else 70016, nonce=100 + i))
                got = set()
                while not {b"version", b"verack"} <= got:
                    got.add(conn.recv().command)
                conn.send(btcpeer.m.msg_verack())
                wait_for(lambda: len(tail.events("p2p.handshake")) > i, timeout=10,
                         what="handshake %d: %s" % (i, srv.logtext()))
                conn.close()
            want = {"p2p-reconnect-loop", "p2p-impossible-version"}

            def fired():
                return [a["payload"] for a in tail.events("alert.fired")]
            wait_for(lambda: {a["monitor"]["name"] for a in fired()} >= want, timeout=10,
                     what="two alerts: %s" % fired())
            time.sleep(1)
            alerts = fired()
            tail.stop()
        finally:
            self.assertEqual(srv.stop(), 0)
        self.assertEqual(sorted(a["monitor"]["name"] for a in alerts), sorted(want))
        loop = next(a for a in alerts if a["monitor"]["name"] == "p2p-reconnect-loop")
        self.assertEqual(loop["window"]["group"], "127.0.0.1")
        forged = next(a for a in alerts if a["monitor"]["name"] == "p2p-impossible-version")
        self.assertEqual(forged["event"]["payload"]["version"], 999999)

    def test_silent_peer(self):
        t = self.tmp
        port = free_port()
        srv = Server(t, f"""
connector:
  network: regtest
  listen: [127.0.0.1:{port}]
monitors:
  - include: [builtin:p2p-anomalies]
  - name: p2p-peer-silent
    window: {{duration: 2s}}
""")
        try:
            tail = Tail(t, srv.socket, "alert.fired", "p2p.handshake", "p2p.msg.pong",
                        "p2p.conn.closed", "test.ready")
            wait_for(lambda: cs("publish", "--socket", srv.socket,
                                input='{"type":"test.ready","payload":{}}\n').returncode
                     == 0 and tail.events("test.ready"), timeout=10, what="tail")
            conns = []
            for i in range(2):
                conn = btcpeer.Conn(socket.create_connection(("127.0.0.1", port), timeout=10))
                conn.send(btcpeer.version_msg(nonce=200 + i))
                got = set()
                while not {b"version", b"verack"} <= got:
                    got.add(conn.recv().command)
                conn.send(btcpeer.m.msg_verack())
                conn.send(btcpeer.m.msg_pong(nonce=5))
                conns.append(conn)
            wait_for(lambda: len(tail.events("p2p.msg.pong")) >= 2, timeout=10,
                     what="two pongs: " + srv.logtext())
            ports = [c.sock.getsockname()[1] for c in conns]
            conns[1].close()  # answers and goes away: not silent
            wait_for(lambda: tail.events("p2p.conn.closed"), timeout=10, what="the close")
            wait_for(lambda: tail.events("alert.fired"), timeout=10,
                     what="the silent peer: " + srv.logtext())
            time.sleep(2.5)  # once: no second alert
            alerts = [a["payload"] for a in tail.events("alert.fired")]
            tail.stop()
            conns[0].close()
        finally:
            self.assertEqual(srv.stop(), 0)
        self.assertEqual([a["monitor"]["name"] for a in alerts], ["p2p-peer-silent"])
        # the group is the silent peer's key ("ID 127.0.0.1:PORT")
        self.assertTrue(alerts[0]["window"]["group"].endswith(":%d" % ports[0]), alerts)


if __name__ == "__main__":
    main()
