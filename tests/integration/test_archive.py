#!/usr/bin/python3
"""Archives and replay with real processes on loopback: `chainscope archive
record` on a running log server, killed with SIGKILL mid-segment (verify says
where the segment ends, cat reads every complete frame), rotated by SIGHUP
many times while events pour in (no seq lost or doubled), retention by total
size and by age (oldest first), the writer's queue bound (drops counted and
logged, every event accounted for); and the `archive:` sink inside `chainscope
run` with monitors and a webhook, whose archive replayed into fresh runs (the
`replay:` source, and `chainscope replay`) reproduces the live run's alerts,
marked as replayed and kept from the channels unless `replay.notify` says
otherwise."""
import glob
import json
import os
import signal
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cslib import CHAINSCOPE, Server, TempDir, cs, free_port, main, read_jsonl, start, stop, wait_for  # noqa: E402
from test_notify import Receiver  # noqa: E402


def rfc3339(ns):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + ".%09dZ" % (ns % 10**9)


def segments(d):
    return sorted(glob.glob(os.path.join(d, "*.cseg")))


def publish(sock, n, typ="demo.load", payload='{"n":1,"text":"some text to archive"}'):
    r = cs("publish", "--socket", sock, "--type", typ, "--network", "lab", "--key", "k",
           "--origin", "load@test", "--json", payload, "--count", str(n))
    assert r.returncode == 0, r.stderr


def cat_json(*paths, extra=()):
    r = cs("archive", "cat", "--json", *extra, *paths)
    return r, [json.loads(line) for line in r.stdout.splitlines()]


class Recorder:
    """chainscope archive record on a log server, its stderr in a file."""

    def __init__(self, tmp, sock, d, *args):
        self.log = tmp.file("record-%d.log" % time.monotonic_ns())
        self.err = open(self.log, "w")
        self.proc = start([CHAINSCOPE, "archive", "record", "--socket", sock, "--dir", d]
                          + list(args), stdout=subprocess.DEVNULL, stderr=self.err)
        wait_for(lambda: "recording" in self.text() or self.proc.poll() is not None,
                 what="archive record to connect")
        assert self.proc.poll() is None, self.text()

    def text(self):
        with open(self.log) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        rc = stop(self.proc, sig)
        self.err.close()
        return rc


class RecordTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.srv = Server(self.tmp)
        self.dir = self.tmp.file("arc")

    def tearDown(self):
        self.srv.stop()
        self.tmp.cleanup()

    def test_sigkill_leaves_a_readable_segment(self):
        rec = Recorder(self.tmp, self.srv.socket, self.dir, "--frame-events", "100",
                       "--frame-interval", "60")
        publish(self.srv.socket, 1050)
        # 10 frames of 100 are written at once; the last 50 wait for more
        wait_for(lambda: segments(self.dir) and "10 complete frames" in
                 cs("archive", "verify", segments(self.dir)[0]).stdout, timeout=30,
                 what="10 frames on disk")
        rec.stop(signal.SIGKILL)
        [seg] = segments(self.dir)
        v = cs("archive", "verify", seg)
        self.assertEqual(v.returncode, 1, v.stdout + v.stderr)
        self.assertIn("cut: 10 complete frames, 1000 events readable", v.stdout)
        self.assertIn("no index: not closed cleanly", v.stdout)
        r, evs = cat_json(seg)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([e["seq"] for e in evs], list(range(1, 1001)))
        self.assertEqual(evs[0]["payload"], {"n": 1, "text": "some text to archive"})
        self.assertEqual(evs[0]["origin"], "load@test")
        # cut inside the last frame as well: the frames before it stay readable
        size = os.path.getsize(seg)
        with open(seg, "r+b") as f:
            f.truncate(size - 7)
        v = cs("archive", "verify", seg)
        self.assertIn("cut: 9 complete frames, 900 events readable", v.stdout)
        self.assertIn("the bytes end inside a block body", v.stdout)
        r, evs = cat_json(seg)
        self.assertEqual(len(evs), 900)

    def test_rotation_under_load_loses_nothing(self):
        rec = Recorder(self.tmp, self.srv.socket, self.dir, "--frame-events", "64")
        n = 30000
        pub = start([CHAINSCOPE, "publish", "--socket", self.srv.socket, "--type", "demo.load",
                     "--origin", "load@test", "--json", '{"n":7}', "--count", str(n)])
        hups = 0
        while pub.poll() is None:
            rec.proc.send_signal(signal.SIGHUP)
            hups += 1
            time.sleep(0.02)
        self.assertEqual(pub.wait(), 0)
        for _ in range(5):
            rec.proc.send_signal(signal.SIGHUP)
            hups += 1
            time.sleep(0.02)
        time.sleep(0.5)
        self.assertEqual(rec.stop(), 0, rec.text())
        segs = segments(self.dir)
        self.assertGreater(len(segs), 5, "SIGHUP made new segments")
        v = cs("archive", "verify", self.dir)
        self.assertEqual(v.returncode, 0, v.stdout)
        self.assertEqual(v.stdout.count("complete:"), len(segs))
        r, evs = cat_json(self.dir)
        seqs = [e["seq"] for e in evs]
        self.assertEqual(len(seqs), n, "no event lost or doubled across %d rotations" % hups)
        self.assertEqual(sorted(seqs), list(range(1, n + 1)))
        st = cs("archive", "stats", self.dir).stdout
        self.assertIn("events: %d\n" % n, st)
        self.assertIn("  demo.load: %d\n" % n, st)

    def test_retention_deletes_oldest(self):
        rec = Recorder(self.tmp, self.srv.socket, self.dir, "--frame-events", "20",
                       "--segment-size", "2KiB", "--retain-size", "12KiB", "--level", "1")
        for i in range(30):
            publish(self.srv.socket, 40, payload='{"n":%d,"text":"%s"}' % (i, os.urandom(24).hex()))
        time.sleep(0.5)
        self.assertEqual(rec.stop(), 0)
        text = rec.text()
        self.assertIn("retention: deleted", text)
        segs = segments(self.dir)
        total = sum(os.path.getsize(s) for s in segs)
        self.assertLessEqual(total, 12 * 1024 + 4096, "the folder kept within retain-size")
        # the oldest went first: what is left is the newest, without a gap
        _, evs = cat_json(self.dir)
        seqs = sorted(e["seq"] + 40 * e["payload"]["n"] for e in evs)
        self.assertEqual(seqs[-1], 1200)
        self.assertEqual(seqs, list(range(seqs[0], 1201)))
        self.assertGreater(seqs[0], 1)
        deleted = int(text.split(" segments deleted by retention")[0].rsplit(" ", 1)[1])
        self.assertGreater(deleted, 0)

    def test_retention_by_age(self):
        rec = Recorder(self.tmp, self.srv.socket, self.dir, "--retain", "1")
        publish(self.srv.socket, 10)
        rec.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: len(segments(self.dir)) == 2, what="a second segment")
        first = segments(self.dir)[0]
        time.sleep(2.1)
        rec.proc.send_signal(signal.SIGHUP)  # a close runs retention
        wait_for(lambda: not os.path.exists(first), what="the old segment deleted")
        self.assertEqual(rec.stop(), 0)
        self.assertIn("past archive.retain", rec.text())

    def test_rotation_by_age(self):
        rec = Recorder(self.tmp, self.srv.socket, self.dir, "--segment-age", "0.5",
                       "--frame-interval", "0.1")
        publish(self.srv.socket, 5)
        wait_for(lambda: len(segments(self.dir)) == 2, what="a new segment after 0.5 s")
        time.sleep(1.0)  # an empty segment is not rotated by age
        self.assertEqual(len(segments(self.dir)), 2)
        self.assertEqual(rec.stop(), 0)
        v = cs("archive", "verify", self.dir)
        self.assertEqual(v.returncode, 0, v.stdout)
        self.assertIn("complete: 1 frames, 5 events", v.stdout)

    def test_queue_bound_drops_are_counted(self):
        # a tiny queue and the slowest compression: the writer falls behind
        rec = Recorder(self.tmp, self.srv.socket, self.dir, "--queue", "2KiB", "--level", "19",
                       "--frame-events", "4000")
        n = 40000
        publish(self.srv.socket, n, payload='{"n":1,"text":"%s"}' % os.urandom(40).hex())
        time.sleep(0.5)
        self.assertEqual(rec.stop(), 0)
        text = rec.text()
        self.assertIn("queue full", text)
        last = [l for l in text.splitlines() if l.startswith("archive: ") and "dropped" in l][-1]
        written = int(last.split()[1])
        dropped = int(last.split(", ")[2].split()[0])
        self.assertGreater(dropped, 0, last)
        self.assertEqual(written + dropped, n, last)
        _, evs = cat_json(self.dir)
        self.assertEqual(len(evs), written)


MONITORS = """
monitors:
  - name: high-level
    type: event
    severity: high
    risk: technical
    subjects: [demo.level]
    condition: "level >= 8"
    channels: [hook]
  - name: busy-key
    type: event
    severity: low
    risk: technical
    subjects: [demo.level]
    window: {kind: count, threshold: 20, duration: 1h, group_by: key}
    channels: [hook]
channels:
  hook: {type: webhook, url: "http://127.0.0.1:%(hport)d/hook"}
notify:
  outbox: %(outbox)s
  backoff: 100ms
console:
  json: true
  filter: [alert.fired, replay.finished]
"""


def console_events(srv, typ):
    out = []
    for line in srv.logtext().splitlines():
        if line.startswith("{"):
            e = json.loads(line)
            if e["type"] == typ:
                out.append(e)
    return out


def metric(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None


class ReplayTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.hport = free_port()
        self.hooks = []

    def tearDown(self):
        for h in self.hooks:
            h.stop()
        self.tmp.cleanup()

    def run_with(self, name, extra):
        d = TempDir()
        self.addCleanup(d.cleanup)
        hook_log = self.tmp.file(name + "-hook.jsonl")
        hook = Receiver("http", self.hport, hook_log)
        hook.start()
        self.hooks.append(hook)
        yaml = MONITORS % {"hport": self.hport, "outbox": d.file("outbox.db")} + extra
        return Server(d, yaml, http=True), hook

    def test_replay_reproduces_the_live_alerts(self):
        arc = self.tmp.file("arc")
        live, hook = self.run_with("live", "archive:\n  dir: %s\n  frame_interval: 100ms\n" % arc)
        lines = "".join(json.dumps({"type": "demo.level", "network": "lab", "key": "k%d" % (i % 3),
                                    "payload": {"level": i % 10}}) + "\n" for i in range(150))
        r = cs("publish", "--socket", live.socket, "--origin", "sensor@lab", input=lines)
        self.assertEqual(r.returncode, 0, r.stderr)
        # 30 high levels (8 and 9), and one window alert per key (20 events of each)
        wait_for(lambda: len(console_events(live, "alert.fired")) >= 33, timeout=30,
                 what="live alerts")
        wait_for(lambda: len(hook.records()) >= 33, timeout=30, what="live webhooks")
        time.sleep(0.5)
        live_alerts = console_events(live, "alert.fired")
        live_ids = sorted(a["payload"]["id"] for a in live_alerts)
        self.assertEqual(len(live_ids), 33, live_ids)
        self.assertTrue(all("replayed" not in a["payload"] for a in live_alerts))
        # the archive sink's metrics: every event so far written, none dropped
        wait_for(lambda: metric(live.http_port, "chainscope_archive_events_total") >= 150 + 33,
                 timeout=10, what="archived events counted")
        self.assertEqual(metric(live.http_port, "chainscope_archive_dropped_total"), 0)
        self.assertEqual(metric(live.http_port, "chainscope_archive_segments_total"), 1)
        self.assertEqual(live.stop(), 0)
        hook.stop()
        v = cs("archive", "verify", arc)
        self.assertEqual(v.returncode, 0, v.stdout)

        # a fresh run replays the archive through its monitors (the replay: source)
        rep, hook2 = self.run_with("replay", "replay:\n  files: [%s]\n  filter: [demo.>]\n" % arc)
        wait_for(lambda: console_events(rep, "replay.finished"), timeout=30, what="replay.finished")
        wait_for(lambda: len(console_events(rep, "alert.fired")) >= 33, timeout=30,
                 what="replayed alerts")
        time.sleep(1.0)  # time for the notifier to (not) send anything
        rep_alerts = console_events(rep, "alert.fired")
        rep_ids = sorted(a["payload"]["id"].replace("+replay", "") for a in rep_alerts)
        self.assertEqual(rep_ids, live_ids)
        self.assertTrue(all(a["payload"]["replayed"] is True for a in rep_alerts))
        self.assertTrue(all("+replay" in a["payload"]["id"] for a in rep_alerts))
        for a in rep_alerts:
            if "event" in a["payload"]:
                self.assertEqual(a["payload"]["event"]["origin"], "sensor@lab+replay")
        fin = console_events(rep, "replay.finished")[0]["payload"]
        self.assertEqual(fin["events"], 150)
        self.assertEqual(hook2.records(), [], "replayed alerts never reach the channel")
        self.assertEqual(metric(rep.http_port, "chainscope_notify_replayed_skipped_total"), 33)
        self.assertEqual(rep.stop(), 0)
        hook2.stop()

        # chainscope replay into a run that asks for replayed alerts to be sent
        ok, hook3 = self.run_with("notify", "replay:\n  notify: true\n")
        tail = start([CHAINSCOPE, "tail", "--json", "--socket", ok.socket, "--filter",
                      "demo.level", "--count", "150", "--timeout", "30"], text=True)
        self.assertIn("connected", tail.stderr.readline())
        r = cs("replay", arc, "--as-fast-as-possible", "--filter", "demo.>", "--socket", ok.socket)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("replayed 150 events", r.stderr)
        out, _ = tail.communicate(timeout=60)
        evs = [json.loads(line) for line in out.splitlines()]
        _, archived = cat_json(arc, extra=("--filter", "demo.level"))
        self.assertEqual([(e["seq"], e["time"]) for e in evs],
                         [(e["seq"], e["time"]) for e in archived], "seq and time kept")
        self.assertTrue(all(e["origin"] == "sensor@lab+replay" for e in evs))
        wait_for(lambda: len(hook3.records()) >= 33, timeout=30, what="webhooks with notify: true")
        self.assertEqual(ok.stop(), 0)

    def test_replay_time_range_and_paced(self):
        arc = self.tmp.file("arc")
        srv = Server(self.tmp, "archive:\n  dir: %s\n  frame_events: 10\n  filter: [demo.>]\n" % arc)
        for i in range(3):
            publish(srv.socket, 10, payload='{"n":%d}' % i)
            time.sleep(0.6)
            if i == 0:  # SIGHUP to `run`: the archive closes its segment, opens a new one
                srv.proc.send_signal(signal.SIGHUP)
                wait_for(lambda: len(segments(arc)) == 2, what="a new segment on SIGHUP")
        self.assertEqual(srv.stop(), 0)
        v = cs("archive", "verify", arc)
        self.assertEqual(v.stdout.count("complete: 1 frames, 10 events"), 1, v.stdout)
        self.assertEqual(v.stdout.count("complete: 2 frames, 20 events"), 1, v.stdout)
        _, evs = cat_json(arc)
        self.assertEqual(len(evs), 30)
        t_mid = evs[10]["time"]
        t_end = evs[19]["time"]
        r, part = cat_json(arc, extra=("--from", rfc3339(t_mid), "--to", rfc3339(t_end)))
        self.assertEqual([e["payload"]["n"] for e in part], [1] * 10)
        st = cs("archive", "stats", arc).stdout
        self.assertIn("events: 30\n", st)
        self.assertIn("compression_ratio: ", st)
        span = float(st.split("span_seconds: ")[1].split()[0])
        self.assertGreater(span, 1.0)
        # paced at 4x the recorded speed: the 1.2 s of events take ~0.3 s or more
        other = TempDir()
        self.addCleanup(other.cleanup)
        dst = Server(other, "")
        try:
            t0 = time.monotonic()
            r = cs("replay", arc, "--speed", "4", "--socket", dst.socket)
            took = time.monotonic() - t0
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertGreaterEqual(took, span / 4 * 0.9)
        finally:
            dst.stop()


SPAM_MONITORS = """
monitors:
  - name: addr-spam
    type: event
    severity: medium
    risk: suspicious
    subjects: [p2p.msg.addr, p2p.msg.addrv2]
    condition: 'direction == "in"'
    window: {kind: count, threshold: 5, duration: 10s, group_by: key}
  - name: handshakes
    type: event
    severity: low
    risk: technical
    subjects: [p2p.handshake]
console:
  json: true
  filter: [alert.fired, replay.finished]
"""


class ConnectorReplayTest(unittest.TestCase):
    """A recorded connector session (a simulated network where one node
    spams addr), replayed into a fresh run of the same monitors, gives the
    live run's alerts."""

    def test_connector_session(self):
        from test_monitors_spam import start_simnet
        tmp = TempDir()
        self.addCleanup(tmp.cleanup)
        arc = tmp.file("arc")
        sim, first, spammers = start_simnet(["--nodes", "10", "--addr-spam", "0.1",
                                             "--spam-ms", "100", "--seed", "4"])
        try:
            port = first.split(":")[1]
            nodes = ["127.1.0.%d:%s" % (i, port) for i in range(1, 11)]
            polite = [a for a in nodes if a != spammers[0]][:3]
            control = tmp.file("control.sock")
            live = Server(tmp, "connector:\n  network: regtest\n  control: %s\n" % control
                          + SPAM_MONITORS + "archive:\n  dir: %s\n  filter: [p2p.>]\n" % arc)
            try:
                r = cs("ctl", "--socket", control, "connect", spammers[0], *polite)
                self.assertEqual(r.returncode, 0, r.stderr)
                wait_for(lambda: any(a["payload"]["monitor"]["name"] == "addr-spam"
                                     for a in console_events(live, "alert.fired")), timeout=20,
                         what="the spam alert")
                time.sleep(1.0)
            finally:
                self.assertEqual(live.stop(), 0)
        finally:
            stop(sim)
        live_ids = sorted(a["payload"]["id"] for a in console_events(live, "alert.fired"))
        self.assertEqual(len([i for i in live_ids if i.startswith("handshakes/")]), 4, live_ids)
        d = TempDir()
        self.addCleanup(d.cleanup)
        rep = Server(d, SPAM_MONITORS + "replay:\n  files: [%s]\n" % arc)
        try:
            wait_for(lambda: console_events(rep, "replay.finished"), timeout=30,
                     what="replay.finished")
            time.sleep(0.5)
        finally:
            self.assertEqual(rep.stop(), 0)
        rep_alerts = console_events(rep, "alert.fired")
        self.assertEqual(sorted(a["payload"]["id"].replace("+replay", "") for a in rep_alerts),
                         live_ids)
        self.assertTrue(all(a["payload"]["replayed"] for a in rep_alerts))


class ConfigTest(unittest.TestCase):
    def test_errors_name_the_key_and_place(self):
        tmp = TempDir()
        self.addCleanup(tmp.cleanup)
        cases = [("archive:\n  dir: /tmp/x\n  level: 25\n",
                  "3:10: archive.level: 25 is out of range [1, 19]"),
                 ("archive:\n  level: 3\n", "archive.dir"),
                 ("archive:\n  dir: /tmp/x\n  filter: [a.>.b]\n",
                  "3:12: archive.filter: 'a.>.b' is not a subject filter"),
                 ("replay:\n  files: [a]\n  from: yesterday\n",
                  "3:9: replay.from: expected a time like 2026-12-02T18:00:00Z")]
        for yaml, want in cases:
            r = cs("check-config", "-c", tmp.file("c.yaml", yaml))
            self.assertEqual(r.returncode, 3, yaml)
            self.assertIn(want, r.stderr + r.stdout)


if __name__ == "__main__":
    main()
