"""Shared plumbing for the EVM integration tests: anvil on a free port, the
node helper (solc + ethers), a follower process whose JSON lines are
collected by a thread, and JSON-RPC calls. Every process started here is
stopped by stop_all(), whatever happens."""
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import cslib

CS = os.environ.get("CHAINSCOPE", "build/chainscope")
SRC = os.environ.get("CS_SOURCE_DIR", ".")
NODE_PATH = os.path.join(SRC, "tests", "node", "node_modules")
ANVIL = os.path.join(NODE_PATH, "@foundry-rs", "anvil-linux-amd64", "bin", "anvil")
HELPER = os.path.join(SRC, "tests", "integration", "evm_helper.js")

_procs = []


def stop_all():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rpc(url, method, params=None, timeout=5):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                       "params": params or []}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        out = json.loads(r.read())
    if "error" in out:
        raise RuntimeError(f"{method}: {out['error']}")
    return out["result"]


def start_anvil(port, state=None, extra=()):
    args = [ANVIL, "--port", str(port), "--silent", *extra]
    if state:
        args += ["--state", state]
    p = cslib.start(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _procs.append(p)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            rpc(url, "eth_blockNumber", timeout=1)
            return p, url
        except Exception:
            time.sleep(0.1)
    raise RuntimeError("anvil did not start")


def stop(p, sig=signal.SIGTERM):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def helper(*args):
    env = dict(os.environ, NODE_PATH=NODE_PATH)
    args = [a if isinstance(a, (str, int)) else json.dumps(a) for a in args]
    r = subprocess.run(["node", HELPER, *map(str, args)], capture_output=True, text=True,
                       env=env, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"helper {args[0]} failed: {r.stderr}")
    return json.loads(r.stdout)


class Follower:
    """chainscope evm follow, its events (parsed JSON) and its stderr."""

    def __init__(self, *args, stderr_path=None):
        self.events = []
        self.bad_lines = []
        self.lock = threading.Lock()
        self.stderr_path = stderr_path
        err = open(stderr_path, "w") if stderr_path else subprocess.DEVNULL
        self.p = subprocess.Popen([CS, "evm", "follow", *map(str, args)],
                                  stdout=subprocess.PIPE, stderr=err, text=True)
        _procs.append(self.p)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                self.bad_lines.append(line)
                continue
            with self.lock:
                self.events.append(ev)

    def of(self, type_):
        with self.lock:
            return [e for e in self.events if e["type"] == type_]

    def wait(self, pred, timeout=30, what="events"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if pred(self):
                return
            if self.p.poll() is not None and not self.t.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; stderr:\n{self.stderr()}")

    def stop(self):
        stop(self.p)
        self.t.join(timeout=5)
        return self.p.returncode

    def stderr(self):
        if not self.stderr_path:
            return ""
        with open(self.stderr_path) as f:
            return f.read()
