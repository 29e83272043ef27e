"""A stand-in for Bitcoin Core's JSON-RPC interface (Core cannot be installed
on the test machines): each FixtureNode answers the RPCs the bitcoind
component polls from the recorded-shape answers in tests/data/bitcoind/,
and a test scripts it between polls: peers come and go, the address manager
grows, tips move on a chain shared by several nodes, RPCs fail.

Authentication is HTTP basic with a .cookie file, as Core's default."""
import base64
import copy
import hashlib
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "bitcoind")


def load(name):
    with open(os.path.join(DATA, name)) as f:
        return json.load(f)["result"]


def block_hash(tag):
    return hashlib.sha256(tag.encode()).hexdigest()


class Chain:
    """Headers shared by the nodes of one network: hash -> (height, prev)."""

    def __init__(self, height=100):
        self.headers = {}
        prev = ""
        for h in range(height - 20, height + 1):
            x = block_hash("main-%d" % h)
            self.headers[x] = (h, prev)
            prev = x
        self.base = prev

    def mine(self, parent, tag):
        h = self.headers[parent][0] + 1
        x = block_hash("%s-%d" % (tag, h))
        self.headers[x] = (h, parent)
        return x

    def height(self, x):
        return self.headers[x][0]

    def ancestors(self, x):
        out = set()
        while x:
            out.add(x)
            x = self.headers.get(x, (0, ""))[1]
        return out


class FixtureNode:
    def __init__(self, chain, version=29, cookie_dir=None):
        self.lock = threading.Lock()
        self.chain = chain
        self.version = version
        self.tip = chain.base
        self.side_tips = []  # (hash, status)
        peers = load("getpeerinfo.json")
        self.peers = peers["peers"]
        self.extra_peers = {p["id"]: p for p in peers["extra"]}
        self.addrman = load("getrawaddrman.json")
        self.failing = {}  # method -> "http" (HTTP 500) or a JSON-RPC error code
        self.delay = {}  # method -> seconds before it answers
        self.calls = {}
        self.password = "fixture-%d" % id(self)
        self.cookie = None
        if cookie_dir:
            self.cookie = os.path.join(cookie_dir, ".cookie-%d" % id(self))
            with open(self.cookie, "w") as f:
                f.write("__cookie__:" + self.password)
        self.server = None

    # ---- scripting -------------------------------------------------------
    def drop_peer(self, pid):
        with self.lock:
            self.peers = [p for p in self.peers if p["id"] != pid]

    def add_peer(self, pid):
        with self.lock:
            self.peers.append(copy.deepcopy(self.extra_peers[pid]))

    def grow_addrman(self, n, replace=()):
        """n new-table entries in empty positions; replace: positions that
        get another address."""
        with self.lock:
            new = self.addrman["new"]
            k = 0
            bucket = 100
            while k < n:
                key = "%d/%d" % (bucket + k // 64, k % 64)
                if key not in new:
                    new[key] = {"address": "10.%d.%d.%d" % (bucket, k // 250, k % 250 + 1),
                                "port": 8333, "services": 1033, "time": 1764670000 + k,
                                "network": "ipv4", "source": "203.0.113.7",
                                "source_network": "ipv4"}
                k += 1
            for key in replace:
                e = dict(new[key])
                e["address"] = "192.0.2.%d" % (len(key) + 100)
                new[key] = e

    def restart(self):
        """As Core at each start: a new .cookie."""
        with self.lock:
            self.password = "restarted-%d" % id(self)
            with open(self.cookie, "w") as f:
                f.write("__cookie__:" + self.password)

    def set_tip(self, x, side=()):
        with self.lock:
            self.tip = x
            self.side_tips = list(side)

    # ---- answers ---------------------------------------------------------
    def branchlen(self, x):
        main = self.chain.ancestors(self.tip)
        n = 0
        while x and x not in main:
            n += 1
            x = self.chain.headers[x][1]
        return n

    def answer(self, method, params):
        v = self.version
        if method == "getpeerinfo":
            return self.peers
        if method == "getmempoolinfo":
            return load("getmempoolinfo.json")
        if method == "uptime":
            return load("uptime.json") + sum(self.calls.values())
        if method == "getnettotals":
            return load("getnettotals.json")
        if method == "getmemoryinfo":
            return load("getmemoryinfo.json")
        if method == "getaddrmaninfo":
            return load("getaddrmaninfo.json")
        if method == "getchaintxstats":
            r = load("getchaintxstats.json")
            r["window_final_block_hash"] = self.tip
            r["window_final_block_height"] = self.chain.height(self.tip)
            return r
        if method == "getnetworkinfo":
            return load("getnetworkinfo_27.json" if v == 27 else "getnetworkinfo_29.json")
        if method == "getblockchaininfo":
            r = load("getblockchaininfo_%d.json" % v)
            r["blocks"] = r["headers"] = self.chain.height(self.tip)
            r["bestblockhash"] = self.tip
            return r
        if method == "getorphantxs":
            if v < 29:
                raise RpcError(-32601, "Method not found")
            return load("getorphantxs_29.json")
        if method == "getrawaddrman":
            return self.addrman
        if method == "getchaintips":
            tips = [{"height": self.chain.height(self.tip), "hash": self.tip, "branchlen": 0,
                     "status": "active"}]
            for x, status in self.side_tips:
                tips.append({"height": self.chain.height(x), "hash": x,
                             "branchlen": self.branchlen(x), "status": status})
            return tips
        if method == "getblockheader":
            x = params[0]
            if x not in self.chain.headers:
                raise RpcError(-5, "Block not found")
            h, prev = self.chain.headers[x]
            r = load("getblockheader.json")
            r["hash"], r["height"] = x, h
            r["confirmations"] = self.chain.height(self.tip) - h + 1
            if prev:
                r["previousblockhash"] = prev
            else:
                del r["previousblockhash"]
            return r
        raise RpcError(-32601, "Method not found")

    def start(self):
        node = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def reply(self, code, obj):
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(n))
                want = "Basic " + base64.b64encode(
                    ("__cookie__:" + node.password).encode()).decode()
                if self.headers.get("Authorization") != want:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                reqs = body if isinstance(body, list) else [body]
                for r in reqs:
                    d = node.delay.get(r.get("method"))
                    if d:
                        time.sleep(d)
                out = []
                for r in reqs:
                    m = r.get("method")
                    with node.lock:
                        node.calls[m] = node.calls.get(m, 0) + 1
                        fail = node.failing.get(m)
                        if fail == "http":
                            self.reply(500, {"result": None, "id": r.get("id"),
                                             "error": {"code": -1, "message": "scripted"}})
                            return
                        try:
                            res = copy.deepcopy(node.answer(m, r.get("params") or []))
                            out.append({"result": res, "error": None, "id": r.get("id")})
                        except RpcError as e:
                            out.append({"result": None, "id": r.get("id"),
                                        "error": {"code": e.code, "message": e.msg}})
                status = 200
                v2 = not isinstance(body, list) and body.get("jsonrpc") == "2.0"
                if not isinstance(body, list) and out[0]["error"] and not (
                        v2 and node.version >= 28):
                    # Before 28.0 (and for JSON-RPC 1.0 requests after it)
                    # Core answers a failed single call with HTTP 404 (method
                    # not found) or 500, the JSON-RPC error in the body.
                    status = 404 if out[0]["error"]["code"] == -32601 else 500
                self.reply(status, out if isinstance(body, list) else out[0])

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return "http://127.0.0.1:%d/" % self.server.server_address[1]

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()


class RpcError(Exception):
    def __init__(self, code, msg):
        super().__init__(msg)
        self.code, self.msg = code, msg
