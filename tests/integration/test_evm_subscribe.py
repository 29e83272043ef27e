"""Head subscriptions over IPC: with anvil's IPC socket and a 30 s poll, each
block mined with evm_mine arrives as evm.block within about a second (only the
newHeads subscription can explain that); a node that refuses eth_subscribe
(a fake IPC server in front of anvil) is still followed, by polling, and the
follower keeps trying to subscribe with a backoff; `subscribe: true` without
an IPC endpoint is a config error."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evm_common as ec  # noqa: E402


class Events:
    """JSON lines of a process's stdout, each with the time it was read."""

    def __init__(self, p):
        self.p = p
        self.lock = threading.Lock()
        self.items = []
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            if not line.startswith("{"):
                continue
            ev = json.loads(line)
            with self.lock:
                self.items.append((time.monotonic(), ev))

    def block_time(self, number):
        with self.lock:
            for t, ev in self.items:
                if ev["type"] == "evm.block" and ev["payload"]["number"] == number:
                    return t
        return None

    def wait_block(self, number, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            t = self.block_time(number)
            if t is not None:
                return t
            time.sleep(0.01)
        return None


def wait_for(path, text, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(path) as f:
            if text in f.read():
                return True
        time.sleep(0.05)
    return False


class RefusingIpc:
    """A unix socket server that forwards JSON-RPC to anvil over HTTP, except
    eth_subscribe, which it answers with a JSON-RPC error."""

    def __init__(self, path, url):
        self.url = url
        self.subscribes = 0
        self.calls = 0
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(path)
        self.srv.listen(8)
        self.srv.settimeout(0.2)
        self.stopping = False
        self.conns = []
        self.t = threading.Thread(target=self._accept, daemon=True)
        self.t.start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.srv.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _answer(self, req):
        if isinstance(req, dict) and req.get("method") == "eth_subscribe":
            self.subscribes += 1
            return json.dumps({"jsonrpc": "2.0", "id": req.get("id"),
                               "error": {"code": -32601,
                                         "message": "the method eth_subscribe does not exist"}})
        self.calls += 1
        body = json.dumps(req).encode()
        r = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(r, timeout=5) as resp:
            return resp.read().decode()

    def _serve(self, c):
        dec = json.JSONDecoder()
        buf = ""
        try:
            while not self.stopping:
                data = c.recv(65536)
                if not data:
                    return
                buf += data.decode()
                while True:
                    buf = buf.lstrip()
                    if not buf:
                        break
                    try:
                        req, end = dec.raw_decode(buf)
                    except ValueError:
                        break
                    buf = buf[end:]
                    c.sendall((self._answer(req) + "\n").encode())
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self.stopping = True
        self.srv.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


def mine(url):
    """Mines one block; its number and when it was asked for."""
    t0 = time.monotonic()
    ec.rpc(url, "evm_mine")
    return int(ec.rpc(url, "eth_blockNumber"), 16), t0


def main():
    tmp = tempfile.mkdtemp(prefix="cs-evm-sub-")
    fake = None
    try:
        ipc = os.path.join(tmp, "anvil.ipc")
        _, url = ec.start_anvil(ec.free_port(), extra=("--ipc", ipc))
        deadline = time.time() + 10
        while not os.path.exists(ipc) and time.time() < deadline:
            time.sleep(0.05)

        # 1. anvil over IPC, poll 30 s: new blocks come by the subscription.
        cfg = os.path.join(tmp, "c.yaml")
        http_port = ec.free_port()
        with open(cfg, "w") as f:
            f.write(f"""node: t1
logserver:
  enabled: false
http:
  listen: 127.0.0.1:{http_port}
console:
  filter: ["evm.block"]
  json: true
evm:
  networks:
    - name: anvil
      rpc: {ipc}
      from: 0
      poll: 30s
""")
        errp = os.path.join(tmp, "run.err")
        with open(errp, "w") as err:
            p = subprocess.Popen([ec.CS, "run", "-c", cfg], stdout=subprocess.PIPE, stderr=err,
                                 text=True)
        ec._procs.append(p)
        evs = Events(p)
        assert evs.wait_block(0, 60) is not None, open(errp).read()
        assert wait_for(errp, "subscribed to newHeads", 30), open(errp).read()
        delays = []
        for _ in range(3):
            n, t0 = mine(url)
            t = evs.wait_block(n, 10)
            assert t is not None, f"block {n} not followed within 10 s:\n" + open(errp).read()
            delays.append(t - t0)
        # Far below the 30 s poll: each block was announced by the node.
        assert max(delays) < 2.0, (delays, open(errp).read())
        body = urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics",
                                      timeout=5).read().decode()
        assert 'chainscope_evm_head_subscribed{network="anvil"} 1' in body, body
        notes = [line for line in body.splitlines()
                 if line.startswith('chainscope_evm_head_notifications_total{network="anvil"}')]
        assert notes and float(notes[0].split()[-1]) >= 3, body
        ec.stop(p)
        assert p.returncode == 0, open(errp).read()

        # 2. A node that refuses eth_subscribe: followed by polling (200 ms),
        #    subscription tried again with a backoff (1 s, 2 s, ...).
        fpath = os.path.join(tmp, "fake.ipc")
        fake = RefusingIpc(fpath, url)
        head = int(ec.rpc(url, "eth_blockNumber"), 16)
        fol = ec.Follower("--rpc", fpath, "--poll", "200", "--from", head,
                          stderr_path=os.path.join(tmp, "follow.err"))
        fol.wait(lambda x: any(e["payload"]["number"] == head for e in x.of("evm.block")),
                 timeout=60, what=f"block {head}")
        for _ in range(2):
            n, _ = mine(url)
            fol.wait(lambda x: any(e["payload"]["number"] == n for e in x.of("evm.block")),
                     timeout=30, what=f"block {n} by polling")
        time.sleep(2.5)
        err = fol.stderr()
        assert "the node refused eth_subscribe: the method eth_subscribe does not exist" in err, err
        assert fake.subscribes >= 2, (fake.subscribes, err)
        assert fake.calls > 0
        assert fol.stop() == 0, fol.stderr()
        nums = [e["payload"]["number"] for e in fol.of("evm.block")]
        assert nums == list(range(head, head + 3)), nums

        # 3. subscribe: true needs an IPC endpoint.
        bad = os.path.join(tmp, "bad.yaml")
        with open(bad, "w") as f:
            f.write(open(cfg).read().replace(f"rpc: {ipc}", f"rpc: {url}\n      subscribe: true"))
        r = subprocess.run([ec.CS, "check-config", "-c", bad], capture_output=True, text=True,
                           timeout=10)
        assert r.returncode == 3 and "bad.yaml:" in r.stderr and "IPC endpoint" in r.stderr, \
            r.stderr
    finally:
        if fake:
            fake.stop()
        ec.stop_all()
    print("ok")


if __name__ == "__main__":
    main()
