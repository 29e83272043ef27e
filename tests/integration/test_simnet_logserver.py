#!/usr/bin/python3
"""Every message event reaches a log server client at scale: a `chainscope
run` connector handshakes with every node of a 10,000-node simnet while a
`chainscope tail --json` subscriber to `p2p.>` is attached through the log
server; the subscriber receives every handshake event (p2p.handshake and the
peer's version, verack and first ping), one per peer, none lost. Nothing is
dropped on the way: the log server's bus subscription is lossless and the
connector stops reading its peers while the bus is pressed."""
import collections
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from btcpeer import ctl, start_simnet, stop  # noqa: E402
from cslib import CHAINSCOPE, SANITIZED, Server, TempDir, main, start, wait_for  # noqa: E402

NODES = 2000 if SANITIZED else 10000
KINDS = ("p2p.handshake", "p2p.msg.version", "p2p.msg.verack", "p2p.msg.ping")


def peer_of(ev):
    pl = ev["payload"]["peer"]
    return "%s:%d" % (pl["addr"], pl["port"])


class SimnetLogServerTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.sim = None
        self.srv = None
        self.tail = None
        self.out = None

    def tearDown(self):
        if self.tail and self.tail.poll() is None:
            self.tail.kill()
            self.tail.wait()
        if self.out:
            self.out.close()
        if self.srv:
            self.srv.stop()
        if self.sim:
            stop(self.sim)
        self.tmp.cleanup()

    def test_every_handshake_event_reaches_the_subscriber(self):
        listing = self.tmp.file("nodes.txt")
        self.sim, first, _ = start_simnet(["--nodes", str(NODES), "--list", listing])
        with open(listing) as f:
            nodes = [line.split()[0] for line in f if line.strip()]
        self.assertEqual(len(nodes), NODES)
        control = self.tmp.file("control.sock")
        self.srv = Server(self.tmp, "connector:\n  network: regtest\n  control: %s\n"
                          "  max_peers: %d\n  msg_events: true\n" % (control, NODES + 100))
        wait_for(lambda: os.path.exists(control), what="control socket")
        out_path = self.tmp.file("events.jsonl")
        self.out = open(out_path, "w")
        self.tail = start([CHAINSCOPE, "tail", "--socket", self.srv.socket, "--json",
                           "--filter", "p2p.>"], stdout=self.out, stderr=subprocess.PIPE,
                          text=True)
        self.assertIn("connected", self.tail.stderr.readline())
        for i in range(0, NODES, 1000):
            r = ctl(control, "connect", *nodes[i:i + 1000], timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)

        def handshakes():
            self.out.flush()
            n = 0
            with open(out_path) as f:
                for line in f:
                    n += '"p2p.handshake"' in line
            if n < NODES:
                time.sleep(1)  # the file is large: not read 50 times a second
            return n

        # Generous: the machine is slow and shared.
        wait_for(lambda: handshakes() >= NODES, timeout=400,
                 what="%d handshake events" % NODES)
        # The first pings come right after each handshake; wait for them too.
        seen = collections.defaultdict(collections.Counter)

        def count():
            seen.clear()
            with open(out_path) as f:
                for line in f:
                    ev = json.loads(line)
                    if ev["type"] in KINDS and (ev["type"] == "p2p.handshake"
                                                or ev["payload"].get("direction") == "in"):
                        seen[ev["type"]][peer_of(ev)] += 1
            done = all(len(seen[k]) >= NODES for k in KINDS)
            if not done:
                time.sleep(2)
            return done

        wait_for(count, timeout=150, what="every peer's version, verack and ping")
        want = set(nodes)
        for k in KINDS:
            self.assertEqual(set(seen[k]), want, k)
            self.assertEqual(sum(seen[k].values()), NODES, "%s: one per peer" % k)
        self.assertNotIn("cut off", self.srv.logtext())


if __name__ == "__main__":
    main()
