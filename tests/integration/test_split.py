"""Monitors and notify in two processes joined by the log server: one
`chainscope run` with the monitors (no notify:), one with notify (and
bus.connect to the first one's log server). Every alert reaches a real
webhook receiver once, with the idempotency key the one-process setup
would use, across a restart of the notify process (the alert fired while
it was down comes from the monitors' spool) and of the monitors process
(the notify process connects again)."""
import hashlib
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cslib import CHAINSCOPE, Server, TempDir, cs, free_port, main, start, stop, wait_for  # noqa: E402
from test_notify import TOKEN, Receiver, transfer_events  # noqa: E402


def key(alert_id, channel):
    return hashlib.sha256((alert_id + "\n" + channel).encode()).hexdigest()[:32]


class Split(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.port = free_port()
        self.http = Receiver("http", self.port, self.tmp.file("http.jsonl"))
        self.http.start()
        self.monitors_yaml = f"""
monitors:
  - name: transfers
    severity: high
    addresses: ["{TOKEN}"]
    events:
      - signature: "Transfer(address indexed from, address indexed to, uint256 value)"
    channels: [hook]
"""
        self.notify_cfg = self.tmp.file("notify.yaml", f"""
node: notifier
logserver:
  socket: {self.tmp.file('notify.sock')}
bus:
  connect: {self.tmp.file('bus.sock')}
  import: [alert.fired, audit.report]
  export: [notify.ack]
channels:
  hook: {{type: webhook, url: "http://127.0.0.1:{self.port}/hook"}}
notify:
  outbox: {self.tmp.file('outbox.db')}
""")
        self.nlog = open(self.tmp.file("notify.log"), "a")
        self.notifier = None
        self.mon = None

    def start_notify(self):
        self.notifier = start([CHAINSCOPE, "run", "-c", self.notify_cfg], stdout=self.nlog,
                              stderr=subprocess.STDOUT)

    def notify_log(self):
        self.nlog.flush()
        with open(self.tmp.file("notify.log")) as f:
            return f.read()

    def tearDown(self):
        if self.notifier:
            stop(self.notifier)
        if self.mon:
            self.mon.stop()
        self.nlog.close()
        self.http.stop()
        self.tmp.cleanup()

    def publish(self, block, tx):
        r = cs("publish", "--socket", self.mon.socket, input=transfer_events(block, [(tx, 5000)]))
        self.assertEqual(r.returncode, 0, r.stderr)

    def keys(self):
        return [r["headers"].get("idempotency-key") for r in self.http.records()]

    def wait_keys(self, n, what):
        wait_for(lambda: len(self.keys()) >= n, timeout=30,
                 what=what + ": " + self.mon.logtext() + self.notify_log())

    def test_two_processes(self):
        self.mon = Server(self.tmp, self.monitors_yaml)
        self.start_notify()
        wait_for(lambda: "bridged" in self.notify_log() and "connected to" in self.notify_log(),
                 timeout=20, what="the notify process connected: " + self.notify_log())
        self.publish(1, "0xaa01")
        self.wait_keys(1, "the first alert")

        # the notify process is down while an alert fires: the spool resends it
        self.assertEqual(stop(self.notifier), 0)
        self.notifier = None
        self.publish(2, "0xaa02")
        self.start_notify()
        self.wait_keys(2, "the alert fired while notify was down")

        # the monitors process restarts: the notify process connects again
        self.mon.stop()
        self.mon = Server(self.tmp, self.monitors_yaml)
        wait_for(lambda: self.notify_log().count("connected to") >= 3, timeout=30,
                 what="reconnected: " + self.notify_log())
        self.publish(3, "0xaa03")
        self.wait_keys(3, "the alert after the monitors' restart")
        # a resend after an acknowledgement would arrive within one resend
        # period (5 s): wait that long for nothing
        time.sleep(6)
        want = [key("transfers/eth-main/0xaa0%d" % i, "hook") for i in (1, 2, 3)]
        self.assertEqual(sorted(self.keys()), sorted(want))


if __name__ == "__main__":
    main()
