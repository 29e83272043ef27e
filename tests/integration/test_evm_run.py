"""The evm component inside `chainscope run`: a config with two weighted
endpoints (one dead), probes and an ABI follows anvil; /metrics carries the
follower's series and passes promtool; config errors name file:line:col."""
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evm_common as ec  # noqa: E402


def main():
    tmp = tempfile.mkdtemp(prefix="cs-evm-run-")
    try:
        _, url = ec.start_anvil(ec.free_port())
        ec.helper("compile", tmp)
        addr = ec.helper("deploy", url, tmp)["address"]
        ec.helper("send", url, addr, [["transfer", "0x" + "00" * 19 + "01", 5]])
        http_port = ec.free_port()
        cfg = os.path.join(tmp, "c.yaml")
        with open(cfg, "w") as f:
            f.write(f"""node: t1
logserver:
  enabled: false
http:
  listen: 127.0.0.1:{http_port}
console:
  filter: ["evm.>"]
  json: true
evm:
  networks:
    - name: anvil
      rpc:
        - {{url: {url}, weight: 5}}
        - http://127.0.0.1:1
      from: 0
      poll: 100ms
      retries: 4
      abi: ["{addr}=Emitter.abi.json"]
      db: {os.path.join(tmp, "evm.db")}
      probes:
        every: 1s
        methods: [eth_blockNumber, eth_chainId]
""")
        r = subprocess.run([ec.CS, "check-config", "-c", cfg], capture_output=True, text=True,
                           timeout=10)
        assert r.returncode == 0, r.stdout + r.stderr
        p = subprocess.Popen([ec.CS, "run", "-c", cfg], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        ec._procs.append(p)
        # Wait for the log to be followed (slow under sanitizers), then for at
        # least two probe rounds (every 1 s).
        deadline = time.time() + 60
        body = ""
        while time.time() < deadline:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics",
                                              timeout=5).read().decode()
            except OSError:
                body = ""
            if 'chainscope_evm_logs_total{network="anvil"} 1' in body:
                break
            time.sleep(0.1)
        time.sleep(2.5)
        body = urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=5).read()
        body = body.decode()
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=15)
        assert p.returncode == 0, err
        events = [line for line in out.splitlines() if line.startswith("{")]
        logs = [line for line in events if '"type":"evm.log"' in line]
        assert len(logs) == 1 and '"event":"Transfer"' in logs[0] and '"value":5' in logs[0], out
        probes = [line for line in events if '"type":"evm.probe"' in line]
        assert len(probes) >= 2 and all('"ok":true' in x for x in probes), probes
        assert 'chainscope_evm_blocks_total{network="anvil"}' in body, body
        assert 'chainscope_evm_logs_total{network="anvil"} 1' in body, body
        pt = subprocess.run(["promtool", "check", "metrics"], input=body, text=True,
                            capture_output=True, timeout=30)
        assert pt.returncode == 0, pt.stdout + pt.stderr

        # Config errors: an ABI that does not load, a bad endpoint.
        bad = cfg.replace("c.yaml", "bad.yaml")
        with open(cfg) as f:
            text = f.read()
        with open(bad, "w") as f:
            f.write(text.replace("Emitter.abi.json", "missing.json"))
        r = subprocess.run([ec.CS, "check-config", "-c", bad], capture_output=True, text=True,
                           timeout=10)
        assert r.returncode == 3 and "bad.yaml:" in r.stderr and "missing.json" in r.stderr, \
            r.stderr
        with open(bad, "w") as f:
            f.write(text.replace("http://127.0.0.1:1", "ftp://x"))
        r = subprocess.run([ec.CS, "check-config", "-c", bad], capture_output=True, text=True,
                           timeout=10)
        assert r.returncode == 3 and "ftp://x" in r.stderr and "bad.yaml:" in r.stderr, r.stderr
    finally:
        ec.stop_all()
    print("ok")


if __name__ == "__main__":
    main()
