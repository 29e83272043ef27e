"""Hostile configs against the real binary: a duplicate name reloaded by
SIGHUP into a running `chainscope run` (the ASan build used to die of a
use-after-free), a secret from the environment under the wrong key (never
in check-config's output, the log or the chainscope.reloaded event), and a
billion-laughs alias file (refused at once, in bounded memory)."""
import json
import os
import resource
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from cslib import SANITIZED, CHAINSCOPE, Server, TempDir, cs, main, start, wait_for

SECRET = "smtppass-it-9f8e7d6c5b4a"

DUP_EVM = """evm:
  networks:
    - name: main
      rpc: http://127.0.0.1:1
      follow: false
    - name: main
      rpc: http://127.0.0.1:2
      follow: false
"""

SECRET_IN_TIMEOUT = """channels:
  mail:
    type: webhook
    url: http://127.0.0.1:1/
    timeout: ${CS_IT_SMTP_PASS}
"""


def bomb(levels=10):
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        c, p = chr(ord("a") + i), chr(ord("a") + i - 1)
        lines.append("%s: &%s [%s]" % (c, c, ", ".join(["*" + p] * 9)))
    return "\n".join(lines) + "\n"


class ConfigReloadTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        os.environ["CS_IT_SMTP_PASS"] = SECRET

    def tearDown(self):
        os.environ.pop("CS_IT_SMTP_PASS", None)
        self.tmp.cleanup()

    def reload_with(self, srv, extra):
        """Appends `extra` to the running server's config, SIGHUPs it and
        returns the chainscope.reloaded payload, as a subscriber sees it."""
        t = start([CHAINSCOPE, "tail", "--socket", srv.socket, "--json", "--count", "1",
                   "--filter", "chainscope.reloaded"], text=True)
        self.assertIn("connected", t.stderr.readline())
        with open(srv.config) as f:
            good = f.read()
        with open(srv.config, "a") as f:
            f.write(extra)
        srv.proc.send_signal(signal.SIGHUP)
        out, _ = t.communicate(timeout=30)
        wait_for(lambda: "reload refused" in srv.logtext() or not srv.alive(), timeout=30,
                 what="the reload's log line")
        with open(srv.config, "w") as f:
            f.write(good)
        return out, json.loads(out.splitlines()[0])["payload"]

    def test_duplicate_evm_name_refused_on_sighup(self):
        srv = Server(self.tmp)
        try:
            with open(srv.config) as f:
                base = len(f.read().splitlines())
            _, ev = self.reload_with(srv, DUP_EVM)
            self.assertTrue(srv.alive(), srv.logtext())
            self.assertFalse(ev["ok"])
            # the second "name:" is DUP_EVM's 6th line
            want = ("%s:%d:13: evm.networks[1].name: \"main\" is already the name of "
                    "evm.networks[0]" % (srv.config, base + 6))
            self.assertTrue(ev["error"].startswith(want), ev["error"])
            log = srv.logtext()
            self.assertIn("reload refused: " + want, log)
            self.assertNotIn("AddressSanitizer", log)
            # Still serving: a second reload of the good file works.
            t = start([CHAINSCOPE, "tail", "--socket", srv.socket, "--json", "--count", "1",
                       "--filter", "chainscope.reloaded"], text=True)
            self.assertIn("connected", t.stderr.readline())
            srv.proc.send_signal(signal.SIGHUP)
            out, _ = t.communicate(timeout=30)
            self.assertEqual(json.loads(out)["payload"], {"ok": True})
        finally:
            self.assertEqual(srv.stop(), 0, srv.logtext())

    def test_duplicate_name_in_check_config(self):
        p = self.tmp.file("dup.yaml", DUP_EVM)
        r = cs("check-config", p)
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertIn("%s:6:13: evm.networks[1].name:" % p, r.stderr)
        self.assertNotIn("AddressSanitizer", r.stderr)

    def test_secret_from_env_never_printed(self):
        p = self.tmp.file("secret.yaml", SECRET_IN_TIMEOUT)
        r = cs("check-config", p)
        self.assertEqual(r.returncode, 3)
        self.assertNotIn(SECRET, r.stdout + r.stderr)
        self.assertIn("channels.mail.timeout:", r.stderr)
        self.assertIn("${CS_IT_SMTP_PASS}", r.stderr)

        srv = Server(self.tmp)
        try:
            raw, ev = self.reload_with(srv, SECRET_IN_TIMEOUT)
            self.assertTrue(srv.alive())
            self.assertFalse(ev["ok"])
            self.assertIn("channels.mail.timeout:", ev["error"])
            self.assertIn("${CS_IT_SMTP_PASS}", ev["error"])
            self.assertNotIn(SECRET, raw)
            log = srv.logtext()
            self.assertIn("reload refused:", log)
            self.assertNotIn(SECRET, log)
        finally:
            self.assertEqual(srv.stop(), 0, srv.logtext())

    def test_alias_bomb_refused_fast_in_bounded_memory(self):
        p = self.tmp.file("bomb.yaml", bomb())
        self.assertLess(os.path.getsize(p), 600)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.monotonic()
        r = subprocess.run([CHAINSCOPE, "check-config", p], capture_output=True, text=True,
                           timeout=60)
        took = time.monotonic() - t0
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB, largest child
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("%s:6:9: YAML aliases: expanding them would make more than 100000 values"
                      % p, r.stderr)
        # Before: 7.6 GiB and over a minute. The ASan build carries its own
        # shadow memory, hence the wider bound there.
        self.assertLess(took, 5.0 if SANITIZED else 1.0)
        self.assertLess(max(peak, before), (256 if SANITIZED else 64) * 1024)


if __name__ == "__main__":
    main()
