"""The inside view of Bitcoin Core nodes with `chainscope run` and a
`bitcoind:` section: debug.log lines in Core's formats (every logging
option) become bitcoind.log.<kind> events; rotation, truncation and a FIFO
lose no line (counted); python3-bitcoinlib peers play nodes that reach
their p2p_listen, answer pings late on command, and a monitor alerts a
webhook on the late ping and on a stale tip line; /metrics passes promtool."""
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import bitcoin.messages as m  # noqa: E402
from bitcoin.messages import MsgSerializable  # noqa: E402
from bitcoin.net import CAddress, CInv  # noqa: E402

import btclog_gen as gen  # noqa: E402
from btcpeer import Conn, msg_addrv2, msg_empty, version_msg  # noqa: E402
from cslib import Server, TempDir, free_port, main, read_jsonl, start, stop, wait_for  # noqa: E402

PY = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        return r.read().decode()


def samples(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def events(srv, type_prefix="bitcoind."):
    """The JSON events the console printed (run.log mixes them with the log)."""
    out = []
    for line in srv.logtext().splitlines():
        if line.startswith("{"):
            e = json.loads(line)
            if e["type"].startswith(type_prefix):
                out.append(e)
    return out


def dead_rpc():
    """An RPC URL nothing answers: the RPC side of these nodes is not what
    these tests look at (its failures are bitcoind.rpc.failed events)."""
    return "http://127.0.0.1:%d" % free_port()


def console(*filters):
    return 'console: {filter: [%s], json: true, buffer: 64MiB}\n' % ", ".join(
        '"%s"' % f for f in filters)


class msg_feefilter(MsgSerializable):
    """BIP133 feefilter, which bitcoinlib lacks."""
    command = b"feefilter"

    def __init__(self, feerate=0, protover=70016):
        super().__init__(protover)
        self.feerate = feerate

    def msg_ser(self, f):
        f.write(struct.pack("<q", self.feerate))


class FakeNode:
    """A node's -addnode connection to a p2p_listen: version first (the
    node is the connecting side), then it answers pings, `delay` seconds
    late when told so."""

    def __init__(self, port, agent):
        self.conn = Conn(socket.create_connection(("127.0.0.1", port), timeout=10))
        self.conn.sock.settimeout(30)
        self.delay = 0.0
        self.pings = 0
        self.lock = threading.Lock()
        self.conn.send(version_msg(user_agent=agent))
        self.conn.send(msg_empty(b"wtxidrelay"))
        self.conn.send(msg_empty(b"sendaddrv2"))
        while self.conn.recv().command != b"verack":
            pass
        self.conn.send(m.msg_verack())
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def send(self, msg):
        with self.lock:
            self.conn.send(msg)

    def _run(self):
        try:
            while True:
                msg = self.conn.recv()
                if msg.command == b"ping":
                    self.pings += 1
                    time.sleep(self.delay)
                    p = m.msg_pong()
                    p.nonce = msg.nonce
                    self.send(p)
        except (EOFError, OSError):
            pass

    def close(self):
        self.conn.close()


class BtclogTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def test_every_kind_under_every_option(self):
        log = self.tmp.file("debug.log")
        per_opt = [r for r in gen.LINES]
        with open(log, "w") as f:
            for i, opt in enumerate(gen.ALL_OPTIONS):
                f.write("\n\n\n\n\n")  # what Core writes when it starts logging
                for j, row in enumerate(per_opt):
                    f.write(gen.line(opt, row, 1000 * i + j, thread="b-msghand"))
            f.write("\n\n\n\n\n")
            f.write(gen.multiline(gen.Options(), 424242))
            f.write(gen.line(gen.Options(), gen.LINES[0], 77))  # ends the multi-line entry
            f.write(gen.line(gen.Options(), gen.LINES[4], 77))
        srv = Server(self.tmp, console("bitcoind.log.>") + """
bitcoind:
  nodes:
    - {name: node-a, network: btc-main, rpc: %s, log: %s, log_from: start}
""" % (dead_rpc(), log), http=True)
        try:
            want = sum(1 for r in per_opt if r[0]) * len(gen.ALL_OPTIONS) + 3
            wait_for(lambda: len(events(srv, "bitcoind.log.")) >= want, timeout=20,
                     what="%d events: %s" % (want, srv.logtext()[-2000:]))
            body = scrape(srv.http_port)
        finally:
            self.assertEqual(srv.stop(), 0)
        evs = events(srv, "bitcoind.log.")
        self.assertEqual(len(evs), want)
        got = {}
        for e in evs:
            self.assertEqual(e["key"], "node-a")
            self.assertEqual(e["payload"]["node"], "node-a")
            got.setdefault(e["type"][len("bitcoind.log."):], []).append(e["payload"])
        # in the order written: each option set's rows of a known kind
        written = [(opt, row) for opt in gen.ALL_OPTIONS for row in per_opt if row[0]]
        for (opt, row), e in zip(written, evs):
            kind, p = row[0], e["payload"]
            self.assertEqual(e["type"], "bitcoind.log." + kind)
            self.assertEqual("log_time" in p, opt.timestamps, (kind, p))
            if opt.timestamps:
                self.assertEqual(len(p["log_time"]), 27 if opt.micros else 20, p)
            self.assertEqual(p.get("thread"), "b-msghand" if opt.threadnames else None)
            self.assertEqual(p.get("source"), row[3] if opt.sourcelocations else None)
            self.assertEqual(p.get("function"), row[2] if opt.sourcelocations else None)
            self.assertEqual(p.get("category"), row[1] if opt.categories else None, (kind, p))
        # typed fields of a few kinds
        tip = [p for p in got["update_tip"] if p["height"] == 5][0]
        self.assertEqual(tip["cache_mib"], 245.3)
        self.assertEqual(tip["cache_txo"], 1785432)
        self.assertEqual(tip["progress"], 1.0)
        self.assertEqual(tip["version"], "0x20000000")
        rej = got["mempool_reject"][0]
        self.assertEqual(rej["reason"], "mempool min fee not met")
        self.assertEqual(rej["detail"], "1200 < 2103")
        old = [p for p in got["misbehaving"] if "score" in p][0]
        self.assertEqual((old["score_before"], old["score"]), (0, 100))
        self.assertEqual(old["message"], "invalid header received")
        conn = [p for p in got["peer_connected"] if p.get("conntype") == "block-relay-only"][0]
        self.assertEqual(conn["addr"], "198.51.100.%d:8333" % (conn["id"] % 250 + 1))
        # a disconnect line names only the id: address and type from its connect line
        disc = [p for p in got["peer_disconnected"] if p["id"] == 77]
        self.assertEqual((disc[0]["addr"], disc[0]["conntype"]),
                         ("203.0.113.78:8333", "outbound-full-relay"))
        cmp = [p for p in got["cmpctblock"] if p["missing"] == 11]
        self.assertEqual(len(cmp), len(gen.ALL_OPTIONS))
        self.assertTrue(any("elapsed_ms" in p for p in cmp))
        bench = [p for p in got["block_timing"] if p["stage"] == "Connect block"]
        self.assertEqual(bench[0]["ms"], 123.45)
        stale = [p for p in got["stale_tip"] if p["seconds"] == 424242]
        self.assertEqual(len(stale), 1, "the multi-line entry is one event")
        # the lines of no kind, by category; promtool accepts the page
        s = samples(body)
        self.assertEqual(s['btc_log_unparsed_total{node="node-a",category="rpc"}'],
                         len([o for o in gen.ALL_OPTIONS if o.categories]))
        self.assertEqual(s['btc_log_events_total{node="node-a",kind="update_tip"}'],
                         len(gen.ALL_OPTIONS))
        p = subprocess.run(["promtool", "check", "metrics"], input=body, text=True,
                           capture_output=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_rotation_truncation_fifo_lose_no_line(self):
        log = self.tmp.file("debug.log")
        fifo = self.tmp.file("fifo.log")
        os.mkfifo(fifo)
        with open(log, "w") as f:
            f.write(gen.line(gen.Options(), gen.LINES[5], 999999))  # before: not read
        srv = Server(self.tmp, console("bitcoind.log.update_tip") + """
bitcoind:
  nodes:
    - {name: file, rpc: %s, log: %s}
    - {name: pipe, rpc: %s, log: %s}
""" % (dead_rpc(), log, dead_rpc(), fifo), http=True)
        total = 3000
        tip = gen.LINES[5]
        opt = gen.Options(micros=True, threadnames=True)
        try:
            wait_for(lambda: "btc_log_lines_total" in scrape(srv.http_port), what="metrics")
            time.sleep(0.3)  # the follower is at the end of the file

            def file_writer():
                f = open(log, "a", buffering=1)
                for n in range(total):
                    if n == 1000:  # rotation: rename, then Core reopens on SIGHUP
                        f.write(gen.line(opt, tip, n))
                        os.rename(log, log + ".1")
                        for k in range(n + 1, n + 20):  # still into the old file
                            f.write(gen.line(opt, tip, k))
                        f.close()
                        f = open(log, "a", buffering=1)
                        n_skip = n + 20
                        continue
                    if 1000 < n < n_skip:
                        continue
                    if n == 2000:  # logrotate's copytruncate: shift, copy, truncate
                        os.rename(log + ".1", log + ".2")
                        with open(log) as src, open(log + ".1", "w") as dst:
                            dst.write(src.read())
                        os.truncate(log, 0)
                    f.write(gen.line(opt, tip, n))
                    if n % 50 == 0:
                        time.sleep(0.02)
                f.close()

            def fifo_writer():
                with open(fifo, "w") as f:
                    for n in range(total):
                        f.write(gen.line(opt, tip, n))
                        if n % 100 == 0:
                            f.flush()
                            time.sleep(0.01)

            n_skip = 0
            ts = [threading.Thread(target=file_writer), threading.Thread(target=fifo_writer)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(60)

            def heights(node):
                return [e["payload"]["height"] for e in events(srv)
                        if e["payload"]["node"] == node]
            try:
                wait_for(lambda: len(heights("file")) >= total and len(heights("pipe")) >= total,
                         timeout=20, what="every line")
            except AssertionError:
                pass
            time.sleep(0.3)
            s = samples(scrape(srv.http_port))
        finally:
            self.assertEqual(srv.stop(), 0)
        for node in ("file", "pipe"):
            h = heights(node)
            self.assertEqual(sorted(h), list(range(total)), node)
            self.assertEqual(h, sorted(h), "in order: " + node)
        self.assertEqual(s['btc_log_reopens_total{node="file",why="rotate"}'], 1)
        self.assertEqual(s['btc_log_reopens_total{node="file",why="truncate"}'], 1)

    def test_big_log_never_stalls_the_loop(self):
        # a big log read from its start: /metrics answers all along (the log
        # is read in bounded chunks per loop turn), and every line is counted
        log = self.tmp.file("big.log")
        total = 400000
        with open(log, "w") as f:
            f.writelines(gen.mixed(total))
        srv = Server(self.tmp, """
bitcoind:
  nodes:
    - {name: big, rpc: %s, log: %s, log_from: start}
""" % (dead_rpc(), log), http=True)
        try:
            worst, lines, t0 = 0.0, 0, time.monotonic()
            while lines < total and time.monotonic() - t0 < 60:
                a = time.monotonic()
                s = samples(scrape(srv.http_port))
                worst = max(worst, time.monotonic() - a)
                lines = s.get('btc_log_lines_total{node="big"}', 0)
            took = time.monotonic() - t0
        finally:
            self.assertEqual(srv.stop(), 0)
        self.assertEqual(lines, total)
        print("read %d lines in %.2f s; slowest /metrics %.3f s" % (total, took, worst))
        # one stall for the whole file would take about all of `took`
        self.assertLess(worst, took / 3)

    def test_node_pings_and_alerts(self):
        hook_port = free_port()
        hooklog = self.tmp.file("http.jsonl")
        recv = start([PY, os.path.join(HERE, "receivers.py"), "http", str(hook_port), hooklog],
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.assertEqual(recv.stdout.readline().strip(), "ready")
        pa, pb = free_port(), free_port()
        log = self.tmp.file("b.log")
        open(log, "w").close()
        base = "http://127.0.0.1:%d" % hook_port
        yaml = console("p2p.ping.rtt", "bitcoind.p2p.>") + f"""
bitcoind:
  nodes:
    - {{name: node-a, network: btc-regtest, rpc: "{dead_rpc()}", p2p_listen: 127.0.0.1:{pa},
       p2p_ping_interval: 300ms,
       p2p_rates_interval: 1s}}
    - {{name: node-b, network: btc-regtest, rpc: "{dead_rpc()}", p2p_listen: 127.0.0.1:{pb},
       p2p_ping_interval: 300ms,
       log: {log}}}
monitors:
  - name: slow-ping
    type: event
    severity: high
    risk: technical
    subjects: [p2p.ping.rtt]
    condition: "rtt_ms > 1500"
    channels: [hook]
  - name: stale-tip
    type: event
    severity: high
    risk: technical
    subjects: [bitcoind.log.stale_tip]
    condition: 'seconds >= 1800 && node == "node-b"'
    channels: [hook]
channels:
  hook: {{type: webhook, url: "{base}/hook"}}
notify:
  outbox: {self.tmp.file('outbox.db')}
  backoff: 100ms
"""
        srv = Server(self.tmp, yaml, http=True)
        a = b = None
        try:
            wait_for(lambda: "btc_node_p2p_connected" in scrape(srv.http_port), what="metrics")
            a = FakeNode(pa, b"/Satoshi:28.0.0(a)/")
            b = FakeNode(pb, b"/Satoshi:28.0.0(b)/")

            def rtts(node):
                return [e["payload"]["rtt_ms"] for e in events(srv, "p2p.ping.rtt")
                        if e["payload"].get("node") == node]
            wait_for(lambda: len(rtts("node-a")) >= 3 and len(rtts("node-b")) >= 3,
                     timeout=15, what="pings of both nodes")
            self.assertTrue(all(r < 1500 for r in rtts("node-a") + rtts("node-b")))
            self.assertEqual(len(self.hook(hooklog)), 0)
            # node-b now answers late; node-a sends its gossip
            b.delay = 2.0
            inv = m.msg_inv()
            for i in range(5):
                c = CInv()
                c.type, c.hash = 1, bytes([i]) * 32
                inv.inv.append(c)
            a.send(inv)
            a.send(inv)
            addr = m.msg_addr()
            for i in range(3):
                x = CAddress()
                x.nTime, x.nServices, x.ip, x.port = 1700000000, 1, "10.0.0.%d" % (i + 1), 8333
                addr.addrs.append(x)
            a.send(addr)
            a.send(msg_addrv2([(1700000100, 9, 1, bytes([192, 0, 2, 1]), 8333)]))
            a.send(msg_feefilter(1000))
            wait_for(lambda: any(r > 1500 for r in rtts("node-b")), timeout=15,
                     what="a late pong")

            def rates():
                return [e["payload"] for e in events(srv, "bitcoind.p2p.rates")]
            wait_for(lambda: any(r["addr_entries_per_s"] > 0 for r in rates()), timeout=10,
                     what="rates of node-a")
            tail = start([os.environ.get("CHAINSCOPE", "build/chainscope"), "tail", "-s",
                          srv.socket, "-f", "bitcoind.log.>", "-c", "1", "-w", "20"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            wait_for(lambda: samples(scrape(srv.http_port)).get(
                "chainscope_logserver_clients", 0) >= 1, what="tail connected")
            with open(log, "a") as f:
                f.write(gen.line(gen.Options(), gen.LINES[16], 600))  # below the bound
                f.write(gen.line(gen.Options(), gen.LINES[16], 11500))
            shown, _ = tail.communicate(timeout=30)
            self.assertEqual(tail.returncode, 0)
            self.assertIn("bitcoind.log.stale_tip", shown)
            self.assertIn("node-b", shown)
            wait_for(lambda: {x["monitor"]["name"] for x in self.hook(hooklog)} ==
                     {"slow-ping", "stale-tip"}, timeout=15,
                     what="two alerts: %r" % self.hook(hooklog))
            body = scrape(srv.http_port)
        finally:
            for n in (a, b):
                if n:
                    n.close()
            self.assertEqual(srv.stop(), 0)
            stop(recv)
        alerts = self.hook(hooklog)
        slow = [x for x in alerts if x["monitor"]["name"] == "slow-ping"]
        stale = [x for x in alerts if x["monitor"]["name"] == "stale-tip"]
        self.assertTrue(slow and stale, alerts)
        self.assertEqual(len(stale), 1, stale)
        self.assertEqual(slow[0]["event"]["payload"]["node"], "node-b")
        self.assertGreater(slow[0]["event"]["payload"]["rtt_ms"], 1500)
        self.assertEqual(stale[0]["event"]["payload"]["seconds"], 11500)
        self.assertEqual(stale[0]["event"]["key"], "node-b")
        self.assertFalse([r for r in rtts("node-a") if r > 1500])
        # rates: one event a second for node-a (node-b keeps the 60 s default)
        rs = rates()
        self.assertTrue(rs and all(r["node"] == "node-a" and r["connected"] for r in rs), rs)
        self.assertEqual(sum(round(r["inv_items_per_s"] * r["seconds"]) for r in rs), 10)
        self.assertEqual(sum(round(r["addr_entries_per_s"] * r["seconds"]) for r in rs), 4)
        self.assertEqual([r["feerate"] for r in rs if "feerate" in r][-1], 1000)
        conn = {e["payload"]["node"]: e["payload"] for e in events(srv, "bitcoind.p2p.connected")}
        self.assertEqual(conn["node-b"]["user_agent"], "/Satoshi:28.0.0(b)/")
        s = samples(body)
        self.assertEqual(s['btc_node_p2p_messages_total{node="node-a",command="inv"}'], 2)
        self.assertEqual(s['btc_node_p2p_items_total{node="node-a",command="inv"}'], 10)
        self.assertEqual(s['btc_node_p2p_messages_total{node="node-a",command="addr"}'], 1)
        self.assertEqual(s['btc_node_p2p_messages_total{node="node-a",command="addrv2"}'], 1)
        self.assertEqual(s['btc_node_p2p_items_total{node="node-a",command="addr"}'], 4)
        self.assertEqual(s['btc_node_p2p_feefilter_sat_per_kvb{node="node-a"}'], 1000)
        self.assertEqual(s['btc_node_p2p_messages_total{node="node-b",command="inv"}'], 0)
        self.assertEqual(s['btc_node_p2p_connected{node="node-a"}'], 1)
        p = subprocess.run(["promtool", "check", "metrics"], input=body, text=True,
                           capture_output=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def hook(self, path):
        out = []
        for r in read_jsonl(path) if os.path.exists(path) else []:
            if r["path"].startswith("/hook"):
                out.append(json.loads(r["body"]))
        return out

    def test_config_errors(self):
        cfg = self.tmp.file("bad.yaml", "bitcoind:\n  nodes:\n    - {name: a, logg: /x}\n")
        r = subprocess.run([os.environ.get("CHAINSCOPE", "build/chainscope"), "run", "-c", cfg],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("bad.yaml:3:", r.stderr + r.stdout)
        self.assertIn("logg", r.stderr + r.stdout)


if __name__ == "__main__":
    main()
