"""chainscope run as a whole: /metrics through promtool, /healthz, SIGHUP,
clean shutdown without leaks (valgrind), check-config errors, the CLI's
help and exit codes."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from cslib import SANITIZED, CHAINSCOPE, Server, TempDir, cs, free_port, main, start, stop, wait_for


def get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def read(path):
    with open(path) as f:
        return f.read()


class RunTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def test_metrics_pass_promtool_and_health(self):
        srv = Server(self.tmp, http=True)
        try:
            r = cs("publish", "--socket", srv.socket, "--type", "demo.sample", "--json",
                   '{"n":1}', "--count", "5")
            self.assertEqual(r.returncode, 0, r.stderr)
            base = "http://127.0.0.1:%d" % srv.http_port
            status, body = get(base + "/metrics")
            self.assertEqual(status, 200)
            self.assertIn("chainscope_logserver_events_in_total 5", body)
            self.assertIn('chainscope_bus_dropped_total{subscriber="logserver"} 0', body)
            p = subprocess.run(["promtool", "check", "metrics"], input=body, text=True,
                               capture_output=True)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertEqual(get(base + "/healthz"), (200, "ok\n"))
            self.assertEqual(get(base + "/nope")[0], 404)
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_console_into_a_stalled_pipe_never_stalls_the_loop(self):
        """`run` printing events into a pipe nobody reads: the loop goes on
        (publish completes, /healthz answers at once), the lines that do not
        fit are dropped and counted, one warning says so, and once the pipe
        is read again everything queued arrives whole."""
        sock = self.tmp.file("bus.sock")
        port = free_port()
        cfg = self.tmp.file("console.yaml", "node: t\nlogserver:\n  socket: %s\nhttp:\n"
                            "  listen: 127.0.0.1:%d\nconsole:\n  filter: demo.>\n"
                            "  buffer: 64KiB\n" % (sock, port))
        log_path = self.tmp.file("console.log")
        with open(log_path, "w") as log:
            p = start([CHAINSCOPE, "run", "-c", cfg], stdout=subprocess.PIPE, stderr=log)
        try:
            wait_for(lambda: os.path.exists(sock), what="log server socket")
            base = "http://127.0.0.1:%d" % port
            payload = json.dumps({"n": 7, "text": "y" * 200})
            # ~5 MB of lines against a 64 KiB pipe and a 64 KiB buffer
            r = cs("publish", "--socket", sock, "--type", "demo.sample", "--json", payload,
                   "--count", "20000", timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            t0 = time.monotonic()
            self.assertEqual(get(base + "/healthz"), (200, "ok\n"))
            self.assertLess(time.monotonic() - t0, 2.0)

            def console_counts():
                m = dict(l.rsplit(" ", 1) for l in get(base + "/metrics")[1].splitlines()
                         if l.startswith("chainscope_console_"))
                return (int(m["chainscope_console_dropped_total"]),
                        int(m["chainscope_console_printed_total"]))

            wait_for(lambda: sum(console_counts()) == 20000, what="every event counted")
            dropped, printed = console_counts()
            self.assertGreater(dropped, 10000)
            # still stalled: 100 more are dropped and counted, no new warning
            r = cs("publish", "--socket", sock, "--type", "demo.sample", "--json", payload,
                   "--count", "100", timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            wait_for(lambda: console_counts() == (dropped + 100, printed), what="100 more drops")
            dropped += 100
            logtext = read(log_path)
            self.assertEqual(logtext.count("stdout does not keep up"), 1, logtext)
            # read the pipe: what was queued arrives, then the console says so
            got = []
            reader = threading.Thread(target=lambda: got.extend(p.stdout.read().splitlines()))
            reader.start()
            wait_for(lambda: "stdout caught up; %d events dropped" % dropped in read(log_path),
                     what="caught-up log line")
            self.assertEqual(stop(p, signal.SIGTERM), 0)
            reader.join(10)
            p.stdout.close()
            self.assertEqual(len(got), printed)
            # the 200-byte string is summarized: its start, then its size
            want = (' - demo.sample n=7 text="' + "y" * 60 + '"...(200 bytes)').encode()
            for line in got:
                self.assertRegex(line, rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
                self.assertEqual(line[27:], want)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

    def test_http_bad_requests_close_one_client(self):
        """Malformed requests get an answer or a close, never the process."""
        srv = Server(self.tmp, http=True)
        try:
            cases = [
                (b"GET /healthz HTTP/1.1\r\n\r\n\x00\x85", b"HTTP/1.1 200"),  # trailing junk
                (b"\x16\x03\x01\x02\x00\x01", b"HTTP/1.1 400"),  # a TLS hello
                (b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n",
                 b"HTTP/1.1 431"),
                (b"POST /metrics HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
                 b"HTTP/1.1 413"),
            ]
            for req, want in cases:
                with socket.create_connection(("127.0.0.1", srv.http_port), timeout=5) as c:
                    c.sendall(req)
                    got = b""
                    while True:
                        chunk = c.recv(65536)
                        if not chunk:
                            break
                        got += chunk
                    self.assertTrue(got.startswith(want), (req[:40], got[:80]))
            # Found by fuzz_http_server: a request arriving in 17-byte pieces
            # with junk after it once stopped the process (an assertion in
            # http_parser); the request is answered, the junk closes the client.
            req = (b"GET /" + b"\xf0" * 20 + b"*" + b"\xf0" * 32 + b"feed/1.10\r\n\r\n"
                   + b"\x00\x85")
            with socket.create_connection(("127.0.0.1", srv.http_port), timeout=5) as c:
                for i in range(0, len(req), 17):
                    c.sendall(req[i:i + 17])
                    time.sleep(0.05)
                got = c.recv(65536)
                self.assertTrue(got.startswith(b"HTTP/1.1 404"), got[:80])
            base = "http://127.0.0.1:%d" % srv.http_port
            self.assertEqual(get(base + "/healthz"), (200, "ok\n"))
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_http_token_when_wider(self):
        port = free_port()
        os.environ["CS_HTTP_TOKEN"] = "http-token-0123456789"
        # Loopback with a token: the token is then required too.
        srv = Server(self.tmp, "http:\n  listen: 127.0.0.1:%d\n  token: ${CS_HTTP_TOKEN}\n"
                     % port)
        try:
            base = "http://127.0.0.1:%d" % port
            self.assertEqual(get(base + "/metrics")[0], 401)
            self.assertEqual(get(base + "/healthz")[0], 200)
            st, body = get(base + "/metrics",
                           {"Authorization": "Bearer http-token-0123456789"})
            self.assertEqual(st, 200)
            self.assertIn("chainscope_up 1", body)
        finally:
            srv.stop()

    def test_sighup_reloads_and_survives_a_broken_file(self):
        srv = Server(self.tmp)
        try:
            t = start([CHAINSCOPE, "tail", "--socket", srv.socket, "--json", "--count", "2",
                       "--filter", "chainscope.reloaded"], text=True)
            self.assertIn("connected", t.stderr.readline())
            srv.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "reloaded" in srv.logtext(), what="reload")
            good = open(srv.config).read()
            with open(srv.config, "a") as f:
                f.write("log:\n  level: [oops\n")
            srv.proc.send_signal(signal.SIGHUP)
            out, _ = t.communicate(timeout=10)
            evs = [json.loads(l)["payload"] for l in out.splitlines()]
            self.assertEqual(evs[0], {"ok": True})
            self.assertFalse(evs[1]["ok"])
            self.assertIn("chainscope.yaml:", evs[1]["error"])
            self.assertTrue(srv.alive())
            with open(srv.config, "w") as f:
                f.write(good)
        finally:
            self.assertEqual(srv.stop(), 0)

    @unittest.skipIf(SANITIZED, "valgrind cannot run an ASan binary; the plain build runs this")
    def test_shutdown_closes_everything_without_leaks(self):
        sock = self.tmp.file("vg.sock")
        port = free_port()
        cfg = self.tmp.file("vg.yaml", "node: vg\nlogserver:\n  socket: %s\nhttp:\n"
                            "  listen: 127.0.0.1:%d\nconsole:\n  filter: demo.>\n" % (sock, port))
        log = self.tmp.file("vg.log")
        p = start(["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect",
                   "--error-exitcode=99", "--log-file=" + log, CHAINSCOPE, "run", "-c", cfg],
                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(lambda: os.path.exists(sock), timeout=60, what="socket under valgrind")
        r = cs("publish", "--socket", sock, "--type", "demo.sample", "--json", '{"n":1}',
               "--count", "100")
        self.assertEqual(r.returncode, 0, r.stderr)
        tail = start([CHAINSCOPE, "tail", "--socket", sock])  # left connected at shutdown
        time.sleep(0.5)
        get("http://127.0.0.1:%d/metrics" % port)
        rc = stop(p, signal.SIGINT, timeout=60)
        report = open(log).read()
        self.assertEqual(rc, 0, report[-3000:])
        self.assertIn("ERROR SUMMARY: 0 errors", report)
        self.assertEqual(tail.wait(timeout=10), 4)  # the server closed on it

    def test_check_config_names_the_position(self):
        bad = self.tmp.file("bad.yaml", "node: a\nlogserver:\n  buffer: 12 parsecs\n")
        r = cs("check-config", "-c", bad)
        self.assertEqual(r.returncode, 3)
        self.assertEqual(r.stderr.strip(), bad + ":3:11: logserver.buffer: expected a size like "
                         "4096, 64KiB, 8MiB or 1GiB, got \"12 parsecs\"")
        good = self.tmp.file("good.yaml", "node: a\n")
        r = cs("check-config", "-c", good)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("valid", r.stdout)
        r = cs("run", "-c", bad)
        self.assertEqual(r.returncode, 3)

    def test_every_example_config_is_valid(self):
        examples = os.path.join(os.environ.get("CS_SOURCE_DIR", "."), "examples")
        names = sorted(n for n in os.listdir(examples) if n.endswith(".yaml"))
        self.assertGreater(len(names), 2)
        for name in names:
            r = cs("check-config", "-c", os.path.join(examples, name))
            self.assertEqual(r.returncode, 0, name + ": " + r.stderr)

    def test_cli_help_and_exit_codes(self):
        r = cs("--help")
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.startswith("usage: chainscope [--version] [--help] COMMAND "
                                            "[ARGS]\n"), r.stdout)
        listed = [l.split()[0] for l in r.stdout.split("commands:\n")[1].split("\n\n")[0]
                  .splitlines()]
        self.assertEqual(listed, ["run", "check-config", "publish", "tail", "events", "p2p",
                                  "connector", "ctl", "horde", "simnet", "crawl", "abi", "evm", "audit",
                                  "sla", "antelope", "monitor", "archive", "replay"])
        for name in listed:
            h = cs(name, "--help")
            self.assertEqual(h.returncode, 0, name)
            self.assertTrue(h.stdout.startswith("usage: chainscope " + name + " "), h.stdout)
            self.assertEqual(h.stderr, "", name)
        # every command is in docs/cli.md's table
        with open(os.path.join(os.environ.get("CS_SOURCE_DIR", "."), "docs", "cli.md")) as f:
            documented = {l.split("`")[1].split()[0] for l in f if l.startswith("| `")}
        self.assertEqual(sorted(set(listed) - documented), [])
        self.assertEqual(cs("no-such-command").returncode, 2)
        self.assertEqual(cs("tail", "--bogus").returncode, 2)
        self.assertRegex(cs("--version").stdout, r"^chainscope \d+\.\d+\.\d+")
        r = cs("tail", "--socket", self.tmp.file("none.sock"))
        self.assertEqual(r.returncode, 4)
        self.assertIn("cannot connect", r.stderr)

    def test_events_doc_matches_schema(self):
        r = cs("events", "--markdown")
        self.assertEqual(r.returncode, 0)
        with open(os.path.join(os.environ.get("CS_SOURCE_DIR", "."), "docs", "events.md")) as f:
            self.assertEqual(f.read(), r.stdout,
                             "docs/events.md is stale: chainscope events --markdown > docs/events.md")


if __name__ == "__main__":
    main()
