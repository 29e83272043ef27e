#!/usr/bin/python3
"""A horde of connector processes behind one control socket, driven by the
unchanged `chainscope ctl` (the C client library) against a simnet:

- connect requests spread over the shards by the peer's IP (the same IP
  always lands on the same shard), peer ids name their shard and are unique;
- peers, send-to-all, send-to-some (with a missing id) and disconnect-all
  merge the shards' answers; each shard's own socket shows its share;
- the shards' events reach one log server, each shard with its own origin;
- a shard SIGKILLed is started again and its registered messages are
  registered again, so later sends work across every shard."""
import json
import os
import signal
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from btcpeer import ctl, start_simnet, stop  # noqa: E402
from cslib import CHAINSCOPE, TempDir, main, read_jsonl, start, wait_for  # noqa: E402
from cslib import stop as stop_code  # noqa: E402

HERE_DIR = os.path.dirname(os.path.abspath(__file__))
SHARDS = 3
NODES = 24


def shard_of_addr(addr, n=SHARDS):
    """The horde's rule (src/btc/horde.c): FNV-1a 64 of the IP text."""
    ip = addr.rsplit(":", 1)[0].strip("[]")
    h = 1469598103934665603
    for b in ip.encode():
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h % n


def peers(sock):
    r = ctl(sock, "peers", "--json")
    assert r.returncode == 0, r.stderr
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]


class HordeTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.sim = self.horde = self.tail = None
        self.err = open(self.tmp.file("horde.err"), "w")
        self.out = open(self.tmp.file("events.jsonl"), "w")
        listing = self.tmp.file("nodes.txt")
        self.sim, first, _ = start_simnet(["--nodes", str(NODES), "--list", listing])
        with open(listing) as f:
            self.nodes = [line.split()[0] for line in f if line.strip()]
        self.control = self.tmp.file("horde.sock")
        self.dir = self.control + ".d"
        self.horde = start([CHAINSCOPE, "horde", "--connectors", str(SHARDS), "--control",
                            self.control, "--", "--network", "regtest"],
                           stdout=subprocess.DEVNULL, stderr=self.err)
        for i in range(SHARDS):
            wait_for(lambda i=i: os.path.exists("%s/shard-%d.sock" % (self.dir, i)),
                     what="shard %d's socket" % i)
        wait_for(lambda: os.path.exists(self.control), what="horde socket")
        self.events = self.tmp.file("events.jsonl")
        self.tail = start([CHAINSCOPE, "tail", "-s", self.dir + "/events.sock", "--json",
                           "--filter", "p2p.handshake"], stdout=self.out)
        time.sleep(0.3)  # the subscriber is attached before the first handshake

    def tearDown(self):
        for p in (self.tail, self.horde):
            if p and p.poll() is None:
                stop(p)
        if self.sim:
            stop(self.sim)
        self.err.close()
        self.out.close()
        self.tmp.cleanup()

    def horde_log(self):
        with open(self.tmp.file("horde.err")) as f:
            return f.read()

    def connect_all(self):
        r = ctl(self.control, "connect", *self.nodes)
        self.assertEqual(r.returncode, 0, r.stderr)
        ids = {}
        for line in r.stdout.splitlines():
            pid, addr = line.split()
            ids[addr] = int(pid)
        self.assertEqual(len(ids), NODES)
        wait_for(lambda: len([p for p in peers(self.control) if p["ready"]]) == NODES,
                 timeout=20, what="every peer's handshake")
        return ids

    def test_routing_merging_and_events(self):
        ids = self.connect_all()
        # ids are unique and name the shard the address hashes to
        self.assertEqual(len(set(ids.values())), NODES)
        for addr, pid in ids.items():
            self.assertEqual((pid - 1) % SHARDS, shard_of_addr(addr), addr)
        used = {(pid - 1) % SHARDS for pid in ids.values()}
        self.assertEqual(used, set(range(SHARDS)), "every shard got peers")
        # each shard's own socket holds exactly its share; the horde the union
        union = set()
        for i in range(SHARDS):
            own = {p["id"] for p in peers("%s/shard-%d.sock" % (self.dir, i))}
            self.assertTrue(all((pid - 1) % SHARDS == i for pid in own), own)
            union |= own
        listed = peers(self.control)
        self.assertEqual({p["id"] for p in listed}, set(ids.values()))
        self.assertEqual(union, set(ids.values()))
        self.assertEqual({"%s:%d" % (p["addr"], p["port"]) for p in listed}, set(ids))
        # send to every peer, then to some across shards with one unknown id
        r = ctl(self.control, "send", '{"command":"ping","nonce":11}')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("sent to %d peers" % NODES, r.stdout)
        some = sorted(ids.values())[:5]
        args = []
        for pid in some + [10_000_001]:
            args += ["--peer", str(pid)]
        r = ctl(self.control, "send", '{"command":"ping","nonce":12}', *args)
        self.assertIn("sent to 5 peers", r.stdout + r.stderr)
        # every shard's handshakes reached the one log server, each shard by its origin
        evs = wait_for(lambda: len(read_jsonl(self.events)) >= NODES and read_jsonl(self.events),
                       what="handshake events")
        self.assertEqual(len(evs), NODES)
        self.assertEqual({e["origin"] for e in evs}, {"connector-%d" % i for i in used})
        # disconnect one, then all
        victim = some[0]
        r = ctl(self.control, "disconnect", str(victim))
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for(lambda: victim not in {p["id"] for p in peers(self.control)},
                 what="the peer gone")
        r = ctl(self.control, "disconnect", "all")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("disconnected %d" % (NODES - 1), r.stdout)
        wait_for(lambda: peers(self.control) == [], what="no peer left")
        self.assertIsNone(self.horde.poll())

    def test_peers_by_pages(self):
        """PEERS pages (after, limit): a horde's pages are the first `limit`
        ids of the union of its shards' pages, ascending, and chain by
        `next` to the whole list; a bad page body is refused."""
        sys.path.insert(0, os.path.join(os.path.dirname(HERE_DIR), "..", "python"))
        from chainscope.control import PEERS, Control, ControlError
        ids = self.connect_all()
        with Control(self.control) as c:
            listed = [p["id"] for p in c.peers(page=5)]
            self.assertEqual(listed, sorted(ids.values()))
            first = c.request(PEERS, struct.pack("<QI", 0, 5)).value
            self.assertEqual([p["id"] for p in first["peers"]], listed[:5])
            self.assertEqual(first["next"], listed[4])
            self.assertEqual(first["count"], NODES)
            last = c.request(PEERS, struct.pack("<QI", listed[-2], 5)).value
            self.assertEqual([p["id"] for p in last["peers"]], listed[-1:])
            self.assertNotIn("next", last)
            for body in (struct.pack("<QI", 0, 0), b"\x01" * 11):
                with self.assertRaises(ControlError) as err:
                    c.request(PEERS, body)
                self.assertIn("u64 after + u32 limit", str(err.exception))
        with Control("%s/shard-0.sock" % self.dir) as c:
            own = [p["id"] for p in c.peers(page=2)]
            self.assertEqual(own, sorted(i for i in ids.values() if (i - 1) % SHARDS == 0))
            with self.assertRaises(ControlError):
                c.request(PEERS, b"\x01" * 11)

    def test_a_killed_shard_comes_back_with_its_registrations(self):
        ids = self.connect_all()
        for n in range(3):  # three registrations the restarted shard must get again
            r = ctl(self.control, "send", '{"command":"ping","nonce":%d}' % (20 + n))
            self.assertIn("sent to %d peers" % NODES, r.stdout)
        pid = int(subprocess.run(["pgrep", "-f", "connector --shard 1/%d --control %s" % (
            SHARDS, self.dir)], capture_output=True, text=True).stdout.split()[0])
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: "shard 1: 3 registrations replayed" in self.horde_log(), timeout=15,
                 what="shard 1 restarted and replayed")
        # its peers went with it; the others are still there
        left = {p["id"] for p in peers(self.control)}
        self.assertEqual(left, {i for i in ids.values() if (i - 1) % SHARDS != 1})
        # reconnect shard 1's addresses: they land on the new shard 1
        lost = [a for a, i in ids.items() if (i - 1) % SHARDS == 1]
        r = ctl(self.control, "connect", *lost)
        self.assertEqual(r.returncode, 0, r.stderr)
        new_ids = [int(line.split()[0]) for line in r.stdout.splitlines()]
        self.assertTrue(all((i - 1) % SHARDS == 1 for i in new_ids), new_ids)
        wait_for(lambda: len([p for p in peers(self.control) if p["ready"]]) == NODES,
                 timeout=20, what="every peer back")
        # a fourth registration gets the same id on every shard: the send works everywhere
        r = ctl(self.control, "send", '{"command":"ping","nonce":30}')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("sent to %d peers" % NODES, r.stdout)
        self.assertIsNone(self.horde.poll())
        # a clean stop: the horde stops its shards
        self.assertEqual(stop_code(self.horde), 0)
        self.horde = None
        time.sleep(0.2)
        r = subprocess.run(["pgrep", "-f", "connector --shard .*/%d --control %s" % (
            SHARDS, self.dir)], capture_output=True, text=True)
        self.assertEqual(r.stdout.strip(), "", "no shard outlives the horde")


if __name__ == "__main__":
    main()
