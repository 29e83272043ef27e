"""A windowed event monitor on the Bitcoin connector's events: `chainscope
run` connects to a simulated network (`chainscope simnet`) where one node
spams unsolicited addr messages and the others are polite (they answer each
getaddr with one addrv2). An event monitor on `p2p.msg.addr` and
`p2p.msg.addrv2`, counting per peer (`group_by: key`) over a window, fires
for the spamming peer only: the alert.fired event on the bus and the
webhook name it, and no polite peer."""
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cslib import CHAINSCOPE, Server, TempDir, cs, free_port, main, read_jsonl, start, stop, wait_for  # noqa
from test_notify import Receiver  # noqa: E402


def start_simnet(args):
    """simnet, its first node and {kind: [ip:port]} from its startup lines."""
    p = start([CHAINSCOPE, "simnet"] + args, stdout=subprocess.DEVNULL,
              stderr=subprocess.PIPE, text=True)
    first = p.stderr.readline()
    assert first.startswith("simnet:"), first
    words = p.stderr.readline().split()
    assert words[:2] == ["simnet:", "addr-spam"], words
    return p, first.split("first ")[1].strip(), words[2:]


class Tail:
    """chainscope tail --json on the run's log server, into a file."""

    def __init__(self, tmp, socket, *filters):
        self.path = tmp.file("tail.jsonl")
        self.out = open(self.path, "w")
        args = [CHAINSCOPE, "tail", "--json", "--socket", socket]
        for f in filters:
            args += ["--filter", f]
        self.proc = start(args, stdout=self.out, stderr=subprocess.DEVNULL)

    def events(self, typ=None):
        self.out.flush()
        evs = read_jsonl(self.path)
        return [e for e in evs if typ is None or e["type"] == typ]

    def stop(self):
        stop(self.proc)
        self.out.close()


class AddrSpam(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.stop()
        self.tmp.cleanup()

    def test_window_fires_for_the_spammer_only(self):
        t = self.tmp
        sim, first, spammers = start_simnet(["--nodes", "10", "--addr-spam", "0.1",
                                             "--spam-ms", "100", "--seed", "4"])
        try:
            self.assertEqual(len(spammers), 1, spammers)
            spammer = spammers[0]
            host, port = first.split(":")
            nodes = ["127.1.0.%d:%s" % (i, port) for i in range(1, 11)]
            polite = [a for a in nodes if a != spammer][:3]
            hport = free_port()
            hook = Receiver("http", hport, t.file("http.jsonl"))
            hook.start()
            self.procs.append(hook)
            control = t.file("control.sock")
            srv = Server(t, f"""
connector:
  network: regtest
  control: {control}
monitors:
  - name: addr-spam
    type: event
    severity: medium
    risk: suspicious
    subjects: [p2p.msg.addr, p2p.msg.addrv2]
    condition: 'direction == "in"'
    window: {{kind: count, threshold: 5, duration: 10s, group_by: key}}
    channels: [hook]
channels:
  hook: {{type: webhook, url: "http://127.0.0.1:{hport}/hook"}}
notify:
  outbox: {t.file("outbox.db")}
  backoff: 100ms
""")
            try:
                tail = Tail(t, srv.socket, "alert.fired", "p2p.msg.addr", "p2p.msg.addrv2",
                            "p2p.handshake",
                            "test.ready")
                self.procs.append(tail)
                # tail is attached once it sees an event published after it started
                wait_for(lambda: cs("publish", "--socket", srv.socket,
                                    input='{"type":"test.ready","payload":{}}\n').returncode
                         == 0 and tail.events("test.ready"), timeout=10, what="tail")
                r = cs("ctl", "--socket", control, "connect", spammer, *polite)
                self.assertEqual(r.returncode, 0, r.stderr)
                wait_for(lambda: len(tail.events("p2p.handshake")) >= 4, timeout=10,
                         what="4 handshakes: " + srv.logtext())
                # the polite nodes answer getaddr: a few addr each, below the threshold
                for _ in range(3):
                    r = cs("ctl", "--socket", control, "send", '{"command":"getaddr"}')
                    self.assertEqual(r.returncode, 0, r.stderr)
                    time.sleep(0.1)

                def peer(e):
                    p = e["payload"]["peer"]
                    return "%s:%d" % (p["addr"], p["port"])
                def gossip():
                    return [e for e in tail.events() if e["type"].startswith("p2p.msg.addr")
                            and e["payload"]["direction"] == "in"]
                wait_for(lambda: {peer(e) for e in gossip()} >= set(polite) | {spammer},
                         timeout=10, what="addresses from every peer")
                wait_for(lambda: hook.records() and tail.events("alert.fired"), timeout=10,
                         what="the alert: " + srv.logtext())
                time.sleep(1.5)  # the spam goes on: no second alert, none for the others
                addrs = gossip()
                alerts = tail.events("alert.fired")
                hooks = hook.records()
            finally:
                self.assertEqual(srv.stop(), 0)
        finally:
            stop(sim)
        by_peer = {}
        for e in addrs:
            by_peer[peer(e)] = by_peer.get(peer(e), 0) + 1
        self.assertGreater(by_peer[spammer], 10, by_peer)
        for a in polite:
            self.assertTrue(1 <= by_peer.get(a, 0) <= 3, by_peer)
        # one alert, naming the spammer
        self.assertEqual(len(alerts), 1, alerts)
        a = alerts[0]
        self.assertEqual(a["key"], "addr-spam")
        doc = a["payload"]
        key = doc["event"]["key"]
        self.assertTrue(key.endswith(" " + spammer), key)
        self.assertEqual(doc["window"]["group"], key)
        self.assertEqual(doc["window"]["kind"], "count")
        self.assertEqual(doc["window"]["threshold"], 5)
        self.assertEqual(doc["window"]["count"], 6)
        self.assertIn(doc["event"]["type"], ("p2p.msg.addr", "p2p.msg.addrv2"))
        self.assertEqual(doc["channels"], ["hook"])
        self.assertEqual(len(hooks), 1, hooks)
        body = json.loads(hooks[0]["body"])
        self.assertEqual(body["event"]["key"], key)
        self.assertEqual(body["monitor"]["name"], "addr-spam")
        self.assertEqual(body["risk"], "suspicious")
        for p in polite:
            self.assertNotIn(p, json.dumps(body["event"]["key"]) + json.dumps(body["window"]))


if __name__ == "__main__":
    main()
