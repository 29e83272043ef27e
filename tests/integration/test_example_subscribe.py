"""examples/subscribe.c, a program outside the tree: it builds with only
include/ on the include path and the built library, subscribes to a running
log server and prints the events `chainscope publish` sends, decoded."""
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from cslib import SANITIZED, SOURCE_DIR, Server, TempDir, cs, main, start, stop, wait_for

BUILD_DIR = os.environ.get("CS_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
LIBRARY = os.path.join(BUILD_DIR, "libchainscope_lib.a")
PKGS = ["libuv", "libcurl", "libfyaml", "sqlite3", "libcrypto", "nettle", "libzstd", "json-c"]


def build_example(tmp):
    """Compiles examples/subscribe.c, copied with include/ alone into tmp as an
    outside program would see them, with -I include only; returns the binary."""
    shutil.copytree(os.path.join(SOURCE_DIR, "include"), tmp.file("include"))
    src = tmp.file("subscribe.c")
    shutil.copy(os.path.join(SOURCE_DIR, "examples", "subscribe.c"), src)
    out = tmp.file("subscribe")
    libs = subprocess.run(["pkg-config", "--libs"] + PKGS, capture_output=True, text=True,
                          check=True).stdout.split()
    flags = ["-std=c17", "-Wall", "-Wextra", "-Werror", "-I", tmp.file("include")]
    if SANITIZED:
        flags += ["-fsanitize=address,undefined"]
    cmd = ([os.environ.get("CC", "cc")] + flags +
           [src, LIBRARY, "-o", out] + libs +
           ["-lhttp_parser", "-lnats", "-lpthread", "-lm"])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise AssertionError("building the example failed: %s\n%s" % (" ".join(cmd), r.stderr))
    return out


def text_of(path):
    with open(path) as f:
        return f.read()


class ExampleSubscribe(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.srv = Server(self.tmp)

    def tearDown(self):
        self.srv.stop()
        self.tmp.cleanup()

    def test_builds_on_public_headers_and_prints_published_events(self):
        binary = build_example(self.tmp)
        err_path = self.tmp.file("subscribe.err")
        err = open(err_path, "w")
        p = start([binary, self.srv.socket, "demo.>", "3"], stderr=err, text=True)
        try:
            wait_for(lambda: "subscribed" in text_of(err_path) or p.poll() is not None,
                     timeout=30, what="the example's subscription")
            self.assertIsNone(p.poll(), text_of(err_path))
            # One event the filter does not match, then three that it does.
            for typ, key, fields in [("other.x", "k0", {"n": 0}),
                                     ("demo.sample", "node-a", {"n": 1, "text": "hello"}),
                                     ("demo.sample", "node-b", {"neg": -5, "ok": True,
                                                               "list": [1, "two", None]}),
                                     ("demo.other", "node-c", {"nested": {"x": 1.5}})]:
                r = cs("publish", "--socket", self.srv.socket, "--type", typ, "--network",
                       "testnet", "--key", key, "--json", json.dumps(fields))
                self.assertEqual(r.returncode, 0, r.stderr)
            out, _ = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                stop(p)
            err.close()
        self.assertEqual(p.returncode, 0, text_of(err_path))
        lines = out.splitlines()
        self.assertEqual(len(lines), 3, out)
        want = [("demo.sample", "node-a", {"n": 1, "text": "hello"}),
                ("demo.sample", "node-b", {"neg": -5, "ok": True, "list": [1, "two", None]}),
                ("demo.other", "node-c", {"nested": {"x": 1.5}})]
        for line, (typ, key, fields) in zip(lines, want):
            head, payload = line.split(" {", 1)
            words = head.split()
            self.assertEqual(words[0], typ)
            self.assertEqual(words[1], "network=testnet")
            self.assertEqual(words[2], "key=" + key)
            self.assertTrue(words[3].startswith("seq="), line)
            self.assertEqual(json.loads("{" + payload), fields)

    def test_refuses_a_missing_server(self):
        binary = build_example(self.tmp)
        r = subprocess.run([binary, self.tmp.file("nothing.sock"), ">"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("nothing.sock", r.stderr)


if __name__ == "__main__":
    main()
