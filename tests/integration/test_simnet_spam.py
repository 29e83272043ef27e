#!/usr/bin/python3
"""simnet's spamming nodes as the connector sees them: the nodes simnet
names on its startup lines as addr-spam send unsolicited addr messages every
--spam-ms, and the connector publishes them as p2p.msg.addr events from that
peer only; ping-spam nodes likewise with p2p.msg.ping; with --spam-addrv2
the addr spam comes as addrv2 to a peer that asked for it."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from btcpeer import CHAINSCOPE, Proc, check, failures, start_simnet, stop  # noqa: E402


def peer_of(ev):
    pl = ev["payload"]["peer"]
    return "%s:%d" % (pl["addr"], pl["port"])


def count(proc, typ, peer):
    return sum(1 for e in list(proc.events) if e["type"] == typ and peer_of(e) == peer
               and e["payload"]["direction"] == "in")


def spam_test():
    args = ["--nodes", "20", "--addr-spam", "0.1", "--ping-spam", "0.1", "--spam-ms", "200",
            "--seed", "4"]
    sim, first, kinds = start_simnet(args)
    proc = None
    try:
        check(len(kinds.get("addr-spam", [])) == 2 and len(kinds.get("ping-spam", [])) == 2,
              "startup lines name 2 spammers of each kind: %r" % kinds)
        # the same flags name the same nodes
        sim2, _, kinds2 = start_simnet(args)
        stop(sim2)
        hosts = {k: [a.split(":")[0] for a in v] for k, v in kinds.items()}
        hosts2 = {k: [a.split(":")[0] for a in v] for k, v in kinds2.items()}
        check(hosts2 == hosts, "deterministic spammers: %r vs %r" % (hosts, hosts2))
        addr_spam, ping_spam = kinds["addr-spam"][0], kinds["ping-spam"][0]
        spammers = set(kinds["addr-spam"] + kinds["ping-spam"])
        good = [first] + ["127.1.0.%d:%s" % (i, first.split(":")[1]) for i in range(2, 21)]
        good = [a for a in good if a not in spammers][:2]
        conn = ["connector", "--network", "regtest", "--events", "p2p.msg.addr",
                "--events", "p2p.msg.ping", "--events", "p2p.handshake"]
        for a in good + [addr_spam, ping_spam]:
            conn += ["--connect", a]
        proc = Proc(conn)
        hs = [proc.wait_for(lambda e, a=a: e["type"] == "p2p.handshake" and peer_of(e) == a)
              for a in good + [addr_spam, ping_spam]]
        check(all(hs), "handshakes with 4 simnet nodes")
        t0 = time.time()
        ev = proc.wait_for(lambda e: e["type"] == "p2p.msg.addr" and peer_of(e) == addr_spam
                           and count(proc, "p2p.msg.addr", addr_spam) >= 5, timeout=10)
        check(ev is not None, "5 addr messages from %s" % addr_spam)
        proc.wait_for(lambda e: count(proc, "p2p.msg.ping", ping_spam) >= 5, timeout=10)
        elapsed = time.time() - t0
        if ev:
            m = ev["payload"]["msg"]
            check(m["count"] == 10 and all(x["addr"].startswith("127.1.0.") for x in m["addresses"]),
                  "spam holds 10 simnet addresses: %r" % m)
        addrs = [e for e in list(proc.events) if e["type"] == "p2p.msg.addr"]
        check(addrs and all(peer_of(e) == addr_spam for e in addrs),
              "addr events from the spammer only: %r" % sorted({peer_of(e) for e in addrs}))
        n = count(proc, "p2p.msg.addr", addr_spam)
        # one at the handshake, then one every 200 ms
        check(n <= 2 + (elapsed + 1) / 0.2, "%d addr messages in %.1f s" % (n, elapsed))
        pings = {}
        for e in list(proc.events):
            if e["type"] == "p2p.msg.ping" and e["payload"]["direction"] == "in":
                pings[peer_of(e)] = pings.get(peer_of(e), 0) + 1
        check(pings.get(ping_spam, 0) >= 5, "pings from the ping spammer: %r" % pings)
        # every other node pings once, at the handshake (its keep-alive is 2 min)
        check(all(v <= 1 for k, v in pings.items() if k != ping_spam),
              "other nodes' pings: %r" % pings)
    finally:
        if proc:
            proc.stop()
        stop(sim)


def addrv2_test():
    sim, first, kinds = start_simnet(["--nodes", "10", "--addr-spam", "0.1", "--spam-ms", "100",
                                      "--spam-size", "3", "--spam-addrv2"])
    proc = None
    try:
        spam = kinds["addr-spam"][0]
        proc = Proc(["connector", "--network", "regtest", "--events", "p2p.msg.addrv2", "--connect", spam])
        ev = proc.wait_for(lambda e: e["type"] == "p2p.msg.addrv2"
                           and count(proc, "p2p.msg.addrv2", spam) >= 3, timeout=10)
        check(ev is not None and ev["payload"]["msg"]["count"] == 3
              and ev["payload"]["msg"]["addresses"][0]["network"] == "ipv4",
              "addrv2 spam: %r" % (ev and ev["payload"]))
    finally:
        if proc:
            proc.stop()
        stop(sim)


def main():
    spam_test()
    addrv2_test()
    if failures:
        print("%d failures" % len(failures))
        return 1
    print("ok: simnet spam seen by the connector")
    return 0


if __name__ == "__main__":
    sys.exit(main())
