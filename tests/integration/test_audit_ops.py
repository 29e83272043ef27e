"""What operators of the Jouleverse audit expect of `chainscope audit --once`.

A scripted geth auditing node (fake_evm_node.py) sees miner-a at another
address than registered, misses the pending miner miner-p (admin_addPeer
re-peers it) and reports miner-a sealing every block of a two-signer
network; the recorded nodeos answers of tests/data/audit/ (the Fixtures
server of test_audit.py) drive an Antelope network whose producers have no
API of their own, one of them standby.

- --mask-ips: no IP address anywhere in any format (notices and details);
- a producer with `account` and no `rpc` is judged from the schedule and
  the best node's samples; a standby producer's activity reads "standby";
- a miner sealing every block of a multi-signer network is a fault;
- pending (miner*) nodes are left out of the size line;
- log.level: warn keeps `audit --once` quiet on stderr;
- --glyphs adds the glyphs beside the words.
"""
import json
import os
import re
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from cslib import TempDir, cs, main
from fake_evm_node import FakeNode
from test_audit import Fixtures, load, parse_ant, serve

SIGNER_A = "0x" + "a1" * 20
SIGNER_B = "0x" + "b2" * 20
ENODE_A = "enode://%s@198.51.100.7:30303" % ("a" * 128)
ENODE_P = "enode://%s@198.51.100.8:30311" % ("e" * 128)
HEAD = 100

IPV4 = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d])")
IPV6 = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])")


def addresses(text):
    """Every IPv4 address, and every IPv6 one (a run of hex groups with "::"
    or seven colons: clock times such as 12:00:07 are not addresses)."""
    found = IPV4.findall(text)
    found += [m for m in IPV6.findall(text) if "::" in m or m.count(":") >= 7]
    return found


def geth(method, params):
    now = int(time.time())
    if method == "eth_getBlockByNumber":
        n = HEAD if params[0] == "latest" else int(params[0], 16)
        return {"number": hex(n), "timestamp": hex(now - (HEAD - n))}
    if method == "net_peerCount":
        return "0x3"
    if method == "web3_clientVersion":
        return "Geth/v1.13.5-stable"
    if method == "admin_peers":
        return [{"enode": "enode://%s@192.0.2.21:30303" % ("a" * 128), "id": "a" * 64,
                 "network": {"localAddress": "127.0.0.1:30303",
                             "remoteAddress": "192.0.2.21:30303"}}]
    if method == "admin_addPeer":
        return True
    if method == "clique_status":
        return {"numBlocks": 16, "sealerActivity": {SIGNER_A: 16, SIGNER_B: 0}}
    if method == "clique_getSigner":
        return SIGNER_A
    raise KeyError(method)


class AuditOpsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.node = FakeNode(geth)
        seq = load("antelope/get_info_sequence.json")["responses"]
        first = parse_ant(seq[0]["head_block_time"])
        delta = int((time.time() - first) // 18) * 18  # whole rounds of 3 x 12 slots
        cls.fx = serve(Fixtures, sequence=seq, shift=delta, calls={}, lock=threading.Lock(),
                       btc={})

    @classmethod
    def tearDownClass(cls):
        cls.node.close()
        cls.fx.shutdown()
        cls.tmp.cleanup()

    def config(self, name, log="", report=""):
        f = "http://127.0.0.1:%d" % self.fx.server_address[1]
        text = """node: ops-test
{log}audit:
  db: {db}
  report: {{format: text{report}}}
  networks:
    - name: jouleverse
      kind: evm
      auditor: auditor
      add_missing_peers: true
      timeout: 3s
      seal_blocks: 4
      nodes:
        - {{name: auditor, role: witness, rpc: "{g}", address: 127.0.0.1}}
        - {{name: miner-a, role: miner, signer: "{sa}", enode: "{ea}"}}
        - {{name: miner-p, role: miner, label: "miner*", checks: [connected, enode_ip], enode: "{ep}"}}
    - name: eos
      kind: antelope
      timeout: 3s
      observe: 2500ms
      sample: 40ms
      nodes:
        - {{name: eos-api, role: rpc, rpc: "{f}/eos-api"}}
        - {{name: bp-alpha, role: producer, account: alpha}}
        - {{name: bp-bravo, role: producer, account: bravo}}
        - {{name: bp-zulu, role: producer, account: zulu}}
""".format(log=log, report=report, db=self.tmp.file(name + ".db"), g=self.node.url, f=f,
           sa=SIGNER_A, ea=ENODE_A, ep=ENODE_P)
        return self.tmp.file(name + ".yaml", text)

    def audit(self, cfg, *args):
        self.fx.calls.clear()
        r = cs("audit", "--once", "-c", cfg, *args)
        self.assertIn(r.returncode, (0, 1), r.stderr)
        return r

    def test_mask_ips_every_format(self):
        cfg = self.config("mask")
        for fmt in ("text", "md", "html", "json"):
            r = self.audit(cfg, "--format", fmt)
            # Unmasked, the addresses the masked form must hide are there.
            self.assertIn("seen at 192.0.2.21, registered 198.51.100.7", r.stdout)
            self.assertIn("198.51.100.8:30311", r.stdout)
            r = self.audit(cfg, "--format", fmt, "--mask-ips")
            self.assertEqual(addresses(r.stdout), [], "%s report shows addresses" % fmt)
            self.assertIn("seen at 192.0.x.x, registered 198.51.x.x", r.stdout)
            self.assertIn("@198.51.x.x:30311", r.stdout)  # the admin_addPeer notice

    def test_producer_without_rpc_and_standby(self):
        r = self.audit(self.config("bp"), "--format", "json")
        net = [n for n in json.loads(r.stdout)["networks"] if n["network"] == "eos"][0]
        nodes = {n["name"]: n for n in net["nodes"]}
        checks = {k: {c["check"]: c for c in nodes[k]["checks"]} for k in nodes}
        self.assertEqual(checks["bp-alpha"]["producing"]["state"], "ok")
        self.assertEqual(nodes["bp-alpha"]["status"], "up")
        self.assertEqual(checks["bp-bravo"]["producing"]["state"], "fail")
        self.assertIn("missed 12 blocks (1 round)", checks["bp-bravo"]["producing"]["detail"])
        self.assertEqual(nodes["bp-bravo"]["status"], "down")
        self.assertTrue(any(n["node"] == "bp-bravo" and n["level"] == "down"
                            for n in net["notices"]), net["notices"])
        self.assertEqual(nodes["bp-zulu"]["activity"], "standby")
        self.assertEqual(checks["bp-zulu"]["producing"]["state"], "ok")

    def test_sealing_every_block_and_pending_size(self):
        r = self.audit(self.config("seal"), "--format", "json")
        net = [n for n in json.loads(r.stdout)["networks"] if n["network"] == "jouleverse"][0]
        nodes = {n["name"]: n for n in net["nodes"]}
        sealing = [c for c in nodes["miner-a"]["checks"] if c["check"] == "sealing"][0]
        self.assertEqual(sealing["state"], "fail")
        self.assertEqual(sealing["value"], 1)
        self.assertIn("sealing every block", sealing["detail"])
        # miner-p is listed, and not counted in the size.
        self.assertIn("miner-p", nodes)
        self.assertEqual(net["size"]["nodes"], 2)
        self.assertEqual(net["size"]["pending"], 1)
        r = self.audit(self.config("seal"), "--format", "text")
        self.assertIn("size:   2 nodes (+1 pending):", r.stdout)

    def test_log_level_and_glyphs(self):
        r = self.audit(self.config("loud"))
        self.assertIn("sweep stored", r.stderr)  # log.level info by default
        r = self.audit(self.config("quiet", log="log:\n  level: warn\n"))
        self.assertEqual(r.stderr, "")
        self.assertIn("== jouleverse (evm) ==", r.stdout)
        self.assertNotIn("🟩", r.stdout)
        r = self.audit(self.config("glyphs"), "--glyphs")
        self.assertIn("status: 🟡 DEGRADED", r.stdout)
        self.assertIn("🟥 no", r.stdout)       # miner-p not connected
        self.assertIn("✅ height 100", r.stdout)  # the auditor's RPC
        r = self.audit(self.config("glyphs-cfg", report=", glyphs: true"))
        self.assertIn("❌ sealing 100%", r.stdout)


if __name__ == "__main__":
    main()
