#!/usr/bin/python3
"""`chainscope crawl --publish`: a crawl of a simulated network publishes a
crawl.node event per node and crawl.done to the log server of a `chainscope
run`, and `chainscope tail` shows them, agreeing with the crawl's CSV. With
no log server to reach, the crawl goes on and says why it did not publish."""
import csv
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cslib import CHAINSCOPE, Server, TempDir, cs, main, start, stop  # noqa: E402


def start_simnet(args):
    p = start([CHAINSCOPE, "simnet"] + args, stdout=subprocess.DEVNULL, text=True)
    line = p.stderr.readline()
    if not line.startswith("simnet:"):
        p.kill()
        raise AssertionError("simnet did not start: %r" % line)
    return p, line.split("first ")[1].strip()


class CrawlPublishTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.sim, self.first = start_simnet(["--nodes", "12", "--unreachable", "0.25",
                                             "--seed", "2"])

    def tearDown(self):
        stop(self.sim)
        self.tmp.cleanup()

    def crawl(self, *extra):
        out = self.tmp.file("nodes.csv")
        r = cs("crawl", "--network", "regtest", "--seed", self.first, "--timeout", "2",
               "--getaddr-wait", "2", "--quiet", "--out", out, *extra, timeout=60)
        return r, {"%s:%s" % (x["address"], x["port"]): x for x in csv.DictReader(open(out))}

    def test_tail_sees_every_node_and_the_end(self):
        srv = Server(self.tmp)
        try:
            tail = start([CHAINSCOPE, "tail", "--socket", srv.socket, "--json", "--filter",
                          "crawl.>", "--count", "13", "--timeout", "20"], text=True)
            self.assertIn("connected", tail.stderr.readline())
            r, rows = self.crawl("--publish", "--socket", srv.socket)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("crawl: published 13 events to " + srv.socket, r.stderr)
            out, err = tail.communicate(timeout=30)
            self.assertEqual(tail.returncode, 0, err)
        finally:
            self.assertEqual(srv.stop(), 0)
        evs = [json.loads(line) for line in out.splitlines()]
        self.assertEqual([e["type"] for e in evs], ["crawl.node"] * 12 + ["crawl.done"])
        self.assertEqual(len(rows), 12)
        for e in evs[:12]:
            p = e["payload"]
            self.assertEqual(e["key"], "%s:%d" % (p["addr"], p["port"]))
            row = rows[e["key"]]
            self.assertEqual(p["reachable"], row["reachable"] == "true", e)
            if p["reachable"]:
                self.assertEqual(p["user_agent"], row["user_agent"])
                self.assertEqual(p["start_height"], int(row["start_height"]))
                self.assertEqual(p["addresses"], int(row["addresses_returned"]))
                self.assertEqual(p["addresses"], 12)  # fanout: every node, at most 20
            else:
                self.assertEqual(p["failure"], row["failure"])
        done = evs[12]["payload"]
        self.assertEqual((done["known"], done["tried"], done["reachable"], done["failed"]),
                         (12, 12, 9, 3))
        self.assertEqual(evs[12]["network"], "btc-regtest")

    def test_unreachable_log_server(self):
        r, rows = self.crawl("--publish", "--socket", self.tmp.file("none.sock"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("crawl: not publishing: cannot connect to " + self.tmp.file("none.sock"),
                      r.stderr)
        self.assertEqual(len(rows), 12)

    def test_socket_needs_publish(self):
        r = cs("crawl", "--seed", self.first, "--socket", "x.sock")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--socket goes with --publish", r.stderr)


if __name__ == "__main__":
    main()
