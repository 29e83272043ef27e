#!/usr/bin/python3
"""Writes the seed corpus of fuzz_logserver_conn: client byte streams built
from the frames and event records of docs/protocol.md.

Each seed is two bytes of harness settings (see fuzz_logserver_conn.c:
chunk size, then flags) followed by what a client sends.

  usage: gen_logserver_conn_corpus.py [DIR]
  (default DIR: tests/fuzz/corpus/fuzz_logserver_conn next to this script)
"""
import os
import struct
import sys

TOKEN = b"fuzz-token-0123456789abcdef"  # the harness's TCP server token

# flags (byte 1)
TCP, READS, BYSTANDER, BURST = 1, 2, 64, 128


def events(n):
    return (n & 3) << 2


def evsize(k):
    return (k & 3) << 4


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def s(text):
    b = text if isinstance(text, bytes) else text.encode()
    return varint(len(b)) + b


def frame(ftype, body):
    return struct.pack("<I", len(body) + 1) + bytes([ftype]) + body


def hello(name="seed", token=b""):
    return frame(1, bytes([1]) + s(name) + s(token))


def sub(f):
    return frame(3, s(f))


def unsub(f):
    return frame(4, s(f))


def ping(cookie):
    return frame(7, struct.pack("<Q", cookie))


def value(v):
    """The value encoding: ints, strings, bytes, bools, lists, dicts."""
    if v is None:
        return b"\x00"
    if v is True:
        return b"\x02"
    if v is False:
        return b"\x01"
    if isinstance(v, int):
        return b"\x03" + varint(v) if v >= 0 else b"\x04" + varint(-1 - v)
    if isinstance(v, str):
        return b"\x08" + s(v)
    if isinstance(v, bytes):
        return b"\x09" + varint(len(v)) + v
    if isinstance(v, list):
        body = struct.pack("<I", len(v)) + b"".join(value(x) for x in v)
        return b"\x0a" + struct.pack("<I", len(body)) + body
    if isinstance(v, dict):
        body = struct.pack("<I", len(v)) + b"".join(s(k) + value(x) for k, x in v.items())
        return b"\x0b" + struct.pack("<I", len(body)) + body
    raise TypeError(v)


def record(typ, payload, seq=1, origin="seed", network="net", key="k"):
    return (bytes([1]) + varint(seq) + struct.pack("<q", 1_700_000_000_000_000_000 + seq) +
            s(origin) + s(network) + s(typ) + s(key) + value(payload))


def pub(typ, payload, seq=1):
    return frame(5, record(typ, payload, seq))


SEEDS = {
    # chunk byte, flags, client bytes
    "hello": (255, READS, hello() + ping(1)),
    "hello_token": (255, TCP | READS, hello("tcp-seed", TOKEN) + ping(2)),
    "hello_bad_token": (255, TCP | READS, hello("tcp-seed", b"wrong-token-00000000")),
    "hello_bad_version": (255, READS, frame(1, bytes([2]) + s("v2") + s(""))),
    "sub_filters": (7, READS | events(2) | evsize(1),
                    hello() + sub("p2p.msg.*") + sub("evm.>") + sub("demo.sample") +
                    sub("p2p.msg.*") + unsub("demo.sample") + ping(3) + sub(">") + ping(4) +
                    unsub(">") + ping(5)),
    "sub_bad_filter": (255, READS, hello() + sub("a..b")),
    "publish": (40, READS | BYSTANDER,
                hello("publisher") + sub("demo.>") +
                pub("demo.sample", {"n": 1, "text": "caf\u00e9", "ok": True}, 1) +
                pub("demo.other", {"n": -7, "list": [1, "x", None], "raw": b"\x00\x01"}, 2) +
                pub("evm.block.new", {"number": 19000000, "nested": {"a": {"b": [False]}}}, 3) +
                ping(6)),
    # ~40 PUBs in one turn of the loop: past half the harness's bus queue,
    # the publisher is paused until the bus drains.
    "publish_burst": (255, READS | BYSTANDER | BURST,
                      hello("burst") + sub("demo.>") +
                      b"".join(pub("demo.burst", {"i": i}, i) for i in range(40)) + ping(7)),
    "stalled_subscriber": (3, events(3) | evsize(3), hello("stalled") + sub(">") +
                           b"".join(ping(i) for i in range(40))),
    "sub_limit": (255, READS, hello() + b"".join(sub("f.%d" % i) for i in range(65))),
    # A paused publisher that also subscribes and never reads: cut off at
    # its bound while paused.
    "paused_publisher_cut_off": (255, BURST | events(3) | evsize(3),
                                 hello("paused") + sub(">") +
                                 b"".join(pub("demo.p", {"i": i}, i) for i in range(120))),
    "first_not_hello": (255, READS, sub(">")),
    "malformed_frame": (255, READS | BYSTANDER, hello() + b"\xff\xff\xff\xff garbage"),
    "malformed_type": (255, READS, hello() + frame(2, s("server only"))),
    "malformed_record": (255, READS, hello() + frame(5, b"\x01\x05garbage")),
    "ping_short": (255, READS, hello() + frame(7, b"\x01\x02")),
    # A unix client cut off inside the bus callback publishes
    # logserver.client.dropped into the TCP server's queue, which the bus
    # round had passed: the event stayed there until the next publish.
    "regress_stranded_dropped_event": (3, events(3) | evsize(3),
                                       hello("regress") + sub(">") +
                                       b"".join(ping(i) for i in range(12))),
    # The client's name goes into logserver.client.dropped: the server cut
    # it at 63 bytes inside a character, and passed bytes that are not
    # UTF-8, so every subscriber got an event it could not decode.
    "regress_name_cut_mid_character": (255, READS | BYSTANDER,
                                       hello("\u00e9" * 40) + b"\xff\xff\xff\xff"),
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus",
                                                               "fuzz_logserver_conn")
    os.makedirs(out, exist_ok=True)
    for name, (chunk, flags, data) in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes([chunk, flags]) + data)


if __name__ == "__main__":
    main()
