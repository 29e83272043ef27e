#!/usr/bin/python3
"""The connector against peers written with python3-bitcoinlib: the
handshake as Bitcoin Core expects it, pings answered both ways, getaddr
answered, addr and addrv2 decoded into events; every malformed input closes
that peer with its reason and leaves the connector serving; ctl drives it."""
import base64
import hashlib
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bitcoin.messages as m  # noqa: E402
from bitcoin.net import CAddress  # noqa: E402
from btcpeer import (Conn, check, failures, PeerServer, Proc, ctl, frame, msg_addrv2, msg_empty,  # noqa: E402
                     version_msg)

def onion_v3(pub):
    ver = b"\x03"
    chk = hashlib.sha3_256(b".onion checksum" + pub + ver).digest()[:2]
    return base64.b32encode(pub + chk + ver).decode().lower() + ".onion"


def handshake(conn, record):
    """Core's order seen from the listening side: their version first, then
    ours, wtxidrelay and sendaddrv2 (protocol >= 70016), verack."""
    got = []
    v = conn.recv()
    record["version"] = v
    conn.send(version_msg())
    conn.send(msg_empty(b"wtxidrelay"))
    conn.send(msg_empty(b"sendaddrv2"))
    conn.send(m.msg_verack())
    while True:
        msg = conn.recv()
        got.append(msg.command)
        if msg.command == b"verack":
            break
    record["before_verack"] = got
    return got


def good_peer(conn):
    rec = {}
    handshake(conn, rec)
    # our ping must come back as a pong with the same nonce; their ping
    # must get our pong
    ping = m.msg_ping()
    ping.nonce = 0x1234567890
    conn.send(ping)
    addr = m.msg_addr()
    for i in range(3):
        a = CAddress()
        a.nTime, a.nServices, a.ip, a.port = 1700000000 + i, 1033, "10.0.0.%d" % (i + 1), 8333
        addr.addrs.append(a)
    conn.send(addr)
    pub = bytes(range(32))
    conn.send(msg_addrv2([(1700000100, 9, 1, bytes([192, 0, 2, 1]), 8333),
                          (1700000101, 9, 4, pub, 8333),
                          (1700000102, 9, 5, bytes(32), 0)]))
    deadline = time.time() + 15
    while time.time() < deadline:
        msg = conn.recv()
        if msg.command == b"pong":
            rec["pong"] = msg.nonce
        elif msg.command == b"ping":
            p = m.msg_pong()
            p.nonce = msg.nonce
            conn.send(p)
            rec["pinged"] = True
        elif msg.command == b"getaddr":
            reply = m.msg_addr()
            a = CAddress()
            a.nTime, a.nServices, a.ip, a.port = 1700000200, 1, "203.0.113.50", 18444
            reply.addrs.append(a)
            conn.send(reply)
            rec["getaddr"] = True
        if "pong" in rec and "pinged" in rec and "getaddr" in rec:
            break
    # stay until the connector closes us
    try:
        while True:
            conn.recv()
    except (EOFError, OSError):
        pass
    return rec


def bad_checksum(conn):
    handshake(conn, {})
    bad = bytearray(frame(b"ping", bytes(8)))
    bad[20] ^= 0xff
    conn.send(bytes(bad))
    return drain(conn)


def oversized(conn):
    handshake(conn, {})
    hdr = bytearray(frame(b"inv", b""))
    hdr[16:20] = (4000001).to_bytes(4, "little")
    conn.send(bytes(hdr))
    return drain(conn)


def garbage(conn):
    conn.recv()  # their version
    conn.send(os.urandom(64))
    return drain(conn)


def too_many_addrs(conn):
    handshake(conn, {})
    payload = b"\xfd" + (1001).to_bytes(2, "little") + bytes(30 * 1001)
    conn.send(frame(b"addr", payload))
    return drain(conn)


def truncated(conn):
    # A ping whose header and checksum are right but whose payload is 4 of
    # the 8 bytes a nonce needs.
    handshake(conn, {})
    conn.send(frame(b"ping", bytes(4)))
    return drain(conn)


def noncanonical_compactsize(conn):
    # inv with a count of 1 written as 0xfd 0x01 0x00 (must be one byte).
    handshake(conn, {})
    conn.send(frame(b"inv", b"\xfd\x01\x00" + (1).to_bytes(4, "little") + bytes(32)))
    return drain(conn)


def oversized_user_agent(conn):
    # A version message whose user agent has 300 bytes (limit 256).
    conn.recv()  # their version
    ua = b"x" * 300
    addr = bytes(8) + bytes(10) + b"\xff\xff" + bytes([127, 0, 0, 1]) + (18444).to_bytes(2, "big")
    payload = ((70016).to_bytes(4, "little") + (1).to_bytes(8, "little")
               + int(time.time()).to_bytes(8, "little") + addr + addr + os.urandom(8)
               + b"\xfd" + len(ua).to_bytes(2, "little") + ua
               + (0).to_bytes(4, "little") + b"\x00")
    conn.send(frame(b"version", payload))
    return drain(conn)


def silent(conn):
    time.sleep(4)
    return drain(conn)


def drain(conn):
    try:
        while True:
            conn.recv()
    except (EOFError, OSError):
        return "closed"


def main():
    tmp = tempfile.mkdtemp()
    sock = os.path.join(tmp, "ctl.sock")
    srv = PeerServer()
    for fn in (good_peer, bad_checksum, oversized, garbage, too_many_addrs, silent, truncated,
               noncanonical_compactsize, oversized_user_agent):
        srv.behaviours.put(fn)
    proc = Proc(["connector", "--network", "regtest", "--control", sock,
                 "--user-agent", "/cs-test:1/", "--start-height", "5",
                 "--ping-interval", "1", "--handshake-timeout", "2",
                 "--connect", "127.0.0.1:%d" % srv.port], stderr_lines=1)
    try:
        run(proc, srv, sock)
    finally:
        proc.stop()
        srv.close()
    check(not srv.errors, "python peers: %r" % srv.errors)
    if failures:
        print("%d failures" % len(failures))
        return 1
    print("ok: connector and python3-bitcoinlib peers agree")
    return 0


def closed_for(proc, peer_id, timeout=10):
    return proc.wait_for(lambda e: e["type"] == "p2p.conn.closed"
                         and e["payload"]["peer"]["id"] == peer_id, timeout)


def run(proc, srv, sock):
    hs = proc.wait_for(lambda e: e["type"] == "p2p.handshake")
    check(hs is not None, "handshake event")
    if hs is None:
        print("stderr:", proc.err)
        return
    pl = hs["payload"]
    check(pl["user_agent"] == "/bitcoinlib-peer:0.1/", "peer user agent %r" % pl)
    check(pl["version"] == 70016 and pl["start_height"] == 101 and pl["services"] == 9,
          "peer version fields %r" % pl)
    check(hs["key"] == "1 127.0.0.1:%d" % srv.port, "event key %r" % hs["key"])

    # the python peer saw our version and the BIP339/BIP155 order
    ev = proc.wait_for(lambda e: e["type"] == "p2p.msg.addrv2" and e["payload"]["direction"] == "in")
    check(ev is not None, "addrv2 event")
    if ev:
        a = ev["payload"]["msg"]["addresses"]
        check(a[0]["addr"] == "192.0.2.1" and a[0]["network"] == "ipv4", "addrv2 ipv4 %r" % a[0])
        check(a[1]["addr"] == onion_v3(bytes(range(32))), "addrv2 torv3 %r" % a[1])
        check(a[2]["addr"].endswith(".b32.i2p") and a[2]["port"] == 0, "addrv2 i2p %r" % a[2])
    ev = proc.wait_for(lambda e: e["type"] == "p2p.msg.addr" and e["payload"]["direction"] == "in")
    check(ev is not None and [x["addr"] for x in ev["payload"]["msg"]["addresses"]]
          == ["10.0.0.1", "10.0.0.2", "10.0.0.3"], "addr event %r" % (ev and ev["payload"]))
    if ev:
        x = ev["payload"]["msg"]["addresses"][1]
        check(x == {"time": 1700000001, "services": 1033, "addr": "10.0.0.2", "port": 8333},
              "addr entry %r" % x)
    ev = proc.wait_for(lambda e: e["type"] == "p2p.msg.pong" and e["payload"]["direction"] == "out")
    check(ev is not None and ev["payload"]["msg"]["nonce"] == 0x1234567890, "pong to their ping")
    ev = proc.wait_for(lambda e: e["type"] == "p2p.ping.rtt")
    check(ev is not None and ev["payload"]["rtt_ms"] > 0, "ping rtt %r" % ev)

    # getaddr through the control socket, answered by the python peer
    r = ctl(sock, "send", '{"command":"getaddr"}', "--peer", "1")
    check(r.returncode == 0 and "sent to 1 peers" in r.stdout, "ctl send: %r" % (r,))
    ev = proc.wait_for(lambda e: e["type"] == "p2p.msg.addr" and e["payload"]["direction"] == "in"
                       and e["payload"]["msg"]["addresses"][0]["addr"] == "203.0.113.50")
    check(ev is not None, "getaddr answered")
    r = ctl(sock, "peers", "--json")
    check(r.returncode == 0 and '"user_agent":"/bitcoinlib-peer:0.1/"' in r.stdout
          and '"ready":true' in r.stdout, "ctl peers: %r" % (r,))

    r = ctl(sock, "disconnect", "1")
    check(r.returncode == 0, "ctl disconnect")
    ev = closed_for(proc, 1)
    check(ev is not None and ev["payload"]["by"] == "us"
          and ev["payload"]["reason"] == "control: disconnect"
          and ev["payload"]["code"] == "requested", "closed event %r" % ev)
    name, rec = srv.results.get(timeout=15)
    check(name == "good_peer" and isinstance(rec, dict), "good peer result %r" % (rec,))
    if isinstance(rec, dict):
        v = rec["version"]
        check(v.strSubVer == b"/cs-test:1/" and v.nStartingHeight == 5 and v.fRelay == 0
              and v.nVersion == 70016, "our version as bitcoinlib reads it: %r" % v)
        check(rec["before_verack"] == [b"wtxidrelay", b"sendaddrv2", b"verack"],
              "wtxidrelay and sendaddrv2 before verack: %r" % rec["before_verack"])
        check(rec.get("pong") == 0x1234567890, "our ping answered: %r" % rec.get("pong"))
        check(rec.get("pinged"), "connector pinged us")

    # each malformed input: that peer closed with its reason, connector alive
    # each with its stable code beside the reason
    cases = [("malformed message: ping: bad checksum", "bad_checksum", 2),
             ("malformed message: inv: length 4000001 over 4000000", "oversized", 3),
             ("malformed message: bad magic", "bad_magic", 4),
             ("malformed message: addr: address count of 1001 (limit 1000)", "bad_payload", 5),
             ("handshake timeout", "handshake_timeout", 6),
             ("malformed message: ping: truncated payload", "bad_payload", 7),
             ("malformed message: inv: non-canonical CompactSize", "bad_payload", 8),
             ("malformed message: version: user agent of 300 bytes (limit 256)", "bad_payload",
              9)]
    for reason, code, pid in cases:
        r = ctl(sock, "connect", "127.0.0.1:%d" % srv.port)
        check(r.returncode == 0 and r.stdout.startswith("%d " % pid), "ctl connect: %r" % (r,))
        ev = closed_for(proc, pid, 15)
        check(ev is not None and ev["payload"]["reason"].startswith(reason)
              and ev["payload"]["code"] == code,
              "peer %d closed for %r (%s): %r" % (pid, reason, code, ev and ev["payload"]))
        r = ctl(sock, "peers")
        check(r.returncode == 0, "connector alive after %r" % reason)

    # a refused connection is a failure, not a close
    s = __import__("socket").socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = ctl(sock, "connect", "127.0.0.1:%d" % port)
    ev = proc.wait_for(lambda e: e["type"] == "p2p.conn.failed")
    check(ev is not None and ev["payload"]["reason"] == "refused"
          and ev["payload"]["code"] == "ECONNREFUSED", "refused %r" % ev)
    r = ctl(sock, "connect", "not-an-address")
    check(r.returncode != 0 and "not a numeric" in r.stderr, "bad address %r" % (r,))
    ev = proc.wait_for(lambda e: e["type"] == "ctl.result" and not e["payload"]["ok"])
    check(ev is not None, "ctl.result event for a failed command")


if __name__ == "__main__":
    sys.exit(main())
