"""chainscope evm probe against anvil and against a geth-style node (HTTP and
IPC) that answers admin_* and clique_* the way geth documents them."""
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evm_common as ec  # noqa: E402
from fake_evm_node import FakeNode, RpcError  # noqa: E402

SIGNERS = ["0x" + "a1" * 20, "0x" + "b2" * 20]
ENODE = ("enode://" + "ab" * 64 + "@127.0.0.1:30303")
added = []


def geth(method, params):
    if method == "eth_blockNumber":
        return "0x1b4"
    if method == "eth_syncing":
        return {"startingBlock": "0x0", "currentBlock": "0x1b4", "highestBlock": "0x1c8"}
    if method == "net_peerCount":
        return "0x3"
    if method == "web3_clientVersion":
        return "Geth/v1.13.15-stable/linux-amd64/go1.21.6"
    if method == "eth_chainId":
        return "0x2a"
    if method == "admin_nodeInfo":
        return {"enode": ENODE, "id": "ab" * 32, "ip": "127.0.0.1", "listenAddr": "[::]:30303",
                "name": "Geth/v1.13.15-stable/linux-amd64/go1.21.6",
                "ports": {"discovery": 30303, "listener": 30303},
                "protocols": {"eth": {"network": 42, "difficulty": 873,
                                      "genesis": "0x" + "00" * 32, "head": "0x" + "11" * 32}}}
    if method == "admin_peers":
        return [{"enode": ENODE, "id": "cd" * 32, "name": "Geth/v1.13.15", "caps": ["eth/68"],
                 "network": {"localAddress": "127.0.0.1:30303", "remoteAddress": "10.0.0.2:4100",
                             "inbound": False, "trusted": False, "static": True},
                 "protocols": {"eth": {"version": 68}}},
                {"enode": ENODE.replace("ab", "ef"), "id": "ef" * 32, "name": "Geth/v1.13.14",
                 "caps": ["eth/68"], "network": {"inbound": True}, "protocols": {}}]
    if method == "admin_addPeer":
        added.append(params[0])
        return True
    if method == "clique_status":
        return {"inturnPercent": 100.0, "numBlocks": 64,
                "sealerActivity": {SIGNERS[0]: 32, SIGNERS[1]: 32}}
    if method == "clique_getSigners":
        return SIGNERS
    if method == "slow_method":
        time.sleep(2)
        return 1
    raise RpcError(-32601, f"the method {method} does not exist/is not available")


def probe(url, *methods, timeout=None):
    args = [ec.CS, "evm", "probe", "--rpc", url]
    if timeout:
        args += ["--timeout", str(timeout)]
    r = subprocess.run(args + list(methods), capture_output=True, text=True, timeout=30)
    evs = {}
    for line in r.stdout.splitlines():
        e = json.loads(line)
        assert e["type"] == "evm.probe", e
        evs[e["payload"]["method"]] = e["payload"]
    return r.returncode, evs


def check_geth(url):
    added.clear()
    rc, ev = probe(url, "eth_blockNumber", "eth_syncing", "net_peerCount", "web3_clientVersion",
                   "eth_chainId", "admin_nodeInfo", "admin_peers", f"admin_addPeer={ENODE}",
                   "clique_status", "clique_getSigners")
    assert rc == 0, (rc, ev)
    assert len(ev) == 10, ev.keys()
    assert all(p["ok"] for p in ev.values()), ev
    assert ev["eth_blockNumber"]["value"] == 436
    assert ev["eth_syncing"]["syncing"] is True
    assert ev["eth_syncing"]["current_block"] == 436 and ev["eth_syncing"]["highest_block"] == 456
    assert ev["net_peerCount"]["value"] == 3
    assert ev["eth_chainId"]["value"] == 42
    assert ev["web3_clientVersion"]["result"].startswith("Geth/v1.13.15")
    assert ev["admin_nodeInfo"]["result"]["enode"] == ENODE
    assert ev["admin_nodeInfo"]["result"]["ports"]["listener"] == 30303
    assert ev["admin_peers"]["count"] == 2
    assert ev["admin_peers"]["result"][0]["network"]["remoteAddress"] == "10.0.0.2:4100"
    assert ev["admin_addPeer"]["result"] is True and added == [ENODE], added
    assert ev["clique_status"]["count"] == 2 and ev["clique_status"]["result"]["numBlocks"] == 64
    assert ev["clique_getSigners"]["result"] == SIGNERS and ev["clique_getSigners"]["count"] == 2
    for p in ev.values():
        assert 0 <= p["latency_ms"] < 5000, p


def main():
    tmp = tempfile.mkdtemp(prefix="cs-evm-probe-")
    ipc = os.path.join(tmp, "geth.ipc")
    node = FakeNode(geth, ipc_path=ipc)
    try:
        check_geth(node.url)  # HTTP
        check_geth(ipc)       # IPC, like geth.ipc

        # A JSON-RPC error and a timeout: the probe says so, exit 1.
        rc, ev = probe(node.url, "eth_blockNumber", "no_such_method", "slow_method", timeout=300)
        assert rc == 1, rc
        assert ev["eth_blockNumber"]["ok"] is True
        assert ev["no_such_method"]["ok"] is False and ev["no_such_method"]["code"] == -32601
        assert "does not exist" in ev["no_such_method"]["error"]
        slow = ev["slow_method"]
        assert slow["ok"] is False and "timed out" in slow["error"].lower(), slow

        # Nothing listening.
        rc, ev = probe("http://127.0.0.1:1", "eth_blockNumber", timeout=1000)
        assert rc == 1 and ev["eth_blockNumber"]["ok"] is False, ev

        # anvil.
        port = ec.free_port()
        _, url = ec.start_anvil(port)
        rc, ev = probe(url, "eth_blockNumber", "eth_chainId", "web3_clientVersion", "eth_syncing")
        assert rc == 0, ev
        assert ev["eth_chainId"]["value"] == 31337
        assert ev["eth_blockNumber"]["value"] == 0
        assert ev["web3_clientVersion"]["result"].startswith("anvil/")
        assert ev["eth_syncing"]["syncing"] is False
    finally:
        node.close()
        ec.stop_all()
    print("ok")


if __name__ == "__main__":
    main()
