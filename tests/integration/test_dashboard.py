"""The dashboard in Debian's chromium (playwright-core), against real parts.

One `chainscope run` with the dashboard, a connector to a simulated Bitcoin
network (and a crawl of it published), an EVM follower and an audit on a
real anvil (and a node that is down), and an event monitor; chromium visits
every page (tests/integration/dashboard_pages.js, started once):
- no console errors on any page; every page's charts draw something;
- an event published with `chainscope publish` shows in the live events
  page within one second, and in a browser WebSocket on /api/ws;
- an alert fired by the monitor shows on the alerts page;
- the audit page shows the down node in red;
- screenshots of every page go to BUILD/dashboard-screenshots/.
A second run listens beyond loopback with a token and http.mask_ips: pages
send the browser to the login form, /api/ answers 401, the form logs in,
and no page's text holds an IP address.
"""
import json
import os
import subprocess
import sys
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from bitcoind_fixture import Chain, FixtureNode  # noqa: E402
from btcpeer import start_simnet  # noqa: E402
from cslib import ANVIL, CHAINSCOPE, SOURCE_DIR, Server, TempDir, free_port, main, start, stop, wait_for

BUILD = os.environ.get("CS_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
SHOTS = os.path.join(BUILD, "dashboard-screenshots")
SCRIPT = os.path.join(os.path.dirname(__file__), "dashboard_pages.js")
TOKEN = "dashboard-token-0123456789"


def browse(mode, url, socket, outdir=None):
    env = dict(os.environ, CHAINSCOPE=CHAINSCOPE, CS_SOCKET=socket, CS_TOKEN=TOKEN,
               CS_SOURCE_DIR=SOURCE_DIR)
    args = ["/usr/bin/node", SCRIPT, mode, url] + ([outdir] if outdir else [])
    r = subprocess.run(args, capture_output=True, text=True, timeout=240, env=env)
    try:
        out = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise AssertionError("browser script: %s %s" % (r.stdout, r.stderr))
    if "fatal" in out:
        raise AssertionError("browser script: " + out["fatal"])
    return out


def get(url, headers=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                    timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class Dashboard(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def test_pages_feed_alerts_audit(self):
        port = free_port()
        anvil = start([ANVIL, "--port", str(port), "--silent", "--block-time", "1"])
        url = "http://127.0.0.1:%d" % port
        dead = "http://127.0.0.1:%d" % free_port()
        lst = self.tmp.file("simnet.list")
        sim, first, _ = start_simnet(["--nodes", "20", "--seed", "4", "--list", lst])
        good = [a for a, k in (l.split() for l in open(lst)) if k == "good"][:8]
        # two fixture Core nodes on two branches: the fork watch's /api/forks
        chain = Chain(100)
        na, nb = FixtureNode(chain, 29, self.tmp.path), FixtureNode(chain, 27, self.tmp.path)
        url_a, url_b = na.start(), nb.start()
        na.set_tip(chain.mine(chain.base, "a"))
        nb.set_tip(chain.mine(chain.base, "b"))
        node = ("    - {name: %s, network: btc-main, rpc: %s, cookie: %s, timeout: 2s,"
                " retries: 0}\n")
        btc_yaml = ("bitcoind:\n  nodes:\n" + node % ("node-a", url_a, na.cookie) +
                    node % ("node-b", url_b, nb.cookie))
        try:
            srv = Server(self.tmp, http=True, extra_yaml=f"""
  max_per_ip: 64
dashboard:
  sla: 99.5
connector:
  network: regtest
  connect: [{", ".join(good)}]
  ping_interval: 1s
{btc_yaml}evm:
  networks:
    - name: devnet
      rpc: {url}
      from: 0
      poll: 200ms
      db: {self.tmp.file("evm.db")}
      probes:
        every: 1s
        methods: [eth_blockNumber]
audit:
  db: {self.tmp.file("audit.db")}
  schedule: "every 1s"
  networks:
    - name: devnet
      kind: evm
      timeout: 2s
      head_max_age: 30s
      nodes:
        - {{name: rpc-up, role: rpc, rpc: "{url}", checks: [rpc, lag]}}
        - {{name: rpc-down, role: rpc, rpc: "{dead}", checks: [rpc, lag]}}
monitors:
  - name: dash-alert
    type: event
    severity: high
    risk: technical
    subjects: [demo.sample]
    condition: 'n == 7'
""")
            base = "http://127.0.0.1:%d" % srv.http_port
            try:
                # CSP on the page, no inline script in it
                status, headers, body = get(base + "/")
                self.assertEqual(status, 200)
                self.assertIn("script-src 'self'", headers["Content-Security-Policy"])
                self.assertNotIn(b"<script>", body)
                self.assertNotIn(b"onclick", body)
                crawl = start([CHAINSCOPE, "crawl", "--network", "regtest", "--seed", first,
                               "--timeout", "5", "--publish", "--socket", srv.socket])
                wait_for(lambda: json.loads(get(base + "/api/peers")[2])["rtt"], timeout=20,
                         what="a pong: " + srv.logtext())
                wait_for(lambda: json.loads(get(base + "/api/crawl")[2])["count"] >= 5,
                         timeout=20, what="crawled nodes")
                wait_for(lambda: len(json.loads(get(base + "/api/forks")[2])["networks"][0]
                                     .get("headers", [])) >= 2, timeout=20,
                         what="both tips in /api/forks: " + srv.logtext())
                wait_for(lambda: json.loads(get(base + "/api/audit")[2])["nodes"], timeout=20,
                         what="a sweep: " + srv.logtext())
                wait_for(lambda: json.loads(get(base + "/api/evm")[2])["networks"], timeout=20,
                         what="a block: " + srv.logtext())
                out = browse("plain", base, srv.socket, SHOTS)
                stop(crawl)
            finally:
                self.assertEqual(srv.stop(), 0)
        finally:
            stop(anvil)
            stop(sim)
            na.stop()
            nb.stop()
        self.assertEqual(out["errors"], [], "console errors")
        for name, p in out["pages"].items():
            self.assertEqual(p["errors"], 0, name)
        for name in ("overview", "peers", "crawl", "evm", "monitors", "audit"):
            self.assertTrue(out["pages"][name]["charts"], name + ": no chart")
        # the rate and availability charts have drawn lines or bars
        self.assertGreater(max(out["pages"]["overview"]["charts"]), 0)
        self.assertGreater(max(out["pages"]["audit"]["charts"]), 0)
        self.assertGreater(max(out["pages"]["evm"]["charts"]), 0)
        self.assertGreater(max(out["pages"]["peers"]["charts"]), 0)  # RTT dots, rates
        self.assertGreater(max(out["pages"]["crawl"]["charts"]), 0)  # versions, the map
        self.assertIn("/Satoshi:", out["peers_text"])
        # the fork watch's tips: both nodes in the table, the tree drawn
        self.assertIn("node-b", out["evm_text"])
        self.assertNotIn("no fork watch configured", out["evm_text"])
        self.assertLess(out["sse_ms"], 1000)
        self.assertLess(out["ws_ms"], 1000)
        self.assertIn("dash-alert", out["alerts_text"])
        self.assertIn("n == 7", out["alerts_text"])
        rows = {r["text"].split("\t")[0]: r for r in out["audit"]}
        self.assertIn("down", rows["rpc-down"]["cls"])
        self.assertEqual(rows["rpc-down"]["color"], "rgb(198, 40, 40)")
        self.assertNotIn("down", rows["rpc-up"]["cls"])
        for name in ("overview", "peers", "crawl", "evm", "monitors", "audit", "events"):
            self.assertTrue(os.path.getsize(os.path.join(SHOTS, name + ".png")) > 1000, name)

    def test_token_and_masked_addresses(self):
        port = free_port()
        srv = Server(self.tmp, extra_yaml=f"""
http:
  listen: 0.0.0.0:{port}
  token: {TOKEN}
  mask_ips: true
dashboard: {{}}
""")
        base = "http://127.0.0.1:%d" % port
        try:
            # addresses in the views and in the feed's ring
            for i in range(3):
                subprocess.run([CHAINSCOPE, "publish", "-s", srv.socket, "--type", "p2p.handshake",
                                "--json", json.dumps({
                                    "peer": {"id": i, "addr": "203.0.113.%d" % (i + 1),
                                             "port": 8333, "direction": "out"},
                                    "version": 70016, "user_agent": "/Satoshi:27.0.0/",
                                    "start_height": 800000})], check=True)
            subprocess.run([CHAINSCOPE, "publish", "-s", srv.socket, "--type", "crawl.node",
                            "--json", json.dumps({"addr": "2001:db8::7", "port": 8333,
                                                  "network": "ipv6", "reachable": True})],
                           check=True)
            wait_for(lambda: b"ip-" in get(base + "/api/peers?token=" + TOKEN)[2],
                     what="the peers view")
            self.assertEqual(get(base + "/api/peers")[0], 401)
            self.assertEqual(get(base + "/api/peers",
                                 {"Authorization": "Bearer " + TOKEN})[0], 200)
            for api in ("peers", "crawl", "overview"):
                body = get(base + "/api/" + api, {"Authorization": "Bearer " + TOKEN})[2]
                self.assertNotIn(b"203.0.113", body, api)
                self.assertNotIn(b"2001:db8", body, api)
            out = browse("locked", base, srv.socket)
        finally:
            self.assertEqual(srv.stop(), 0)
        self.assertTrue(out["first_url"].endswith("/login"), out["first_url"])
        self.assertEqual(out["api_status"], 401)
        self.assertIn("wrong=1", out["after_wrong"])
        self.assertTrue(out["after_login"].rstrip("/").endswith(str(port)), out["after_login"])
        self.assertEqual(out["errors"], [])
        for name, p in out["pages"].items():
            self.assertIsNone(p["ip"], name + ": " + out["texts"][name][:2000])
        self.assertIn("ip-", out["texts"]["peers"])
        self.assertIn("p2p.conn.open", out["texts"]["events"])


if __name__ == "__main__":
    main()
