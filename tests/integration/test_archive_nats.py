"""Archives and NATS against a real nats-server (Debian 2.9): `chainscope
replay --into nats` publishes an archive as PREFIX.NETWORK.TYPE with the
bridge's headers and the replay mark, read back by the independent npm
consumer (nats_consumer.js), on core NATS and through JetStream."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cslib import Server, TempDir, cs, main  # noqa: E402
from test_archive import Recorder, segments  # noqa: E402
from test_nats import Consumer, NatsServer  # noqa: E402

N = 500


class ReplayIntoNats(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.addCleanup(self.tmp.cleanup)
        srv = Server(self.tmp)
        self.addCleanup(srv.stop)
        self.arc = self.tmp.file("arc")
        rec = Recorder(self.tmp, srv.socket, self.arc, "--frame-events", "64")
        lines = "".join(json.dumps({"type": "demo.sample", "network": "btc.main",
                                    "key": "k%d" % i, "payload": {"n": i}}) + "\n"
                        for i in range(N))
        r = cs("publish", "--socket", srv.socket, "--origin", "sensor@lab", input=lines)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(rec.stop(), 0, rec.text())
        self.assertTrue(segments(self.arc))

    def check(self, lines, subject="chainscope.btc%2Emain.demo.sample"):
        self.assertEqual([l["event"]["payload"]["n"] for l in lines], list(range(N)),
                         "count and order")
        for l in lines:
            ev, h = l["event"], l["headers"]
            self.assertEqual(l["subject"], subject)
            self.assertEqual(ev["origin"], "sensor@lab+replay")
            self.assertEqual(h["Chainscope-Origin"], "sensor@lab+replay")
            self.assertEqual(h["Nats-Msg-Id"], "sensor@lab+replay:%s" % ev["seq"])
            self.assertEqual(h["Chainscope-Seq"], str(ev["seq"]))
        self.assertEqual([l["event"]["seq"] for l in lines], list(range(1, N + 1)),
                         "the recorded seq kept")

    def test_core_nats(self):
        ns = NatsServer(self.tmp)
        self.addCleanup(ns.kill)
        consumer = Consumer(self.tmp, ns.url, "--subject", "chainscope.>", "--count", str(N),
                            "--timeout", "5000")
        r = cs("replay", self.arc, "--as-fast-as-possible", "--into", "nats", "--nats", ns.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("replayed %d events" % N, r.stderr)
        self.check(consumer.wait())

    def test_jetstream_from_a_config(self):
        ns = NatsServer(self.tmp, self.tmp.file("js"))
        self.addCleanup(ns.kill)
        conf = self.tmp.file("a.yaml", f"""nats:
  servers: [{ns.url}]
  prefix: lab.events
  publish: {{subjects: [">"]}}
  jetstream: {{stream: REPLAY}}
""")
        r = cs("replay", self.arc, "-a", "--into", "nats", "-c", conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        # twice: the second is dropped by JetStream (same Nats-Msg-Id)
        r = cs("replay", self.arc, "-a", "--into", "nats", "-c", conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = Consumer(self.tmp, ns.url, "--stream", "REPLAY", "--count", str(N),
                         "--timeout", "3000").wait()
        self.check(lines, "lab.events.btc%2Emain.demo.sample")

    def test_usage(self):
        r = cs("replay", self.arc, "--nats", "nats://127.0.0.1:1")
        self.assertEqual(r.returncode, 2)
        self.assertIn("go with --into nats", r.stderr)
        r = cs("replay", self.arc, "--into", "nats")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--nats URL", r.stderr)


if __name__ == "__main__":
    main()
