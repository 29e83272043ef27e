"""The local log server: publish, tail, fan-out, malformed input, slow
subscribers, permissions, TCP with a token."""
import json
import os
import socket
import stat
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from cslib import (CHAINSCOPE, SANITIZED, Server, TempDir, cs, free_port, json_int, main, rss_kib,
                   start, stop, wait_for)


def frame(ftype, body):
    return struct.pack("<I", len(body) + 1) + bytes([ftype]) + body


def s(text):
    b = text.encode()
    assert len(b) < 128
    return bytes([len(b)]) + b


def hello(name="pytest", token=""):
    return frame(1, bytes([1]) + s(name) + s(token))


def read_frames(sock, want_types, timeout=5):
    """Reads frames until one of want_types arrives; returns (type, body)."""
    sock.settimeout(timeout)
    buf = b""
    while True:
        while len(buf) >= 5:
            n = struct.unpack("<I", buf[:4])[0]
            if len(buf) < 4 + n:
                break
            t, body, buf = buf[4], buf[5:4 + n], buf[4 + n:]
            if t in want_types:
                return t, body
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        buf += chunk


class LogServerTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.srv = Server(self.tmp)

    def tearDown(self):
        if self.srv.alive():
            self.srv.stop()
        self.tmp.cleanup()

    def tail(self, *args):
        p = start([CHAINSCOPE, "tail", "--socket", self.srv.socket] + list(args),
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # tail says "connected" once its subscriptions are in place.
        line = p.stderr.readline()
        self.assertIn("connected", line)
        return p

    def test_socket_is_private(self):
        mode = stat.S_IMODE(os.stat(self.srv.socket).st_mode)
        self.assertEqual(mode, 0o600)

    def test_two_tails_get_1000_events_in_order_intact(self):
        t1 = self.tail("--json", "--count", "1000")
        t2 = self.tail("--json", "--count", "1000", "--filter", "demo.*")
        lines = []
        for i in range(1000):
            lines.append(json.dumps({
                "type": "demo.sample", "network": "demo-net", "key": "k%d" % (i % 7),
                "payload": {"n": i, "text": "event %d \u00e9\"\\" % i,
                            "big": 18446744073709551615, "neg": -i, "ok": i % 2 == 0,
                            "list": [i, {"x": "y"}], "ratio": i / 8}}))
        pub = cs("publish", "--socket", self.srv.socket, input="\n".join(lines) + "\n")
        self.assertEqual(pub.returncode, 0, pub.stderr)
        for t in (t1, t2):
            out, err = t.communicate(timeout=30)
            self.assertEqual(t.returncode, 0, err)
            got = [json.loads(l) for l in out.splitlines()]
            self.assertEqual(len(got), 1000)
            for i, ev in enumerate(got):
                sent = json.loads(lines[i])
                self.assertEqual(ev["type"], "demo.sample")
                self.assertEqual(ev["network"], "demo-net")
                self.assertEqual(ev["key"], sent["key"])
                self.assertEqual(ev["seq"], i + 1)
                self.assertTrue(ev["origin"].startswith("publish@"))
                # Integers beyond 2^53 come back as decimal strings.
                self.assertEqual(json_int(ev["payload"].pop("big")), sent["payload"].pop("big"))
                self.assertEqual(ev["payload"], sent["payload"])
                self.assertGreater(ev["time"], 1.6e18)

    def test_filters_select_types(self):
        t = self.tail("--json", "--count", "2", "--filter", "p2p.msg.*", "--filter", "evm.>")
        for typ in ("p2p.msg.ping", "p2p.conn.open", "evm.log.decoded", "evm", "p2p.msg"):
            r = cs("publish", "--socket", self.srv.socket, "--type", typ, "--json", '{"n":1}')
            self.assertEqual(r.returncode, 0, r.stderr)
        out, _ = t.communicate(timeout=10)
        self.assertEqual([json.loads(l)["type"] for l in out.splitlines()],
                         ["p2p.msg.ping", "evm.log.decoded"])

    def test_garbage_disconnects_only_that_client(self):
        t = self.tail("--json", "--count", "1", "--filter", "demo.sample")
        drops = self.tail("--json", "--count", "2", "--filter", "logserver.client.dropped")
        bad = socket.socket(socket.AF_UNIX)
        bad.connect(self.srv.socket)
        bad.sendall(hello("garbage"))
        self.assertEqual(read_frames(bad, {2})[0], 2)  # WELCOME
        bad.sendall(b"\xff\xff\xff\xff garbage that is not a frame")
        typ, body = read_frames(bad, {9})
        self.assertEqual(typ, 9)  # ERROR with a reason
        self.assertIn(b"malformed frame", body)
        self.assertEqual(bad.recv(100), b"")  # then closed
        bad.close()
        # A well-framed PUB whose record is garbage is refused too.
        bad2 = socket.socket(socket.AF_UNIX)
        bad2.connect(self.srv.socket)
        bad2.sendall(hello("bad-record") + frame(5, b"\x01\x05garbage"))
        typ, body = read_frames(bad2, {9})
        self.assertIn(b"malformed event record", body)
        bad2.close()
        # The server and the other client carry on.
        r = cs("publish", "--socket", self.srv.socket, "--type", "demo.sample", "--json",
               '{"n":7}')
        self.assertEqual(r.returncode, 0, r.stderr)
        out, _ = t.communicate(timeout=10)
        self.assertEqual(json.loads(out)["payload"]["n"], 7)
        reasons = [json.loads(l)["payload"]["reason"]
                   for l in drops.communicate(timeout=10)[0].splitlines()]
        self.assertEqual(len(reasons), 2)
        self.assertIn("malformed frame header", reasons[0])
        self.assertIn("malformed event record", reasons[1])
        self.assertTrue(self.srv.alive())
        self.assertIn("malformed frame", self.srv.logtext())

    def test_dropped_client_with_odd_name_is_reported_readably(self):
        # The server reports a dropped client by the name it gave in HELLO,
        # in an event every subscriber must be able to decode: bytes that
        # are not UTF-8 become '?', a long name is cut between characters.
        drops = self.tail("--json", "--count", "2", "--filter", "logserver.client.dropped")
        for name in (b"bad\xff\xfename", "\u00e9".encode() * 40):
            c = socket.socket(socket.AF_UNIX)
            c.connect(self.srv.socket)
            c.sendall(frame(1, bytes([1, len(name)]) + name + b"\x00") + b"\xff\xff\xff\xff")
            self.assertEqual(read_frames(c, {9})[0], 9)  # ERROR, then closed
            c.close()
        out, err = drops.communicate(timeout=10)
        self.assertEqual(drops.returncode, 0, err)
        self.assertNotIn("undecodable", err)
        names = [json.loads(l)["payload"]["name"] for l in out.splitlines()]
        self.assertEqual(names, ["bad??name", "\u00e9" * 31])
        self.assertTrue(self.srv.alive())

    def test_largest_record_is_accepted_whatever_the_reads(self):
        # A PUB carrying a record of exactly 16 MiB, the largest allowed,
        # sent so that the server reads all of it but its last byte first.
        def varint(n):
            out = b""
            while n >= 0x80:
                out += bytes([n & 0x7F | 0x80])
                n >>= 7
            return out + bytes([n])
        head = b"\x01\x01" + struct.pack("<q", time.time_ns()) + s("pytest") + s("") + \
            s("demo.big") + s("")
        # the payload: one object member, "blob", holding bytes
        fixed = len(head) + 1 + 8 + 1 + 4 + 1
        blob_len = 16 * 1024 * 1024 - fixed - 4  # its length takes 4 varint bytes
        obj = struct.pack("<I", 1) + s("blob") + b"\x09" + varint(blob_len)
        record = head + b"\x0b" + struct.pack("<I", len(obj) + blob_len) + obj
        self.assertEqual(len(varint(blob_len)), 4)
        self.assertEqual(len(record) + blob_len, 16 * 1024 * 1024)
        pub = socket.socket(socket.AF_UNIX)
        pub.connect(self.srv.socket)
        pub.sendall(hello("big"))
        self.assertEqual(read_frames(pub, {2})[0], 2)
        data = frame(5, record + b"\xab" * blob_len)
        pub.sendall(data[:-1])
        time.sleep(0.5)  # the server reads what it was sent
        pub.sendall(data[-1:] + frame(7, struct.pack("<Q", 42)))
        typ, body = read_frames(pub, {8, 9}, timeout=20)
        self.assertEqual((typ, body), (8, struct.pack("<Q", 42)), body)  # PONG, not ERROR
        pub.close()
        self.assertNotIn("big) disconnected", self.srv.logtext())

    def test_config_names_the_socket(self):
        # publish and tail find the log server through the config file.
        t = start([CHAINSCOPE, "tail", "--config", self.srv.config, "--json", "--count", "1"],
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertIn(self.srv.socket, t.stderr.readline())
        r = cs("publish", "-c", self.srv.config, "--type", "demo.sample", "--json", '{"n":3}')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(t.communicate(timeout=10)[0])["payload"], {"n": 3})
        bad = self.tmp.file("bad.yaml", "logserver:\n  buffer: lots\n")
        r = cs("publish", "-c", bad, "--type", "demo.sample", "--json", "{}")
        self.assertEqual(r.returncode, 3)
        self.assertIn("bad.yaml:2:11", r.stderr)

    def test_first_frame_must_be_hello(self):
        c = socket.socket(socket.AF_UNIX)
        c.connect(self.srv.socket)
        c.sendall(frame(3, s(">")))
        typ, body = read_frames(c, {9})
        self.assertIn(b"HELLO", body)
        c.close()

    def test_stalled_subscriber_is_cut_off_memory_bounded(self):
        # A subscriber that never reads.
        slow = socket.socket(socket.AF_UNIX)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(self.srv.socket)
        slow.sendall(hello("stalled") + frame(3, s(">")))
        self.assertEqual(read_frames(slow, {2})[0], 2)
        drop_tail = self.tail("--json", "--count", "1", "--filter", "logserver.>")
        # A subscriber that keeps up, writing to a file.
        out_path = self.tmp.file("good.jsonl")
        with open(out_path, "w") as out:
            good = start([CHAINSCOPE, "tail", "--socket", self.srv.socket, "--json",
                          "--count", "20000", "--filter", "demo.sample"],
                         stdout=out, stderr=subprocess.PIPE, text=True)
            self.assertIn("connected", good.stderr.readline())
            rss_before = rss_kib(self.srv.proc.pid)

            def lines():
                with open(out_path) as f:
                    return sum(1 for _ in f)

            payload = json.dumps({"n": 1, "text": "x" * 900})
            # 20 batches of 1,000 events (~20 MB in all); the good reader
            # catches up between batches, the stalled one never does.
            for batch in range(20):
                r = cs("publish", "--socket", self.srv.socket, "--type", "demo.sample",
                       "--json", payload, "--count", "1000")
                self.assertEqual(r.returncode, 0, r.stderr)
                wait_for(lambda: lines() >= 1000 * (batch + 1), timeout=30,
                         what="the good subscriber")
            self.assertEqual(good.wait(timeout=30), 0)
        self.assertEqual(lines(), 20000)
        wait_for(lambda: "stalled) disconnected: too slow" in self.srv.logtext(),
                 what="cut-off log line")
        # The stalled client finds its connection closed once it reads what
        # the kernel still held for it.
        typ, _ = read_frames(slow, {9}, timeout=10)
        self.assertIn(typ, (None, 9))
        # The cut-off is an event too.
        self.assertEqual(json.loads(drop_tail.communicate(timeout=10)[0])["payload"]["name"],
                         "stalled")
        # ~20 MB went through; the server held at most its 8 MiB bound for
        # the stalled client on top of its working set.
        growth = rss_kib(self.srv.proc.pid) - rss_before
        bound = (300 if SANITIZED else 40) * 1024  # ASan keeps freed memory in quarantine
        self.assertLess(growth, bound, "RSS grew by %d KiB" % growth)
        slow.close()
        self.assertTrue(self.srv.alive())

    def test_clean_shutdown_removes_socket(self):
        self.assertEqual(self.srv.stop(), 0)
        self.assertFalse(os.path.exists(self.srv.socket))
        self.assertIn("stopped cleanly", self.srv.logtext())


class TcpTokenTest(unittest.TestCase):
    def test_tcp_needs_the_token(self):
        tmp = TempDir()
        port = free_port()
        token = "s3cret-token-0123456789"
        os.environ["CS_TEST_TOKEN"] = token
        srv = Server(tmp, "  tcp:\n    listen: 127.0.0.1:%d\n    token: ${CS_TEST_TOKEN}\n"
                     % port)
        try:
            env = dict(os.environ, CHAINSCOPE_TOKEN="wrong-token-0000000000")
            r = cs("publish", "--connect", "tcp:127.0.0.1:%d" % port, "--type", "demo.sample",
                   "--json", '{"n":1}', env=env)
            self.assertEqual(r.returncode, 4)
            self.assertIn("authentication", r.stderr)
            env["CHAINSCOPE_TOKEN"] = token
            r = cs("publish", "--connect", "tcp:127.0.0.1:%d" % port, "--type", "demo.sample",
                   "--json", '{"n":1}', env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn(token, srv.logtext())
        finally:
            srv.stop()
            tmp.cleanup()


if __name__ == "__main__":
    main()
