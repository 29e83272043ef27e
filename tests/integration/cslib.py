"""Helpers shared by chainscope's integration tests.

Every process a test starts is stopped when the test ends, whatever happens;
ports are picked free on loopback; temporary files live in one directory per
test that is removed at the end.
"""
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

CHAINSCOPE = os.environ.get("CHAINSCOPE") or os.path.join(
    os.environ.get("CS_BUILD_DIR", "build"), "chainscope")
SOURCE_DIR = os.environ.get("CS_SOURCE_DIR", os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..")))
NODE_MODULES = os.path.join(SOURCE_DIR, "tests", "node", "node_modules")
# Set when the binary under test is built with ASan+UBSan: memory figures
# then include the sanitizer's quarantine, and valgrind cannot run it.
SANITIZED = os.environ.get("CS_SANITIZE") in ("1", "ON", "true")
ANVIL = os.path.join(NODE_MODULES, "@foundry-rs", "anvil-linux-amd64", "bin", "anvil")

_procs = []


def _cleanup():
    for p in _procs:
        if p.poll() is None:
            try:
                p.kill()
                p.wait(timeout=5)
            except Exception:
                pass


atexit.register(_cleanup)

# anvil keeps the states of old blocks under $HOME/.foundry/anvil/tmp and
# leaves them there when it is killed: tens of GB over a test run. Every
# anvil a test starts gets a home of its own, removed at exit.
_anvil_home = None


def _remove_anvil_home():
    _cleanup()  # every anvil first (atexit runs this before _cleanup)
    shutil.rmtree(_anvil_home, ignore_errors=True)


def anvil_env():
    """The environment to start anvil with (see above)."""
    global _anvil_home
    if _anvil_home is None:
        _anvil_home = tempfile.mkdtemp(prefix="cs-anvil-home-")
        atexit.register(_remove_anvil_home)
    env = dict(os.environ)
    env["HOME"] = _anvil_home
    return env


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args, **kw):
    """Starts a process that is killed at exit if still running."""
    if args and os.path.basename(str(args[0])) == "anvil":
        kw.setdefault("env", anvil_env())
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    p = subprocess.Popen(args, **kw)
    _procs.append(p)
    return p


def stop(p, sig=signal.SIGTERM, timeout=10):
    """Stops p with sig and returns its exit code."""
    if p.poll() is None:
        p.send_signal(sig)
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stacks = _stacks(p.pid)
        p.kill()
        p.wait()
        raise AssertionError("process %s did not stop on %s%s" % (p.args, sig, stacks))


def _stacks(pid):
    """Every thread's stack of a process that hangs (when gdb is here)."""
    if not shutil.which("gdb"):
        return ""
    try:
        r = subprocess.run(["gdb", "-p", str(pid), "-batch", "-nx", "-ex", "thread apply all bt"],
                           capture_output=True, text=True, timeout=60)
        return "; its threads:\n" + r.stdout[-6000:]
    except subprocess.TimeoutExpired:
        return ""



def read_jsonl(path):
    """The JSON objects of the complete lines of a file another process may
    still be writing: a last line without its newline is left for later."""
    try:
        with open(path) as f:
            data = f.read()
    except FileNotFoundError:
        return []
    lines = data.split("\n")[:-1]
    return [json.loads(l) for l in lines if l.strip()]


def wait_for(pred, timeout=10.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


def cs(*args, **kw):
    """Runs chainscope to completion; returns CompletedProcess (text)."""
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    return subprocess.run([CHAINSCOPE] + list(args), **kw)


class TempDir:
    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="cs-test-")

    def file(self, name, text=None):
        p = os.path.join(self.path, name)
        if text is not None:
            with open(p, "w") as f:
                f.write(text)
        return p

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


class Server:
    """A `chainscope run` with a log server on a private socket;
    logserver_yaml holds more keys of the logserver section (indented)."""

    def __init__(self, tmp, extra_yaml="", http=False, logserver_yaml=""):
        self.tmp = tmp
        self.socket = tmp.file("bus.sock")
        self.http_port = free_port() if http else None
        cfg = "node: test\nlogserver:\n  socket: %s\n" % self.socket + logserver_yaml
        if http:
            cfg += "http:\n  listen: 127.0.0.1:%d\n" % self.http_port
        cfg += extra_yaml
        self.config = tmp.file("chainscope.yaml", cfg)
        self.log_path = tmp.file("run.log")
        self.log = open(self.log_path, "w")
        self.proc = start([CHAINSCOPE, "run", "-c", self.config], stdout=self.log,
                          stderr=subprocess.STDOUT)
        wait_for(lambda: os.path.exists(self.socket) or self.proc.poll() is not None,
                 what="log server socket")
        if self.proc.poll() is not None:
            raise AssertionError("chainscope run exited: " + self.logtext())

    def logtext(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM):
        rc = stop(self.proc, sig)
        self.log.close()
        return rc



JSON_SAFE_INT = 2**53 - 1


def json_int(value):
    """An integer as chainscope's JSON renders it: a number up to +-(2^53 - 1),
    beyond that a decimal string (docs/events.md). Fails on any other shape."""
    if isinstance(value, bool):
        raise AssertionError("expected an integer, got %r" % (value,))
    if isinstance(value, int):
        if abs(value) > JSON_SAFE_INT:
            raise AssertionError("integer %d beyond 2^53 rendered as a number" % value)
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        n = int(value)
        if abs(n) <= JSON_SAFE_INT:
            raise AssertionError("integer %d within 2^53 rendered as a string" % n)
        return n
    raise AssertionError("expected an integer, got %r" % (value,))

def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    unittest.main(verbosity=2)
