#!/usr/bin/python3
"""Antelope follower catch-up against the fixture chain (run by `make
bench`; never fails on a number). The fixture (tests/integration/
fake_antelope_node.py, its own process) makes a 100,000-block history at
once; `chainscope run` with an `antelope:` network follows it from block 1.
Prints `name: value unit` lines:

  antelope_catchup: blocks/s over the 100,000 blocks, beside the fixture's
      own limit (a bare Python keep-alive client asking get_block one after
      the other, as the follower does);
  antelope_cpu_per_block: the chainscope process's CPU (user + system) per
      block followed;
  antelope_rss: resident memory after 10,000 and after 100,000 blocks
      (flat: nothing grows with the chain).

usage: bench/antelope_follow.py [BUILD_DIR] [BLOCKS]
"""
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(SRC, "build")
BLOCKS = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
CS = os.environ.get("CHAINSCOPE", os.path.join(build, "chainscope"))
FIXTURE = os.path.join(SRC, "tests", "integration", "fake_antelope_node.py")


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def proc_stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(x.split()[1]) for x in f if x.startswith("VmRSS:"))
    return cpu, rss


def metric(port, name):
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    except OSError:
        return None
    for line in body.decode().splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def bare_client(url, n):
    """Blocks/s of sequential get_block calls on one kept-alive connection."""
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port)
    t0 = time.time()
    for num in range(1, n + 1):
        c.request("POST", "/v1/chain/get_block", json.dumps({"block_num_or_id": num}),
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        json.loads(r.read())
    return n / (time.time() - t0)


def main():
    tmp = tempfile.mkdtemp(prefix="cs-antbench-")
    ports = os.path.join(tmp, "ports.json")
    # the live chain runs at real speed (0.5 s slots): the history is the range
    fx = subprocess.Popen(["/usr/bin/python3", FIXTURE, "--history", str(BLOCKS),
                           "--ports-file", ports], stdout=subprocess.DEVNULL)
    try:
        t0 = time.time()
        while not os.path.exists(ports) or not os.path.getsize(ports):
            if time.time() - t0 > 300 or fx.poll() is not None:
                print("# the fixture did not start")
                return
            time.sleep(0.2)
        time.sleep(0.2)
        api = json.load(open(ports))["api"]
        n_bare = min(BLOCKS, 20000)
        bare = bare_client(api, n_bare)
        http_port = free_port()
        cfg = os.path.join(tmp, "c.yaml")
        with open(cfg, "w") as f:
            f.write(f"""node: bench
log: {{level: warn}}
logserver: {{enabled: false}}
http: {{listen: 127.0.0.1:{http_port}}}
antelope:
  networks:
    - name: eos
      api: [{api}]
      from: 1
      poll: 100ms
      db: {os.path.join(tmp, 'a.db')}
""")
        p = subprocess.Popen([CS, "run", "-c", cfg], stdout=subprocess.DEVNULL)
        try:
            t_start = time.time()
            rss10 = None
            cpu0, _ = proc_stat(p.pid)
            while True:
                n = metric(http_port, "chainscope_antelope_blocks_total") or 0
                if rss10 is None and n >= min(10000, BLOCKS // 10):
                    rss10 = proc_stat(p.pid)[1]
                if n >= BLOCKS:
                    break
                if p.poll() is not None or time.time() - t_start > 900:
                    print(f"# stopped at {n:.0f} blocks")
                    return
                time.sleep(0.05)
            dt = time.time() - t_start
            cpu, rss = proc_stat(p.pid)
        finally:
            p.terminate()
            p.wait(timeout=30)
        print(f"antelope_catchup_chainscope: {BLOCKS / dt:.0f} blocks/s ({BLOCKS} blocks in {dt:.1f} s)")
        print(f"antelope_catchup_fixture_limit: {bare:.0f} blocks/s (bare keep-alive client, "
              f"{n_bare} blocks)")
        print(f"antelope_cpu_per_block: {(cpu - cpu0) / BLOCKS * 1e6:.0f} us")
        print(f"antelope_rss_at_10k: {rss10 or 0} KiB")
        print(f"antelope_rss_at_{BLOCKS // 1000}k: {rss} KiB")
    finally:
        fx.terminate()
        fx.wait()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
