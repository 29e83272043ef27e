"""`make demo` keeps its promise, as a user would check it: the places it
names answer, the connector reached exactly the simulated nodes that
listen, the monitor fired for exactly the transfers above its threshold
(in the saved events, on the alert channel and as short lines on the
screen), the crawl found the whole simulated network, and the audit report
it points to reads as expected."""
import json
import os
import re
import subprocess
import sys
import threading
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from cslib import CHAINSCOPE, SOURCE_DIR, TempDir, cs, free_port, main, read_jsonl, wait_for

# scripts/demo: 60 simulated nodes, the connector connects to the first 20
NODES, CONNECTED = 60, 20
REASON = "event Transfer(address,address,uint256): value > 1000"


class DemoTest(unittest.TestCase):
    def test_demo_runs_and_says_where_to_look(self):
        tmp = TempDir()
        d = os.path.join(tmp.path, "demo")
        env = dict(os.environ, DEMO_SECONDS="16", DEMO_DIR=d, DEMO_HTTP_PORT="0",
                   DEMO_ANVIL_PORT=str(free_port()))
        p = subprocess.Popen([os.path.join(SOURCE_DIR, "scripts", "demo"), CHAINSCOPE], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out = []
        reader = threading.Thread(target=lambda: out.extend(p.stdout))
        reader.start()
        try:
            wait_for(lambda: any("Press Ctrl-C to stop." in l for l in out) or p.poll() is not None,
                     timeout=120, what="the demo's banner")
            banner = "".join(out)
            self.assertIn("chainscope demo is running.", banner, p.stderr.read() if p.poll()
                          is not None else "")
            self.assertIn("  events (saved):  %s/events.jsonl\n" % d, banner)
            self.assertIn("  alerts:          %s/alerts.jsonl (monitor big-transfers: Transfer "
                          "value > 1000)\n" % d, banner)
            # the dashboard's address comes first, and it answers
            first = banner.split("chainscope demo is running.\n", 1)[1].splitlines()[0]
            dash = re.fullmatch(r"  dashboard: +(http://127\.0\.0\.1:\d+/)", first)
            self.assertIsNotNone(dash, first)
            with urllib.request.urlopen(dash.group(1), timeout=5) as r:
                self.assertIn(b"<title>chainscope</title>", r.read())
            self.assertIn("  archive:         %s/archive (every event; %s archive stats %s/archive)\n"
                          % (d, os.path.realpath(CHAINSCOPE), d), banner)
            self.assertIn("  replay it:       %s replay %s/archive --speed 10 --socket SOCKET\n"
                          % (os.path.realpath(CHAINSCOPE), d), banner)
            url = re.search(r"  health: +(http://127\.0\.0\.1:\d+/healthz)\n", banner).group(1)
            with urllib.request.urlopen(url, timeout=5) as r:
                self.assertEqual((r.status, r.read()), (200, b"ok\n"))
            # the audit command the banner names, while the demo runs
            r = cs("audit", "--once", "-c", os.path.join(d, "chainscope.yaml"), "--format",
                   "text", timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            lines = r.stdout.splitlines()
            self.assertEqual(lines[0], "chainscope audit report")
            self.assertIn("== anvil (evm) ==", lines)
            self.assertIn("status: OK", lines)
            self.assertTrue(any(re.fullmatch(r"size: +1 nodes?: 0 up, 0 down, 1 unknown", l)
                                for l in lines), lines)
            self.assertTrue(any(re.fullmatch(r"anvil-1 +rpc +- +- +- +unknown +height \d+ +"
                                             r"0 blocks, \d+ s behind +demo", l) for l in lines),
                            lines)
            self.assertIn("  [unknown] anvil-1 not checked: peers: net_peerCount not answered",
                          lines)
            self.assertEqual(p.wait(timeout=120), 0, p.stderr.read())
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            reader.join(10)
            p.stdout.close()
            p.stderr.close()
        try:
            self.check_files(d, "".join(out))
        finally:
            tmp.cleanup()

    def check_archive(self, d, screen):
        """What the demo archived: complete segments, every event also in
        events.jsonl, and the end message saying how to replay them."""
        self.assertIn("The demo's events are archived in %s/archive." % d, screen)
        self.assertIn("  %s replay %s/archive --as-fast-as-possible --socket SOCKET" % (os.path.realpath(CHAINSCOPE), d),
                      screen)
        v = cs("archive", "verify", os.path.join(d, "archive"))
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        r = cs("archive", "cat", "--json", os.path.join(d, "archive"))
        archived = [json.loads(l) for l in r.stdout.splitlines()]
        saved = {(e["origin"], e["seq"], e["time"]) for e in read_jsonl(os.path.join(d, "events.jsonl"))}
        self.assertGreater(len(archived), 100)
        self.assertEqual([e for e in archived if (e["origin"], e["seq"], e["time"]) not in saved], [])
        self.assertTrue(any(e["type"] == "evm.log" for e in archived))

    def check_files(self, d, screen):
        self.check_archive(d, screen)
        with open(os.path.join(d, "simnet-nodes.txt")) as f:
            nodes = [l.split() for l in f]  # address:port kind
        self.assertEqual(len(nodes), NODES)
        listening = {a.rsplit(":", 1)[0] for a, kind in nodes if kind != "unreachable"}
        closed = {a.rsplit(":", 1)[0] for a, kind in nodes if kind == "unreachable"}
        self.assertEqual(len(closed), 6)  # --unreachable 0.1
        with open(os.path.join(d, "events.jsonl")) as f:
            events = [json.loads(l) for l in f]
        by_type = {}
        for e in events:
            by_type.setdefault(e["type"], []).append(e)
        self.assertEqual(len(by_type["chainscope.started"]), 1)

        # the connector: a handshake with every listening node of the first
        # 20, a refusal from each of the others
        first = [a.rsplit(":", 1)[0] for a, _ in nodes[:CONNECTED]]
        shook = {e["payload"]["peer"]["addr"] for e in by_type["p2p.handshake"]}
        self.assertEqual(shook, {a for a in first if a in listening})
        failed = {(e["payload"]["peer"]["addr"], e["payload"]["code"])
                  for e in by_type["p2p.conn.failed"]}
        self.assertEqual(failed, {(a, "ECONNREFUSED") for a in first if a in closed})

        # the transfers scripts/demo sends: n = 1, 2, ...: 500 + n for odd n,
        # 5000 + n for even n; the monitor fires for those above 1000
        logs = [e["payload"] for e in by_type["evm.log"] if e["payload"]["event"] == "Transfer"]
        values = [int(l["args"]["value"]) for l in logs]
        self.assertGreaterEqual(len(values), 3)
        self.assertEqual(values, [500 + n if n % 2 else 5000 + n
                                  for n in range(1, len(values) + 1)])
        big = [l for l in logs if int(l["args"]["value"]) > 1000]
        alerts = [e["payload"] for e in by_type["alert.fired"]]
        self.assertEqual([(a["monitor"]["name"], a["severity"], a["transaction"]["hash"],
                           int(a["args"]["value"])) for a in alerts],
                         [("big-transfers", "high", l["tx_hash"], int(l["args"]["value"]))
                          for l in big])
        for a in alerts:
            self.assertEqual(a["matchReasons"][0]["condition"], "value > 1000")
        # the alert channel (a script appending to alerts.jsonl) got each of
        # them once, in order; the last may still be in the outbox when the
        # demo stops right after it fired
        with open(os.path.join(d, "alerts.jsonl")) as f:
            delivered = [json.loads(line)["transaction"]["hash"] for line in f]
        fired = [a["transaction"]["hash"] for a in alerts]
        self.assertIn(delivered, (fired, fired[:-1]))
        # on the screen (tail), each alert is one short line
        shown = [l.split(" ", 1)[1] for l in screen.splitlines() if " alert.fired " in l]
        want = ["anvil alert.fired [big-transfers] severity=high risk=financial tx=%s block=%d "
                "reason=\"%s\" from=%s to=%s value=%s"
                % (a["transaction"]["hash"], a["block"]["number"], REASON, a["args"]["from"],
                   a["args"]["to"], a["args"]["value"]) for a in alerts]
        self.assertEqual(shown, want)

        # the crawl: every simulated node, the listening ones reachable, the
        # others refused
        with open(os.path.join(d, "crawl.csv")) as f:
            rows = [r.split(",") for r in f.read().splitlines()]
        self.assertEqual(rows[0][:5], ["address", "port", "network", "reachable", "failure"])
        self.assertEqual(len(rows), NODES + 1)
        self.assertEqual({r[0].strip('"') for r in rows[1:] if r[3] == "true"}, listening)
        self.assertEqual({(r[0].strip('"'), r[4]) for r in rows[1:] if r[3] == "false"},
                         {(a, '"refused"') for a in closed})
        with open(os.path.join(d, "crawl.log")) as f:
            log = f.read()
        self.assertRegex(log, r"crawl: done in [\d.]+ s: 60 nodes known, 60 tried, 54 reachable, "
                         r"6 failed, 0 not contacted")


if __name__ == "__main__":
    main()
