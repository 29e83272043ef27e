"""The NATS bridge against a real nats-server (Debian 2.9): what chainscope
publishes is read by an independent consumer written with the npm `nats`
client (nats_consumer.js, which decodes the binary record per
docs/protocol.md, and the JSON rendering); NATS as a source for another
chainscope; JetStream across a nats-server SIGKILL and restart (file
storage: nothing lost, nothing doubled); a JetStream sink process (notify)
SIGKILLed and restarted resumes at its ack; the publisher's buffer bound
while NATS is unreachable (drops counted, bounded, then drained)."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cslib import CHAINSCOPE, TempDir, cs, free_port, main, start, stop, wait_for  # noqa: E402
from test_notify import Receiver  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NATS_SERVER = "/usr/sbin/nats-server"
NODE = "/usr/bin/node"


class NatsServer:
    """nats-server on a free loopback port; JetStream (file storage in
    store) when store is given. restart() keeps the port and the store."""

    def __init__(self, tmp, store=None, port=None, extra=()):
        self.tmp, self.store, self.extra = tmp, store, list(extra)
        self.port = port or free_port()
        self.url = "nats://127.0.0.1:%d" % self.port
        self.proc = None
        self.start()

    def start(self):
        args = [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port)]
        if self.store:
            args += ["-js", "-sd", self.store]
        args += self.extra
        self.proc = start(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import socket
        def up():
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return True
            except OSError:
                return False
        wait_for(up, what="nats-server listening")

    def kill(self):
        stop(self.proc, signal.SIGKILL)


class Run:
    """A `chainscope run` with a log server and an HTTP port for /metrics."""

    def __init__(self, tmp, name, yaml, env=None):
        self.tmp, self.name, self.env = tmp, name, env
        self.socket = tmp.file(name + ".sock")
        self.http = free_port()
        self.config = tmp.file(name + ".yaml", "node: %s\nlogserver:\n  socket: %s\n"
                               "http:\n  listen: 127.0.0.1:%d\n%s"
                               % (name, self.socket, self.http, yaml))
        self.log_path = tmp.file(name + ".log")
        self.start()

    def start(self):
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        self.log = open(self.log_path, "a")
        self.proc = start([CHAINSCOPE, "run", "-c", self.config], stdout=self.log,
                          stderr=subprocess.STDOUT, env=self.env)
        wait_for(lambda: os.path.exists(self.socket) or self.proc.poll() is not None,
                 what="log server socket of " + self.name)
        if self.proc.poll() is not None:
            raise AssertionError(self.logtext())

    def logtext(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def metric(self, name):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.http, timeout=5) as r:
            text = r.read().decode()
        m = re.search(r"^%s(?:\{[^}]*\})? (\S+)$" % re.escape(name), text, re.M)
        return float(m.group(1)) if m else None

    def stop(self, sig=signal.SIGTERM):
        rc = stop(self.proc, sig)
        self.log.close()
        return rc

    def publish(self, lines, origin=None):
        # each call is a new publisher whose seq starts at 1: a distinct
        # origin keeps Nats-Msg-Id (origin:seq) unique
        r = cs("publish", "--socket", self.socket, "--origin", origin or "publish-%d" % free_port(),
               input="".join(json.dumps(l) + "\n" for l in lines))
        assert r.returncode == 0, r.stderr


class Consumer:
    """nats_consumer.js in the background; lines() are its messages."""

    def __init__(self, tmp, url, *args):
        self.out = tmp.file("consumer-%d.jsonl" % free_port())
        self.f = open(self.out, "w")
        self.proc = start([NODE, os.path.join(HERE, "nats_consumer.js"), "--server", url]
                          + list(args), stdout=self.f, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: self.ready() or self.proc.poll() is not None, timeout=20,
                 what="the node consumer")
        if self.proc.poll() is not None and not self.ready():
            raise AssertionError(self.proc.stderr.read())

    def all(self):
        with open(self.out) as f:
            return [json.loads(l) for l in f.read().split("\n")[:-1] if l]

    def ready(self):
        return any(l.get("ready") for l in self.all())

    def lines(self):
        return [l for l in self.all() if not l.get("ready")]

    def wait(self, timeout=30):
        self.proc.wait(timeout=timeout)
        self.f.close()
        err = self.proc.stderr.read()
        assert self.proc.returncode == 0, err
        return self.lines()


def demo_events(n, start_at=0, network="btc.main"):
    return [{"type": "demo.sample", "network": network, "key": "k%d" % i,
             "payload": {"n": i, "text": "héllo %d" % i, "neg": -i - 1, "ok": i % 2 == 0,
                         "list": [i, "x"]}} for i in range(start_at, start_at + n)]


class Nats(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.runs = []

    def tearDown(self):
        # every process still running stops cleanly on SIGTERM (under ASan:
        # nothing leaked, nothing left running)
        bad = []
        for r in self.runs:
            if r.proc.poll() is None and r.stop() != 0:
                bad.append(r.name + ": " + r.logtext()[-2000:])
        self.tmp.cleanup()
        self.assertEqual(bad, [])

    def run_cs(self, name, yaml, env=None):
        r = Run(self.tmp, name, yaml, env)
        self.runs.append(r)
        return r

    def check_interop(self, lines, n):
        self.assertEqual(len(lines), n)
        for i, l in enumerate(lines):
            ev, h = l["event"], l["headers"]
            # PREFIX.NETWORK.TYPE, the '.' of the network escaped as %2E
            self.assertEqual(l["subject"], "chainscope.btc%2Emain.demo.sample")
            self.assertEqual(ev["type"], "demo.sample")
            self.assertEqual(ev["network"], "btc.main")
            self.assertEqual(ev["key"], "k%d" % i)
            self.assertEqual(ev["payload"], {"n": i, "text": "héllo %d" % i, "neg": -i - 1,
                                             "ok": i % 2 == 0, "list": [i, "x"]})
            self.assertEqual(h["Chainscope-Origin"], ev["origin"])
            self.assertEqual(h["Chainscope-Seq"], str(ev["seq"]))
            self.assertEqual(h["Nats-Msg-Id"], "%s:%s" % (ev["origin"], ev["seq"]))

    def test_interop_and_source(self):
        ns = NatsServer(self.tmp)
        a = self.run_cs("hosta", f"""nats:
  servers: [{ns.url}]
  publish: {{subjects: ["demo.>"]}}
""")
        # host B takes demo.> from NATS and publishes demo.> too: what came
        # from NATS must not go back (the consumer would see it twice)
        b = self.run_cs("hostb", f"""nats:
  servers: [{ns.url}]
  subscribe: ["demo.>"]
  publish: {{subjects: ["demo.>"]}}
""")
        c = self.run_cs("hostc", f"""nats:
  servers: [{ns.url}]
  publish: {{subjects: ["demo.>"], encoding: json}}
""")
        for r in (a, b, c):
            wait_for(lambda: "connected to nats://" in r.logtext(), what="connected")
        tail = start([CHAINSCOPE, "tail", "--json", "-s", b.socket], stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT, text=True)
        self.assertIn("connected", tail.stdout.readline())
        binary = Consumer(self.tmp, ns.url, "--subject", "chainscope.*.demo.>", "--count", "5",
                          "--timeout", "3000")
        a.publish(demo_events(5))
        self.check_interop(binary.wait(), 5)
        wait_for(lambda: b.metric("chainscope_nats_received_total") == 5, what="B received")
        got = [json.loads(tail.stdout.readline()) for _ in range(5)]
        stop(tail)
        self.assertEqual([g["payload"]["n"] for g in got], list(range(5)))
        self.assertEqual(got[0]["origin"], binary.lines()[0]["event"]["origin"])
        self.assertEqual(b.metric("chainscope_nats_sent_total"), 0)

        js = Consumer(self.tmp, ns.url, "--subject", "chainscope.*.demo.>", "--count", "3",
                      "--timeout", "3000")
        c.publish(demo_events(3))
        lines = js.wait()
        self.assertTrue(all(l["headers"]["Chainscope-Encoding"] == "json" for l in lines))
        self.check_interop(lines, 3)

    def test_credentials_from_the_environment(self):
        ns = NatsServer(self.tmp, extra=["--user", "host-a", "--pass", "s3cret-pw"])
        yaml = f"""nats:
  servers: [{ns.url}]
  user: host-a
  password_env: CS_TEST_NATS_PW
  publish: {{subjects: ["demo.>"]}}
"""
        # the variable unset: refused at start, naming the variable
        env = {k: v for k, v in os.environ.items() if k != "CS_TEST_NATS_PW"}
        r = subprocess.run([CHAINSCOPE, "run", "-c", self.tmp.file("noenv.yaml", yaml)],
                           capture_output=True, text=True, timeout=30, env=env)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("CS_TEST_NATS_PW is not set", r.stderr)
        # a wrong password: retried with backoff, reported, never printed
        bad = self.run_cs("bad", yaml, dict(env, CS_TEST_NATS_PW="wrong-pw"))
        wait_for(lambda: "warn  nats:" in bad.logtext(), timeout=10, what="refusal logged")
        self.assertEqual(bad.metric("chainscope_nats_connected"), 0)
        self.assertNotIn("wrong-pw", bad.logtext())
        good = self.run_cs("good", yaml, dict(env, CS_TEST_NATS_PW="s3cret-pw"))
        wait_for(lambda: good.metric("chainscope_nats_connected") == 1, what="connected")
        consumer = Consumer(self.tmp, ns.url, "--user", "host-a", "--pass", "s3cret-pw",
                            "--subject", ">", "--count", "2", "--timeout", "3000")
        good.publish(demo_events(2))
        self.assertEqual(len(consumer.wait()), 2)
        self.assertNotIn("s3cret-pw", good.logtext())

    def test_jetstream_server_killed(self):
        store = self.tmp.file("js")
        ns = NatsServer(self.tmp, store)
        a = self.run_cs("hosta", f"""nats:
  servers: [{ns.url}]
  reconnect_wait: 50ms
  max_reconnect_wait: 500ms
  publish: {{subjects: ["demo.>"]}}
  jetstream: {{stream: KILL, max_age: 1h, max_bytes: 64MiB}}
""")
        wait_for(lambda: "stream KILL created" in a.logtext(), what="stream: " + a.logtext())
        total = 0
        for part in range(6):
            a.publish(demo_events(300, total))
            total += 300
            if part == 2:
                ns.kill()  # mid-stream: some batches wait for their acks
            if part == 4:
                ns.start()
        wait_for(lambda: a.metric("chainscope_nats_sent_total") == total, timeout=30,
                 what="every event stored: %s" % a.metric("chainscope_nats_sent_total"))
        self.assertEqual(a.metric("chainscope_nats_buffered"), 0)
        self.assertEqual(a.metric("chainscope_nats_dropped_total"), 0)
        self.assertIn("connection to", a.logtext())  # the outage was seen
        lines = Consumer(self.tmp, ns.url, "--stream", "KILL", "--count", str(total),
                         "--timeout", "3000").wait()
        ns_seen = [l["event"]["payload"]["n"] for l in lines]
        self.assertEqual(len(ns_seen), total, "messages in the stream")
        self.assertEqual(sorted(ns_seen), list(range(total)), "each event once")

    def test_jetstream_sink_killed(self):
        ns = NatsServer(self.tmp, self.tmp.file("js"))
        hook = free_port()
        recv = Receiver("http", hook, self.tmp.file("http.jsonl"))
        recv.start()
        self.addCleanup(recv.stop)
        a = self.run_cs("hosta", f"""nats:
  servers: [{ns.url}]
  publish: {{subjects: ["alert.fired"]}}
  jetstream: {{stream: ALERTS}}
""")
        wait_for(lambda: "stream ALERTS created" in a.logtext(), what="stream")
        b_yaml = f"""channels:
  hook: {{type: webhook, url: "http://127.0.0.1:{hook}/hook"}}
notify:
  outbox: {self.tmp.file('outbox.db')}
nats:
  servers: [{ns.url}]
  subscribe: [alert.fired]
  jetstream: {{stream: ALERTS, durable: notify-b, batch: 20, ack_wait: 2s}}
"""
        def alerts(lo, hi):
            return [{"type": "alert.fired", "key": "m", "payload": {
                "id": "alert-%d" % i, "severity": "high", "monitor": {"name": "m"},
                "channels": ["hook"], "title": "t%d" % i, "message": "m%d" % i}}
                for i in range(lo, hi)]
        total = 400
        b = self.run_cs("hostb", b_yaml)
        wait_for(lambda: "durable consumer notify-b" in b.logtext(), what="consumer")
        a.publish(alerts(0, total))
        wait_for(lambda: (b.metric("chainscope_nats_acked_total") or 0) >= 60, timeout=30,
                 what="some alerts handled")
        b.stop(signal.SIGKILL)
        b2 = self.run_cs("hostb", b_yaml)

        def ids():
            return [json.loads(r["body"]).get("id") for r in recv.records()]
        wait_for(lambda: len(set(ids())) == total, timeout=60,
                 what="every alert delivered: %d" % len(set(ids())))
        # each alert is in the outbox once (a webhook call cut by the SIGKILL
        # may be made again: the notifier's delivery is at least once, with
        # the same idempotency key)
        import sqlite3
        db = sqlite3.connect(self.tmp.file("outbox.db"))
        rows = db.execute("SELECT count(*), count(DISTINCT key) FROM outbox").fetchone()
        db.close()
        self.assertEqual(rows, (total, total))
        self.assertEqual(set(ids()), set("alert-%d" % i for i in range(total)))
        # the restarted sink resumed at its last ack: it did not read the
        # stream again from the start
        received = b2.metric("chainscope_nats_received_total")
        self.assertLess(received, total - 40)
        self.assertEqual(b2.metric("chainscope_nats_acked_total"), received)

    def test_buffer_bound(self):
        port = free_port()  # nothing listens there yet
        a = self.run_cs("hosta", f"""nats:
  servers: [nats://127.0.0.1:{port}]
  reconnect_wait: 50ms
  max_reconnect_wait: 200ms
  publish: {{subjects: ["demo.>"], buffer: 100}}
  jetstream: {{stream: BOUND}}
""")
        tail = start([CHAINSCOPE, "tail", "--json", "--filter", "nats.>", "-s", a.socket],
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.assertIn("connected", tail.stdout.readline())
        a.publish(demo_events(3000))
        wait_for(lambda: a.metric("chainscope_nats_dropped_total") == 2900, what="drops")
        self.assertEqual(a.metric("chainscope_nats_buffered"), 100)
        # nats.dropped reports the running total at most once a tick: on a
        # loaded machine the drops may span several, each total larger
        totals = []
        while not totals or totals[-1] < 2900:
            ev = json.loads(tail.stdout.readline())
            if ev["type"] == "nats.disconnected":
                continue
            self.assertEqual(ev["type"], "nats.dropped")
            self.assertEqual(ev["payload"]["buffered"], 100)
            totals.append(ev["payload"]["total"])
        self.assertEqual(totals, sorted(set(totals)))
        self.assertEqual(totals[-1], 2900)
        ns = NatsServer(self.tmp, self.tmp.file("js"), port=port)
        wait_for(lambda: a.metric("chainscope_nats_sent_total") == 100, timeout=20,
                 what="the buffer drained")
        consumer = Consumer(self.tmp, ns.url, "--stream", "BOUND", "--count", "100",
                            "--timeout", "3000")
        self.assertEqual(a.metric("chainscope_nats_buffered"), 0)
        self.assertEqual([l["event"]["payload"]["n"] for l in consumer.wait()], list(range(100)))
        stop(tail)
        self.assertTrue(a.proc.poll() is None)


if __name__ == "__main__":
    main()
