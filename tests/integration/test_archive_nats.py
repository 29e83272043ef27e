"""Archives and NATS against a real nats-server (Debian 2.9): `chainscope
replay --into nats` publishes an archive as PREFIX.NETWORK.TYPE with the
bridge's headers and the replay mark, read back by the independent npm
consumer (nats_consumer.js), on core NATS and through JetStream; `chainscope
archive record` takes what a `chainscope run` bridge publishes from NATS
(binary and JSON encodings), and through a JetStream durable consumer
survives a SIGKILL: restarted, it resumes at its ack, and the archive holds
every event exactly once, in order."""
import json
import os
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cslib import CHAINSCOPE, Server, TempDir, cs, main, start, stop, wait_for  # noqa: E402
from test_archive import Recorder, cat_json, segments  # noqa: E402
from test_nats import Consumer, NatsServer, Run, demo_events  # noqa: E402

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
        # the recorder takes them from the log server in its own time: all of
        # them are in frames (a frame a second at most) before it is stopped
        wait_for(lambda: segments(self.arc) and len(cat_json(self.arc)[1]) == N, timeout=20,
                 what="%d events archived" % N)
        self.assertEqual(rec.stop(), 0, rec.text())

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


class NatsRecorder(Recorder):
    """chainscope archive record from NATS (Recorder's text and stop)."""

    def __init__(self, tmp, d, *args):
        self.log = tmp.file("record-nats-%d.log" % len(os.listdir(tmp.path)))
        self.err = open(self.log, "a")
        self.proc = start([CHAINSCOPE, "archive", "record", "--dir", d] + list(args),
                          stdout=subprocess.DEVNULL, stderr=self.err)
        wait_for(lambda: "recording" in self.text() or self.proc.poll() is not None,
                 what="archive record to subscribe")
        assert self.proc.poll() is None, self.text()


class RecordFromNats(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.addCleanup(self.tmp.cleanup)
        self.arc = self.tmp.file("arc")

    def bridge(self, ns, yaml):
        run = Run(self.tmp, "hosta", f"""nats:
  servers: [{ns.url}]
{yaml}""")
        self.addCleanup(lambda: run.proc.poll() is None and run.stop())
        return run

    def archived(self):
        r, evs = cat_json(self.arc)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [e for e in evs if e["type"] == "demo.sample"]

    def test_core_nats_binary_and_json(self):
        ns = NatsServer(self.tmp)
        self.addCleanup(ns.kill)
        rec = NatsRecorder(self.tmp, self.arc, "--nats", ns.url, "--subject",
                           "chainscope.*.demo.>", "--frame-events", "10")
        a = self.bridge(ns, '  publish: {subjects: ["demo.>"]}\n')
        wait_for(lambda: "connected to nats://" in a.logtext(), what="bridge connected")
        a.publish(demo_events(20), origin="bin@a")
        wait_for(lambda: a.metric("chainscope_nats_sent_total") == 20, what="sent")
        self.assertEqual(a.stop(), 0)
        j = Run(self.tmp, "hostj", f"""nats:
  servers: [{ns.url}]
  publish: {{subjects: ["demo.>"], encoding: json}}
""")
        wait_for(lambda: "connected to nats://" in j.logtext(), what="json bridge connected")
        j.publish(demo_events(20, 20), origin="json@j")
        wait_for(lambda: j.metric("chainscope_nats_sent_total") == 20, what="sent")
        self.assertEqual(j.stop(), 0)
        wait_for(lambda: len(self.archived()) == 40, timeout=10, what="40 in the archive")
        self.assertEqual(rec.stop(), 0, rec.text())
        evs = self.archived()
        self.assertEqual([e["payload"]["n"] for e in evs], list(range(40)))
        self.assertEqual([e["origin"] for e in evs], ["bin@a"] * 20 + ["json@j"] * 20)
        self.assertEqual(evs[25]["payload"], demo_events(1, 25)[0]["payload"])
        self.assertEqual(evs[25]["network"], "btc.main")

    def test_durable_consumer_killed_and_restarted(self):
        ns = NatsServer(self.tmp, self.tmp.file("js"))
        self.addCleanup(ns.kill)
        a = self.bridge(ns, """  publish: {subjects: ["demo.>"]}
  jetstream: {stream: REC}
""")
        wait_for(lambda: "stream REC created" in a.logtext(), what="stream")
        total = 18000  # room for six kills before the end, on a fast machine too
        for part in range(3):
            a.publish(demo_events(total // 3, part * total // 3), origin="sensor@a%d" % part)
        wait_for(lambda: a.metric("chainscope_nats_sent_total") == total, timeout=30,
                 what="stored in JetStream")
        conf = self.tmp.file("rec.yaml", f"""nats:
  servers: [{ns.url}]
  subscribe: [">"]
  jetstream: {{stream: REC, durable: archive, batch: 50, ack_wait: 30s}}
""")
        args = ("-c", conf, "--source", "nats", "--frame-events", "20")

        def written():
            return sum(int(l.split(", ")[1].split()[0]) for l in
                       cs("archive", "verify", *segments(self.arc)).stdout.splitlines()
                       if "events" in l) if segments(self.arc) else 0
        # SIGKILL mid-way, again and again: a kill usually leaves a batch
        # fetched and not acked (the next run makes the consumer again from
        # its ack floor), sometimes also written and not acked (skipped)
        resets, before, kills = 0, 0, 0
        for cycle in range(6):
            rec = NatsRecorder(self.tmp, self.arc, *args)
            if "unacknowledged: it starts again after stream sequence" in rec.text():
                resets += 1
            wait_for(lambda: written() >= before + 400, timeout=30, what="some written")
            rec.stop(signal.SIGKILL)
            before = written()
            if before >= total:
                break  # this run was done before its kill came
            kills += 1
        self.assertGreaterEqual(kills, 3, "killed mid-way, again and again")
        self.assertGreater(resets, 0, "a kill left messages unacknowledged")
        # ack_wait is 30 s: the restarted recorder does not wait for it
        rec = NatsRecorder(self.tmp, self.arc, *args)
        wait_for(lambda: written() >= total, timeout=25, what="every event written")
        self.assertEqual(rec.stop(), 0, rec.text())
        # the last run wrote only what the others had not: a message written
        # and not yet acked when one was killed is skipped, not doubled
        self.assertIn("archive: %d events in" % (total - before), rec.text())
        evs = self.archived()
        got = [e["payload"]["n"] for e in evs]
        self.assertEqual(len(got), total, "each event exactly once")
        self.assertEqual(got, list(range(total)), "in order")
        self.assertEqual(a.stop(), 0)

    def test_durable_from_flags_resumes_at_its_ack(self):
        ns = NatsServer(self.tmp, self.tmp.file("js"))
        self.addCleanup(ns.kill)
        a = self.bridge(ns, """  publish: {subjects: ["demo.>"]}
  jetstream: {stream: CHAINSCOPE}
""")
        wait_for(lambda: "stream CHAINSCOPE created" in a.logtext(), what="stream")
        a.publish(demo_events(300), origin="x@1")
        wait_for(lambda: a.metric("chainscope_nats_sent_total") == 300, what="stored")
        args = ("--nats", ns.url, "--durable", "flagrec", "--subject", "chainscope.*.demo.>")
        rec = NatsRecorder(self.tmp, self.arc, *args)
        wait_for(lambda: len(self.archived()) == 300, timeout=15, what="300 archived")
        self.assertEqual(rec.stop(), 0, rec.text())
        rec = NatsRecorder(self.tmp, self.arc, *args)
        a.publish(demo_events(10, 300), origin="x@2")
        wait_for(lambda: len(self.archived()) == 310, timeout=15, what="310 archived")
        self.assertEqual(rec.stop(), 0, rec.text())
        # SIGTERM acked everything: the second run took only the new ones
        self.assertIn("archive: 10 events in", rec.text())
        self.assertEqual([e["payload"]["n"] for e in self.archived()], list(range(310)))

    def test_usage(self):
        r = cs("archive", "record", "--dir", self.arc, "--nats", "nats://127.0.0.1:1",
               "--socket", "/tmp/x.sock")
        self.assertEqual(r.returncode, 2)
        self.assertIn("not with NATS", r.stderr)
        r = cs("archive", "record", "--dir", self.arc, "--durable", "a.b")
        self.assertEqual(r.returncode, 2)
        self.assertIn("consumer name", r.stderr)


if __name__ == "__main__":
    main()
