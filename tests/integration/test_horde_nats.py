#!/usr/bin/python3
"""A horde over NATS request/reply against a real nats-server: two members,
each a `chainscope connector --shard I/2` with a `chainscope horde member`
beside it, behind one `chainscope horde --nats` control socket, driven by
the unchanged `chainscope ctl` against a simnet:

- connects spread by the peer's IP, ids name their member, peers / send /
  disconnect-all merge across members;
- a member's connector SIGKILLed and started again is noticed (its new
  epoch) and the horde registers its messages again, so sends work on
  every member;
- a member whose relay is gone answers with a clear error naming it, the
  other member goes on, and the member serves again once its relay is back."""
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from btcpeer import ctl, start_simnet, stop  # noqa: E402
from cslib import CHAINSCOPE, TempDir, main, start, wait_for  # noqa: E402
from cslib import stop as stop_code  # noqa: E402
from test_horde import peers, shard_of_addr as horde_rule  # noqa: E402
from test_nats import NatsServer  # noqa: E402

MEMBERS = 2
NODES = 12


def shard_of_addr(addr):
    return horde_rule(addr, MEMBERS)


class HordeNatsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.procs = []
        self.err = open(self.tmp.file("horde.err"), "w")
        self.nats = NatsServer(self.tmp)
        listing = self.tmp.file("nodes.txt")
        self.sim, _, _ = start_simnet(["--nodes", str(NODES), "--list", listing])
        with open(listing) as f:
            self.nodes = [line.split()[0] for line in f if line.strip()]
        self.conns, self.members = [], []
        for i in range(MEMBERS):
            self.conns.append(self.start_connector(i))
            self.members.append(self.start_member(i))
        self.control = self.tmp.file("horde.sock")
        self.horde = start([CHAINSCOPE, "horde", "--nats", self.nats.url, "--members",
                            str(MEMBERS), "--control", self.control, "--timeout", "3"],
                           stdout=subprocess.DEVNULL, stderr=self.err)
        wait_for(lambda: os.path.exists(self.control), what="horde socket")

    def conn_sock(self, i):
        return self.tmp.file("conn-%d.sock" % i)

    def start_connector(self, i):
        p = start([CHAINSCOPE, "connector", "--shard", "%d/%d" % (i, MEMBERS), "--control",
                   self.conn_sock(i), "--network", "regtest", "--quiet"],
                  stdout=subprocess.DEVNULL, stderr=self.err)
        wait_for(lambda: os.path.exists(self.conn_sock(i)), what="connector %d's socket" % i)
        return p

    def start_member(self, i):
        return start([CHAINSCOPE, "horde", "member", "--nats", self.nats.url, "--index", str(i),
                      "--connector", self.conn_sock(i)],
                     stdout=subprocess.DEVNULL, stderr=self.err)

    def tearDown(self):
        for p in [self.horde] + self.members + self.conns:
            if p and p.poll() is None:
                stop(p)
        stop(self.sim)
        self.nats.kill()
        self.err.close()
        self.tmp.cleanup()

    def log(self):
        with open(self.tmp.file("horde.err")) as f:
            return f.read()

    def connect(self, addrs):
        r = ctl(self.control, "connect", *addrs)
        self.assertEqual(r.returncode, 0, r.stderr + self.log()[-2000:])
        return {line.split()[1]: int(line.split()[0]) for line in r.stdout.splitlines()}

    def connect_all(self):
        # the first requests may come before the members' subscriptions are in
        wait_for(lambda: ctl(self.control, "peers").returncode == 0, timeout=20,
                 what="every member answering")
        ids = self.connect(self.nodes)
        self.assertEqual(len(ids), NODES)
        wait_for(lambda: len([p for p in peers(self.control) if p["ready"]]) == NODES,
                 timeout=20, what="every peer's handshake")
        return ids

    def test_routing_merging(self):
        ids = self.connect_all()
        self.assertEqual(len(set(ids.values())), NODES)
        for addr, pid in ids.items():
            self.assertEqual((pid - 1) % MEMBERS, shard_of_addr(addr), addr)
        self.assertEqual({(pid - 1) % MEMBERS for pid in ids.values()}, set(range(MEMBERS)))
        for i in range(MEMBERS):  # each connector holds its share
            own = {p["id"] for p in peers(self.conn_sock(i))}
            self.assertEqual(own, {p for p in ids.values() if (p - 1) % MEMBERS == i})
        r = ctl(self.control, "send", '{"command":"ping","nonce":11}')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("sent to %d peers" % NODES, r.stdout)
        r = ctl(self.control, "disconnect", "all")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("disconnected %d" % NODES, r.stdout)
        wait_for(lambda: peers(self.control) == [], what="no peer left")
        self.assertEqual(stop_code(self.horde), 0)
        self.horde = None

    def test_a_restarted_connector_gets_its_registrations_again(self):
        ids = self.connect_all()
        for n in range(3):
            r = ctl(self.control, "send", '{"command":"ping","nonce":%d}' % (20 + n))
            self.assertIn("sent to %d peers" % NODES, r.stdout)
        self.conns[1].send_signal(signal.SIGKILL)
        self.conns[1].wait()
        self.conns[1] = self.start_connector(1)
        wait_for(lambda: "shard 1: 3 registrations replayed" in self.log(), timeout=20,
                 what="member 1's registrations replayed: " + self.log()[-1500:])
        self.assertIn("member 1: its connector was restarted", self.log())
        lost = [a for a, i in ids.items() if (i - 1) % MEMBERS == 1]
        new = self.connect(lost)
        self.assertTrue(all((i - 1) % MEMBERS == 1 for i in new.values()), new)
        wait_for(lambda: len([p for p in peers(self.control) if p["ready"]]) == NODES,
                 timeout=20, what="every peer back")
        r = ctl(self.control, "send", '{"command":"ping","nonce":30}')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("sent to %d peers" % NODES, r.stdout)

    def test_a_member_without_its_relay(self):
        self.connect_all()
        self.assertEqual(stop_code(self.members[1]), 0)
        one = [a for a in self.nodes if shard_of_addr(a) == 1][0]
        zero = [a for a in self.nodes if shard_of_addr(a) == 0][0]
        r = ctl(self.control, "disconnect", "all")
        t0 = time.time()
        r = ctl(self.control, "connect", one)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("member 1", r.stderr)
        self.assertLess(time.time() - t0, 5, "answered within the timeout")
        r = ctl(self.control, "connect", zero)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.members[1] = self.start_member(1)
        wait_for(lambda: ctl(self.control, "connect", one).returncode == 0, timeout=20,
                 what="member 1 serving again")


if __name__ == "__main__":
    main()
