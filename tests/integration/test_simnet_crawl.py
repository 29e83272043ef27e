#!/usr/bin/python3
"""simnet, crawl and the connector together: a crawl maps a simulated
network exactly (every good, slow and misbehaving node reachable, every
unreachable one failed with its reason) and writes CSV, JSON and SQLite that
agree; the connector handshakes with simnet nodes, gets addresses for
getaddr, and survives the misbehaving ones."""
import csv
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from btcpeer import CHAINSCOPE, Proc, check, ctl, failures, start_simnet, stop  # noqa: E402


def crawl_test(tmp):
    lst = os.path.join(tmp, "nodes.list")
    sim, first, _ = start_simnet(["--nodes", "300", "--unreachable", "0.1", "--slow", "0.05",
                                  "--slow-ms", "800", "--bad", "0.06", "--seed", "3",
                                  "--list", lst])
    try:
        outs = [os.path.join(tmp, "crawl." + e) for e in ("csv", "json", "db")]
        args = [CHAINSCOPE, "crawl", "--network", "regtest", "--seed", first, "--timeout", "3",
                "--getaddr-wait", "3", "--concurrency", "64"]
        for o in outs:
            args += ["--out", o]
        r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    finally:
        stop(sim)
    check(r.returncode == 0, "crawl exit status %d: %s" % (r.returncode, r.stderr[-500:]))
    check("crawl: done in" in r.stderr and "300 nodes known" in r.stderr,
          "summary line: %r" % r.stderr[-300:])
    kinds = {}
    for line in open(lst):
        a, k = line.split()
        kinds[a] = k
    rows = {"%s:%s" % (x["address"], x["port"]): x for x in csv.DictReader(open(outs[0]))}
    check(set(rows) == set(kinds), "crawl found every node: %d of %d" % (len(rows), len(kinds)))
    for a, k in kinds.items():
        x = rows.get(a)
        if not x:
            continue
        if k == "unreachable":
            check(x["reachable"] == "false" and x["failure"] == "refused",
                  "%s unreachable: %r" % (a, x))
        else:
            check(x["reachable"] == "true", "%s (%s) reachable: %r" % (a, k, x))
            check(x["user_agent"].startswith("/Satoshi:") and int(x["start_height"]) >= 800000
                  and x["version"] == "70016" and int(x["services"]) == 1033,
                  "%s version fields %r" % (a, x))
        if k == "bad":
            check(x["failure"].startswith("malformed message:"), "%s bad: %r" % (a, x))
        if k in ("good", "slow"):
            check(int(x["addresses_returned"]) == 20 and float(x["rtt_ms"]) > 0,
                  "%s addresses and rtt: %r" % (a, x))
    js = json.load(open(outs[1]))
    check(len(js) == 300 and sum(1 for x in js if x["reachable"]) ==
          sum(1 for x in rows.values() if x["reachable"] == "true"), "json agrees with csv")
    db = sqlite3.connect(outs[2])
    n, reach = db.execute("select count(*), sum(reachable) from nodes").fetchone()
    db.close()
    check(n == 300 and reach == sum(1 for k in kinds.values() if k != "unreachable"),
          "sqlite agrees: %d nodes, %d reachable" % (n, reach))


def reset_test(tmp):
    """An unreachable node reached on the shared port (not the one simnet
    lists for it) is accepted and reset: the crawl says so."""
    lst = os.path.join(tmp, "nodes3.list")
    sim, first, _ = start_simnet(["--nodes", "8", "--unreachable", "0.25", "--list", lst])
    try:
        un = [line.split()[0] for line in open(lst) if line.split()[1] == "unreachable"][0]
        seed = un.split(":")[0] + ":" + first.split(":")[1]
        out = os.path.join(tmp, "reset.csv")
        r = subprocess.run([CHAINSCOPE, "crawl", "--network", "regtest", "--seed", seed,
                            "--timeout", "2", "--quiet", "--out", out],
                           capture_output=True, text=True, timeout=60)
    finally:
        stop(sim)
    rows = list(csv.DictReader(open(out)))
    check(r.returncode == 1 and len(rows) == 1 and rows[0]["failure"] ==
          "reset after accept, before the handshake", "reset on the shared port: %r" % rows)


def ports_mode_test():
    sim, first, _ = start_simnet(["--nodes", "12", "--ports",
                                  "--base-port", str(free_port_block(12)),
                                  "--unreachable", "0.25", "--seed", "5"])
    try:
        r = subprocess.run([CHAINSCOPE, "crawl", "--network", "regtest", "--seed", first,
                            "--timeout", "3", "--getaddr-wait", "2", "--quiet",
                            "--out", "/dev/null.csv"], capture_output=True, text=True, timeout=60)
    finally:
        stop(sim)
    # /dev/null.csv cannot be written: exit 4, but the summary is there
    check("12 nodes known" in r.stderr and "9 reachable" in r.stderr,
          "ports mode crawl: %r" % r.stderr[-300:])


def free_port_block(n):
    import socket
    # below the ephemeral range: after a bench of thousands of connections
    # its ports sit in TIME-WAIT for a minute and cannot be bound
    lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    for base in list(range(max(1024, lo - 12000), lo - n, 97)) + list(range(42000, 60000, 97)):
        socks = []
        try:
            for i in range(n):
                s = socket.socket()
                # probe the way libuv binds (SO_REUSEADDR)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", base + i))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port block")


def connector_test(tmp):
    lst = os.path.join(tmp, "nodes2.list")
    sim, first, _ = start_simnet(["--nodes", "30", "--bad", "0.2", "--seed", "9", "--list", lst])
    sock = os.path.join(tmp, "ctl.sock")
    proc = Proc(["connector", "--network", "regtest", "--control", sock], stderr_lines=1)
    try:
        nodes = [line.split() for line in open(lst)]
        good = [a for a, k in nodes if k == "good"][:5]
        bad = [a for a, k in nodes if k == "bad"][:3]
        r = ctl(sock, "connect", *good)
        check(r.returncode == 0 and len(r.stdout.split("\n")) >= 5, "ctl connect %r" % (r,))
        for i in range(len(good)):
            ev = proc.wait_for(lambda e, i=i: e["type"] == "p2p.handshake"
                               and e["payload"]["peer"]["id"] == i + 1)
            check(ev is not None and ev["payload"]["user_agent"].startswith("/Satoshi:"),
                  "handshake with simnet node %d" % (i + 1))
        r = ctl(sock, "send", '{"command":"getaddr"}')
        check(r.returncode == 0 and "sent to 5 peers" in r.stdout, "send getaddr %r" % (r,))
        ev = proc.wait_for(lambda e: e["type"] == "p2p.msg.addrv2"
                           and e["payload"]["direction"] == "in")
        check(ev is not None and ev["payload"]["msg"]["count"] == 20, "addrv2 from simnet")
        for a in bad:
            r = ctl(sock, "connect", a)
            pid = int(r.stdout.split()[0])
            ev = proc.wait_for(lambda e, pid=pid: e["type"] == "p2p.conn.closed"
                               and e["payload"]["peer"]["id"] == pid)
            check(ev is not None and ev["payload"]["reason"].startswith("malformed message:"),
                  "bad node %s closed: %r" % (a, ev and ev["payload"]))
        r = ctl(sock, "peers", "--json")
        peers = [json.loads(x) for x in r.stdout.splitlines()]
        check(r.returncode == 0 and len(peers) == 5 and all(p["ready"] for p in peers),
              "5 live peers after the bad ones: %r" % peers)
        check(all(p["rtt_ms"] is not None and p["rtt_ms"] >= 0 for p in peers), "rtt measured")
    finally:
        proc.stop()
        stop(sim)


def main():
    tmp = tempfile.mkdtemp()
    crawl_test(tmp)
    reset_test(tmp)
    ports_mode_test()
    connector_test(tmp)
    if failures:
        print("%d failures" % len(failures))
        return 1
    print("ok: simnet, crawl and connector")
    return 0


if __name__ == "__main__":
    sys.exit(main())
