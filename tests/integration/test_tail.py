#!/usr/bin/python3
"""What `chainscope tail` shows people: an alert from a real monitor as one
short line (monitor, severity, the matched event, the reason), a large event
with its large fields summarized by count and size, and the complete event
with --json. The console of `chainscope run` prints the same lines."""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cslib import CHAINSCOPE, Server, TempDir, cs, main, start, wait_for  # noqa: E402

MONITOR = """monitors:
  - name: level-watch
    type: event
    severity: medium
    risk: technical
    subjects: [demo.alert]
    condition: "level >= 3"
notify:
  outbox: %s
console:
  filter: [alert.fired, demo.big]
"""


def compact(v):
    """The size JSON gives a value: what the summaries count."""
    return json.dumps(v, separators=(",", ":"))


def strip_time(line):
    """The line without its timestamp (checked separately)."""
    stamp, rest = line.split(" ", 1)
    assert len(stamp) == 27 and stamp.endswith("Z"), line
    return rest


class TailTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.srv = Server(self.tmp, MONITOR % self.tmp.file("outbox.db"))

    def tearDown(self):
        self.srv.stop()
        self.tmp.cleanup()

    def tail(self, *args):
        t = start([CHAINSCOPE, "tail", "--socket", self.srv.socket, "--timeout", "30"]
                  + list(args), text=True)
        self.assertIn("connected", t.stderr.readline())
        return t

    def test_alert_and_large_event_lines(self):
        human = self.tail("--count", "3", "--filter", "alert.fired", "--filter", "demo.big")
        full = self.tail("--json", "--count", "3", "--filter", "alert.fired",
                         "--filter", "demo.big")
        r = cs("publish", "--socket", self.srv.socket, "--type", "demo.alert", "--network", "lab",
               "--key", "node-7", "--json", '{"level":4,"msg":"disk full"}')
        self.assertEqual(r.returncode, 0, r.stderr)
        r = cs("publish", "--socket", self.srv.socket, "--type", "demo.alert", "--network", "lab",
               "--key", "node-8", "--json", '{"level":2,"msg":"fine"}')  # below: no alert
        self.assertEqual(r.returncode, 0, r.stderr)
        big = {"name": "blob", "text": "z" * 5000, "items": list(range(300)),
               "table": {"k%02d" % i: i for i in range(50)}, "small": {"a": 1}}
        for i in range(20):
            big["f%02d" % i] = i
        r = cs("publish", "--socket", self.srv.socket, "--type", "demo.big", "--network", "lab",
               "--json", json.dumps(big))
        self.assertEqual(r.returncode, 0, r.stderr)
        r = cs("publish", "--socket", self.srv.socket, "--type", "demo.alert", "--network", "lab",
               "--key", "node-9", "--json", '{"level":3,"msg":"' + "m" * 300 + '"}')
        self.assertEqual(r.returncode, 0, r.stderr)
        out, err = human.communicate(timeout=30)
        self.assertEqual(human.returncode, 0, err)
        lines = [strip_time(l) for l in out.splitlines()]
        self.assertEqual(lines, [
            "lab alert.fired [level-watch] severity=medium risk=technical event=demo.alert "
            "key=node-7 reason=\"event demo.alert: level >= 3\"",
            "lab demo.big name=blob text=\"" + "z" * 60 + "\"...(5000 bytes) "
            "items=[300 items, %d bytes] table={50 fields, %d bytes} small={\"a\":1} "
            % (len(compact(big["items"])), len(compact(big["table"]))) +
            "f00=0 f01=1 f02=2 f03=3 f04=4 f05=5 f06=6 f07=7 f08=8 f09=9 f10=10 +9 more fields",
            "lab alert.fired [level-watch] severity=medium risk=technical event=demo.alert "
            "key=node-9 reason=\"event demo.alert: level >= 3\"",
        ])
        self.assertTrue(all(len(l) < 400 for l in out.splitlines()))
        # --json keeps everything: the whole alert document and every field
        docs = [json.loads(l) for l in full.communicate(timeout=30)[0].splitlines()]
        self.assertEqual([d["type"] for d in docs], ["alert.fired", "demo.big", "alert.fired"])
        a = docs[0]["payload"]
        self.assertEqual(a["monitor"]["name"], "level-watch")
        self.assertEqual(a["event"]["payload"], {"level": 4, "msg": "disk full"})
        self.assertEqual(a["matchReasonsFormatted"], "Match reason 1\nType: event\n"
                         "Subject: demo.alert\nKey: node-7\nCondition: level >= 3\n")
        self.assertEqual(docs[1]["payload"], big)
        self.assertEqual(docs[2]["payload"]["event"]["payload"]["msg"], "m" * 300)
        # the console of `run` prints the lines tail prints
        wait_for(lambda: self.srv.logtext().count(" lab ") >= 3, what="console lines")
        console = [strip_time(l) for l in self.srv.logtext().splitlines()
                   if l.endswith("+9 more fields") or " alert.fired " in l]
        self.assertEqual(console, lines)


if __name__ == "__main__":
    main()
