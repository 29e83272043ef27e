"""The built-in rule packs against scripted traffic: one config includes all
four packs (`monitors: - include: [builtin:...]`), `chainscope monitor test`
replays each rule's attack or failure case (events as the connector, the
bitcoind and btclog extractors, the auditor and the EVM follower and prober
publish them, docs/events.md and CONTRACTS) and a healthy baseline of 30
minutes: each rule fires on its own case and nothing else does; the
baseline fires nothing (false positives: zero). Overrides by name and
`enabled: false` change what fires."""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cslib import CHAINSCOPE, TempDir, main  # noqa: E402

S = 10 ** 9
T0 = 1700000000  # seconds: the scripts' clock starts here
PACKS = ["p2p-attacks", "p2p-anomalies", "node-health", "evm-ops"]


def ev(typ, key, t, payload, network="regtest"):
    return {"type": typ, "key": key, "time": int((T0 + t) * S), "network": network,
            "origin": "script", "payload": payload}


def peer(addr, port=8333, pid=1, direction="in"):
    return {"id": pid, "addr": addr, "port": port, "direction": direction}


def msg(command, addr, t, body, pid=1):
    return ev("p2p.msg." + command, "%s:8333" % addr, t,
              {"peer": peer(addr, pid=pid), "direction": "in", "command": command,
               "size": 10, "msg": body})


def addrs(n):
    return [{"time": 1700000000, "services": 1, "addr": "10.9.%d.%d" % (i // 250, i % 250),
             "port": 8333} for i in range(n)]


def baseline():
    """30 healthy minutes: 20 peers that ping every 2 minutes, relay a few
    addresses and invs, a node with 40-44 inbound peers, a following EVM
    node with a moving head."""
    out = []
    peers = ["192.0.%d.%d" % (i, i + 10) for i in range(20)]
    for i, a in enumerate(peers):
        out.append(ev("p2p.conn.accepted", a + ":8333", i * 0.5, {"peer": peer(a, pid=i)}))
        out.append(ev("p2p.handshake", a + ":8333", i * 0.5 + 0.1,
                      {"peer": peer(a, pid=i), "version": 70016, "services": 1033,
                       "user_agent": "/Satoshi:27.0.0/", "start_height": 820000,
                       "relay": True}))
        out.append(ev("bitcoind.peer.connected", "n1", i * 0.5 + 0.2,
                      {"node": "n1", "id": i, "addr": a + ":51000", "network": "ipv4",
                       "conntype": "inbound", "inbound": True, "transport": "v2",
                       "version": 70016, "subver": "/Satoshi:27.0.0/", "lists": []}))
    # the first poll finds 40 peers of one /16 and one AS already connected
    for i in range(40):
        out.append(ev("bitcoind.peer.connected", "n1", 1 + i * 0.01,
                      {"node": "n1", "id": 100 + i, "addr": "100.64.%d.9:8333" % i,
                       "network": "ipv4", "inbound": True, "version": 70016,
                       "subver": "/Satoshi:27.0.0/", "lists": [], "asn": 64502,
                       "initial": True}))
    # bitcoind lists a peer whose version message has not come yet as version 0
    out.append(ev("bitcoind.peer.connected", "n1", 30,
                  {"node": "n1", "id": 99, "addr": "198.18.99.1:51000", "network": "ipv4",
                   "inbound": True, "version": 0, "subver": "", "lists": []}))
    for t in range(0, 1800, 10):
        for i, a in enumerate(peers):
            if (t // 10 + i) % 12 == 0:
                out.append(msg("ping", a, t + i * 0.3, {"nonce": t}, pid=i))
                out.append(msg("pong", a, t + i * 0.3 + 0.04, {"nonce": t}, pid=i))
                out.append(ev("p2p.ping.rtt", a + ":8333", t + i * 0.3 + 0.05,
                              {"peer": peer(a, pid=i), "rtt_ms": 45 + (t + i) % 13,
                               "nonce": t}))
            if (t // 10 + i) % 60 == 0:
                out.append(msg("addrv2", a, t + i * 0.3 + 0.1,
                               {"count": 3, "addresses": addrs(1 + i % 5)}, pid=i))
            if (t // 10 + i) % 3 == 0:
                n = 1 + (t + i * 7) % 30
                out.append(msg("inv", a, t + i * 0.3 + 0.2,
                               {"count": n,
                                "inventory": [{"type": "wtx", "hash": "00" * 32}] * n}, pid=i))
        if t % 60 == 0:
            out.append(ev("bitcoind.peers", "n1", t, {"node": "n1", "inbound": 40 + (t // 60) % 5,
                                                       "outbound": 10}))
            out.append(ev("chain.lagging", "n2", t + 1, {"node": "n2", "height": 100 + t,
                                                         "best_height": 101 + t, "behind": 1}))
        if t % 12 == 0 or t % 10 == 0:
            out.append(ev("evm.block", "eth", t + 0.5, {"number": 1000 + t, "hash": "0x00"},
                          network="eth"))
        if t % 30 == 0:
            for e in ("http://e1", "http://e2"):
                out.append(ev("evm.probe", e, t + 2,
                              {"method": "eth_blockNumber", "ok": True, "latency_ms": 3.0,
                               "endpoint": e, "value": 1000 + t}, network="eth"))
        if t == 600:
            out.append(ev("evm.reorg", "eth", t + 3, {"depth": 1, "common_ancestor": 1500,
                                                      "old_head": 1501, "old_hashes": [],
                                                      "new_hashes": []}, network="eth"))
    out.sort(key=lambda e: e["time"])
    return out


def cases():
    """rule -> its events (attack or failure)."""
    c = {}
    c["p2p-ping-spam"] = [msg("ping", "203.0.113.5", i * 0.3, {"nonce": i}) for i in range(30)]
    c["p2p-addr-spam"] = [msg("addr", "203.0.113.6", i * 2, {"count": 1, "addresses": addrs(1)})
                          for i in range(15)]
    c["p2p-addr-bucket"] = [msg("addrv2", "203.0.113.7", i * 3,
                                {"count": 1000, "addresses": addrs(1000)}) for i in range(3)]
    c["p2p-inbound-flood-16"] = [
        ev("p2p.conn.accepted", "10.5.%d.%d:8333" % (i, i), i,
           {"peer": peer("10.5.%d.%d" % (i, i), pid=i)}) for i in range(25)]
    c["bitcoind-inbound-flood-16"] = [
        ev("bitcoind.peer.connected", "n1", i,
           {"node": "n1", "id": i, "addr": "10.6.%d.%d:4000" % (i, i), "network": "ipv4",
            "conntype": "inbound", "inbound": True, "version": 70016,
            "subver": "/Satoshi:27.0.0/", "lists": []}) for i in range(25)]
    c["p2p-inbound-flood-asn"] = [
        ev("p2p.conn.accepted", "20.%d.0.1:8333" % i, i * 0.5,
           {"peer": dict(peer("20.%d.0.1" % i, pid=i), asn=64500)}) for i in range(60)]
    c["bitcoind-inbound-flood-asn"] = [
        ev("bitcoind.peer.connected", "n1", i * 0.5,
           {"node": "n1", "id": i, "addr": "30.%d.0.1:4000" % i, "network": "ipv4",
            "inbound": True, "version": 70016, "subver": "/x/", "lists": [], "asn": 64501,
            "initial": False}) for i in range(60)]
    c["p2p-reconnect-loop"] = [
        ev("p2p.conn.accepted", "198.51.100.9:8333", i * 30,
           {"peer": peer("198.51.100.9", pid=i)}) for i in range(8)]
    c["bitcoind-reconnect-loop"] = [
        ev("bitcoind.peer.connected", "n1", i * 30,
           {"node": "n1", "id": i, "addr": "198.51.100.10:%d" % (40000 + i), "network": "ipv4",
            "inbound": True, "version": 70016, "subver": "/x/", "lists": []}) for i in range(8)]
    c["p2p-impossible-version"] = [
        ev("p2p.handshake", "203.0.113.8:8333", 1,
           {"peer": peer("203.0.113.8"), "version": 999999, "services": 1,
            "user_agent": "/x/", "start_height": 5, "relay": True})]
    c["p2p-inbound-drop"] = [
        ev("bitcoind.peers", "n1", i * 60, {"node": "n1", "inbound": 40 + i % 5})
        for i in range(30)] + [ev("bitcoind.peers", "n1", 1860, {"node": "n1", "inbound": 8})]
    c["p2p-ping-backlog"] = [
        ev("p2p.ping.rtt", "203.0.113.9:8333", i * 120,
           {"peer": peer("203.0.113.9"), "rtt_ms": 50 + i % 7, "nonce": i})
        for i in range(30)] + [ev("p2p.ping.rtt", "203.0.113.9:8333", 3700,
                                  {"peer": peer("203.0.113.9"), "rtt_ms": 900, "nonce": 99})]
    inv = lambda n: {"count": n, "inventory": [{"type": "tx", "hash": "00" * 32}] * n}  # noqa
    c["p2p-inv-burst"] = [msg("inv", "203.0.113.10", i * 10, inv(1 + i % 30))
                          for i in range(40)] + [msg("inv", "203.0.113.10", 401, inv(5000))]
    c["p2p-inv-flood"] = [msg("inv", "203.0.113.11", i * 0.02, inv(1)) for i in range(800)]
    c["p2p-listed-peer"] = [
        ev("bitcoind.peer.connected", "n1", 1,
           {"node": "n1", "id": 7, "addr": "198.51.100.66:8333", "network": "ipv4",
            "inbound": False, "version": 70016, "subver": "/Satoshi:27.0.0/",
            "lists": ["spy"]})]
    silent = [msg("pong", "203.0.113.12", 0, {"nonce": 1}),
              msg("pong", "203.0.113.13", 0, {"nonce": 1}),
              ev("p2p.conn.closed", "203.0.113.13:8333", 5,
                 {"peer": peer("203.0.113.13"), "code": "EOF", "reason": "closed",
                  "by": "peer"})]
    silent += [msg("pong", "203.0.113.14", t, {"nonce": t}) for t in range(60, 1200, 60)]
    c["p2p-peer-silent"] = silent
    c["node-stale-tip"] = [ev("bitcoind.log.stale_tip", "n1", 1, {"node": "n1"})]
    c["node-chain-stuck"] = [ev("chain.stuck", "n1", 1, {"node": "n1", "height": 5,
                                                        "hash": "00", "seconds": 1800})]
    c["node-chain-lagging"] = [ev("chain.lagging", "n2", 1, {"node": "n2", "height": 5,
                                                            "best_height": 10, "behind": 5})]
    c["node-check-failed"] = [ev("node.state", "n1", 1, {"node": "n1", "check": "rpc",
                                                        "state": "fail", "previous": "ok",
                                                        "previous_time": 0, "sweep": 0})]
    c["node-check-recovered"] = [ev("node.state", "n1", 1, {"node": "n1", "check": "rpc",
                                                           "state": "ok", "previous": "fail",
                                                           "previous_time": 0, "sweep": 0})]
    c["evm-follower-stalled"] = [
        ev("evm.block", "eth", t, {"number": t}, network="eth") for t in range(0, 60, 12)] + [
        ev("evm.probe", "http://e1", t, {"method": "eth_chainId", "ok": True, "endpoint": "x",
                                         "latency_ms": 1.0}, network="eth")
        for t in range(60, 420, 30)]
    c["evm-head-stale"] = [
        ev("evm.probe", "http://e1", t, {"method": "eth_blockNumber", "ok": True,
                                         "endpoint": "http://e1", "latency_ms": 1.0,
                                         "value": 100}, network="eth")
        for t in range(0, 400, 30)]
    c["evm-reorg-deep"] = [ev("evm.reorg", "eth", 1, {"depth": 5, "common_ancestor": 10,
                                                     "old_head": 15}, network="eth")]
    c["evm-rpc-failing"] = [
        ev("evm.probe", "http://e1", t, {"method": "eth_blockNumber", "ok": False,
                                         "endpoint": "http://e1", "latency_ms": 1.0,
                                         "error": "timeout"}, network="eth")
        for t in range(0, 60, 15)]
    c["evm-rpc-down"] = [
        ev("evm.probe", e, t, {"method": "eth_chainId", "ok": True,
                               "endpoint": e, "latency_ms": 1.0, "value": 1}, network="eth")
        for t in range(0, 420, 30) for e in ("http://e1", "http://e2")
        if e == "http://e1" or t < 30]  # e2 stops answering
    for v in c.values():
        v.sort(key=lambda e: e["time"])
    return c


class Packs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.cfg = cls.tmp.file("packs.yaml")
        with open(cls.cfg, "w") as f:
            f.write("monitors:\n  - include: [%s]\n" % ", ".join("builtin:" + p for p in PACKS))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def fired(self, events, cfg=None):
        path = self.tmp.file("events.jsonl")
        with open(path, "w") as f:
            for e in events:
                f.write(json.dumps(e) + "\n")
        r = subprocess.run([CHAINSCOPE, "monitor", "test", "-c", cfg or self.cfg,
                            "--events", path, "--json"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]

    def test_listed(self):
        out = subprocess.run([CHAINSCOPE, "monitor", "packs"], capture_output=True,
                             text=True, check=True).stdout
        for p in PACKS:
            self.assertIn("builtin:" + p, out)
        for rule in cases():
            self.assertIn(rule, out)

    def test_each_rule_fires_on_its_case_only(self):
        for rule, evs in cases().items():
            with self.subTest(rule=rule):
                names = sorted({a["monitor"]["name"] for a in self.fired(evs)})
                self.assertEqual(names, [rule])

    def test_baseline_has_no_false_positives(self):
        evs = baseline()
        self.assertGreater(len(evs), 2000)
        alerts = self.fired(evs)
        self.assertEqual([a["monitor"]["name"] for a in alerts], [])

    def test_silent_peer_names_the_silent_one(self):
        alerts = self.fired(cases()["p2p-peer-silent"])
        self.assertEqual([a["window"]["group"] for a in alerts], ["203.0.113.12:8333"])

    def test_override_and_switch_off(self):
        cfg = self.tmp.file("override.yaml")
        with open(cfg, "w") as f:
            f.write("""monitors:
  - include: [builtin:p2p-attacks]
  - name: p2p-ping-spam
    severity: low
    window: {threshold: 100}
  - name: p2p-addr-spam
    enabled: false
  - name: p2p-addr-bucket
    window: {burst: 5000}
  - name: p2p-impossible-version
    severity: low
""")
        c = cases()
        self.assertEqual(self.fired(c["p2p-ping-spam"], cfg), [])
        self.assertEqual(self.fired(c["p2p-addr-spam"], cfg), [])
        self.assertEqual(self.fired(c["p2p-addr-bucket"], cfg), [])
        a = self.fired(c["p2p-impossible-version"], cfg)
        self.assertEqual([(x["monitor"]["name"], x["monitor"]["severity"]) for x in a],
                         [("p2p-impossible-version", "low")])


if __name__ == "__main__":
    main()
