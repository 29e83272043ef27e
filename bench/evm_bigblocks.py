"""A node that serves big blocks (bench/evm_follow.py's big-block phase):
blocks 1..HEAD of TXS transactions each, with receipts, about 10 MB of
JSON per block, answered over HTTP to eth_blockNumber,
eth_getBlockByNumber and eth_getBlockReceipts (batches too). The text is
made once from a template per block, so the node keeps up with the
follower. Each block's hash is derived from its number, and each block's
parentHash is the previous one's hash."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "0x" + "7e" * 20
ME = "0x" + "f3" * 20
TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def bhash(n):
    return "0x" + "b0" * 24 + f"{n:016x}"


def templates(txs, input_bytes, logs):
    """Block and receipts JSON texts with @N@ (number), @H@ (hash) and @P@
    (parent hash) to fill in."""
    tx, rc = [], []
    for i in range(txs):
        th = "0x" + "70" * 24 + f"{i:016x}"
        tx.append({"hash": th, "blockHash": "@H@", "blockNumber": "@N@",
                   "transactionIndex": hex(i), "from": ME, "to": TOKEN, "value": "0x0",
                   "nonce": hex(i), "gas": "0x30000", "gasPrice": "0x3b9aca00",
                   "input": "0xa9059cbb" + "ab" * input_bytes, "type": "0x0"})
        rc.append({"transactionHash": th, "transactionIndex": hex(i), "blockHash": "@H@",
                   "blockNumber": "@N@", "from": ME, "to": TOKEN, "status": "0x1",
                   "gasUsed": "0x9000", "cumulativeGasUsed": "0x9000",
                   "effectiveGasPrice": "0x3b9aca00", "type": "0x0", "contractAddress": None,
                   "logsBloom": "0x" + "00" * 256,
                   "logs": [{"address": TOKEN, "topics": [TRANSFER, "0x" + "00" * 12 + ME[2:],
                                                          "0x" + "00" * 31 + "01"],
                             "data": "0x" + "00" * 31 + "07", "blockNumber": "@N@",
                             "transactionHash": th, "transactionIndex": hex(i),
                             "blockHash": "@H@", "logIndex": hex(i * logs + k), "removed": False}
                            for k in range(logs)]})
    blk = {"number": "@N@", "hash": "@H@", "parentHash": "@P@", "timestamp": "0x65000000",
           "miner": "0x" + "00" * 20, "gasUsed": "0x5208", "gasLimit": "0x1c9c380",
           "baseFeePerGas": "0x7", "transactions": tx}
    return json.dumps(blk), json.dumps(rc)


class BigNode:
    def __init__(self, head, txs=2500, input_bytes=1000, logs=1):
        self.head = head
        self.blk, self.rc = templates(txs, input_bytes, logs)
        self.block_bytes = len(self.blk) + len(self.rc)
        # Made before the follower starts, so the node takes little CPU
        # from it while it is measured.
        self.texts = {(m, n): self.fill(t, n) for n in range(1, head + 1)
                      for m, t in (("b", self.blk), ("r", self.rc))}
        node = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                text = node.answer(json.loads(self.rfile.read(n))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *a):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def fill(self, text, n):
        return (text.replace("@N@", hex(n)).replace("@H@", bhash(n))
                .replace("@P@", bhash(n - 1)))

    def result(self, method, params):
        if method == "eth_blockNumber":
            return json.dumps(hex(self.head))
        n = int(params[0], 16)
        if n > self.head:
            return "null"
        if method == "eth_getBlockReceipts":
            return self.texts[("r", n)]
        if not params[1]:
            return json.dumps({"number": hex(n), "hash": bhash(n), "parentHash": bhash(n - 1),
                               "transactions": []})
        return self.texts[("b", n)]

    def answer(self, req):
        batch = isinstance(req, list)
        out = []
        for r in (req if batch else [req]):
            out.append('{"jsonrpc":"2.0","id":%s,"result":%s}' % (
                json.dumps(r.get("id")), self.result(r.get("method"), r.get("params") or [])))
        return "[" + ",".join(out) + "]" if batch else out[0]

    def close(self):
        self.http.shutdown()
