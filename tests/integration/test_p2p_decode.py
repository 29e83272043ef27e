#!/usr/bin/python3
"""`chainscope p2p decode` against python3-bitcoinlib, an independent
implementation of the Bitcoin wire format: messages of every type both know,
built and serialized by bitcoinlib, must decode to the same fields; broken
messages must give a reason on stderr without stopping the decoder."""
import json
import os
import random
import subprocess
import sys

import bitcoin
import bitcoin.core as core
import bitcoin.messages as m
from bitcoin.core import b2lx
from bitcoin.core.script import CScript, CScriptWitness
from bitcoin.net import CAddress, CBlockLocator, CInv

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cslib import json_int  # noqa: E402

CHAINSCOPE = os.environ.get("CHAINSCOPE", "build/chainscope")
INV_NAMES = {0: "error", 1: "tx", 2: "block", 3: "filtered_block", 4: "cmpct_block"}
rnd = random.Random(7)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def eq(got, want, what):
    check(got == want, "%s: got %r, want %r" % (what, got, want))


def h32():
    return bytes(rnd.getrandbits(8) for _ in range(32))


def mk_addr(ip, port, services, t=None):
    a = CAddress()
    a.ip = ip
    a.port = port
    a.nServices = services
    if t is not None:
        a.nTime = t
    return a


def mk_tx(nin, nout, segwit):
    vin = [core.CTxIn(core.COutPoint(h32(), rnd.randrange(5)),
                      CScript(bytes(rnd.getrandbits(8) for _ in range(0 if segwit else 107))),
                      0xfffffffd) for _ in range(nin)]
    vout = [core.CTxOut(rnd.randrange(10**8), CScript(b"\x00\x14" + bytes(20)))
            for _ in range(nout)]
    wit = core.CTxWitness()
    if segwit:
        wit = core.CTxWitness([core.CTxInWitness(CScriptWitness([bytes(71), bytes(33)]))
                               for _ in range(nin)])
    return core.CTransaction(vin, vout, nLockTime=rnd.randrange(1000), nVersion=2, witness=wit)


def check_tx(d, tx, what):
    eq(d["txid"], b2lx(tx.GetTxid()), what + " txid")
    eq(d["wtxid"], b2lx(tx.GetHash()), what + " wtxid")
    eq(d["version"], tx.nVersion, what + " version")
    eq(d["locktime"], tx.nLockTime, what + " locktime")
    eq(d["size"], len(tx.serialize()), what + " size")
    eq(d["segwit"], tx.has_witness(), what + " segwit")
    eq(len(d["inputs"]), len(tx.vin), what + " inputs")
    for i, (a, b) in enumerate(zip(d["inputs"], tx.vin)):
        eq(a["txid"], b2lx(b.prevout.hash), "%s in %d txid" % (what, i))
        eq(a["vout"], b.prevout.n, "%s in %d vout" % (what, i))
        eq(a["script_sig"], "0x" + bytes(b.scriptSig).hex(), "%s in %d script" % (what, i))
        eq(a["sequence"], b.nSequence, "%s in %d sequence" % (what, i))
        if tx.has_witness():
            eq(a["witness"], ["0x" + x.hex() for x in tx.wit.vtxinwit[i].scriptWitness.stack],
               "%s in %d witness" % (what, i))
    for i, (a, b) in enumerate(zip(d["outputs"], tx.vout)):
        eq(a["value"], b.nValue, "%s out %d value" % (what, i))
        eq(a["script_pubkey"], "0x" + bytes(b.scriptPubKey).hex(), "%s out %d script" % (what, i))


def check_header(d, h, what):
    eq(d["hash"], b2lx(h.GetHash()), what + " hash")
    eq(d["version"], h.nVersion, what + " version")
    eq(d["prev_block"], b2lx(h.hashPrevBlock), what + " prev")
    eq(d["merkle_root"], b2lx(h.hashMerkleRoot), what + " merkle")
    eq(d["time"], h.nTime, what + " time")
    eq(d["bits"], h.nBits, what + " bits")
    eq(d["nonce"], h.nNonce, what + " nonce")


class HeadersMsg(m.msg_headers):
    """bitcoinlib writes bare 80-byte headers; the protocol (and every node)
    follows each with a transaction count of 0. Same headers, node framing."""

    def msg_ser(self, f):
        f.write(bytes([len(self.headers)]))
        for h in self.headers:
            f.write(h.serialize() + b"\x00")


def build():
    """(message, checker) pairs covering every type bitcoinlib knows."""
    cases = []

    for ver, relay in ((70016, 1), (70016, 0), (70015, 1), (60002, None)):
        v = m.msg_version()
        v.nVersion = ver
        v.nServices = 1 | 8 | 1024
        v.nTime = 1700000000 + ver
        v.addrTo = mk_addr("203.0.113.7", 8333, 9)
        v.addrFrom = mk_addr("2001:db8::5", 18333, 1)
        v.nNonce = rnd.getrandbits(64)
        v.strSubVer = b"/Satoshi:27.0.0/"
        v.nStartingHeight = 840000
        if relay is not None:
            v.fRelay = relay

        def chk(d, v=v, relay=relay):
            eq(d["version"], v.nVersion, "version")
            eq(d["services"], v.nServices, "version services")
            eq(d["timestamp"], v.nTime, "version timestamp")
            eq(d["addr_recv"], {"services": 9, "addr": "203.0.113.7", "port": 8333}, "addr_recv")
            eq(d["addr_from"], {"services": 1, "addr": "2001:db8::5", "port": 18333}, "addr_from")
            eq(json_int(d["nonce"]), v.nNonce, "version nonce")
            eq(d["user_agent"], "/Satoshi:27.0.0/", "user agent")
            eq(d["start_height"], 840000, "start height")
            if relay is not None:
                eq(d["relay"], bool(relay), "relay")
        cases.append((v, chk))

    for cls in (m.msg_verack, m.msg_getaddr, m.msg_mempool):
        cases.append((cls(), lambda d: eq(d, {}, "empty message")))

    for cls in (m.msg_ping, m.msg_pong):
        p = cls()
        p.nonce = rnd.getrandbits(64)
        cases.append((p, lambda d, p=p: eq(json_int(d["nonce"]), p.nonce, "nonce")))

    a = m.msg_addr()
    a.addrs = [mk_addr("198.51.100.%d" % i, 8333 + i, 1033, 1700000000 + i) for i in range(40)]
    a.addrs.append(mk_addr("2001:db8::99", 8333, 9, 5))

    def chk_addr(d, a=a):
        eq(d["count"], len(a.addrs), "addr count")
        for i, (x, y) in enumerate(zip(d["addresses"], a.addrs)):
            eq(x, {"time": y.nTime, "services": y.nServices, "addr": y.ip, "port": y.port},
               "addr %d" % i)
    cases.append((a, chk_addr))

    for cls in (m.msg_inv, m.msg_getdata, m.msg_notfound):
        msg = cls()
        for i in range(35):
            inv = CInv()
            inv.type = i % 5
            inv.hash = h32()
            msg.inv.append(inv)

        def chk_inv(d, msg=msg):
            eq(d["count"], 35, "inv count")
            for i, (x, y) in enumerate(zip(d["inventory"], msg.inv)):
                eq(x, {"type": INV_NAMES[y.type], "hash": b2lx(y.hash)}, "inv %d" % i)
        cases.append((msg, chk_inv))

    for cls in (m.msg_getheaders, m.msg_getblocks):
        msg = cls()
        msg.locator = CBlockLocator()
        msg.locator.vHave = [h32() for _ in range(10)]
        msg.hashstop = h32()

        def chk_loc(d, msg=msg):
            eq(d["locator"], [b2lx(x) for x in msg.locator.vHave], "locator")
            eq(d["hash_stop"], b2lx(msg.hashstop), "hash_stop")
        cases.append((msg, chk_loc))

    bitcoin.SelectParams("mainnet")
    genesis = bitcoin.params.GENESIS_BLOCK
    hd = HeadersMsg()
    hd.headers = [genesis.get_header()] + [
        core.CBlockHeader(nVersion=0x20000000, hashPrevBlock=h32(), hashMerkleRoot=h32(),
                          nTime=1700000000 + i, nBits=0x17034219, nNonce=i)
        for i in range(20)]

    def chk_headers(d, hd=hd):
        eq(d["count"], len(hd.headers), "headers count")
        for i, (x, y) in enumerate(zip(d["headers"], hd.headers)):
            check_header(x, y, "header %d" % i)
    cases.append((hd, chk_headers))

    # (30, 3, True): many inputs, each with its witness stack
    for nin, nout, segwit in ((1, 2, False), (2, 2, True), (5, 10, True), (1, 1, False),
                              (30, 3, True)):
        t = m.msg_tx()
        t.tx = mk_tx(nin, nout, segwit)
        cases.append((t, lambda d, tx=t.tx: check_tx(d, tx, "tx")))

    b = m.msg_block()
    b.block = genesis

    def chk_block(d):
        check_header(d, genesis, "block")
        eq(d["tx_count"], 1, "block tx count")
    cases.append((b, chk_block))
    txs = [mk_tx(1, 2, True) for _ in range(3)]
    blk = core.CBlock(nVersion=0x20000000, hashPrevBlock=h32(),
                      hashMerkleRoot=core.CBlock.build_merkle_tree_from_txs(txs)[-1],
                      nTime=1700000001, nBits=0x17034219, nNonce=99, vtx=txs)
    b2 = m.msg_block()
    b2.block = blk

    def chk_block2(d, blk=blk):
        check_header(d, blk, "block2")
        eq(d["tx_count"], 3, "block2 tx count")
    cases.append((b2, chk_block2))

    r = m.msg_reject()
    r.message = b"tx"
    r.ccode = b"\x10"
    r.reason = b"bad-txns-inputs-missingorspent"

    def chk_reject(d):
        eq(d["message"], "tx", "reject message")
        eq(d["code"], 0x10, "reject code")
        eq(d["reason"], "bad-txns-inputs-missingorspent", "reject reason")
    cases.append((r, chk_reject))
    return cases


def main():
    cases = build()
    lines = [msg.to_bytes().hex() for msg, _ in cases]
    # broken messages among them: bad checksum, oversized length, garbage
    good_ping = lines[8]
    bad_sum = good_ping[:40] + ("%08x" % (int(good_ping[40:48], 16) ^ 1)) + good_ping[48:]
    oversized = good_ping[:32] + "01093d00" + good_ping[40:]
    stream = lines[:3] + [bad_sum] + lines[3:6] + [oversized, "zz", "f9beb4d9"] + lines[6:]
    p = subprocess.run([CHAINSCOPE, "p2p", "decode"], input="\n".join(stream) + "\n",
                       capture_output=True, text=True, timeout=60)
    out = [json.loads(x) for x in p.stdout.splitlines()]
    errs = p.stderr.splitlines()
    eq(p.returncode, 1, "exit status with bad messages")
    eq(len(out), len(cases), "decoded messages")
    eq(len(errs), 4, "error lines: %r" % errs)
    check(any("line 4: ping: bad checksum" in e or "line 4: pong: bad checksum" in e
              or "bad checksum" in e for e in errs), "bad checksum reported: %r" % errs)
    check(any("line 8:" in e and "length 4000001 over 4000000" in e for e in errs),
          "oversized length reported")
    check(any("line 9: not hex" in e for e in errs), "garbage reported")
    check(any("line 10: truncated header" in e for e in errs), "short header reported")
    if len(out) != len(cases):
        print("FAIL: stderr:", errs, "commands:", [d["command"] for d in out])
        return 1
    for (msg, chk), d in zip(cases, out):
        eq(d["command"], msg.command.decode(), "command")
        eq(d["size"], len(msg.to_bytes()) - 24, "size of " + d["command"])
        eq(d["checksum_ok"], True, "checksum_ok")
        chk(d["msg"])

    # --binary on the same (good) stream, raw bytes on stdin
    raw = b"".join(msg.to_bytes() for msg, _ in cases)
    p = subprocess.run([CHAINSCOPE, "p2p", "decode", "--binary"], input=raw,
                       capture_output=True, timeout=60)
    eq(p.returncode, 0, "binary exit status")
    eq(len(p.stdout.splitlines()), len(cases), "binary decoded messages")
    # ... and recognised as binary by its magic, with `-` and no flag
    p2 = subprocess.run([CHAINSCOPE, "p2p", "decode", "-"], input=raw, capture_output=True,
                        timeout=60)
    eq(p2.returncode, 0, "binary by magic: exit status")
    eq(p2.stdout, p.stdout, "binary by magic: same output as --binary")

    # bitcoinlib decodes what chainscope encodes
    for desc, want in (
            ({"command": "ping", "nonce": 77}, lambda x: x.nonce == 77),
            ({"command": "version", "user_agent": "/cs:1/", "start_height": 3,
              "services": 9, "addr_recv": {"addr": "10.1.2.3", "port": 8333}},
             lambda x: x.strSubVer == b"/cs:1/" and x.nStartingHeight == 3
             and x.addrTo.ip == "10.1.2.3"),
            ({"command": "addr", "addresses": [{"time": 5, "services": 1, "addr": "1.2.3.4",
                                                "port": 8333}]},
             lambda x: x.addrs[0].ip == "1.2.3.4" and x.addrs[0].port == 8333)):
        p = subprocess.run([CHAINSCOPE, "p2p", "encode", json.dumps(desc)],
                           capture_output=True, text=True, timeout=30)
        eq(p.returncode, 0, "encode " + desc["command"])
        got = m.MsgSerializable.from_bytes(bytes.fromhex(p.stdout.strip()))
        check(want(got), "bitcoinlib reads our %s: %r" % (desc["command"], got))

    if failures:
        for f in failures[:40]:
            print("FAIL:", f)
        print("%d failures" % len(failures))
        return 1
    print("ok: %d message types agree with python3-bitcoinlib" % len(cases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
