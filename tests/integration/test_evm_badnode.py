"""The follower against a node that sends bad data: odd-length hex, a receipt
that does not match its transaction, a receipt without gasUsed, a log whose
data is shorter than its ABI says, a malformed JSON body (once). Each problem
is reported naming the block and transaction, and the follower carries on
to the blocks after it. Run twice: with eth_getBlockReceipts, and with
per-transaction receipts (over HTTP and over IPC). An invalid ABI file is
refused naming the file."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evm_common as ec  # noqa: E402
from fake_evm_node import RAW, FakeNode, RpcError  # noqa: E402

TOKEN = "0x" + "7e" * 20
ME = "0x" + "f3" * 20
TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
HEAD = 7


def h(n, tag):
    return "0x" + f"{tag:02x}" * 24 + f"{n:016x}"


def block_hash(n):
    return h(n, 0xb0)


def tx_hash(n):
    return h(n, 0x70)


def word(v):
    return f"{v:064x}"


def make_chain():
    blocks, receipts = {}, {}
    for n in range(HEAD + 1):
        txs = [] if n == 0 else [{
            "hash": tx_hash(n), "blockHash": block_hash(n), "blockNumber": hex(n),
            "transactionIndex": "0x0", "from": ME, "to": TOKEN, "value": "0x0",
            "nonce": hex(n), "gas": "0x30000", "gasPrice": "0x3b9aca00",
            "input": "0xa9059cbb" + word(1) + word(1000 + n), "type": "0x0"}]
        blocks[n] = {"number": hex(n), "hash": block_hash(n),
                     "parentHash": block_hash(n - 1) if n else "0x" + "00" * 32,
                     "timestamp": hex(1700000000 + n), "miner": "0x" + "00" * 20,
                     "gasUsed": "0x5208", "gasLimit": "0x1c9c380", "baseFeePerGas": "0x7",
                     "transactions": txs}
        receipts[n] = [{
            "transactionHash": tx_hash(n), "transactionIndex": "0x0", "blockHash": block_hash(n),
            "blockNumber": hex(n), "from": ME, "to": TOKEN, "status": "0x1", "gasUsed": "0x9000",
            "cumulativeGasUsed": "0x9000", "effectiveGasPrice": "0x3b9aca00", "type": "0x0",
            "contractAddress": None, "logsBloom": "0x" + "00" * 256,
            "logs": [{"address": TOKEN, "topics": [TRANSFER, "0x" + "00" * 12 + ME[2:],
                                                   "0x" + word(1)],
                      "data": "0x" + word(1000 + n), "blockNumber": hex(n),
                      "transactionHash": tx_hash(n), "transactionIndex": "0x0",
                      "blockHash": block_hash(n), "logIndex": "0x0", "removed": False}]}
                       for _ in txs]
    # The bad data.
    receipts[2][0]["logs"][0]["data"] = "0x123"                      # odd-length hex
    receipts[3][0]["transactionHash"] = h(3, 0x99)                   # not the tx's receipt
    del receipts[4][0]["gasUsed"]                                    # missing field
    receipts[6][0]["logs"][0]["data"] = "0x" + "00" * 16             # short for uint256
    return blocks, receipts


class Node:
    def __init__(self, with_block_receipts):
        self.blocks, self.receipts = make_chain()
        self.with_block_receipts = with_block_receipts
        self.glitched = False

    def __call__(self, method, params):
        if method == "eth_blockNumber":
            return hex(HEAD)
        if method == "eth_getBlockByNumber":
            n = int(params[0], 16)
            b = self.blocks.get(n)
            if b and not params[1]:
                b = dict(b, transactions=[t["hash"] for t in b["transactions"]])
            return b
        if method == "eth_getBlockReceipts":
            if not self.with_block_receipts:
                raise RpcError(-32601, "the method eth_getBlockReceipts does not exist")
            n = int(params[0], 16)
            if n == 5 and not self.glitched:
                self.glitched = True
                return RAW('{"jsonrpc":"2.0","id":1,"result":[{"transactionHash":')
            return self.receipts.get(n)
        if method == "eth_getTransactionReceipt":
            for rs in self.receipts.values():
                for r in rs:
                    if r.get("transactionHash") == params[0]:
                        return r
            # The mismatching receipt of block 3 is still the one sent for it.
            if params[0] == tx_hash(3):
                return self.receipts[3][0]
            return None
        raise RpcError(-32601, f"the method {method} does not exist")


ABI = [{"type": "event", "name": "Transfer", "anonymous": False, "inputs": [
    {"name": "from", "type": "address", "indexed": True},
    {"name": "to", "type": "address", "indexed": True},
    {"name": "value", "type": "uint256", "indexed": False}]},
    {"type": "function", "name": "transfer", "inputs": [
        {"name": "to", "type": "address"}, {"name": "value", "type": "uint256"}], "outputs": []}]


def run(tmp, per_tx, ipc=False):
    sock = os.path.join(tmp, f"geth{per_tx}.ipc") if ipc else None
    node = FakeNode(Node(not per_tx), ipc_path=sock)
    try:
        abi = os.path.join(tmp, "token.json")
        with open(abi, "w") as f:
            json.dump(ABI, f)
        args = ["--rpc", sock or node.url, "--from", 0, "--until", HEAD, "--poll", 100,
                "--abi", f"{TOKEN}={abi}"]
        if per_tx:
            args.append("--per-tx-receipts")
        f = ec.Follower(*args, stderr_path=os.path.join(tmp, f"bad{per_tx}{ipc}.err"))
        f.p.wait(timeout=60)
        f.t.join(timeout=5)
        err = f.stderr()
        assert f.p.returncode == 0, (f.p.returncode, err)
        # Every block was published, in order, once.
        assert [e["payload"]["number"] for e in f.of("evm.block")] == list(range(HEAD + 1)), err
        logs = {e["payload"]["block_number"]: e["payload"] for e in f.of("evm.log")}
        txs = {e["payload"]["block_number"]: e["payload"] for e in f.of("evm.tx")}
        # Good blocks: decoded log and call.
        for n in (1, 5, 7):
            assert logs[n]["args"]["value"] == 1000 + n, logs[n]
            assert txs[n]["function"] == "transfer" and txs[n]["args"]["value"] == 1000 + n
        # Block 2: the odd-length log data is named; the tx is still there.
        assert f"block 2 tx {tx_hash(2)}: log data: odd number of hex digits" in err, err
        assert 2 in txs and 2 not in logs
        # Block 3: the receipt belongs to another transaction.
        assert "block 3 tx" in err and "does not match transaction" in err, err
        assert 3 not in txs
        # Block 4: gasUsed missing.
        assert f"block 4 tx {tx_hash(4)}: receipt: gasUsed missing" in err, err
        # Block 6: short data -> published with the decode error.
        assert "decode_error" in logs[6] and "args" not in logs[6], logs[6]
        assert "event Transfer: argument value" in logs[6]["decode_error"], logs[6]
        if not per_tx:
            assert "malformed response" in err and '"params":["0x5"]' in err, err
        else:
            assert "no eth_getBlockReceipts" not in err  # it was never asked
    finally:
        node.close()


def main():
    tmp = tempfile.mkdtemp(prefix="cs-evm-bad-")
    try:
        run(tmp, False)
        run(tmp, True)
        run(tmp, True, ipc=True)  # the same over a geth.ipc-style socket
        # An invalid ABI file: exit 3, the file named.
        bad = os.path.join(tmp, "bad.json")
        with open(bad, "w") as f:
            f.write('[{"type":"event","name":"X","inputs":[{"name":"a","type":"uint9"}]}]')
        r = subprocess.run([ec.CS, "evm", "follow", "--rpc", "http://127.0.0.1:1",
                            "--abi", f"{TOKEN}={bad}"], capture_output=True, text=True, timeout=10)
        assert r.returncode == 3 and "bad.json" in r.stderr and "uint9" in r.stderr, r.stderr
        r = subprocess.run([ec.CS, "evm", "follow", "--rpc", "http://127.0.0.1:1",
                            "--abi", "0x12=x.json"], capture_output=True, text=True, timeout=10)
        assert r.returncode == 2 and "20-byte" in r.stderr, r.stderr
    finally:
        ec.stop_all()
    print("ok")


if __name__ == "__main__":
    main()
