"""The codec on its own, and cross-checked against the C decoder and
encoder (codec_echo): random events encoded by Python are decoded by C,
rendered to JSON and encoded again by C; the JSON must be what Python
renders and the C record must decode in Python to the same event. Random
corruptions of valid records must be accepted or refused alike."""
import math
import os
import random
import struct
import subprocess

import pytest

from chainscope import codec
from chainscope.codec import CodecError, Event

ECHO = os.environ.get("CS_CODEC_ECHO") or os.path.join(
    os.environ.get("CS_BUILD_DIR", "build"), "codec_echo")
ROUNDS = int(os.environ.get("CS_CODEC_ROUNDS", "3000"))


def test_values_round_trip():
    for v in [{}, {"a": None, "b": True, "c": False}, {"n": [0, 1, 127, 128, 2**64 - 1, 2**64,
              -1, -(2**63), -(2**63) - 1, 2**256 - 1, -(2**256 - 1)]},
              {"d": [0.0, -0.0, 1.5, 1e300, float("inf")]}, {"s": "héllo\n", "b": b"\x00\xff"},
              {"nest": {"x": [[], {}, [{"y": 1}]]}}]:
        b = codec.encode_value(v)
        assert codec.decode_value(b) == v
        assert codec.encode_value(codec.decode_value(b)) == b


def test_known_bytes():
    # docs/protocol.md: tag, varint, u32 LE body length and count.
    assert codec.encode_value(300) == b"\x03\xac\x02"
    assert codec.encode_value(-1) == b"\x04\x00"
    assert codec.encode_value(2**64) == b"\x05\x09\x01" + b"\0" * 8
    assert codec.encode_value({"a": 1}) == b"\x0b\x08\0\0\0\x01\0\0\0\x01a\x03\x01"
    assert codec.encode_value([True]) == b"\x0a\x05\0\0\0\x01\0\0\0\x02"


@pytest.mark.parametrize("bad", [
    b"\x0c",                        # unknown tag
    b"\x03\x80\x00",                # non-minimal varint
    b"\x05\x08" + b"\xff" * 8,      # fits a uint
    b"\x05\x09\x00" + b"\x01" * 8,  # leading zero
    b"\x06\x08\x80" + b"\0" * 7,    # -2^63 fits a nint
    b"\x04" + b"\xff" * 9 + b"\x01",  # below -2^63
    b"\x08\x02\xc3\x28",            # invalid UTF-8
    b"\x0a\x04\0\0\0\x01\0\0\0",    # count larger than the body
    b"\x0a\x05\0\0\0\x00\0\0\0\x00",  # body longer than its items
    b"\x05\x21" + b"\x01" * 33,     # 33-byte big
])
def test_rejects(bad):
    with pytest.raises(CodecError):
        codec.decode_value(bad)


def test_depth_bound():
    v: object = 1
    for _ in range(32):
        v = [v]
    codec.encode_value(v)
    with pytest.raises(CodecError):
        codec.encode_value([v])
    deep = b"\x0a" * 33
    with pytest.raises(CodecError):
        codec.decode_value(deep)


def test_event_record():
    ev = Event("p2p.msg.ping", {"nonce": 7}, network="regtest", key="1 127.0.0.1:18444",
               origin="test", seq=5, time=1700000000123456789)
    b = codec.encode_event(ev)
    assert b[0] == 1
    got = codec.decode_event(b)
    assert got == ev and got.raw == b
    assert got.field("nonce") == 7 and got.field("payload.nonce") == 7
    for bad in ("", "a..b", "a.*", "a b", "x" * 129):
        with pytest.raises(CodecError):
            codec.encode_event(Event(bad, {}))
    with pytest.raises(CodecError):
        codec.decode_event(b"\x02" + b[1:])


def test_json_rendering():
    assert codec.value_to_json({"a": 2**53 - 1, "b": 2**53, "c": -(2**53)}) == \
        '{"a":9007199254740991,"b":"9007199254740992","c":"-9007199254740992"}'
    assert codec.value_to_json([100.0, 0.1, 1e-7, float("nan"), b"\x01"]) == \
        '[1e+02,0.1,1e-07,null,"0x01"]'
    assert codec.value_to_json("a\"\\\x01\x7f") == '"a\\"\\\\\\u0001\\u007f"'


def test_filters():
    assert codec.filter_matches("p2p.msg.*", "p2p.msg.ping")
    assert not codec.filter_matches("p2p.msg.*", "p2p.msg.ping.x")
    assert codec.filter_matches("evm.>", "evm.block")
    assert not codec.filter_matches("evm.>", "evm")
    assert codec.filter_valid(">") and not codec.filter_valid("a.>.b")


# ---- random values ------------------------------------------------------

def rand_str(r, n=8):
    alphabet = "abcxyz.-_ é€😀\n\"\\\x01\x7f"
    return "".join(r.choice(alphabet) for _ in range(r.randrange(n)))


def rand_int(r):
    k = r.randrange(8)
    if k == 0:
        return r.randrange(128)
    if k == 1:
        return r.randrange(2**64)
    if k == 2:
        return -r.randrange(1, 2**63 + 1)
    if k == 3:
        return r.choice([2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 2**53, -(2**53) - 1,
                         2**256 - 1, -(2**256 - 1)])
    bits = r.randrange(1, 257)
    v = r.getrandbits(bits)
    return -v if r.random() < 0.5 else v


def rand_double(r):
    k = r.randrange(4)
    if k == 0:
        return r.choice([0.0, -0.0, 1.0, 100.0, 0.1, 1e-7, 1e300, float("inf"), -float("inf"),
                         5e-324, 1.7976931348623157e308])
    if k == 1:
        return struct.unpack("<d", struct.pack("<Q", r.getrandbits(64)))[0]
    return r.uniform(-1e6, 1e6)


def rand_value(r, depth=0):
    k = r.randrange(10 if depth < 6 else 7)
    if k == 0:
        return r.choice([None, True, False])
    if k in (1, 2):
        return rand_int(r)
    if k == 3:
        return rand_double(r)
    if k == 4:
        return rand_str(r)
    if k == 5:
        return bytes(r.getrandbits(8) for _ in range(r.randrange(12)))
    if k == 6:
        return rand_str(r, 3)
    if k == 7:
        return [rand_value(r, depth + 1) for _ in range(r.randrange(5))]
    return rand_object(r, depth + 1)


def rand_object(r, depth=0):
    return {rand_str(r, 6) + str(i): rand_value(r, depth) for i in range(r.randrange(6))}


def rand_event(r):
    toks = ["p2p", "msg", "evm", "x", "é", "a-b"]
    return Event(".".join(r.choice(toks) for _ in range(r.randrange(1, 5))), rand_object(r),
                 network=rand_str(r), key=rand_str(r, 20), origin=rand_str(r),
                 seq=rand_int(r) % 2**64, time=r.choice([1, -1, 2**63 - 1, -(2**63),
                                                          r.getrandbits(63)]))


def same(a, b):
    """Equality with NaN equal to itself (decoded doubles keep their bits)."""
    if isinstance(a, float) and isinstance(b, float):
        return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


class Echo:
    """codec_echo, fed one record at a time."""

    def __init__(self):
        if not os.path.exists(ECHO):
            pytest.fail("codec_echo not built: %s" % ECHO)
        self.p = subprocess.Popen([ECHO], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def _read(self, n):
        b = self.p.stdout.read(n)
        assert len(b) == n, "codec_echo ended early"
        return b

    def __call__(self, rec):
        self.p.stdin.write(struct.pack("<I", len(rec)) + rec)
        self.p.stdin.flush()
        status = struct.unpack("<i", self._read(4))[0]
        if status:
            return status, None, None
        js = self._read(struct.unpack("<I", self._read(4))[0]).decode()
        again = self._read(struct.unpack("<I", self._read(4))[0])
        return 0, js, again

    def close(self):
        self.p.stdin.close()
        assert self.p.wait(10) == 0


@pytest.fixture
def echo():
    e = Echo()
    yield e
    e.close()


def test_cross_check_random_events(echo):
    r = random.Random(int(os.environ.get("CS_CODEC_SEED", "15")))
    for i in range(ROUNDS):
        ev = rand_event(r)
        rec = codec.encode_event(ev)
        status, js, again = echo(rec)
        assert status == 0, "C refused a record Python wrote: %r" % (ev,)
        assert js == codec.event_to_json(ev), "JSON differs for %r" % (ev,)
        assert again == rec, "C encodes %r differently" % (ev,)
        back = codec.decode_event(again)
        assert same(back.payload, ev.payload) and back.type == ev.type


def mutate(r, rec, start):
    b = bytearray(rec)
    k = r.randrange(4)
    if k == 0 and len(b) > start:
        b[r.randrange(start, len(b))] = r.getrandbits(8)
    elif k == 1 and len(b) > start:
        del b[r.randrange(start, len(b)):]
    elif k == 2:
        at = r.randrange(start, len(b) + 1)
        b[at:at] = bytes(r.getrandbits(8) for _ in range(r.randrange(1, 4)))
    else:
        at = r.randrange(start, len(b))
        b[at] ^= 1 << r.randrange(8)
    return bytes(b)


def test_cross_check_corrupted_records(echo):
    """Both decoders accept or refuse alike. Mutations touch the payload:
    the C reader does not check UTF-8 in origin, network, type and key
    (docs/protocol.md says they are UTF-8; Python refuses them)."""
    r = random.Random(int(os.environ.get("CS_CODEC_SEED", "15")) + 1)
    disagreements = []
    accepted = 0
    for i in range(ROUNDS):
        ev = rand_event(r)
        ev.origin = ev.network = ev.key = "n"
        rec = codec.encode_event(ev)
        start = len(rec) - len(codec.encode_value(ev.payload))
        bad = mutate(r, rec, start)
        status, js, again = echo(bad)
        try:
            got = codec.decode_event(bad, pairs=True)
        except CodecError as e:
            if status == 0:
                disagreements.append(("python refuses, C accepts", bad.hex(), str(e)))
            continue
        if status != 0:
            disagreements.append(("C refuses (%d), python accepts" % status, bad.hex(), ""))
            continue
        accepted += 1
        assert js == codec.event_to_json(got)
        assert again == bad  # one encoding per value: C writes the same bytes
    assert not disagreements, disagreements[:5]
    assert accepted > 0  # some corruptions keep a valid record (a changed digit)
