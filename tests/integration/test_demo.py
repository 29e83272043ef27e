"""`make demo` keeps its promise: it starts, its sources produce events, and
the places it names exist."""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from cslib import CHAINSCOPE, SOURCE_DIR, TempDir, free_port, main


class DemoTest(unittest.TestCase):
    def test_demo_runs_and_says_where_to_look(self):
        tmp = TempDir()
        try:
            env = dict(os.environ, DEMO_SECONDS="12", DEMO_DIR=os.path.join(tmp.path, "demo"),
                       DEMO_HTTP_PORT="0", DEMO_ANVIL_PORT=str(free_port()))
            p = subprocess.run([os.path.join(SOURCE_DIR, "scripts", "demo"), CHAINSCOPE],
                               env=env, capture_output=True, text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertRegex(p.stdout, r"metrics: +http://127\.0\.0\.1:\d+/metrics")
            self.assertIn("chainscope demo is running", p.stdout)
            d = env["DEMO_DIR"]
            types = set()
            with open(os.path.join(d, "events.jsonl")) as f:
                for line in f:
                    types.add(json.loads(line)["type"])
            for t in ("chainscope.started", "p2p.handshake", "p2p.msg.version", "evm.block",
                      "evm.log", "node.check", "alert.fired"):
                self.assertIn(t, types)
            # The monitor fired for transfers above its threshold only.
            with open(os.path.join(d, "alerts.jsonl")) as f:
                alerts = [json.loads(line) for line in f]  # one alert per line
            self.assertGreater(len(alerts), 0)
            for a in alerts:
                self.assertGreater(int(a["args"]["value"]), 1000)
            with open(os.path.join(d, "crawl.csv")) as f:
                rows = f.read().splitlines()
            self.assertGreater(len(rows), 40)
        finally:
            tmp.cleanup()


if __name__ == "__main__":
    main()
