#!/usr/bin/python3
"""A horde of connector processes against one process: connect time and
memory per connection.

usage: horde_peers.py [--shards N] [--peers-per-shard K]   (defaults 4, 10000)

Starts one simnet process per K nodes (each serves its nodes on its own
127.x.0.0/16 range from one listener, so no process nears the open-file
limit), then
1. `chainscope horde --connectors N` and N*K connect requests through its
   one control socket: time until every handshake is done, RSS of the
   shards and the horde per connection, and the time of one PEERS listing
   merged over every shard;
2. one `chainscope connector` with K peers: the same figures.
Prints `name: value unit` lines; never fails on a number."""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

CHAINSCOPE = os.environ.get("CHAINSCOPE", "build/chainscope")


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def start_simnet(n, first, listing):
    p = subprocess.Popen([CHAINSCOPE, "simnet", "--nodes", str(n), "--addresses", first,
                          "--list", listing], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    line = p.stderr.readline()
    if not line.startswith("simnet:"):
        raise RuntimeError("simnet did not start: %r" % line)
    with open(listing) as f:
        return p, [l.split()[0] for l in f if l.strip()]


def ready_count(sock):
    r = subprocess.run([CHAINSCOPE, "ctl", "--socket", sock, "--timeout", "60", "peers", "--json"],
                       capture_output=True, text=True, timeout=120)
    return sum(1 for l in r.stdout.splitlines() if l.strip() and json.loads(l)["ready"])


def wait_for(sock, want, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if ready_count(sock) >= want:
            return True
        time.sleep(0.5)
    return False


def measure(name, sock, addrs, pids_of, timeout):
    t0 = time.time()
    r = subprocess.run([CHAINSCOPE, "ctl", "--socket", sock, "connect"] + addrs,
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        print("# %s: connect failed: %s" % (name, r.stderr.strip()[:200]))
    t_req = time.time() - t0
    ok = wait_for(sock, len(addrs), timeout)
    t_all = time.time() - t0
    if not ok:
        print("# %s: not every peer was ready after %.0f s" % (name, timeout))
    t1 = time.time()
    listed = ready_count(sock)
    t_list = time.time() - t1
    pids = pids_of()
    kib = sum(rss_kib(p) for p in pids)
    print("%s_connect_requests: %.2f s" % (name, t_req))
    print("%s_connect_time: %.2f s" % (name, t_all))
    print("%s_connections: %d peers" % (name, listed))
    print("%s_rss_per_connection: %.1f KiB" % (name, kib / max(listed, 1)))
    print("%s_peers_listing: %.0f ms" % (name, t_list * 1000))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--peers-per-shard", type=int, default=10000)
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = tempfile.mkdtemp(prefix="cs-bench-horde-")
    procs = []
    try:
        addrs = []
        for i in range(a.shards):
            p, nodes = start_simnet(a.peers_per_shard, "127.%d.0.1" % (10 + i),
                                    os.path.join(tmp, "nodes%d.txt" % i))
            procs.append(p)
            addrs += nodes
        opts = ["--network", "regtest", "--max-peers", str(a.peers_per_shard * 2),
                "--ping-interval", "600"]
        ctl = os.path.join(tmp, "horde.sock")
        horde = subprocess.Popen([CHAINSCOPE, "horde", "--connectors", str(a.shards),
                                  "--control", ctl, "--timeout", "60", "--"] + opts,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(horde)
        deadline = time.time() + 20
        while time.time() < deadline and not all(
                os.path.exists("%s.d/shard-%d.sock" % (ctl, i)) for i in range(a.shards)):
            time.sleep(0.1)
        time.sleep(0.5)

        def horde_pids():
            r = subprocess.run(["pgrep", "-f", "connector --shard .* --control %s.d" % ctl],
                               capture_output=True, text=True)
            return [horde.pid] + [int(x) for x in r.stdout.split()]
        measure("horde_%dx%d" % (a.shards, a.peers_per_shard), ctl, addrs, horde_pids, 300)
        horde.terminate()
        horde.wait(30)

        one = os.path.join(tmp, "one.sock")
        single = subprocess.Popen([CHAINSCOPE, "connector", "--control", one, "--quiet"] + opts,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(single)
        deadline = time.time() + 20
        while time.time() < deadline and not os.path.exists(one):
            time.sleep(0.1)
        measure("single_1x%d" % a.peers_per_shard, one, addrs[:a.peers_per_shard],
                lambda: [single.pid], 300)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    sys.exit(main())
