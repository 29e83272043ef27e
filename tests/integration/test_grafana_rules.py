"""contrib/: the Prometheus alerting rules pass `promtool check rules`, and
every metric the Grafana dashboards and the rules use is one that /metrics
exposes. The components that expose them run for the comparison: a
connector talking to python3-bitcoinlib peers (one good, one that breaks a
rule, a refused port), an EVM follower (its node unreachable), monitors,
the notifier, the log server and the dashboard (with a node.check event
published for its audit gauges)."""
import glob
import json
import os
import re
import subprocess
import sys
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from btcpeer import PeerServer  # noqa: E402
from cslib import CHAINSCOPE, SOURCE_DIR, Server, TempDir, free_port, main, wait_for  # noqa: E402
from test_connector_metrics import bad_peer, good_peer  # noqa: E402

CONTRIB = os.path.join(SOURCE_DIR, "contrib")
NAME = re.compile(r"\bchainscope_[a-z0-9_]+")


def used_names():
    """Metric name -> where it is used, over dashboards and rules."""
    names = {}
    for path in glob.glob(os.path.join(CONTRIB, "grafana", "dashboards", "*.json")):
        board = json.load(open(path))
        assert board["panels"], path
        for p in board["panels"]:
            assert p["targets"], (path, p["title"])
            for t in p["targets"]:
                for n in NAME.findall(t["expr"]):
                    names.setdefault(n, os.path.basename(path))
    for path in glob.glob(os.path.join(CONTRIB, "prometheus", "*.yml")):
        for n in NAME.findall(open(path).read()):
            names.setdefault(n, os.path.basename(path))
    return names


def exposed(text):
    """Names in an exposition, histograms' series under their family name too."""
    out = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            out.add(name)
            if kind == "histogram":
                out.update(name + s for s in ("_bucket", "_sum", "_count"))
        elif line and not line.startswith("#"):
            out.add(re.split(r"[{ ]", line, 1)[0])
    return out


class Contrib(unittest.TestCase):
    def test_promtool_check_rules(self):
        rules = glob.glob(os.path.join(CONTRIB, "prometheus", "*.yml"))
        self.assertTrue(rules)
        r = subprocess.run(["promtool", "check", "rules"] + rules, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS", r.stdout + r.stderr)

    def test_every_metric_used_exists(self):
        tmp = TempDir()
        good, bad = PeerServer(), PeerServer()
        good.behaviours.put(good_peer)
        bad.behaviours.put(bad_peer)
        refused = free_port()
        srv = Server(tmp, http=True, extra_yaml=f"""
dashboard: {{}}
connector:
  network: regtest
  listen: [127.0.0.1:{free_port()}]
  connect: [127.0.0.1:{good.port}, 127.0.0.1:{bad.port}, 127.0.0.1:{refused}]
  ping_interval: 1s
evm:
  networks:
    - name: devnet
      rpc: http://127.0.0.1:{free_port()}
      from: 0
      poll: 200ms
      db: {tmp.file("evm.db")}
monitors:
  - name: m
    type: event
    subjects: [demo.sample]
    condition: 'n == 7'
notify:
  outbox: {tmp.file("outbox.db")}
channels:
  hook: {{type: webhook, url: "http://127.0.0.1:{free_port()}/hook"}}
""")
        try:
            subprocess.run([CHAINSCOPE, "publish", "-s", srv.socket, "--type", "node.check",
                            "--json", json.dumps({"node": "rpc-1", "check": "rpc", "state": "ok",
                                                  "sweep": 1700000000})], check=True,
                           capture_output=True)
            names = used_names()
            self.assertGreater(len(names), 30)
            url = "http://127.0.0.1:%d/metrics" % srv.http_port

            def missing():
                have = exposed(urllib.request.urlopen(url, timeout=5).read().decode())
                return sorted("%s (%s)" % (n, where) for n, where in names.items()
                              if n not in have)
            try:
                wait_for(lambda: not missing(), timeout=20, what="every metric")
            except AssertionError:
                self.fail("used in contrib/ but not in /metrics: " + ", ".join(missing()))
        finally:
            srv.stop()
            good.close()
            bad.close()
            tmp.cleanup()


if __name__ == "__main__":
    main()
