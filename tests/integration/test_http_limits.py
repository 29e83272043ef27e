"""The HTTP server (/metrics, /healthz) under slow and idle connection
floods: a deadline for the whole request, a bound per address, and
/healthz answered past the connection bound."""
import http.client
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from cslib import Server, TempDir, main, wait_for


class HttpFloods(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.socks = []
        self.srv = None

    def tearDown(self):
        for c in self.socks:
            c.close()
        if self.srv and self.srv.alive():
            self.srv.stop()
        self.tmp.cleanup()

    def get(self, path, timeout=5):
        """(status, seconds) of GET path from 127.0.0.1."""
        t0 = time.time()
        c = http.client.HTTPConnection("127.0.0.1", self.srv.http_port, timeout=timeout,
                                       source_address=("127.0.0.1", 0))
        try:
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            return r.status, time.time() - t0
        finally:
            c.close()

    def open_from(self, src, n, first=b""):
        out = []
        for _ in range(n):
            c = socket.create_connection(("127.0.0.1", self.srv.http_port), timeout=10,
                                         source_address=(src, 0))
            if first:
                c.sendall(first)
            c.setblocking(False)
            out.append(c)
        self.socks += out
        return out

    @staticmethod
    def read_now(c):
        """(bytes, closed) of what c holds now, without waiting."""
        try:
            data = c.recv(4096)
        except BlockingIOError:
            return b"", False
        except ConnectionResetError:
            return b"", True
        return data, not data

    def answers(self, socks, timeout, got=None, closed=None):
        """What each socket got before the server closed it, and when."""
        got = got if got is not None else {c: b"" for c in socks}
        closed = closed if closed is not None else {}
        deadline = time.time() + timeout
        while True:
            for c in socks:
                while c not in closed:
                    data, eof = self.read_now(c)
                    got[c] += data
                    if eof:
                        closed[c] = time.time()
                    if not data:
                        break
            if len(closed) == len(socks) or time.time() >= deadline:
                return got, closed
            time.sleep(0.05)

    def test_slowloris_from_one_address(self):
        # 256 connections from one address send a request a byte a second.
        # 32 are let in (the bound per address), the rest get 503 at once;
        # /metrics and /healthz keep answering, and the slow requests are
        # cut off at the 10 s request deadline however they trickle.
        self.srv = Server(self.tmp, http=True)
        wait_for(lambda: self.get("/healthz")[0] == 200, what="http server")
        t0 = time.time()
        slow = self.open_from("127.0.0.2", 256, b"G")
        left = b"ET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 100
        got, closed = {c: b"" for c in slow}, {}
        for i in range(14):
            for path in ("/metrics", "/healthz"):
                status, took = self.get(path)
                self.assertEqual(status, 200, "%s during the flood" % path)
                self.assertLess(took, 3)
            self.answers(slow, 0, got, closed)
            for c in slow:
                if c not in closed:
                    try:
                        c.send(left[i:i + 1])
                    except OSError:
                        pass  # closed: the next read says so
            time.sleep(1)  # the attacker's pace
        self.answers(slow, 10, got, closed)
        self.assertEqual(len(closed), 256, "every slow request was closed")
        refused = [c for c in slow if got[c].startswith(b"HTTP/1.1 503")]
        timed_out = [c for c in slow if got[c].startswith(b"HTTP/1.1 408")]
        self.assertEqual(len(refused), 224, "refused at once: the bound of 32 per address")
        self.assertEqual(len(timed_out), 32)
        for c in refused:
            self.assertLess(closed[c] - t0, 3)
        for c in timed_out:
            self.assertGreater(closed[c] - t0, 9.5)
            self.assertLess(closed[c] - t0, 14)

    def test_idle_floods_leave_healthz(self):
        # 1,000 idle connections from one address hold 32 slots; /metrics
        # answers. Then 256 idle connections from 8 addresses take every
        # slot: /healthz still answers from the reserve, /metrics gets 503
        # until the idle ones are closed at the request deadline (3 s).
        self.srv = Server(self.tmp, "  request_timeout: 3s\n", http=True)
        wait_for(lambda: self.get("/healthz")[0] == 200, what="http server")
        t_flood = time.time()
        one = self.open_from("127.0.0.2", 1000)
        # the 968 past the bound are refused at once; once the server has
        # closed them (a moment on a loaded machine, well before the 32
        # idle ones reach their 3 s deadline) both answer
        for path in ("/metrics", "/healthz"):
            wait_for(lambda: self.get(path)[0] == 200, timeout=2.5,
                     what="%s beside the 32 idle connections" % path)
        got, closed = self.answers(one, 15)
        for c in one:
            c.close()
        self.assertEqual(len(closed), 1000)
        # 32 at a time are let in and closed at their deadline (more than 32
        # in all when opening the 1,000 takes longer than 3 s); every other
        # one gets 503 at once.
        timed_out = sum(1 for d in got.values() if d.startswith(b"HTTP/1.1 408"))
        refused = sum(1 for d in got.values() if d.startswith(b"HTTP/1.1 503"))
        self.assertGreaterEqual(timed_out, 32)
        self.assertLessEqual(timed_out, 32 * (1 + int(time.time() - t_flood) // 3))
        self.assertEqual(refused + timed_out, 1000)
        t0 = time.time()
        many = []
        for k in range(8):
            many += self.open_from("127.0.0.%d" % (10 + k), 32)
        wait_for(lambda: self.get("/metrics")[0] == 503, timeout=5, what="the server full")
        status, took = self.get("/healthz")
        self.assertEqual(status, 200)
        self.assertLess(took, 2)
        wait_for(lambda: self.get("/metrics")[0] == 200, timeout=15,
                 what="/metrics once the idle connections are gone")
        self.assertLess(time.time() - t0, 10)
        got, closed = self.answers(many, 10)
        self.assertEqual(len(closed), 256)
        self.assertEqual(sum(1 for d in got.values() if b" 408 " in d[:20]), 256)
        self.assertIn("the most this server takes", self.srv.logtext())


if __name__ == "__main__":
    main()
