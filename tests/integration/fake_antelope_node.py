"""A fixture Antelope chain for tests: the chain API of nodeos (POST
/v1/chain/get_info, get_block, get_block_info, get_producers,
get_producer_schedule) over blocks produced on the real slot rule, with
scripted faults. Shapes: tests/data/antelope/README.md.

Time: chain time runs in 0.5 s slots (block timestamps step 500 ms, as on a
real chain); `slot_ms` is the wall-clock length of one slot here, so a test
runs at 50 ms a slot. Each producer of the active schedule (sorted by name,
as the system contract does) owns 12 consecutive slots. `history` blocks
are made at once before the live chain starts (for the bench).

Nodes: the chain is served on one port per node. Node "api" is the
canonical view; own-producer nodes (script "own": {"account", "nodes"}) are
further ports. A node can lag (serve the chain some blocks behind) and a
producing standby serves the blocks it signed itself: in a double-production
round the standby signs the own account's slots too, so its get_block at
those heights answers a different block (another id) by the same producer.

Faults (script "faults", rounds counted from the first live round, 0):
  {"kind": "miss_round", "producer": P, "round": R}     no block in P's 12 slots
  {"kind": "miss_blocks", "producer": P, "round": R, "count": 5}
                                                       P's first `count` slots empty
  {"kind": "schedule", "round": R, "remove": P, "add": S}
                                                       proposed at R, active from R+2
  {"kind": "fork", "round": R, "depth": 3}              at the start of R+1, the
                                                       last `depth` blocks of R replaced
  {"kind": "double", "round": R}                       own standby also signs in R
  {"kind": "lag", "node": N, "blocks": 30, "round": R}  node N lags from R on

Run: python3 fake_antelope_node.py --script s.json --slot-ms 50 --ports-file p.json
(the file gets {"api": url, "<node>": url, ...} once listening), or import
Chain/serve from a test."""
import argparse
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EPOCH_MS = 946684800000  # block_timestamp_type counts 0.5 s slots from 2000-01-01
CHAIN_ID = "8a34ec7df1b8cd06ff4a8abbaa7cc50300823350cadc59ab296cb00d104d2b8f"
REPS = 12


def names(prefix, n):
    """Antelope account names: a-z, 1-5, '.', at most 12 characters."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    return [prefix + letters[i // 26] + letters[i % 26] for i in range(n)]


def ts(slot):
    ms = EPOCH_MS + slot * 500
    t = time.gmtime(ms // 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".%03d" % (ms % 1000)


def block_id(num, producer, variant=""):
    """An id shaped like nodeos': sha256 with the block number in its first 4 bytes."""
    h = hashlib.sha256(f"{num}:{producer}:{variant}".encode()).hexdigest()
    return "%08x" % num + h[8:]


class Chain:
    def __init__(self, script=None, slot_ms=500, history=0, lib_depth=24):
        script = script or {}
        self.slot_ms = slot_ms
        self.lib_depth = lib_depth
        nprod = script.get("producers", 21)
        own = script.get("own") or {}
        self.own_account = own.get("account")
        prods = names("bp", nprod - (1 if self.own_account else 0))
        if self.own_account:
            prods.append(self.own_account)
        self.schedule = sorted(prods)
        self.version = 1
        self.standbys = names("sb", script.get("standbys", 3))
        self.proposed = None  # (version, producers, from_round)
        self.faults = script.get("faults", [])
        self.own_nodes = own.get("nodes", [])
        self.lag = {}  # node -> blocks behind
        self.lock = threading.Lock()
        self.blocks = []  # index num-1: dict
        self.competing = {}  # node -> {num: block}
        self.forks = 0
        round_slots = REPS * len(self.schedule)
        now_slot = (int(time.time() * 1000) - EPOCH_MS) // 500
        self.live_slot0 = (now_slot // round_slots + 1) * round_slots
        first = self.live_slot0 - history
        for s in range(first, self.live_slot0):
            self._produce(s, self.schedule, None)
        self.wall0 = time.time() + 0.2
        self.next_slot = self.live_slot0
        self.stop = False

    # ---- production ----------------------------------------------------------

    def producer_of(self, slot, sched):
        return sched[(slot % (REPS * len(sched))) // REPS]

    def _produce(self, slot, sched, variant):
        prod = self.producer_of(slot, sched)
        num = len(self.blocks) + 1
        prev = self.blocks[-1]["id"] if self.blocks else "0" * 64
        b = {"num": num, "slot": slot, "producer": prod, "previous": prev,
             "id": block_id(num, prod, variant or ""), "version": self.version,
             "ntrx": num % 3, "new_producers": None}
        self.blocks.append(b)
        return b

    def _round_of(self, slot):
        return (slot - self.live_slot0) // (REPS * len(self.schedule))

    def step(self):
        """Makes the next slot's block (or misses it); under the lock."""
        slot = self.next_slot
        self.next_slot += 1
        rs = REPS * len(self.schedule)
        r = self._round_of(slot)
        in_round = (slot - self.live_slot0) % rs
        if in_round == 0:
            self._round_start(r)
        prod = self.producer_of(slot, self.schedule)
        turn = in_round % REPS
        for f in self.faults:
            if f.get("round") != r:
                continue
            if f["kind"] == "miss_round" and f["producer"] == prod:
                return
            if f["kind"] == "miss_blocks" and f["producer"] == prod and turn < f.get("count", 5):
                return
        b = self._produce(slot, self.schedule, None)
        if self.proposed and self.proposed[2] == r and in_round == 0:
            b["new_producers"] = {"version": self.proposed[0],
                                  "producers": [{"producer_name": p, "block_signing_key":
                                                 "EOS6MRyAjQq8ud7hVNYcfnVPJqcVpscN5So8BhtHuGYqET5GDW5CV"}
                                                for p in self.proposed[1]]}
        for f in self.faults:
            if f["kind"] == "double" and f.get("round") == r and prod == self.own_account \
                    and len(self.own_nodes) > 1:
                other = dict(b, id=block_id(b["num"], prod, "standby"))
                self.competing.setdefault(self.own_nodes[1], {})[b["num"]] = other

    def _round_start(self, r):
        for f in self.faults:
            if f["kind"] == "schedule" and f.get("round") == r:
                new = sorted([p for p in self.schedule if p != f["remove"]] + [f["add"]])
                self.proposed = (self.version + 1, new, r)
            if f["kind"] == "fork" and f.get("round") == r - 1:
                self._fork(f.get("depth", 3))
            if f["kind"] == "lag" and f.get("round") == r:
                self.lag[f["node"]] = f.get("blocks", 30)
        if self.proposed and r == self.proposed[2] + 2:
            pool = set(self.schedule) | set(self.standbys)
            self.version, self.schedule = self.proposed[0], self.proposed[1]
            self.standbys = sorted(pool - set(self.schedule))
            self.proposed = None

    def _fork(self, depth):
        """Replaces the last `depth` blocks (above LIB) by others at the same heights."""
        depth = min(depth, self.lib_depth - 1, len(self.blocks) - 1)
        self.forks += 1
        base = len(self.blocks) - depth
        for i in range(base, len(self.blocks)):
            b = self.blocks[i]
            b["id"] = block_id(b["num"], b["producer"], f"fork{self.forks}")
            b["previous"] = self.blocks[i - 1]["id"]
            b["ntrx"] = (b["ntrx"] + 1) % 3

    def run(self):
        while not self.stop:
            due = self.wall0 + (self.next_slot - self.live_slot0 + 1) * self.slot_ms / 1000.0
            d = due - time.time()
            if d > 0:
                time.sleep(min(d, 0.05))
                continue
            with self.lock:
                self.step()

    # ---- the chain API -------------------------------------------------------

    def view(self, node):
        """(head, blocks) as node sees them."""
        head = len(self.blocks) - self.lag.get(node, 0)
        return max(head, 0)

    def block_at(self, node, num):
        if num < 1 or num > self.view(node):
            return None
        c = self.competing.get(node, {}).get(num)
        return c or self.blocks[num - 1]

    def lib(self, node):
        return max(self.view(node) - self.lib_depth, 0)

    def get_info(self, node):
        head = self.view(node)
        hb = self.block_at(node, head)
        lib = self.lib(node)
        lb = self.block_at(node, lib) if lib else None
        return {
            "server_version": "7b1dd8a1", "chain_id": CHAIN_ID,
            "head_block_num": head, "last_irreversible_block_num": lib,
            "last_irreversible_block_id": lb["id"] if lb else "0" * 64,
            "head_block_id": hb["id"] if hb else "0" * 64,
            "head_block_time": ts(hb["slot"] if hb else self.live_slot0),
            "head_block_producer": hb["producer"] if hb else "eosio",
            "virtual_block_cpu_limit": 200000000, "virtual_block_net_limit": 1048576000,
            "block_cpu_limit": 200000, "block_net_limit": 1048576,
            "server_version_string": "v5.0.2",
            "fork_db_head_block_num": head, "fork_db_head_block_id": hb["id"] if hb else "0" * 64,
            "server_full_version_string": "v5.0.2-7b1dd8a1",
            "total_cpu_weight": "381129887000", "total_net_weight": "98012755000",
            "earliest_available_block_num": 1,
            "last_irreversible_block_time": ts(lb["slot"] if lb else self.live_slot0),
        }

    @staticmethod
    def trx(b, i):
        tid = hashlib.sha256(f"{b['id']}:{i}".encode()).hexdigest()
        if i == 1:  # a deferred transaction: nodeos gives only its id
            return {"status": "executed", "cpu_usage_us": 120, "net_usage_words": 0, "trx": tid}
        acts = [{"account": "eosio.token", "name": "transfer",
                 "authorization": [{"actor": b["producer"], "permission": "active"}],
                 "data": {"from": b["producer"], "to": "eosio", "quantity": "1.0000 EOS",
                          "memo": "fixture"},
                 "hex_data": "00"} for _ in range(2)]
        return {"status": "executed", "cpu_usage_us": 250, "net_usage_words": 16,
                "trx": {"id": tid, "signatures": ["SIG_K1_fixture"], "compression": "none",
                        "packed_context_free_data": "", "context_free_data": [],
                        "packed_trx": "00",
                        "transaction": {"expiration": ts(b["slot"] + 60),
                                        "ref_block_num": b["num"] & 0xffff,
                                        "ref_block_prefix": 1234567,
                                        "max_net_usage_words": 0, "max_cpu_usage_ms": 0,
                                        "delay_sec": 0, "context_free_actions": [],
                                        "actions": acts, "transaction_extensions": []}}}

    def header(self, b):
        return {"timestamp": ts(b["slot"]), "producer": b["producer"], "confirmed": 0,
                "previous": b["previous"], "transaction_mroot": "0" * 64,
                "action_mroot": hashlib.sha256(b["id"].encode()).hexdigest(),
                "schedule_version": b["version"],
                "producer_signature": "SIG_K1_" + b["id"][8:40]}

    def get_block(self, node, b):
        out = self.header(b)
        out.update({"new_producers": b["new_producers"], "header_extensions": [],
                    "transactions": [self.trx(b, i) for i in range(b["ntrx"])],
                    "block_extensions": [], "id": b["id"], "block_num": b["num"],
                    "ref_block_prefix": int(b["id"][16:24], 16)})
        return out

    def get_block_info(self, node, b):
        out = self.header(b)
        out.update({"block_num": b["num"], "ref_block_num": b["num"] & 0xffff, "id": b["id"],
                    "ref_block_prefix": int(b["id"][16:24], 16)})
        return out

    def schedule_json(self, version, prods):
        return {"version": version, "producers": [
            {"producer_name": p, "authority": [0, {"threshold": 1, "keys": [
                {"key": "EOS6MRyAjQq8ud7hVNYcfnVPJqcVpscN5So8BhtHuGYqET5GDW5CV",
                 "weight": 1}]}]} for p in prods]}

    def get_schedule(self):
        out = {"active": self.schedule_json(self.version, self.schedule),
               "pending": None, "proposed": None}
        if self.proposed:
            out["proposed"] = self.schedule_json(self.proposed[0], self.proposed[1])
        return out

    def get_producers(self, req):
        allp = sorted(set(self.schedule) | set(self.standbys))
        rows = [{"owner": p, "total_votes": "%d.00000000000000000" % (10 ** 15 - i * 10 ** 12),
                 "producer_key": "EOS6MRyAjQq8ud7hVNYcfnVPJqcVpscN5So8BhtHuGYqET5GDW5CV",
                 "is_active": 1, "url": f"https://{p}.example", "unpaid_blocks": 0,
                 "last_claim_time": "2024-01-01T00:00:00.000", "location": 0}
                for i, p in enumerate(allp)]
        limit = int(req.get("limit", 50) or 50)
        lower = req.get("lower_bound") or ""
        rows = [r for r in rows if r["owner"] >= lower]
        more = rows[limit]["owner"] if len(rows) > limit else ""
        return {"rows": rows[:limit], "total_producer_vote_weight": "1.0e+17", "more": more}

    def answer(self, node, path, req):
        """(status, body) for a POST."""
        with self.lock:
            if path == "/v1/chain/get_info":
                return 200, self.get_info(node)
            if path == "/v1/chain/get_producer_schedule":
                return 200, self.get_schedule()
            if path == "/v1/chain/get_producers":
                return 200, self.get_producers(req)
            if path in ("/v1/chain/get_block", "/v1/chain/get_block_info"):
                key = req.get("block_num_or_id" if path.endswith("get_block") else "block_num")
                b = None
                if isinstance(key, str) and len(key) == 64:
                    b = self.block_at(node, int(key[:8], 16))
                    b = b if b and b["id"] == key else None
                else:
                    try:
                        b = self.block_at(node, int(key))
                    except (TypeError, ValueError):
                        return 400, error(400, "Invalid Request", 3010008, "block_id_type_exception",
                                          "Invalid block ID")
                if not b:
                    return 400, error(400, "Unknown Block", 3100002, "unknown_block_exception",
                                      "Could not find block: %s" % key)
                return 200, (self.get_block if path.endswith("get_block")
                             else self.get_block_info)(node, b)
            if path == "/fixture/state":
                return 200, {"head": len(self.blocks),
                             "ids": {str(b["num"]): b["id"] for b in self.blocks[-400:]},
                             "schedule": self.schedule, "version": self.version,
                             "forks": self.forks}
        return 404, error(404, "Not Found", 0, "", "Unknown Endpoint")


def error(code, message, ecode, name, what):
    """nodeos' error envelope."""
    return {"code": code, "message": message,
            "error": {"code": ecode, "name": name, "what": what,
                      "details": [{"message": what, "file": "", "line_number": 0,
                                   "method": ""}]}}


def serve(chain, node):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # one write per answer, sent at once (no Nagle wait on a kept-alive connection)
        wbufsize = 1 << 16
        disable_nagle_algorithm = True

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(n)
            try:
                req = json.loads(raw or b"{}")
                if not isinstance(req, dict):
                    req = {}
            except ValueError:
                req = {}
            status, body = chain.answer(node, self.path, req)
            text = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        do_GET = do_POST

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


def start(script=None, slot_ms=500, history=0):
    """Starts a chain and its nodes; returns (chain, {node: url})."""
    chain = Chain(script, slot_ms=slot_ms, history=history)
    urls = {}
    for node in ["api"] + list(chain.own_nodes):
        urls[node] = serve(chain, node)[1]
    threading.Thread(target=chain.run, daemon=True).start()
    return chain, urls


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--script", help="a JSON script of producers and faults")
    ap.add_argument("--slot-ms", type=int, default=500)
    ap.add_argument("--history", type=int, default=0)
    ap.add_argument("--ports-file")
    a = ap.parse_args()
    script = json.load(open(a.script)) if a.script else None
    _, urls = start(script, a.slot_ms, a.history)
    if a.ports_file:
        with open(a.ports_file + ".tmp", "w") as f:
            json.dump(urls, f)
        import os
        os.replace(a.ports_file + ".tmp", a.ports_file)
    else:
        print(json.dumps(urls), flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
