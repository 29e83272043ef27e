"""Fixture block producers for the bp.json and endpoint checks: one process
(threads) serving a minimal chain API and, per producer, its web site.

- The chain API (plain HTTP): POST /v1/chain/get_info (CHAIN_ID),
  /v1/chain/get_producers (rows by votes, Antelope's shape; at most --page
  rows an answer, the next row's owner in `more`, from `lower_bound`) and
  /v1/chain/get_producer_schedule.
- Per producer an HTTPS site on its own 127.0.0.1 port with its own leaf
  certificate (signed by a test CA made here with the `openssl` CLI):
  /bp.json, /chains.json (where scripted) and POST /v1/chain/get_info,
  which the site's bp.json advertises as its ssl_endpoint.
- One P2P listener that greets every connection with the first bytes of
  an Antelope net message: a 4-byte little-endian length, then type 0
  (handshake_message).

Producers (the first six carry the scripted faults; more are like the
first):
  bpgood        everything right; chains.json names /mainnet.json for the
                chain; its only API endpoint is plain HTTP and redirects
                (301) to its https site
  bpbadjson     bp.json without producer_account_name, org.email and
                nodes[0].location; its p2p_endpoint is a closed port
  bpwrongchain  its API answers another chain id; chains.json lists only
                another chain
  bpnocors      no Access-Control-Allow-Origin; certificate expires in 5 days
  bphttponly    site and API on plain HTTP only, no redirect (inactive)
  bpexpired     certificate expired yesterday: nothing of it can be read
Shapes: tests/data/antelope-bp/README.

Run: python3 fake_bp_sites.py --dir D --producers N [--delay-ms MS]
--ports-file F (F gets
{"api": url, "ca": path, "producers": {name: site url}} once listening),
or import start() from a test."""
import argparse
import json
import os
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHAIN_ID = "8a34ec7df1b8cd06ff4a8abbaa7cc50300823350cadc59ab296cb00d104d2b8f"
OTHER_CHAIN = "73e4385a2708e6d7048834fbc1079f2fabb17b3c125b146af438971e90716c4d"
VERSION = "v5.0.2"
FAULTS = ["bpgood", "bpbadjson", "bpwrongchain", "bpnocors", "bphttponly", "bpexpired"]
KEY = "EOS6MRyAjQq8ud7hVNYcfnVPJqcVpscN5So8BhtHuGYqET5GDW5CV"
DELAY = 0.0  # s before each answer of a producer's site and P2P greeting (--delay-ms)


def producer_names(n):
    letters = "abcdefghijklmnopqrstuvwxyz"
    extra = ["bpok" + letters[i // 26] + letters[i % 26] for i in range(max(0, n - len(FAULTS)))]
    return (FAULTS + extra)[:n]


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_ca(d):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
            "-subj", "/CN=chainscope test CA", cwd=d)
    with open(os.path.join(d, "leaf.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
    return os.path.join(d, "ca.pem")


def make_leaf(d, name, days):
    """A leaf for 127.0.0.1 valid `days` from now (negative: expired)."""
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name, cwd=d)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", str(days), "-extfile", "leaf.ext",
            "-out", name + ".pem", cwd=d)
    return os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")


def bp_json(name, site, p2p, api=None, bad=False, ssl=True):
    loc = {"name": "Paris", "country": "FR", "latitude": 48.85, "longitude": 2.35}
    query = {"location": loc, "node_type": ["query", "seed"], "p2p_endpoint": p2p,
             "features": ["chain-api"]}
    if ssl and site.startswith("https://"):
        query["ssl_endpoint"] = site
    if api:
        query["api_endpoint"] = api
    doc = {
        "producer_account_name": name,
        "producer_public_key": KEY,
        "org": {
            "candidate_name": name.upper(),
            "website": "https://%s.example" % name,
            "email": "ops@%s.example" % name,
            "branding": {"logo_256": "https://%s.example/256.png" % name,
                         "logo_1024": "https://%s.example/1024.png" % name,
                         "logo_svg": "https://%s.example/logo.svg" % name},
            "location": loc,
            "social": {"github": name},
        },
        "nodes": [{"location": loc, "node_type": "producer"}, query],
    }
    if bad:
        del doc["producer_account_name"]
        del doc["org"]["email"]
        del doc["nodes"][0]["location"]
    return doc


def get_info(chain_id):
    return {"server_version": "7b1dd8a1", "chain_id": chain_id, "head_block_num": 1000,
            "last_irreversible_block_num": 700, "last_irreversible_block_id": "0" * 64,
            "head_block_id": "%08x" % 1000 + "0" * 56,
            "head_block_time": time.strftime("%Y-%m-%dT%H:%M:%S.000", time.gmtime()),
            "head_block_producer": "bpgood", "server_version_string": VERSION,
            "server_full_version_string": VERSION + "-7b1dd8a1"}


class Site:
    """One producer's web site: documents and get_info, or a redirect."""

    def __init__(self, name, routes, cors=True, chain_id=CHAIN_ID, redirect=None):
        self.name, self.routes, self.cors = name, routes, cors
        self.chain_id, self.redirect = chain_id, redirect
        self.hits = 0

    def answer(self, method, path, body=b""):
        self.hits += 1
        if DELAY:
            time.sleep(DELAY)  # a site across the Internet, for the bench
        if self.redirect:
            return 301, {"Location": self.redirect + path}, b""
        if path == "/v1/chain/get_info":
            return 200, {}, json.dumps(get_info(self.chain_id)).encode()
        if method == "GET" and path in self.routes:
            return 200, {}, json.dumps(self.routes[path]).encode()
        return 404, {}, b'{"code":404,"message":"Not Found"}'


def serve(site, tls=None):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = 1 << 16
        disable_nagle_algorithm = True

        def reply(self, method):
            n = int(self.headers.get("Content-Length", "0") or 0)
            req = self.rfile.read(n) if n else b""
            status, headers, body = site.answer(method, self.path, req)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if site.cors:
                self.send_header("Access-Control-Allow-Origin", "*")
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(body)

        def do_GET(self):
            self.reply("GET")

        def do_POST(self):
            self.reply("POST")

        def do_HEAD(self):
            self.reply("HEAD")

        def log_message(self, *a):
            pass

    class S(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128

        def get_request(self):
            sock, addr = self.socket.accept()
            if tls:  # the handshake in the connection's thread, not the listener's
                sock = tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            return sock, addr

        def handle_error(self, request, client_address):
            pass  # a client refusing our certificate is what some tests expect

    srv = S(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    scheme = "https" if tls else "http"
    return srv, "%s://127.0.0.1:%d" % (scheme, srv.server_address[1])


def p2p_listener():
    """Greets each connection with a handshake_message's first bytes."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(128)

    def greet(c):
        try:
            if DELAY:
                time.sleep(DELAY)
            body = bytes([0]) + b"\x00" * 64  # type 0, then a truncated handshake
            c.sendall(len(body).to_bytes(4, "little") + body)
            c.settimeout(2)
            c.recv(64)
        except OSError:
            pass
        finally:
            c.close()

    def loop():
        while True:
            c, _ = ls.accept()
            threading.Thread(target=greet, args=(c,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
    return ls, "127.0.0.1:%d" % ls.getsockname()[1]


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return "127.0.0.1:%d" % port


class Fixture:
    def __init__(self, d, n, page=25):
        self.dir = d
        self.page = page  # rows of get_producers in one answer at most, as a node's time limit
        self.ca = make_ca(d)
        self.names = producer_names(n)
        self.keep = []
        self.sites = {}
        _, self.p2p = p2p_listener()
        self.urls = {}
        for name in self.names:
            self._producer(name)
        self.chain_api = Chain(self)
        self.chain, self.api = serve(self.chain_api)

    def _producer(self, name):
        days = {"bpnocors": 5, "bpexpired": -1}.get(name, 365)
        https = name != "bphttponly"
        tls = None
        if https:
            cert, key = make_leaf(self.dir, name, days)
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls.load_cert_chain(cert, key)
        site = Site(name, {}, cors=name != "bpnocors",
                    chain_id=OTHER_CHAIN if name == "bpwrongchain" else CHAIN_ID)
        srv, url = serve(site, tls)
        self.keep.append(srv)
        p2p = closed_port() if name == "bpbadjson" else self.p2p
        api = None
        if name == "bpgood":
            r = Site(name + "-http", {}, redirect=url)
            rsrv, api = serve(r)
            self.keep.append(rsrv)
        elif name == "bphttponly":
            api = url
        # bpgood advertises its API by the http URL that redirects to https
        doc = bp_json(name, url, p2p, api=api, bad=name == "bpbadjson", ssl=name != "bpgood")
        routes = {"/bp.json": doc}
        if name == "bpgood":
            routes["/mainnet.json"] = doc
            routes["/bp.json"] = {"not": "the chain's document"}
            routes["/chains.json"] = {"chains": {CHAIN_ID: "/mainnet.json",
                                                 OTHER_CHAIN: "/bp.json"}}
        elif name == "bpwrongchain":
            routes["/chains.json"] = {"chains": {OTHER_CHAIN: "/bp.json"}}
        site.routes = routes
        self.sites[name] = site
        self.urls[name] = url


class Chain:
    """The chain API: get_info, get_producers, get_producer_schedule."""

    def __init__(self, fx):
        self.fx = fx
        self.cors = True
        self.pages = []  # the get_producers requests seen

    def rows(self):
        total = 0
        rows = []
        for i, name in enumerate(self.fx.names):
            votes = 10 ** 15 - i * 10 ** 13
            total += votes
            rows.append({"owner": name, "total_votes": "%d.00000000000000000" % votes,
                         "producer_key": KEY, "is_active": 0 if name == "bphttponly" else 1,
                         "url": self.fx.urls[name], "unpaid_blocks": 0,
                         "last_claim_time": "2024-01-01T00:00:00.000", "location": 0})
        return rows, total

    def answer(self, method, path, body=b""):
        if path == "/v1/chain/get_info":
            return 200, {}, json.dumps(get_info(CHAIN_ID)).encode()
        if path == "/v1/chain/get_producers":
            try:
                req = json.loads(body or b"{}")
            except ValueError:
                req = {}
            rows, total = self.rows()
            self.pages.append(req)
            # nodeos: from the row of lower_bound on, by votes; `more` names
            # the first row left out
            lower = req.get("lower_bound") or ""
            start = next((i for i, r in enumerate(rows) if r["owner"] == lower), 0) if lower else 0
            limit = min(int(req.get("limit", 50) or 50), self.fx.page or len(rows))
            page = rows[start:start + limit]
            more = rows[start + limit]["owner"] if start + limit < len(rows) else ""
            return 200, {}, json.dumps({"rows": page,
                                        "total_producer_vote_weight": "%d.0" % total,
                                        "more": more}).encode()
        if path == "/v1/chain/get_producer_schedule":
            prods = [{"producer_name": n, "authority": [0, {"threshold": 1, "keys": [
                {"key": KEY, "weight": 1}]}]} for n in self.fx.names[:21]]
            return 200, {}, json.dumps({"active": {"version": 1, "producers": prods},
                                        "pending": None, "proposed": None}).encode()
        return 404, {}, b'{"code":404,"message":"Not Found"}'


def start(d, n=6, page=25):
    return Fixture(d, n, page)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True, help="where the certificates are written")
    ap.add_argument("--producers", type=int, default=6)
    ap.add_argument("--page", type=int, default=25, help="get_producers rows per answer at most")
    ap.add_argument("--ports-file")
    ap.add_argument("--delay-ms", type=int, default=0,
                    help="wait before each answer of a producer (a far site)")
    a = ap.parse_args()
    global DELAY
    DELAY = a.delay_ms / 1000.0
    fx = start(a.dir, a.producers, a.page)
    info = {"api": fx.api, "ca": fx.ca, "p2p": fx.p2p, "chain_id": CHAIN_ID,
            "producers": fx.urls}
    if a.ports_file:
        tmp = a.ports_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(info, f)
        os.replace(tmp, a.ports_file)
    else:
        print(json.dumps(info), flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
