"""The live feed under load: 100 Server-Sent Events clients and one that
reads nothing, while `chainscope publish` sends 10,000 events a second.
- every reading client gets the events in order (ids without a gap);
- the client that reads nothing is cut off (chainscope_web_clients_cut_total)
  and the others go on;
- the process's memory stays within the bound the buffers set;
- a client that comes back with Last-Event-ID gets what it missed from the
  ring, and a gap event when the ring no longer reaches back.
"""
import json
import multiprocessing
import os
import re
import socket
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from cslib import CHAINSCOPE, SANITIZED, Server, TempDir, main, rss_kib, wait_for

CLIENTS = 100
# events per second (the sanitizer build is several times slower: the load
# is measured in the plain build, the ASan run checks the same paths)
RATE = 4000 if SANITIZED else 10000
TEXT = 400 if SANITIZED else 64  # bytes of text per event: as many bytes in all
SECONDS = 3
BUFFER = 1 << 20  # dashboard.client_buffer


def sse_connect(port, path="/api/events?filter=demo.*", headers=""):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (path, headers)).encode())
    return s


def readers(port, n, ready, q):
    """n clients in one process: counts the ids each receives."""
    import selectors
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(n):
        s = sse_connect(port)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, len(socks))
        socks.append(s)
    ready.release()
    tails = [b""] * n
    ids = [[0, 0, 0] for _ in range(n)]  # first, last, gaps
    open_ = n
    deadline = time.time() + SECONDS + 20
    while open_ and time.time() < deadline:
        for key, _ in sel.select(timeout=1):
            i = key.data
            try:
                data = key.fileobj.recv(1 << 20)
            except BlockingIOError:
                continue
            if not data:
                sel.unregister(key.fileobj)
                open_ -= 1
                continue
            buf = tails[i] + data
            cut = buf.rfind(b"\n\n")
            if cut < 0:
                tails[i] = buf
                continue
            tails[i] = buf[cut + 2:]
            for m in re.finditer(rb"^id: (\d+)$", buf[:cut], re.M):
                v = int(m.group(1))
                st = ids[i]
                if st[0] == 0:
                    st[0] = v
                elif v != st[1] + 1:
                    st[2] += 1
                st[1] = v
    q.put(ids)


def ws_frame(opcode, payload, mask=b"\x11\x22\x33\x44"):
    """A masked client frame (RFC 6455 5.2), payload under 126 bytes."""
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body


def ws_read(s):
    """One server frame: (opcode, payload)."""
    def exact(n):
        b = b""
        while len(b) < n:
            chunk = s.recv(n - len(b))
            if not chunk:
                raise EOFError
            b += chunk
        return b
    h = exact(2)
    n = h[1] & 0x7f
    if n == 126:
        n = int.from_bytes(exact(2), "big")
    elif n == 127:
        n = int.from_bytes(exact(8), "big")
    return h[0] & 0x0f, exact(n)


class Feed(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def metric(self, port, name):
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read()
        m = re.search(rb"^%s (\S+)$" % name.encode(), text, re.M)
        return float(m.group(1)) if m else None

    def test_websocket(self):
        """Handshake, an event as a text frame, ping/pong, close, a bad frame."""
        srv = Server(self.tmp, http=True, extra_yaml="dashboard: {}\n")
        try:
            s = socket.create_connection(("127.0.0.1", srv.http_port), timeout=5)
            s.sendall(b"GET /api/ws?filter=demo.%2A HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                      b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += s.recv(1)
            self.assertTrue(head.startswith(b"HTTP/1.1 101 "), head)
            self.assertIn(b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", head)
            for t in ("other.type", "demo.sample"):
                subprocess.run([CHAINSCOPE, "publish", "-s", srv.socket, "--type", t, "--json",
                                json.dumps({"n": 3})], check=True, capture_output=True)
            op, data = ws_read(s)
            self.assertEqual(op, 1)
            ev = json.loads(data)
            self.assertEqual((ev["type"], ev["payload"]), ("demo.sample", {"n": 3}))
            s.sendall(ws_frame(0x9, b"are you there"))
            self.assertEqual(ws_read(s), (0xa, b"are you there"))
            s.sendall(ws_frame(0x8, b"\x03\xe8"))
            self.assertEqual(ws_read(s), (0x8, b"\x03\xe8"))
            self.assertEqual(s.recv(10), b"")  # and the connection ends
            s.close()
            # an unmasked frame breaks the protocol: close 1002
            s = socket.create_connection(("127.0.0.1", srv.http_port), timeout=5)
            s.sendall(b"GET /api/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                      b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += s.recv(1)
            s.sendall(b"\x81\x02hi")
            self.assertEqual(ws_read(s), (0x8, b"\x03\xea"))
            s.close()
            # not a handshake: 400
            r = urllib.request.Request("http://127.0.0.1:%d/api/ws" % srv.http_port)
            with self.assertRaises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(r, timeout=5)
            self.assertEqual(e.exception.code, 400)
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_hundred_clients_and_a_slow_one(self):
        srv = Server(self.tmp, http=True, extra_yaml="""
  max_per_ip: 200
  max_connections: 300
dashboard:
  client_buffer: 1MiB
  ring: 4096
""")
        port = srv.http_port
        try:
            slow = sse_connect(port)
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            ready = multiprocessing.Semaphore(0)
            q = multiprocessing.Queue()
            procs = [multiprocessing.Process(target=readers, args=(port, CLIENTS // 4, ready, q))
                     for _ in range(4)]
            for p in procs:
                p.start()
            for _ in procs:
                self.assertTrue(ready.acquire(timeout=20))
            wait_for(lambda: self.metric(port, 'chainscope_web_clients{protocol="sse"}') ==
                     CLIENTS + 1, what="every client connected")
            rss0 = rss_kib(srv.proc.pid)
            peak = rss0
            # 10,000 events a second, in tenths of a second
            t0 = time.time()
            for tick in range(SECONDS * 10):
                subprocess.run([CHAINSCOPE, "publish", "-s", srv.socket, "--type", "demo.sample",
                                "--count", str(RATE // 10), "--json",
                                json.dumps({"n": tick, "text": "x" * TEXT})], check=True,
                               capture_output=True)
                peak = max(peak, rss_kib(srv.proc.pid))
                delay = t0 + (tick + 1) / 10 - time.time()
                if delay > 0:
                    time.sleep(delay)
            elapsed = time.time() - t0
            total = SECONDS * RATE
            wait_for(lambda: (self.metric(port, "chainscope_web_clients_cut_total") or 0) >= 1,
                     timeout=10, what="the slow client cut off")
            time.sleep(1)
            # resume: the last 10 events of the ring, then a gap from the start
            r = sse_connect(port, headers="Last-Event-ID: %d\r\n" % (total - 9))
            r.settimeout(5)
            got = b""
            while got.count(b"\nid: ") + got.startswith(b"id: ") < 9:
                chunk = r.recv(1 << 16)
                if not chunk:
                    break
                got += chunk
            resumed = [int(x) for x in re.findall(rb"^id: (\d+)$", got, re.M)]
            r.close()
            g = sse_connect(port, headers="Last-Event-ID: 1\r\n")
            g.settimeout(5)
            gap = b""
            while b"data:" not in gap:  # the head and the first message may come apart
                chunk = g.recv(4096)
                if not chunk:
                    break
                gap += chunk
            g.close()
            # the readers stop once the server closes their streams
            rc = srv.stop()
            results = [x for _ in procs for x in q.get(timeout=30)]
            for p in procs:
                p.join(10)
        finally:
            if srv.alive():
                srv.stop()
        self.assertEqual(rc, 0, srv.logtext()[-3000:])
        if not SANITIZED:  # each publish process starts slowly under ASan
            self.assertLess(elapsed, SECONDS * 5, "publishing took too long")
        complete = [x for x in results if x[2] == 0 and x[1] - x[0] + 1 >= total]
        self.assertGreaterEqual(len(complete), CLIENTS * 95 // 100,
                                "clients that got every event: %d of %d" % (len(complete), CLIENTS))
        # ids count every event of the feed (chainscope.started too): the
        # resumed ones start right after the one named and have no gap
        self.assertGreaterEqual(len(resumed), 9)
        self.assertEqual(resumed, list(range(total - 8, total - 8 + len(resumed))))
        self.assertIn(b"event: gap", gap)
        # bounded: the clients' buffers (101 x 1 MiB), the ring, the bus queue
        grew_mib = (peak - rss0) / 1024
        bound = 101 * BUFFER / (1 << 20) + 64 + (400 if SANITIZED else 0)
        self.assertLess(grew_mib, bound)
        print("rss grew %.1f MiB (bound %.0f); %d of %d complete in %.1f s" %
              (grew_mib, bound, len(complete), CLIENTS, elapsed))


if __name__ == "__main__":
    main()
