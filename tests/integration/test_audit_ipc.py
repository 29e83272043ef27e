#!/usr/bin/python3
"""The audit speaks JSON-RPC over a node's IPC socket (`ipc:` without
`rpc:`), as operators of geth run it: anvil serving its IPC socket is one
node, reached only through that path; a second node names a socket nobody
serves, a third a socket that never answers. `chainscope audit --once` must
give the first ok `rpc` and `lag` checks with its height, the same answers
as the same node over HTTP, and fail the others naming the path and the
reason (no such file, timed out); the report exits 1 because nodes are
down."""
import json
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evm_common as ec  # noqa: E402
from cslib import TempDir, cs, wait_for  # noqa: E402


def main():
    tmp = TempDir()
    try:
        ipc = tmp.file("anvil.ipc")
        _, url = ec.start_anvil(ec.free_port(), extra=("--ipc", ipc))
        ec.rpc(url, "anvil_mine", ["0x7"])
        wait_for(lambda: os.path.exists(ipc), what="anvil's IPC socket")
        missing = tmp.file("nobody.ipc")
        # A socket that accepts and never answers: the request times out.
        silent = tmp.file("silent.ipc")
        quiet = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        quiet.bind(silent)
        quiet.listen(8)
        cfg = tmp.file("audit.yaml", """audit:
  db: {db}
  networks:
    - name: devnet
      kind: evm
      timeout: 2s
      head_max_age: 1h
      nodes:
        - {{name: over-http, role: witness, rpc: "{url}"}}
        - {{name: over-ipc, role: witness, ipc: "{ipc}"}}
        - {{name: gone, role: witness, ipc: "{missing}"}}
        - {{name: silent, role: witness, ipc: "{silent}"}}
""".format(db=tmp.file("audit.db"), url=url, ipc=ipc, missing=missing, silent=silent))
        r = cs("audit", "--once", "-c", cfg, "--format", "json")
        assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
        rep = json.loads(r.stdout)
        net = rep["networks"][0]
        nodes = {n["name"]: n for n in net["nodes"]}
        checks = {c["check"]: c for c in nodes["over-ipc"]["checks"]}
        for name in ("rpc", "lag"):
            assert checks[name]["state"] == "ok", checks
        assert checks["rpc"]["value"] == 7, checks["rpc"]  # the height
        assert checks["lag"]["value"] == 0, checks["lag"]
        assert "anvil" in checks["rpc"]["detail"].lower(), checks["rpc"]
        # The same node over HTTP: the same answers, whichever the transport.
        http_checks = {c["check"]: c for c in nodes["over-http"]["checks"]}
        for name in ("rpc", "lag", "peers"):
            assert http_checks[name]["state"] == checks[name]["state"], (http_checks, checks)
            assert http_checks[name]["detail"] == checks[name]["detail"], (http_checks, checks)
        gone = {c["check"]: c for c in nodes["gone"]["checks"]}
        assert gone["rpc"]["state"] == "fail", gone
        assert missing in gone["rpc"]["detail"], gone["rpc"]
        assert "no such file" in gone["rpc"]["detail"].lower(), gone["rpc"]
        assert nodes["gone"]["status"] == "down", nodes["gone"]
        hush = {c["check"]: c for c in nodes["silent"]["checks"]}
        assert hush["rpc"]["state"] == "fail", hush
        assert "timed out" in hush["rpc"]["detail"], hush["rpc"]
        quiet.close()

        # A relative path or an ipc on a Bitcoin network is a config error
        # with its position.
        bad = tmp.file("bad.yaml", """audit:
  networks:
    - name: devnet
      kind: evm
      nodes:
        - {name: n1, role: witness, ipc: "geth.ipc"}
""")
        r = cs("check-config", "-c", bad)
        assert r.returncode == 3, (r.returncode, r.stderr)
        assert "bad.yaml:6:" in r.stderr and "absolute path" in r.stderr, r.stderr
        print("ok: audit over IPC")
    finally:
        ec.stop_all()
        tmp.cleanup()


if __name__ == "__main__":
    main()
