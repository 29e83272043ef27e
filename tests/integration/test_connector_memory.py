#!/usr/bin/python3
"""The connector's memory under hostile peers: 200 raw-socket peers connect
to a `chainscope run` with a connector listening, and each sends the header
of a 3.99 MB message and all of its payload but the last bytes, then holds
the connection open. The bytes held by incomplete messages are bounded
across all peers (connector.partial_budget): a peer that would go over it
is closed with code `partial_budget`; a peer whose message stays incomplete
past connector.partial_timeout is closed with code `partial_timeout`. The
process's RSS, read from /proc, stays within the budget while the peers
hold their messages and comes back down once they are closed."""
import json
import os
import socket
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from btcpeer import MAGIC  # noqa: E402
from cslib import (CHAINSCOPE, SANITIZED, Server, TempDir, free_port, main, rss_kib,  # noqa: E402
                   start, stop, wait_for)

PEERS = 200
PAYLOAD = 3_990_000
BUDGET_MIB = 32
DEADLINE_S = 4


def hold_partial(port, socks, lock):
    """Connects, sends a header announcing PAYLOAD bytes and all but the
    last 10 of them, and keeps the socket open (in socks)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    with lock:
        socks.append(s)
    hdr = MAGIC + b"block".ljust(12, b"\0") + struct.pack("<I", PAYLOAD) + b"\0\0\0\0"
    body = bytes(PAYLOAD - 10)
    try:
        s.sendall(hdr)
        for i in range(0, len(body), 1 << 20):
            s.sendall(body[i:i + (1 << 20)])
    except OSError:
        pass  # closed by the connector at its budget: what the test expects


class ConnectorMemoryTest(unittest.TestCase):
    def test_partial_messages_are_bounded_and_timed_out(self):
        tmp = TempDir()
        port = free_port()
        srv = tail = None
        socks, lock = [], threading.Lock()
        try:
            srv = Server(tmp, "connector:\n  network: regtest\n  listen: [127.0.0.1:%d]\n"
                         "  msg_events: false\n  partial_budget: %dMiB\n"
                         "  partial_timeout: %ds\n" % (port, BUDGET_MIB, DEADLINE_S))
            tail = start([CHAINSCOPE, "tail", "--socket", srv.socket, "--json",
                          "--filter", "p2p.conn.closed", "--count", str(PEERS)], text=True)
            self.assertIn("connected", tail.stderr.readline())
            wait_for(lambda: "listening" in srv.logtext() or "started" in srv.logtext(),
                     what="connector start")
            pid = srv.proc.pid
            before = rss_kib(pid)
            peak = [before]
            done = threading.Event()

            def sample():
                while not done.is_set():
                    peak[0] = max(peak[0], rss_kib(pid))
                    time.sleep(0.01)

            sampler = threading.Thread(target=sample)
            sampler.start()
            threads = []
            for _ in range(PEERS):
                t = threading.Thread(target=hold_partial, args=(port, socks, lock))
                t.start()
                threads.append(t)
                while sum(1 for x in threads if x.is_alive()) >= 16:
                    time.sleep(0.005)
            for t in threads:
                t.join(60)
            out, err = tail.communicate(timeout=60)
            done.set()
            sampler.join()
            # Closed pages go back to the system: wait for the RSS to settle.
            limit_after = before + 16 * 1024
            try:
                wait_for(lambda: rss_kib(pid) <= limit_after, timeout=10, what="rss back down")
            except AssertionError:
                pass
            after = rss_kib(pid)
            closed = [json.loads(l)["payload"] for l in out.splitlines()]
            codes = {}
            for ev in closed:
                codes[ev["code"]] = codes.get(ev["code"], 0) + 1
            print("rss before %d KiB, peak %d KiB, after %d KiB; closes %r"
                  % (before, peak[0], after, codes), flush=True)
            self.assertEqual(len(closed), PEERS, err)
            self.assertEqual(set(codes), {"partial_budget", "partial_timeout"}, codes)
            self.assertGreater(codes["partial_timeout"], 0)
            # the budget allows about BUDGET_MIB / 3.99 messages at once
            self.assertGreater(codes["partial_budget"], PEERS // 2, codes)
            for ev in closed:
                self.assertEqual(ev["by"], "us")
                if ev["code"] == "partial_timeout":
                    # all but the last 10 bytes, unless a loaded machine was
                    # still sending them at the deadline
                    self.assertRegex(ev["reason"], r"^incomplete message for %d s: \d+ of "
                                     r"3990024 bytes$" % DEADLINE_S)
                else:
                    self.assertTrue(ev["reason"].startswith(
                        "incomplete messages over the connector's budget of %d MiB"
                        % BUDGET_MIB), ev)
            if not SANITIZED:  # ASan's quarantine holds freed memory on purpose
                self.assertLess(peak[0] - before, (BUDGET_MIB + 40) * 1024,
                                "peak RSS %d KiB from %d" % (peak[0], before))
                self.assertLess(after - before, 16 * 1024, "RSS after %d KiB from %d"
                                % (after, before))
            self.assertTrue(srv.alive())
        finally:
            for s in socks:
                s.close()
            if tail:
                stop(tail)
            if srv:
                srv.stop()
            tmp.cleanup()


if __name__ == "__main__":
    main()
