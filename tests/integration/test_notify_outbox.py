"""What a receiver gets and what the outbox keeps: an ABI integer above
2^53 reaches a webhook as a decimal string that JavaScript's JSON.parse
reads digit for digit; a notification a receiver refuses is a dead letter
that `chainscope monitor outbox` lists and acknowledges; /metrics shows the
outbox's size; every alert is acknowledged on the bus (notify.ack)."""
import json
import os
import subprocess
import sys
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cslib import Server, TempDir, cs, free_port, main, wait_for  # noqa: E402
from test_notify import TOKEN, Receiver, transfer_events  # noqa: E402

VALUE = 10**18 + 1  # 1 ETH and 1 wei: past 2^53, below 2^64


class NotifyOutbox(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.port = free_port()
        self.http = Receiver("http", self.port, self.tmp.file("http.jsonl"))
        self.http.start()
        base = "http://127.0.0.1:%d" % self.port
        self.yaml = f"""
monitors:
  - name: transfers
    severity: high
    addresses: ["{TOKEN}"]
    events:
      - signature: "Transfer(address indexed from, address indexed to, uint256 value)"
    channels: [hook, broken]
channels:
  hook: {{type: webhook, url: "{base}/hook"}}
  broken: {{type: webhook, url: "{base}/broken"}}
notify:
  outbox: {self.tmp.file('outbox.db')}
"""

    def tearDown(self):
        self.http.stop()
        self.tmp.cleanup()

    def test_big_integers_and_dead_letters(self):
        srv = Server(self.tmp, self.yaml, http=True)
        try:
            r = cs("publish", "--socket", srv.socket, input=transfer_events(7, [("0xaa07", VALUE)]))
            self.assertEqual(r.returncode, 0, r.stderr)
            hooks = lambda: [x for x in self.http.records() if x["path"].startswith("/hook")]
            broken = lambda: [x for x in self.http.records() if x["path"].startswith("/broken")]
            wait_for(lambda: hooks() and broken(), timeout=20, what="webhooks: " + srv.logtext())
            body = hooks()[0]["body"]
            self.assertIn('"value":"%d"' % VALUE, body)
            node = subprocess.run(
                ["node", "-e", "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{"
                 "const a=JSON.parse(s);console.log(a.args.value, a.matchReasons[0].params.value)})"],
                input=body, capture_output=True, text=True, timeout=30)
            self.assertEqual(node.returncode, 0, node.stderr)
            self.assertEqual(node.stdout.split(), [str(VALUE), str(VALUE)])

            def metrics():
                with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % srv.http_port,
                                            timeout=5) as m:
                    return m.read().decode()
            wait_for(lambda: "chainscope_notify_dead_total 1" in metrics(), timeout=20,
                     what="the refused notification given up")
            text = metrics()
            size = [ln for ln in text.splitlines() if ln.startswith("chainscope_notify_outbox_bytes ")]
            self.assertTrue(size and float(size[0].split()[1]) > 0, text)
            wait_for(lambda: "chainscope_monitor_alerts_acked_total 1" in metrics(), timeout=20,
                     what="the alert acknowledged")
            self.assertIn("chainscope_monitor_alerts_unacked 0", metrics())
        finally:
            srv.stop()
        r = cs("monitor", "outbox", "-c", srv.config)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[-1], "1 dead notification (acknowledge with --ack KEY or --ack-all)")
        self.assertIn("  broken  transfers  1 attempt  ", lines[0])
        self.assertIn("HTTP 400", lines[1])
        key = lines[0].split()[0]
        r = cs("monitor", "outbox", "-c", srv.config, "--ack", key)
        self.assertEqual(r.stdout.strip(), "1 dead notification acknowledged and deleted")
        r = cs("monitor", "outbox", "-c", srv.config)
        self.assertEqual(r.stdout.strip(), "0 dead notifications (acknowledge with --ack KEY or --ack-all)")


if __name__ == "__main__":
    main()
