#!/usr/bin/python3
"""`chainscope run` under systemd's notification protocol, simulated: the
test opens a unix datagram socket, passes it as $NOTIFY_SOCKET with
$WATCHDOG_USEC, and reads what chainscope sends: READY=1 once the log
server is up, WATCHDOG=1 pings at about half the interval, RELOADING=1 then
READY=1 on SIGHUP, STOPPING=1 on SIGTERM. Without $NOTIFY_SOCKET nothing is
sent (the other tests run that way)."""
import os
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cslib import CHAINSCOPE, TempDir, main, start, stop  # noqa: E402


class NotifyTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.path = self.tmp.file("notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(30)

    def tearDown(self):
        self.sock.close()
        self.tmp.cleanup()

    def messages_until(self, want, timeout=30):
        got = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                msg = self.sock.recv(4096).decode()
            except socket.timeout:
                break
            got.append(msg)
            if want in msg.split("\n"):
                return got
        self.fail("no %s in %r; chainscope said: %s" % (want, got, self.stderr()))

    def stderr(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(10)
        with open(self.tmp.file("run.log")) as f:
            return f.read()

    def test_ready_watchdog_reload_stopping(self):
        bus = self.tmp.file("bus.sock")
        cfg = self.tmp.file("c.yaml", "node: sd\nlogserver:\n  socket: %s\n" % bus)
        env = dict(os.environ, NOTIFY_SOCKET=self.path, WATCHDOG_USEC="400000")
        log = open(self.tmp.file("run.log"), "w")
        p = self.p = start([CHAINSCOPE, "run", "-c", cfg], env=env, stdout=subprocess.DEVNULL,
                           stderr=log, text=True)
        first = self.messages_until("READY=1")
        self.assertTrue(os.path.exists(bus), "READY=1 before the log server listens")
        self.assertIn("STATUS=sd: running", first[-1])
        t0 = time.time()
        pings = 0
        while pings < 4:
            if self.sock.recv(4096).decode() == "WATCHDOG=1":
                pings += 1
        # four pings at 200 ms each (half of 400 ms), the first at once
        self.assertLess(time.time() - t0, 20)
        p.send_signal(signal.SIGHUP)
        got = self.messages_until("READY=1")
        self.assertTrue(any(m.startswith("RELOADING=1\nMONOTONIC_USEC=") for m in got), got)
        p.send_signal(signal.SIGTERM)
        self.messages_until("STOPPING=1")
        self.assertEqual(stop(p), 0, self.stderr())
        log.close()


if __name__ == "__main__":
    main()
