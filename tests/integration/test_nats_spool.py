"""The NATS publisher's disk spool (nats.spool) against a real nats-server
(Debian 2.9, JetStream with file storage): with nats-server stopped, more
events than the memory buffer holds go to the spool; the publisher is
stopped (SIGTERM) and started again, reads the spool back, and once
nats-server is back (same store) every event is in the stream exactly once
and in order (read by the independent npm consumer); the spool's metrics
and events say what moved. With a tiny nats.spool.max the spool stays
within it and the drops are counted."""
import glob
import json
import os
import re
import subprocess
import sys
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cslib import CHAINSCOPE, TempDir, free_port, main, start, stop, wait_for  # noqa: E402
from test_nats import Consumer, NatsServer, Run, demo_events  # noqa: E402


def spool_bytes(d):
    return sum(os.path.getsize(p) for p in glob.glob(os.path.join(d, "nats-*.spool")))


class Spool(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.addCleanup(self.tmp.cleanup)
        self.spool = self.tmp.file("spool")
        self.port = free_port()

    def publisher(self, stream, buffer, spool_max):
        run = Run(self.tmp, "pub", f"""nats:
  servers: [nats://127.0.0.1:{self.port}]
  reconnect_wait: 50ms
  max_reconnect_wait: 300ms
  publish: {{subjects: ["demo.>"], buffer: {buffer}}}
  spool: {{dir: {self.spool}, max: {spool_max}}}
  jetstream: {{stream: {stream}}}
""")
        self.addCleanup(lambda: run.proc.poll() is None and run.stop())
        return run

    def m(self, run, name):
        return run.metric("chainscope_nats_" + name) or 0

    def snap(self, run):
        """Every chainscope_nats_* figure, from one scrape."""
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % run.http, timeout=5) as r:
            text = r.read().decode()
        return {k[len("chainscope_nats_"):]: float(v) for k, v in
                re.findall(r"^(chainscope_nats_\w+) (\S+)$", text, re.M)}

    def settle(self, run, n, cap, room):
        """Waits until the publisher holds n events (buffer, spool, drops)
        and its memory buffer has room for the next round (or the spool is
        at its max). The spool is written by the bridge's thread: a burst
        larger than the memory buffer before the thread comes round is
        dropped at the memory bound (docs/nats.md), so the tests publish in
        rounds and give the thread its turn between them."""
        def held():
            m = self.snap(run)
            return (m["spool_events"] + m["buffered"] + m["dropped_total"] == n and
                    (m["buffered"] + room <= cap or m["spool_full"] == 1))
        wait_for(held, timeout=20, what="%d events held, room for %d more" % (n, room))

    def test_outage_restart_and_catch_up(self):
        ns = NatsServer(self.tmp, self.tmp.file("js"), port=self.port)
        self.addCleanup(lambda: ns.kill())
        a = self.publisher("SPOOL", 500, "256MiB")
        wait_for(lambda: "stream SPOOL created" in a.logtext(), what="stream")
        a.publish(demo_events(100), origin="s@0")
        wait_for(lambda: self.m(a, "sent_total") == 100, what="sent while up")
        self.assertEqual(self.m(a, "spooled_total"), 0, "nothing spooled while NATS keeps up")
        ns.kill()
        tail = start([CHAINSCOPE, "tail", "--json", "--filter", "nats.>", "-s", a.socket],
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.assertIn("connected", tail.stdout.readline())
        n = 100
        for part in range(30):  # 3000 events: 6 times the memory buffer
            a.publish(demo_events(100, n), origin="s@%d" % (part + 1))
            n += 100
            self.settle(a, n - 100, 500, 100)  # the first 100 were sent
        m = self.snap(a)
        self.assertEqual(m["dropped_total"], 0)
        self.assertEqual(m["spool_events"] + m["buffered"], 3000)
        self.assertEqual(m["spooled_total"], m["spool_events"])
        self.assertGreaterEqual(m["spool_events"], 2600)
        self.assertEqual(m["spool_bytes"], spool_bytes(self.spool))
        ev = json.loads(tail.stdout.readline())
        while ev["type"] != "nats.spooled":
            ev = json.loads(tail.stdout.readline())
        self.assertGreater(ev["payload"]["spooled"], 0)
        self.assertEqual(ev["payload"]["total"], ev["payload"]["spooled"])
        stop(tail)
        self.assertEqual(a.stop(), 0, a.logtext()[-2000:])  # SIGTERM: the buffer goes to the spool
        self.assertIn("3000 events stay in the spool", a.logtext())
        a.start()
        wait_for(lambda: "3000 events" in a.logtext().split("stay in the spool")[-1],
                 what="the spool read back")
        self.assertEqual(self.m(a, "spool_events"), 3000)
        a.publish(demo_events(100, n), origin="s@99")  # newer: behind the spool
        n += 100
        ns.start()  # the same store: the stream is there
        wait_for(lambda: self.m(a, "sent_total") == 3100, timeout=30,
                 what="caught up")
        m = self.snap(a)
        self.assertEqual(m["spool_events"], 0)
        self.assertEqual(m["buffered"], 0)
        self.assertEqual(m["dropped_total"], 0)
        self.assertEqual(m["unspooled_total"], 3000 + m["spooled_total"])
        wait_for(lambda: spool_bytes(self.spool) <= 4096, what="sent spool files deleted")
        lines = Consumer(self.tmp, ns.url, "--stream", "SPOOL", "--timeout", "2000").wait()
        got = [l["event"]["payload"]["n"] for l in lines]
        self.assertEqual(len(got), n, "each event once in the stream")
        self.assertEqual(got, list(range(n)), "in order")
        ids = [l["headers"]["Nats-Msg-Id"] for l in lines]
        self.assertEqual(len(set(ids)), n)
        self.assertEqual(a.stop(), 0)

    def test_tiny_max_counts_drops(self):
        a = self.publisher("TINY", 100, "8KiB")  # nothing listens on the port yet
        total = 1200
        for part in range(total // 40):  # in rounds the memory buffer holds
            a.publish(demo_events(40, part * 40), origin="t@%d" % part)
            self.settle(a, (part + 1) * 40, 100, 40)
        m = self.snap(a)
        dropped, spooled = m["dropped_total"], m["spool_events"]
        self.assertEqual(m["buffered"], 100, "the memory buffer full")
        self.assertEqual(m["spool_full"], 1)
        self.assertGreater(dropped, 0)
        self.assertGreater(spooled, 0)
        self.assertEqual(m["spool_dropped_total"], dropped, "dropped only at the spool's max")
        self.assertLessEqual(spool_bytes(self.spool), 8192, "nats.spool.max honoured")
        self.assertEqual(m["spool_bytes"], spool_bytes(self.spool))
        wait_for(lambda: "the spool at its max" in a.logtext(), what="drops logged")
        kept = total - dropped
        ns = NatsServer(self.tmp, self.tmp.file("js"), port=self.port)
        self.addCleanup(lambda: ns.kill())
        wait_for(lambda: self.m(a, "sent_total") == kept, timeout=30,
                 what="what was kept is sent")
        lines = Consumer(self.tmp, ns.url, "--stream", "TINY", "--timeout", "2000").wait()
        got = [l["event"]["payload"]["n"] for l in lines]
        self.assertEqual(len(got), kept)
        self.assertEqual(got, sorted(set(got)), "in order, each once")
        self.assertEqual(self.m(a, "spool_events"), 0)
        self.assertEqual(self.m(a, "spool_full"), 0, "room again once the spool is sent")
        self.assertEqual(a.stop(), 0)


if __name__ == "__main__":
    main()
