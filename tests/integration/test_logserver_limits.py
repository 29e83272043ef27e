"""The log server before login: clients that never finish HELLO, floods of
unauthenticated TCP connections, the room kept for the local socket, and
the reason a refused client is given."""
import os
import socket
import struct
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from cslib import (CHAINSCOPE, SANITIZED, Server, TempDir, cs, free_port, main, rss_kib,
                   start, wait_for)
from test_logserver import frame, hello, read_frames

TOKEN = "limits-token-0123456789"


def metric(srv, name):
    """The value of one series of the server's /metrics, or None."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % srv.http_port,
                                timeout=10) as r:
        text = r.read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def connect_tcp(port):
    return socket.create_connection(("127.0.0.1", port), timeout=10)


class Preauth(unittest.TestCase):
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

    def server(self, extra=""):
        self.port = free_port()
        os.environ["CS_LIMITS_TOKEN"] = TOKEN
        self.srv = Server(self.tmp, http=True, logserver_yaml="  tcp:\n    listen: 127.0.0.1:%d\n"
                          "    token: ${CS_LIMITS_TOKEN}\n%s" % (self.port, extra))
        wait_for(lambda: "logserver: listening" in self.srv.logtext(), what="log server")

    def test_partial_hellos_are_bounded_and_logged(self):
        # 16 unauthenticated clients each announce a 16 MiB HELLO and send
        # as much of it as the server takes. Before login a client may hold
        # only a few KiB: each is cut off, logged and counted, and the
        # server's memory stays where it was.
        self.server()
        rss_before = rss_kib(self.srv.proc.pid)
        n, size = 16, 16 * 1024 * 1024
        head = struct.pack("<I", size) + b"\x01\x01"
        chunk = b"x" * 65536
        for _ in range(n):
            c = connect_tcp(self.port)
            self.socks.append(c)
            try:
                c.sendall(head)
                sent = len(head)
                c.settimeout(0.5)
                while sent < size - len(chunk):
                    c.sendall(chunk)
                    sent += len(chunk)
            except (socket.timeout, OSError):
                pass  # the server stopped taking bytes, or closed
        peak = rss_kib(self.srv.proc.pid)
        growth = peak - rss_before
        print("RSS before %d KiB, with %d partial 16 MiB HELLOs %d KiB" % (rss_before, n, peak),
              file=sys.stderr)
        bound = (64 if SANITIZED else 8) * 1024
        self.assertLess(growth, bound, "RSS grew by %d KiB" % growth)
        for c in self.socks:
            try:
                typ, body = read_frames(c, {9}, timeout=10)
            except OSError:
                continue  # reset: the server closed with our bytes unread
            if typ == 9:
                self.assertIn(b"before HELLO", body)
        wait_for(lambda: self.srv.logtext().count("larger than") >= n, timeout=20,
                 what="a log line per client")
        self.assertEqual(metric(self.srv, 'chainscope_logserver_refused_total'
                                '{reason="hello_too_large"}'), n)

    def test_hello_deadline_closes_partial_and_idle_clients(self):
        # 20 clients stop half-way through their HELLO, 5 send nothing: all
        # are told why and closed at the deadline, each with a log line.
        self.server("  hello_timeout: 1s\n")
        partial = hello("partial", TOKEN)
        for i in range(25):
            c = connect_tcp(self.port)
            if i < 20:
                c.sendall(partial[:len(partial) // 2])
            self.socks.append(c)
        wait_for(lambda: metric(self.srv, "chainscope_logserver_unauthenticated") == 25,
                 what="25 clients waiting for HELLO")
        t0 = time.time()
        for c in self.socks:
            typ, body = read_frames(c, {9}, timeout=15)
            self.assertEqual(typ, 9)
            self.assertIn(b"no HELLO within 1 s", body)
            self.assertEqual(c.recv(10), b"")
        self.assertLess(time.time() - t0, 12)
        wait_for(lambda: self.srv.logtext().count("no HELLO within 1 s") == 25,
                 what="a log line per client")
        self.assertEqual(metric(self.srv, 'chainscope_logserver_refused_total'
                                '{reason="hello_timeout"}'), 25)
        self.assertEqual(metric(self.srv, "chainscope_logserver_unauthenticated"), 0)
        # A client that does finish its HELLO in time is not affected.
        ok = connect_tcp(self.port)
        self.socks.append(ok)
        ok.sendall(hello("prompt", TOKEN))
        self.assertEqual(read_frames(ok, {2, 9})[0], 2)
        time.sleep(1.5)
        ok.sendall(frame(7, struct.pack("<Q", 5)))
        self.assertEqual(read_frames(ok, {8, 9}), (8, struct.pack("<Q", 5)))


class Slots(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.socks = []
        self.srv = None
        self.port = free_port()
        os.environ["CS_LIMITS_TOKEN"] = TOKEN

    def tearDown(self):
        for c in self.socks:
            c.close()
        if self.srv and self.srv.alive():
            self.srv.stop()
        self.tmp.cleanup()

    def tail(self, *args, env=None):
        return start([CHAINSCOPE, "tail", "--json", "--count", "1"] + list(args),
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    def assert_unix_tail_works(self):
        t = self.tail("--socket", self.srv.socket, "--filter", "demo.sample")
        self.assertIn("connected", t.stderr.readline())
        r = cs("publish", "--socket", self.srv.socket, "--type", "demo.sample", "--json",
               '{"n":1}')
        self.assertEqual(r.returncode, 0, r.stderr)
        out, err = t.communicate(timeout=20)
        self.assertEqual(t.returncode, 0, err)
        self.assertIn('"n":1', out)

    def test_idle_tcp_sockets_leave_the_local_socket_alone(self):
        # With the defaults, 64 TCP connections may wait for HELLO; past
        # that a connection is told why and closed, and the local tail on
        # the unix socket still gets in.
        self.srv = Server(self.tmp, http=True, logserver_yaml="  tcp:\n    listen: 127.0.0.1:%d\n"
                          "    token: ${CS_LIMITS_TOKEN}\n" % self.port)
        for _ in range(64):
            self.socks.append(connect_tcp(self.port))
        wait_for(lambda: metric(self.srv, "chainscope_logserver_unauthenticated") == 64,
                 what="64 idle connections")
        extra = connect_tcp(self.port)
        self.socks.append(extra)
        typ, body = read_frames(extra, {9}, timeout=10)
        self.assertEqual(typ, 9)
        self.assertIn(b"limit: 64 connections are waiting for HELLO", body)
        # tail over TCP, with the right token, prints the server's reason.
        env = dict(os.environ, CHAINSCOPE_TOKEN=TOKEN)
        t = self.tail("--connect", "tcp:127.0.0.1:%d" % self.port, env=env)
        out, err = t.communicate(timeout=20)
        self.assertEqual(t.returncode, 4)
        self.assertIn("refused by the server: limit: 64 connections are waiting for HELLO",
                      err)
        self.assert_unix_tail_works()
        self.assertIn("waiting for HELLO", self.srv.logtext())
        self.assertGreaterEqual(metric(self.srv, 'chainscope_logserver_refused_total'
                                       '{reason="unauthenticated_limit"}'), 2)

    def test_authenticated_tcp_clients_leave_room_for_the_unix_socket(self):
        # max_clients 4 with 1 kept for the local socket: three TCP clients
        # get in, the fourth is refused with the reason, a unix client still
        # gets the last slot, and once every slot is taken the next local
        # client is told so too.
        self.srv = Server(self.tmp, logserver_yaml="  max_clients: 4\n  unix_reserved: 1\n"
                          "  tcp:\n    listen: 127.0.0.1:%d\n"
                          "    token: ${CS_LIMITS_TOKEN}\n" % self.port)
        for i in range(3):
            c = connect_tcp(self.port)
            self.socks.append(c)
            c.sendall(hello("tcp%d" % i, TOKEN))
            self.assertEqual(read_frames(c, {2, 9})[0], 2)
        env = dict(os.environ, CHAINSCOPE_TOKEN=TOKEN)
        t = self.tail("--connect", "tcp:127.0.0.1:%d" % self.port, env=env)
        err = t.communicate(timeout=20)[1]
        self.assertEqual(t.returncode, 4)
        self.assertIn("refused by the server: limit: 3 TCP clients are connected", err)
        hold = self.tail("--socket", self.srv.socket, "--count", "1000000")
        self.assertIn("connected", hold.stderr.readline())
        t = self.tail("--socket", self.srv.socket)
        err = t.communicate(timeout=20)[1]
        self.assertEqual(t.returncode, 4)
        self.assertIn("refused by the server: limit: 4 clients are connected", err)
        hold.kill()
        hold.wait()
        # A TCP client going away frees its slot for another.
        self.socks.pop().close()
        wait_for(lambda: self.try_tcp_hello(), timeout=10, what="a free TCP slot")

    def try_tcp_hello(self):
        c = connect_tcp(self.port)
        c.sendall(hello("again", TOKEN))
        typ = read_frames(c, {2, 9})[0]
        if typ == 2:
            self.socks.append(c)
            return True
        c.close()
        return False


if __name__ == "__main__":
    main()
