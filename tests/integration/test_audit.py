"""chainscope audit and sla against real parts.

- EVM: three anvil nodes (two producing a block a second, one stuck at its
  genesis: a witness that falls behind), behind a JSON-RPC server in this
  test that forwards eth_* to them and answers geth's admin_* and clique_*
  from a scripted scenario: a miner that stopped sealing (and whose enode is
  seen from another IP), a witness that dropped off the auditor's peer list
  (admin_addPeer puts it back).
- Bitcoin Core and Antelope (nodeos): a fixture server answering from
  recorded responses in tests/data/audit/ (bitcoin/, antelope/): a node in
  initial block download with no outbound peers, one refusing our password,
  a producer that missed its turn, a node on another chain.

`chainscope audit --once` must name each fault in every report format and
exit 1; the ledger survives restarts; `chainscope sla` gets the percentages
and verdicts right at the 99 % edge (737 and 736 of 744) with unknown left
out; under `chainscope run` every result is a node.check event and a
re-peered node yields a node.state event.
"""
import base64
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import unittest
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(__file__))
from cslib import (ANVIL, CHAINSCOPE, SOURCE_DIR, Server, TempDir, cs, free_port, main, start,
                   read_jsonl, stop, wait_for)

DATA = os.path.join(SOURCE_DIR, "tests", "data", "audit")

ENODE = {n: c * 128 for n, c in
         [("miner-a", "a"), ("miner-b", "b"), ("witness-b", "c"), ("witness-c", "d"),
          ("witness-d", "e")]}
REGISTERED_IP = {"miner-a": "127.0.0.2", "miner-b": "127.0.0.3", "witness-b": "127.0.0.4",
                 "witness-c": "127.0.0.5", "witness-d": "127.0.0.6"}
INITIAL_PEERS = ["miner-a", "miner-b", "witness-b", "witness-c"]
SIGNER_A = "0x" + "a1" * 20
SIGNER_B = "0x" + "b2" * 20
SIGNER_C = "0x" + "c3" * 20  # a third signer, not in the inventory: miner-a seals half


def rpc(url, method, params=None):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    req = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.load(r)


def enode_url(name):
    return "enode://%s@%s:30303" % (ENODE[name], REGISTERED_IP[name])


class Geth(BaseHTTPRequestHandler):
    """/<node>: eth_* forwarded to that node's anvil; net_peerCount, admin_*
    and clique_* answered from the scenario (self.server.scenario)."""

    def log_message(self, *a):
        pass

    def local(self, node, req):
        sc = self.server.scenario
        m, params = req.get("method"), req.get("params") or []
        if m == "net_peerCount":
            return hex(sc["peer_count"].get(node, 2))
        if node == "auditor" and m == "admin_peers":
            peers = []
            for name in sc["peers"]:
                ip = sc["seen_ip"].get(name, REGISTERED_IP[name])
                peers.append({"enode": "enode://%s@%s:30303" % (ENODE[name], ip),
                              "id": ENODE[name][:64], "name": "Geth/v1.13.5-stable/linux-amd64",
                              "caps": ["eth/68"],
                              "network": {"localAddress": "127.0.0.1:30303",
                                          "remoteAddress": "%s:30303" % ip, "inbound": False,
                                          "trusted": False, "static": False},
                              "protocols": {"eth": {"version": 68}}})
            return peers
        if node == "auditor" and m == "admin_addPeer":
            sc["added"].append(params[0])
            for name, e in ENODE.items():
                if params[0].startswith("enode://" + e) and name not in sc["peers"]:
                    sc["peers"].append(name)
            return True
        if node == "auditor" and m == "clique_status":
            return {"inturnPercent": 100.0, "numBlocks": 64,
                    "sealerActivity": {SIGNER_A: 32 if not sc["a_stopped"] else 0,
                                       SIGNER_B: 0, SIGNER_C: 32}}
        if node == "auditor" and m == "clique_getSigner":
            return SIGNER_A
        return None

    def do_POST(self):
        node = self.path.strip("/")
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        upstream = self.server.anvils.get(node)
        if upstream is None:
            self.send_response(404)
            self.end_headers()
            return

        def one(req):
            res = self.local(node, req)
            if res is not None:
                return {"jsonrpc": "2.0", "id": req.get("id"), "result": res}
            r = rpc(upstream, req["method"], req.get("params"))
            r["id"] = req.get("id")
            return r

        out = [one(r) for r in body] if isinstance(body, list) else one(body)
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def load(path):
    with open(os.path.join(DATA, path)) as f:
        return json.load(f)


class Fixtures(BaseHTTPRequestHandler):
    """Recorded Bitcoin Core and nodeos answers (tests/data/audit/): /btc-N
    speaks Bitcoin Core's JSON-RPC with basic auth, /eos-X/v1/chain/* the
    Antelope chain API. Times listed in a file's _age are set to now - age;
    the get_info sequence is moved by whole rounds to the present."""

    def log_message(self, *a):
        pass

    def reply(self, code, obj=None):
        data = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        parts = self.path.strip("/").split("/", 1)
        who = parts[0]
        if who.startswith("btc-"):
            return self.bitcoin(who, raw)
        if who.startswith("eos-"):
            return self.antelope(who, "/" + (parts[1] if len(parts) > 1 else ""))
        self.reply(404)

    def bitcoin(self, who, raw):
        node = self.server.btc[who]
        auth = self.headers.get("Authorization", "")
        want = "Basic " + base64.b64encode(node["auth"].encode()).decode()
        if auth != want:
            return self.reply(401)  # Bitcoin Core: 401 and an empty body
        fx = load("bitcoin/" + node["file"])
        now = int(time.time())
        for key, age in fx.get("_age", {}).items():
            method, field = key.split(".")
            fx[method][field] = now - age
        reqs = json.loads(raw)

        def one(r):
            if r["method"] in fx:
                return {"result": fx[r["method"]], "error": None, "id": r["id"]}
            return {"result": None, "error": {"code": -32601, "message": "Method not found"},
                    "id": r["id"]}

        self.reply(200, [one(r) for r in reqs] if isinstance(reqs, list) else one(reqs))

    def antelope(self, who, path):
        sv = self.server
        if path == "/v1/chain/get_producer_schedule":
            return self.reply(200, load("antelope/get_producer_schedule.json")["response"])
        if path != "/v1/chain/get_info":
            return self.reply(404, {"code": 404, "message": "Not Found"})
        if who == "eos-other":
            fx = load("antelope/get_info_other_chain.json")
            r = fx["response"]
            t = time.time() - fx["_age"]["head_block_time"]
            r["head_block_time"] = time.strftime("%Y-%m-%dT%H:%M:%S.000", time.gmtime(t))
            return self.reply(200, r)
        with sv.lock:
            i = sv.calls.get(who, 0)
            sv.calls[who] = i + 1
        seq = sv.sequence
        r = dict(seq[min(i, len(seq) - 1)])
        for k in ("head_block_time", "last_irreversible_block_time"):
            r[k] = shift(r[k], sv.shift)
        self.reply(200, r)


def parse_ant(s):
    import calendar
    base, frac = s.split(".")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + int(frac) / 1000


def shift(s, delta):
    t = parse_ant(s) + delta
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(t))) + ".%03d" % round(
        (t - int(t)) * 1000)


def serve(handler, **attrs):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    for k, v in attrs.items():
        setattr(srv, k, v)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


class AuditTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.anvil = {}
        cls.procs = []
        for name, block_time in (("a", "1"), ("b", "1"), ("c", None)):
            port = free_port()
            args = [ANVIL, "--port", str(port), "--silent"]
            if block_time:
                args += ["--block-time", block_time]
            cls.procs.append(start(args))
            cls.anvil[name] = "http://127.0.0.1:%d" % port
        for url in cls.anvil.values():
            wait_for(lambda: _up(url), what="anvil " + url)
        for name in ("a", "b"):
            rpc(cls.anvil[name], "anvil_mine", ["0x1e"])  # 30 blocks: witness-c is far behind
        cls.scenario = {"peers": list(INITIAL_PEERS),
                        "seen_ip": {"miner-b": "127.0.0.9"}, "peer_count": {}, "added": [],
                        "a_stopped": False}
        cls.geth = serve(Geth, scenario=cls.scenario,
                         anvils={"auditor": cls.anvil["a"], "witness-b": cls.anvil["b"],
                                 "witness-c": cls.anvil["c"], "witness-d": cls.anvil["b"]})
        seq = load("antelope/get_info_sequence.json")["responses"]
        first = parse_ant(seq[0]["head_block_time"])
        delta = int((time.time() - first) // 18) * 18  # whole rounds of 3 x 12 slots
        cls.cookie = cls.tmp.file(".cookie", "__cookie__:5f3e0c1d2b")
        cls.fx = serve(Fixtures, sequence=seq, shift=delta, calls={}, lock=threading.Lock(),
                       btc={"btc-1": {"file": "healthy.json", "auth": "__cookie__:5f3e0c1d2b"},
                            "btc-2": {"file": "syncing.json", "auth": "audit:secret"},
                            "btc-3": {"file": "healthy.json", "auth": "audit:secret"}})
        cls.db = cls.tmp.file("audit.db")

    @classmethod
    def tearDownClass(cls):
        cls.geth.shutdown()
        cls.fx.shutdown()
        for p in cls.procs:
            stop(p)
        cls.tmp.cleanup()

    def config(self, name, auditor_url=None, extra=""):
        g = "http://127.0.0.1:%d" % self.geth.server_address[1]
        f = "http://127.0.0.1:%d" % self.fx.server_address[1]
        text = """node: audit-test
{extra}audit:
  db: {db}
  schedule: "every 1h"
  report:
    format: text
    channels: [ops-mail]
  sla:
    miner: 99
    witness: 99
  networks:
    - name: testnet
      kind: evm
      auditor: auditor
      add_missing_peers: true
      timeout: 3s
      head_max_age: 60s
      lag_blocks: 5
      seal_within: 120s
      seal_blocks: 16
      nodes:
        - {{name: auditor, role: witness, rpc: "{auditor}", owner: ops, since: 2024-01-01}}
        - {{name: miner-a, role: miner, signer: "{sa}", enode: "{ea}", owner: alice, since: 2023-10-18}}
        - {{name: miner-b, role: miner, signer: "{sb}", enode: "{eb}", owner: bob, since: 2023-10-28}}
        - {{name: witness-b, role: witness, rpc: "{g}/witness-b", enode: "{ec}", owner: carol}}
        - {{name: witness-c, role: witness, rpc: "{g}/witness-c", enode: "{ed}", owner: dave}}
        - {{name: witness-d, role: witness, rpc: "{g}/witness-d", enode: "{ee}", owner: erin}}
    - name: btc
      kind: bitcoin
      timeout: 3s
      nodes:
        - {{name: btc-1, role: rpc, rpc: "{f}/btc-1", rpc_cookie: "{cookie}"}}
        - {{name: btc-2, role: seed, rpc: "{f}/btc-2", rpc_user: audit, rpc_password: secret}}
        - {{name: btc-3, role: rpc, rpc: "{f}/btc-3", rpc_user: audit, rpc_password: wrong}}
    - name: eos
      kind: antelope
      chain_id: aca376f206b8fc25a6ed44dbdc66547c36c6c33e3a119ffbeaef943642f0e906
      timeout: 3s
      observe: 2500ms
      sample: 40ms
      nodes:
        - {{name: eos-api, role: rpc, rpc: "{f}/eos-api"}}
        - {{name: bp-alpha, role: producer, account: alpha, rpc: "{f}/eos-alpha"}}
        - {{name: bp-bravo, role: producer, account: bravo, rpc: "{f}/eos-bravo"}}
        - {{name: eos-other, role: rpc, rpc: "{f}/eos-other"}}
""".format(extra=extra, db=self.db, auditor=auditor_url or g + "/auditor", g=g, f=f,
           sa=SIGNER_A, sb=SIGNER_B, ea=enode_url("miner-a"), eb=enode_url("miner-b"),
           ec=enode_url("witness-b"), ed=enode_url("witness-c"), ee=enode_url("witness-d"),
           cookie=self.cookie)
        return self.tmp.file(name, text)

    def audit(self, cfg, fmt, db=None):
        self.fx.calls.clear()  # each sweep watches the producers from the start
        self.scenario["peers"][:] = INITIAL_PEERS  # witness-d off the list again
        r = cs("audit", "--once", "-c", cfg, "--format", fmt, "--db", db or self.db)
        self.assertIn(r.returncode, (0, 1), r.stderr)
        return r

    def test_1_every_format_names_every_fault(self):
        cfg = self.config("audit.yaml")
        faults = [
            "0 of 64 blocks",                   # miner-b stopped sealing
            "not sealing",
            "seen at 127.0.0.9, registered 127.0.0.3",
            "witness-c",
            "(limit exceeded: blocks)",         # witness-c behind
            "not in admin_peers of auditor",    # witness-d dropped off
            "admin_addPeer sent, answer true",
            "in initial block download",        # btc-2
            "0 out, 2 in",
            "HTTP 401 with an empty body (authentication failed)",  # btc-3
            "missed 12 blocks (1 round)",      # bravo skipped its turn
            "expected the configured chain_id",  # eos-other
        ]
        reports = {}
        for fmt in ("text", "md", "html", "json"):
            r = self.audit(cfg, fmt)
            self.assertEqual(r.returncode, 1, "something is down: exit 1\n" + r.stdout)
            reports[fmt] = r.stdout
            for f in faults:
                text = r.stdout
                if fmt == "html":
                    text = text.replace("&amp;", "&")
                self.assertIn(f, text, "%s report lacks %r" % (fmt, f))
        # admin_addPeer went to the auditing node with witness-d's enode.
        self.assertIn(enode_url("witness-d"), self.scenario["added"])

        rep = json.loads(reports["json"])
        nets = {n["network"]: n for n in rep["networks"]}
        state = {(net, n["name"]): n["status"] for net, v in nets.items() for n in v["nodes"]}
        self.assertEqual(state[("testnet", "miner-a")], "up")
        self.assertEqual(state[("testnet", "auditor")], "up")
        self.assertEqual(state[("testnet", "witness-b")], "up")
        self.assertEqual(state[("testnet", "miner-b")], "down")
        self.assertEqual(state[("testnet", "witness-c")], "down")
        self.assertEqual(state[("btc", "btc-1")], "up")
        self.assertEqual(state[("btc", "btc-2")], "down")
        self.assertEqual(state[("btc", "btc-3")], "down")
        self.assertEqual(state[("eos", "bp-alpha")], "up")
        self.assertEqual(state[("eos", "bp-bravo")], "down")
        self.assertEqual(state[("eos", "eos-other")], "down")
        self.assertEqual(nets["testnet"]["status"], "degraded")
        self.assertGreaterEqual(nets["testnet"]["head"]["height"], 30)
        self.assertEqual(nets["testnet"]["size"]["nodes"], 6)
        self.assertIn("<svg", reports["html"])
        self.assertIn("| miner-b | miner |", reports["md"])
        # The text report's table: one row per node, with its owner.
        row = [l for l in reports["text"].splitlines() if l.startswith("miner-a ")][0]
        self.assertIn("127.0.0.2", row)
        self.assertIn("alice", row)
        self.assertIn("yes", row)
        # Masked addresses for a public report.
        self.scenario["peers"][:] = INITIAL_PEERS
        r = cs("audit", "--once", "-c", cfg, "--mask-ips", "--db", self.tmp.file("masked.db"))
        self.assertNotIn("127.0.0.2", r.stdout)
        self.assertIn("127.0.x.x", r.stdout)
        if os.environ.get("CS_SHOW_REPORT"):
            print(reports["text"])

    def test_2_ledger_survives_restarts(self):
        # test_1 ran four sweeps into self.db (one per format): each process
        # found what the previous ones stored.
        month = time.strftime("%Y-%m", time.gmtime())
        r = cs("sla", "--month", month, "--db", self.db, "--format", "json")
        self.assertEqual(r.returncode, 1, r.stderr)  # miner-b and others fail
        rows = {(n["network"], n["node"]): n for n in json.loads(r.stdout)["nodes"]}
        self.assertGreaterEqual(rows[("testnet", "witness-b")]["ok"], 4)
        self.assertEqual(rows[("testnet", "witness-b")]["verdict"], "PASS")
        self.assertGreaterEqual(rows[("testnet", "miner-b")]["fail"], 4)
        self.assertEqual(rows[("testnet", "miner-b")]["verdict"], "FAIL")
        # The second sweep compared the head with the first: `advancing`.
        con = sqlite3.connect(self.db)
        adv = con.execute("SELECT state, detail FROM results WHERE network='testnet' AND "
                          "node='@chain' AND check_name='advancing' ORDER BY time DESC, id DESC "
                          "LIMIT 1").fetchone()
        con.close()
        self.assertIsNotNone(adv)
        self.assertNotIn("first sweep", adv[1])

    def test_3_auditor_down_is_unknown(self):
        dead = "http://127.0.0.1:%d/auditor" % free_port()
        cfg = self.config("auditor-down.yaml", auditor_url=dead)
        db = self.tmp.file("down.db")
        r = self.audit(cfg, "json", db=db)
        rep = json.loads(r.stdout)
        net = [n for n in rep["networks"] if n["network"] == "testnet"][0]
        nodes = {n["name"]: n for n in net["nodes"]}
        # The auditor's own node is down (fail); what only it could tell is unknown.
        self.assertEqual(nodes["auditor"]["status"], "down")
        self.assertEqual(nodes["miner-a"]["status"], "unknown")
        self.assertEqual(nodes["miner-a"]["connected"], "?")
        checks = {c["check"]: c for c in nodes["witness-b"]["checks"]}
        self.assertEqual(checks["connected"]["state"], "unknown")
        self.assertEqual(checks["rpc"]["state"], "ok")
        # The text form says so in its notices.
        r = self.audit(cfg, "text", db=db)
        self.assertIn("[unknown] miner-a not checked", r.stdout)

    def test_4_sla_edges(self):
        db = self.tmp.file("sla.db")
        # A ledger from a sweep first (creates the schema), then January 2024
        # written as 744 hourly results per node.
        cfg = self.config("sla.yaml")
        self.audit(cfg, "text", db=db)
        con = sqlite3.connect(db)
        jan = 1704067200
        for node, fail, unknown in (("witness-b", 7, 0), ("witness-c", 8, 0),
                                    ("witness-d", 6, 8)):
            rows = []
            for h in range(744):
                st = 1 if h < fail else 2 if h < fail + unknown else 0
                rows.append((jan + h * 3600, "testnet", node, "available", st))
            con.executemany("INSERT INTO results(time,network,node,check_name,state) "
                            "VALUES(?,?,?,?,?)", rows)
        con.commit()
        con.close()
        r = cs("sla", "--month", "2024-01", "-c", cfg, "--db", db, "--format", "json")
        self.assertEqual(r.returncode, 1, r.stderr)
        rep = json.loads(r.stdout)
        self.assertEqual(rep["expected"], 744)
        rows = {n["node"]: n for n in rep["nodes"]}
        b, c, d = rows["witness-b"], rows["witness-c"], rows["witness-d"]
        self.assertEqual((b["ok"], b["fail"], b["unknown"], b["verdict"]), (737, 7, 0, "PASS"))
        self.assertEqual((c["ok"], c["fail"], c["unknown"], c["verdict"]), (736, 8, 0, "FAIL"))
        self.assertEqual((d["ok"], d["fail"], d["unknown"], d["verdict"]), (730, 6, 8, "PASS"))
        self.assertAlmostEqual(b["availability"], 100 * 737 / 744, places=6)
        self.assertAlmostEqual(c["availability"], 100 * 736 / 744, places=6)
        self.assertAlmostEqual(d["availability"], 100 * 730 / 736, places=6)
        self.assertEqual(b["needed"], 737)
        self.assertEqual(rows["miner-a"]["verdict"], "NO DATA")
        r = cs("sla", "--month", "2024-01", "-c", cfg, "--db", db)
        line = [l for l in r.stdout.splitlines() if " witness-c " in l][0]
        self.assertIn("98.92%", line)
        self.assertIn("FAIL", line)
        line = [l for l in r.stdout.splitlines() if " witness-b " in l][0]
        self.assertIn("99.06%", line)
        self.assertIn("PASS", line)
        r = cs("sla", "--month", "2024-01", "-c", cfg, "--db", db, "--format", "html")
        self.assertEqual(r.stdout.count("<svg"), 13)  # one bar chart per node

    def test_5_events_under_run(self):
        sock = self.tmp.file("bus.sock")
        db = self.tmp.file("run.db")
        self.scenario["peers"][:] = INITIAL_PEERS
        # A monitor on node.state notifies a webhook receiver.
        hook_port = free_port()
        hook_log = self.tmp.file("hook.jsonl")
        hook = start(["/usr/bin/python3", os.path.join(os.path.dirname(__file__), "receivers.py"),
                      "http", str(hook_port), hook_log], text=True)
        self.assertEqual(hook.stdout.readline().strip(), "ready")
        monitors = ("monitors:\n"
                    "  - name: node-state\n"
                    "    type: event\n"
                    "    severity: high\n"
                    "    risk: technical\n"
                    "    subjects: [node.state]\n"
                    "    condition: 'check == \"connected\" AND state == \"ok\" AND previous == \"fail\"'\n"
                    "    channels: [ops]\n"
                    "channels:\n"
                    "  ops-mail: {type: email, smtp: \"smtp://127.0.0.1:1\", "
                    "from: a@example.com, to: [b@example.com]}\n"
                    "  ops:\n"
                    "    type: webhook\n"
                    "    url: http://127.0.0.1:%d/hook\n"
                    "notify:\n"
                    "  outbox: %s\n" % (hook_port, self.tmp.file("outbox.db")))
        cfg = self.config("run.yaml", extra="logserver:\n  socket: %s\n" % sock + monitors)
        with open(cfg) as f:
            text = f.read().replace('schedule: "every 1h"', 'schedule: "every 2s"').replace(
                "db: " + self.db, "db: " + db)
        with open(cfg, "w") as f:
            f.write(text)
        log = open(self.tmp.file("run.log"), "w")
        p = start([CHAINSCOPE, "run", "-c", cfg], stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: os.path.exists(sock) or p.poll() is not None, what="socket")
            self.assertIsNone(p.poll(), "run exited")
            # witness-d is re-peered by the first sweep: connected goes fail -> ok.
            t = cs("tail", "--socket", sock, "--json", "--filter", "node.state",
                   "--count", "1", "--timeout", "20", timeout=30)
            self.assertEqual(t.returncode, 0, t.stderr)
            ev = json.loads(t.stdout.splitlines()[0])
            self.assertEqual(ev["type"], "node.state")
            self.assertEqual(ev["network"], "testnet")
            self.assertEqual(ev["payload"]["node"], "witness-d")
            self.assertEqual(ev["payload"]["check"], "connected")
            self.assertEqual(ev["payload"]["previous"], "fail")
            self.assertEqual(ev["payload"]["state"], "ok")
            t = cs("tail", "--socket", sock, "--json", "--filter", "node.check",
                   "--count", "5", "--timeout", "20", timeout=30)
            self.assertEqual(t.returncode, 0, t.stderr)
            for line in t.stdout.splitlines():
                ev = json.loads(line)
                self.assertIn(ev["payload"]["state"], ("ok", "fail", "unknown"))
                self.assertTrue(ev["origin"].startswith("audit@"))

            # The state change also went out as a notification.
            def delivered():
                return read_jsonl(hook_log)
            got = wait_for(delivered, timeout=20, what="the webhook notification")
            self.assertEqual(len(got), 1, got)
            alert = json.loads(got[0]["body"])
            self.assertEqual(alert["monitor"]["name"], "node-state")
            self.assertIn("witness-d", json.dumps(alert))
        finally:
            self.assertEqual(stop(p), 0)
            stop(hook)
            log.close()


def _up(url):
    try:
        rpc(url, "eth_blockNumber")
        return True
    except Exception:
        return False


if __name__ == "__main__":
    main()
