"""The bitcoind component end to end: `chainscope run` polls two fixture
Core nodes (29 and 27, tests/integration/bitcoind_fixture.py) that a script
changes between polls; `chainscope tail` shows every bitcoind.* and chain.*
event type, each shaped as `chainscope events` documents it; /metrics
passes promtool; /api/forks shows the tree; monitors on a stuck tip, on a
fork and on a peer from a spy list notify a webhook receiver."""
import json
import os
import re
import signal
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from bitcoind_fixture import Chain, FixtureNode, block_hash
from cslib import CHAINSCOPE, TempDir, cs, free_port, main, read_jsonl, start, stop, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
METHODS = ["getpeerinfo", "getmempoolinfo", "uptime", "getnettotals", "getmemoryinfo",
           "getaddrmaninfo", "getchaintxstats", "getnetworkinfo", "getblockchaininfo",
           "getorphantxs", "getrawaddrman", "getchaintips"]


def schema():
    """type -> (fields, required) from `chainscope events`."""
    out = cs("events").stdout
    types, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"^(\S+)\s+\(", line)
        if m:
            cur = types.setdefault(m.group(1), (set(), set()))
            continue
        m = re.match(r"^    (\S+)\s+(\S+)\s+(\?)?", line)
        if m and cur is not None:
            name = m.group(1)
            if "." in name or "[" in name:
                continue
            cur[0].add(name)
            if not m.group(3):
                cur[1].add(name)
    return types


class BitcoindTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.chain = Chain(100)
        self.a = FixtureNode(self.chain, 29, self.tmp.path)
        self.b = FixtureNode(self.chain, 27, self.tmp.path)
        self.url_a, self.url_b = self.a.start(), self.b.start()
        self.procs = []
        self.files = []

    def tearDown(self):
        if os.path.exists(self.tmp.file("run.log")) and any(
                e for _, e in (self._outcome.result.errors + self._outcome.result.failures)
                if _ is self):
            with open(self.tmp.file("run.log")) as f:
                sys.stderr.write("chainscope run said:\n" + f.read()[-3000:])
        for p in self.procs:
            if p.poll() is None:
                stop(p, signal.SIGKILL)
            for f in (p.stdout, p.stderr):
                if f:
                    f.close()
        for f in self.files:
            f.close()
        self.a.stop()
        self.b.stop()
        self.tmp.cleanup()

    def config(self, hook_port):
        t = self.tmp
        spy = t.file("spy.txt", "# known spy nodes\n192.0.2.0/25\n2001:db8:ffff::/48\n")
        asn = t.file("asn.tsv", "192.0.2.0\t192.0.2.255\t64500\tZZ\tTEST-NET-1\n"
                     "203.0.113.0/24\t64501\n")
        iv = "{%s}" % ", ".join("%s: 300ms" % m for m in METHODS)
        self.sock = t.file("bus.sock")
        self.http_port = free_port()
        node = ("    - name: %s\n      network: btc-main\n      rpc: %s\n      cookie: %s\n"
                "      timeout: 2s\n      retries: 0\n      intervals: %s\n")
        return t.file("run.yaml", (
            "node: test\n"
            "logserver:\n  socket: %s\n" % self.sock +
            "http:\n  listen: 127.0.0.1:%d\n" % self.http_port +
            "bitcoind:\n  nodes:\n" +
            node % ("node-a", self.url_a, self.a.cookie, iv) +
            node % ("node-b", self.url_b, self.b.cookie, iv) +
            "  lists: [{name: spy, file: %s}]\n" % spy +
            "  asn: %s\n" % asn +
            "  backoff_max: 1s\n"
            "  forks: {stale_after: 3s, lag_blocks: 1, history: 3}\n"
            "monitors:\n"
            "  - name: tip-stuck\n    type: event\n    severity: high\n    risk: technical\n"
            "    subjects: [chain.stuck]\n    condition: 'seconds >= 3 AND node == \"node-b\"'\n"
            "    channels: [ops]\n"
            "  - name: fork\n    type: event\n    severity: medium\n    risk: technical\n"
            "    subjects: [chain.reorg]\n    condition: 'depth >= 1'\n    channels: [ops]\n"
            "  - name: spy-peer\n    type: event\n    severity: medium\n    risk: technical\n"
            "    subjects: [bitcoind.peer.connected]\n    condition: 'lists contains \"spy\"'\n"
            "    channels: [ops]\n"
            "channels:\n  ops:\n    type: webhook\n    url: http://127.0.0.1:%d/hook\n" % hook_port +
            "notify:\n  outbox: %s\n" % t.file("outbox.db")))

    def events(self):
        return read_jsonl(self.tail_log)

    def wait_event(self, pred, what, timeout=20):
        return wait_for(lambda: [e for e in self.events() if pred(e)], timeout=timeout, what=what)

    def get(self, path):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.http_port, path),
                                    timeout=10) as r:
            return r.read().decode()

    def test_run_produces_every_event(self):
        hook_port = free_port()
        hook_log = self.tmp.file("hook.jsonl")
        hook = start(["/usr/bin/python3", os.path.join(HERE, "receivers.py"), "http",
                      str(hook_port), hook_log], text=True)
        self.procs.append(hook)
        self.assertEqual(hook.stdout.readline().strip(), "ready")
        cfg = self.config(hook_port)
        log = open(self.tmp.file("run.log"), "w")
        self.files.append(log)
        run = start([CHAINSCOPE, "run", "-c", cfg], stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(run)
        wait_for(lambda: os.path.exists(self.sock) or run.poll() is not None, what="socket")
        self.assertIsNone(run.poll(), "chainscope run exited")
        self.tail_log = self.tmp.file("tail.jsonl")
        out = open(self.tail_log, "w")
        self.files.append(out)
        tail = start([CHAINSCOPE, "tail", "--socket", self.sock, "--json", "--filter",
                      "bitcoind.>", "--filter", "chain.>"], stdout=out, stderr=subprocess.DEVNULL)
        self.procs.append(tail)

        # Snapshots of both nodes.
        self.wait_event(lambda e: e["type"] == "bitcoind.blockchain" and
                        e["payload"]["node"] == "node-b", "node-b's getblockchaininfo")
        ev = self.wait_event(lambda e: e["type"] == "bitcoind.blockchain" and
                             e["payload"]["node"] == "node-a", "node-a's snapshot")[0]
        self.assertEqual(ev["network"], "btc-main")
        self.assertEqual(ev["key"], "node-a")
        self.assertEqual(ev["payload"]["blocks"], 100)
        self.assertEqual(ev["payload"]["bits"], "207fffff")  # Core 29
        self.assertEqual(ev["payload"]["warnings"], [])
        ev = [e for e in self.events() if e["type"] == "bitcoind.blockchain" and
              e["payload"]["node"] == "node-b"][0]
        self.assertEqual(ev["payload"]["warnings"], "")  # Core 27: a string
        self.assertNotIn("bits", ev["payload"])
        ev = self.wait_event(lambda e: e["type"] == "bitcoind.peers", "peers")[0]
        self.assertEqual(ev["payload"]["count"], 4)
        self.assertEqual(ev["payload"]["inbound"], 1)
        self.assertEqual(ev["payload"]["by_network"], {"ipv4": 2, "ipv6": 1, "onion": 1})
        self.assertAlmostEqual(ev["payload"]["ping_min_ms"], 29.8, places=3)
        ev = self.wait_event(lambda e: e["type"] == "bitcoind.orphans", "orphans")[0]
        self.assertEqual((ev["payload"]["count"], ev["payload"]["bytes"], ev["payload"]["peers"]),
                         (2, 414, 2))
        # Core 27 has no getorphantxs: the failure is an event, retried later.
        ev = self.wait_event(lambda e: e["type"] == "bitcoind.rpc.failed" and
                             e["payload"]["method"] == "getorphantxs", "getorphantxs failure")[0]
        self.assertEqual(ev["payload"]["node"], "node-b")
        self.assertIn("HTTP 404", ev["payload"]["error"])  # Core 27 answers 404
        self.assertGreater(ev["payload"]["retry_ms"], 300)  # backing off

        # Peers come and go.
        self.a.drop_peer(2)
        self.a.add_peer(7)
        ev = self.wait_event(lambda e: e["type"] == "bitcoind.peer.disconnected",
                             "a disconnected peer")[0]["payload"]
        self.assertEqual((ev["node"], ev["id"], ev["addr"], ev["conntype"]),
                         ("node-a", 2, "198.51.100.23:49152", "inbound"))
        ev = self.wait_event(lambda e: e["type"] == "bitcoind.peer.connected" and
                             e["payload"]["id"] == 7, "a connected peer")[0]["payload"]
        self.assertEqual(ev["lists"], ["spy"])
        self.assertEqual(ev["asn"], 64500)
        self.assertFalse(ev["initial"])
        self.assertEqual(ev["transport"], "v1")

        # The address manager grows and replaces an entry.
        self.wait_event(lambda e: e["type"] == "bitcoind.rawaddrman" and
                        not e["payload"]["first"], "a second addrman snapshot")
        self.a.grow_addrman(5, replace=["17/3"])
        ev = self.wait_event(lambda e: e["type"] == "bitcoind.rawaddrman" and
                             e["payload"]["new_gained"] > 0, "addrman gains")[0]["payload"]
        self.assertEqual((ev["new_gained"], ev["new_replaced"], ev["new"], ev["tried"]),
                         (5, 1, 8, 2))
        self.assertGreater(ev["new_gained_per_hour"], 5)

        # The tip moves on node-a: a new best tip, node-b lags.
        base = self.chain.base
        a101 = self.chain.mine(base, "a")
        self.a.set_tip(a101)
        ev = self.wait_event(lambda e: e["type"] == "chain.tip" and
                             e["payload"]["height"] == 101, "tip 101")[0]["payload"]
        self.assertEqual((ev["hash"], ev["node"], ev["previous"]), (a101, "node-a", base))
        self.wait_event(lambda e: e["type"] == "chain.lagging" and
                        e["payload"]["node"] == "node-b", "node-b lagging")
        # A fork: node-b mines its own 101, node-a goes on to 102, node-b
        # reorganises onto node-a's chain.
        b101 = self.chain.mine(base, "b")
        self.b.set_tip(b101)
        self.wait_event(lambda e: e["type"] == "bitcoind.chaintips" and
                        e["payload"]["node"] == "node-b" and
                        e["payload"]["tips"][0]["hash"] == b101, "node-b on its fork")
        time.sleep(0.5)
        a102 = self.chain.mine(a101, "a")
        self.a.set_tip(a102)
        ev = self.wait_event(lambda e: e["type"] == "chain.stale" and
                             e["payload"]["hash"] == b101, "the stale block")[0]["payload"]
        self.assertEqual((ev["height"], ev["status"], ev["node"]), (101, "outrun", "node-b"))
        self.b.set_tip(a102, side=[(b101, "valid-fork")])
        ev = self.wait_event(lambda e: e["type"] == "chain.reorg", "the reorg")[0]["payload"]
        self.assertEqual((ev["node"], ev["depth"], ev["fork_height"], ev["old_tip"],
                          ev["new_tip"]), ("node-b", 1, 100, b101, a102))
        bad = self.chain.mine(a101, "bad")
        self.a.set_tip(a102, side=[(bad, "invalid")])
        ev = self.wait_event(lambda e: e["type"] == "chain.invalid", "an invalid block")[0]
        self.assertEqual((ev["payload"]["hash"], ev["payload"]["height"]), (bad, 102))

        forks = json.loads(self.get("/api/forks"))["networks"][0]
        self.assertEqual(forks["network"], "btc-main")
        self.assertEqual(forks["best"], {"height": 102, "hash": a102})
        self.assertEqual({n["node"]: n["hash"] for n in forks["nodes"]},
                         {"node-a": a102, "node-b": a102})
        by_hash = {h["hash"]: h for h in forks["headers"]}
        self.assertEqual(by_hash[a102]["prev"], a101)
        self.assertFalse(by_hash[b101]["best_chain"])
        self.assertEqual(sorted(by_hash[a102]["tip_of"]), ["node-a", "node-b"])

        # No move for stale_after: stuck tips; the monitor notifies.
        ev = self.wait_event(lambda e: e["type"] == "chain.stuck" and
                             e["payload"]["node"] == "node-b", "a stuck tip")[0]["payload"]
        self.assertEqual((ev["height"], ev["hash"]), (102, a102))
        self.assertGreaterEqual(ev["seconds"], 3)

        # node-b stops answering getchaintips.
        self.b.failing["getchaintips"] = "http"
        self.wait_event(lambda e: e["type"] == "chain.unreachable", "unreachable")
        ev = self.wait_event(lambda e: e["type"] == "bitcoind.rpc.failed" and
                             e["payload"]["method"] == "getchaintips", "failure")[0]["payload"]
        self.assertEqual(ev["attempt"], 1)

        # A slow RPC times out; the other RPCs of that node go on meanwhile.
        self.b.delay["getnettotals"] = 2.5
        t0 = time.time()
        ev = self.wait_event(lambda e: e["type"] == "bitcoind.rpc.failed" and
                             e["payload"]["method"] == "getnettotals", "a timeout")[0]
        self.assertIn("timed out", ev["payload"]["error"])
        during = [e for e in self.events() if e["type"] == "bitcoind.mempool" and
                  e["payload"]["node"] == "node-b" and e["time"] / 1e9 > t0 + 0.5 and
                  e["seq"] < ev["seq"]]
        self.assertGreater(len(during), 2)  # polled every 300 ms while getnettotals hung
        del self.b.delay["getnettotals"]

        # node-a restarts with a new cookie: refused once, then read again.
        self.a.restart()
        ev = self.wait_event(lambda e: e["type"] == "bitcoind.rpc.failed" and
                             e["payload"]["node"] == "node-a" and
                             "authentication failed" in e["payload"]["error"], "a 401")[0]
        self.wait_event(lambda e: e["type"] == "bitcoind.mempool" and e["seq"] > ev["seq"] and
                        e["payload"]["node"] == "node-a", "node-a answering again")

        # Every event type the schema names for these groups was seen, each
        # with the documented fields.
        types = schema()
        # (bitcoind.log.* and bitcoind.p2p.*, from debug.log and the node's own
        # P2P connection, are test_btclog's)
        mine = {t for t in types if t.startswith(("bitcoind.", "chain."))
                and not t.startswith(("bitcoind.log.", "bitcoind.p2p."))}
        seen = {e["type"] for e in self.events()}
        self.assertEqual(sorted(mine - seen), [])
        for e in self.events():
            fields, required = types[e["type"]]
            keys = set(e["payload"])
            self.assertLessEqual(keys, fields, e)
            self.assertLessEqual(required, keys, e)

        # /metrics passes promtool and shows the peers and the chain.
        text = self.get("/metrics")
        p = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                           capture_output=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn('bitcoind_peers{node="node-a",conntype="inbound",network="ipv4",'
                      'transport="v1",direction="inbound"} 1', text)
        self.assertIn('bitcoind_peers_listed{node="node-a",list="spy"} 1', text)
        self.assertIn('bitcoind_peers_by_asn{node="node-a",asn="64500"} 1', text)
        self.assertIn('bitcoind_peer_ping_seconds{node="node-a",stat="min"} 0.0298', text)
        self.assertIn('chain_tip_height{network="btc-main",node="node-b"} 102', text)
        self.assertIn('bitcoind_rpc_failures_total{node="node-b",method="getorphantxs"}', text)
        # peer 2 (inbound, v2) left node-a: its series went with it
        self.assertNotIn('bitcoind_peers{node="node-a",conntype="inbound",network="ipv4",'
                         'transport="v2"', text)

        # SIGHUP reads the lists again: 203.0.113.7 (peer 0) joins the spy list.
        with open(self.tmp.file("spy.txt"), "a") as f:
            f.write("203.0.113.0/24\n")
        run.send_signal(signal.SIGHUP)
        wait_for(lambda: 'bitcoind_peers_listed{node="node-a",list="spy"} 2' in
                 self.get("/metrics"), what="the reloaded list in /metrics")

        # The monitors notified the webhook.
        def alerts():
            got = [json.loads(r["body"]) for r in read_jsonl(hook_log)]
            return {a["monitor"]["name"] for a in got} >= {"tip-stuck", "fork", "spy-peer"} and got
        got = wait_for(alerts, timeout=20, what="the webhook notifications")
        fork = [a for a in got if a["monitor"]["name"] == "fork"][0]
        self.assertIn(a102, json.dumps(fork))
        spy = [a for a in got if a["monitor"]["name"] == "spy-peer"]
        self.assertEqual(len(spy), 1)  # peer 7 only
        self.assertIn("192.0.2.66", json.dumps(spy[0]))
        self.assertEqual(stop(run), 0)

    def test_config_errors_name_the_place(self):
        cases = [
            ("bitcoind:\n  nodes:\n    - name: a\n", "3:7: bitcoind.nodes[0].rpc: required key is missing"),
            ("bitcoind:\n  nodes:\n    - {name: a, rpc: 'tcp://x'}\n", "3:23: rpc: 'tcp://x' is not"),
            ("bitcoind:\n  nodes:\n    - {name: a, rpc: 'http://x/', cookie: c, user: u,"
             " password_env: CS_TEST_UNSET_PW}\n", "cookie: either cookie or user"),
            ("bitcoind:\n  nodes:\n    - {name: a, rpc: 'http://x/', user: u,"
             " password_env: CS_TEST_UNSET_PW}\n", "environment variable CS_TEST_UNSET_PW is not set"),
            ("bitcoind:\n  nodes:\n    - name: a\n      rpc: http://x/\n"
             "      intervals: {getpeerinfo: 5ms}\n", "5:32: getpeerinfo: at least 100ms"),
            ("bitcoind:\n  nodes:\n    - name: a\n      rpc: http://x/\n"
             "      intervals: {getblock: 1s}\n", "getblock"),
            ("bitcoind:\n  nodes:\n    - {name: a, rpc: 'http://x/'}\n    - {name: a, rpc: 'http://y/'}\n",
             "bitcoind.nodes[1]"),
        ]
        for text, want in cases:
            cfg = self.tmp.file("bad.yaml", text)
            r = cs("check-config", "-c", cfg)
            self.assertNotEqual(r.returncode, 0, text)
            self.assertIn(want, r.stderr + r.stdout, text)


if __name__ == "__main__":
    main()
