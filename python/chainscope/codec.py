"""The value encoding and the event record of chainscope (docs/protocol.md).

Values map onto Python types one to one:

========================  =======================================
encoding                  Python
========================  =======================================
null, false, true         ``None``, ``False``, ``True``
uint, nint, big, nbig     ``int`` (up to 256 bits of magnitude)
double                    ``float``
string                    ``str``
bytes                     ``bytes`` (``bytearray``/``memoryview`` encode too)
array                     ``list`` (``tuple`` encodes too)
object                    ``dict`` with ``str`` keys, in order
========================  =======================================

Each value has exactly one encoding, so ``encode_value(decode_value(b)) == b``
for every valid ``b`` (an object with a repeated key keeps the last value
when decoded; :func:`decode_value` with ``pairs=True`` keeps every member).

The decoder rejects what the C reader rejects: unknown tags, truncated or
over-long lengths, non-minimal varints and big integers, counts larger than
the body, invalid UTF-8, nesting deeper than 32, and in a record a version
other than 1, a bad type, a NUL byte in a name or a payload that is not an
object. Every failure raises :class:`CodecError`.
"""
from __future__ import annotations

import dataclasses
import math
import struct
import time
from typing import Any, Iterator, Optional, Union

__all__ = [
    "CodecError", "Event", "Pairs", "MAX_DEPTH", "MAX_RECORD", "MAX_TYPE", "MAX_NAME",
    "encode_value", "decode_value", "encode_event", "decode_event",
    "type_valid", "filter_valid", "filter_matches", "to_json", "value_to_json",
    "event_to_json",
]

MAX_DEPTH = 32            # containers nest at most this deep
MAX_RECORD = 16 << 20     # bytes in one record
MAX_TYPE = 128            # bytes in a type (subject)
MAX_NAME = 255            # bytes in origin, network and key
MAX_BIG = 32              # bytes of a big integer's magnitude
JSON_MAX_SAFE = 2**53 - 1  # integers beyond this render as JSON strings

T_NULL, T_FALSE, T_TRUE, T_UINT, T_NINT, T_BIG, T_NBIG = range(7)
T_DOUBLE, T_STR, T_BYTES, T_ARRAY, T_OBJECT = range(7, 12)

Value = Union[None, bool, int, float, str, bytes, list, dict]


class CodecError(ValueError):
    """A value or record that the encoding does not allow."""


class Pairs(list):
    """An object as a list of (key, value) tuples: every member in order,
    repeated keys too. Decoders return it with ``pairs=True``; it encodes
    and renders as an object."""


# ---- encoding ----------------------------------------------------------


def _varint(n: int, out: bytearray) -> None:
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _put_int(v: int, out: bytearray) -> None:
    if 0 <= v < 2**64:
        out.append(T_UINT)
        _varint(v, out)
    elif -(2**63) <= v < 0:
        out.append(T_NINT)
        _varint(-1 - v, out)
    else:
        mag = -v if v < 0 else v
        n = (mag.bit_length() + 7) // 8
        if n > MAX_BIG:
            raise CodecError("integer %d does not fit in 256 bits" % v)
        out.append(T_NBIG if v < 0 else T_BIG)
        out.append(n)
        out += mag.to_bytes(n, "big")


def _put_text(tag: int, b: bytes, out: bytearray) -> None:
    out.append(tag)
    _varint(len(b), out)
    out += b


def _put(v: Any, out: bytearray, depth: int) -> None:
    if v is None:
        out.append(T_NULL)
    elif v is True:
        out.append(T_TRUE)
    elif v is False:
        out.append(T_FALSE)
    elif isinstance(v, int):
        _put_int(int(v), out)
    elif isinstance(v, float):
        out.append(T_DOUBLE)
        out += struct.pack("<d", v)
    elif isinstance(v, str):
        _put_text(T_STR, v.encode("utf-8"), out)
    elif isinstance(v, (bytes, bytearray, memoryview)):
        _put_text(T_BYTES, bytes(v), out)
    elif isinstance(v, (dict, list, tuple)):
        if depth >= MAX_DEPTH:
            raise CodecError("containers nest deeper than %d" % MAX_DEPTH)
        is_obj = isinstance(v, (dict, Pairs))
        out.append(T_OBJECT if is_obj else T_ARRAY)
        at = len(out)
        out += b"\0" * 8
        if is_obj:
            for k, item in (v.items() if isinstance(v, dict) else v):
                if not isinstance(k, str):
                    raise CodecError("object keys are strings, not %r" % (k,))
                kb = k.encode("utf-8")
                _varint(len(kb), out)
                out += kb
                _put(item, out, depth + 1)
        else:
            for item in v:
                _put(item, out, depth + 1)
        body = len(out) - at - 4
        if body > 0xFFFFFFFF:
            raise CodecError("container larger than 4 GiB")
        struct.pack_into("<II", out, at, body, len(v))
    else:
        raise CodecError("no encoding for %s" % type(v).__name__)


def encode_value(v: Any) -> bytes:
    """Encodes one value (see the module docstring for the types)."""
    out = bytearray()
    _put(v, out, 0)
    return bytes(out)


# ---- decoding ----------------------------------------------------------


class _Reader:
    __slots__ = ("b", "p", "end", "pairs")

    def __init__(self, b: bytes, p: int, end: int, pairs: bool) -> None:
        self.b, self.p, self.end, self.pairs = b, p, end, pairs

    def varint(self, end: int) -> int:
        b, p = self.b, self.p
        r = 0
        shift = 0
        while True:
            if p >= end:
                raise CodecError("truncated varint")
            c = b[p]
            p += 1
            if shift == 63 and c > 1:
                raise CodecError("varint out of range")
            r |= (c & 0x7F) << shift
            if not c & 0x80:
                if c == 0 and shift:
                    raise CodecError("non-minimal varint")
                self.p = p
                return r
            shift += 7
            if shift >= 64:
                raise CodecError("varint out of range")

    def take(self, n: int, end: int) -> bytes:
        if end - self.p < n:
            raise CodecError("truncated: %d bytes wanted, %d left" % (n, end - self.p))
        s = self.b[self.p:self.p + n]
        self.p += n
        return s

    def text(self, n: int, end: int, what: str) -> str:
        raw = self.take(n, end)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise CodecError("invalid UTF-8 in %s: %s" % (what, e.reason)) from None

    def value(self, end: int, depth: int) -> Any:
        b, p = self.b, self.p
        if p >= end:
            raise CodecError("truncated: a value was expected")
        tag = b[p]
        # Fast paths: small unsigned integers and short strings (one-byte
        # lengths), most of what events hold.
        if p + 1 < end and b[p + 1] < 0x80:
            if tag == T_UINT:
                self.p = p + 2
                return b[p + 1]
            if tag == T_STR:
                n = b[p + 1]
                q = p + 2 + n
                if q <= end:
                    raw = b[p + 2:q]
                    self.p = q
                    if raw.isascii():
                        return raw.decode("ascii")
                    try:
                        return raw.decode("utf-8")
                    except UnicodeDecodeError as e:
                        raise CodecError("invalid UTF-8 in a string: %s" % e.reason) from None
        self.p = p + 1
        if tag == T_NULL:
            return None
        if tag == T_FALSE:
            return False
        if tag == T_TRUE:
            return True
        if tag == T_UINT:
            return self.varint(end)
        if tag == T_NINT:
            n = self.varint(end)
            if n > 2**63 - 1:
                raise CodecError("negative integer below -2^63")
            return -1 - n
        if tag in (T_BIG, T_NBIG):
            if self.p >= end:
                raise CodecError("truncated big integer")
            n = self.b[self.p]
            self.p += 1
            if n == 0 or n > MAX_BIG:
                raise CodecError("big integer of %d bytes" % n)
            mag = self.take(n, end)
            m = int.from_bytes(mag, "big")
            # Minimal: no leading zero byte, and too large for uint / nint.
            small = m < 2**64 if tag == T_BIG else m <= 2**63
            if mag[0] == 0 or small:
                raise CodecError("big integer not in its shortest encoding")
            return -m if tag == T_NBIG else m
        if tag == T_DOUBLE:
            return struct.unpack("<d", self.take(8, end))[0]
        if tag == T_STR:
            return self.text(self.varint(end), end, "a string")
        if tag == T_BYTES:
            return bytes(self.take(self.varint(end), end))
        if tag in (T_ARRAY, T_OBJECT):
            if end - self.p < 8:
                raise CodecError("truncated container header")
            body, count = struct.unpack_from("<II", self.b, self.p)
            if body < 4 or end - self.p - 4 < body:
                raise CodecError("container body of %d bytes past the end" % body)
            if count > body - 4:
                raise CodecError("container count %d larger than its body" % count)
            if depth >= MAX_DEPTH:
                raise CodecError("containers nest deeper than %d" % MAX_DEPTH)
            cend = self.p + 4 + body
            self.p += 8
            if tag == T_ARRAY:
                items = [self.value(cend, depth + 1) for _ in range(count)]
                res: Any = items
            else:
                members = []
                b = self.b
                for _ in range(count):
                    p = self.p
                    n = b[p] if p < cend else 0x80
                    if n < 0x80 and p + 1 + n <= cend and b[p + 1:p + 1 + n].isascii():
                        k = b[p + 1:p + 1 + n].decode("ascii")
                        self.p = p + 1 + n
                    else:
                        k = self.text(self.varint(cend), cend, "a key")
                    members.append((k, self.value(cend, depth + 1)))
                res = Pairs(members) if self.pairs else dict(members)
            if self.p != cend:
                raise CodecError("container body longer than its items")
            return res
        raise CodecError("unknown tag 0x%02x" % tag)


def decode_value(b: bytes, pairs: bool = False) -> Any:
    """Decodes exactly one value filling ``b``. With ``pairs``, objects come
    back as lists of (key, value) tuples (every member, in order)."""
    b = bytes(b)
    r = _Reader(b, 0, len(b), pairs)
    v = r.value(len(b), 0)
    if r.p != len(b):
        raise CodecError("%d bytes after the value" % (len(b) - r.p))
    return v


# ---- subjects ----------------------------------------------------------


def type_valid(t: str) -> bool:
    """Whether ``t`` may be an event type: 1..128 bytes of non-empty
    dot-separated tokens without spaces, control bytes, ``*`` or ``>``."""
    b = t.encode("utf-8")
    if not 0 < len(b) <= MAX_TYPE:
        return False
    return all(tok and not any(c <= 0x20 or c in (0x2A, 0x3E, 0x7F) for c in tok)
               for tok in b.split(b"."))


def filter_valid(f: str) -> bool:
    """Whether ``f`` is a subject filter: tokens, ``*`` for one token and a
    last ``>`` for the rest (NATS conventions)."""
    toks = f.split(".")
    for i, tok in enumerate(toks):
        if tok in ("*",) or (tok == ">" and i == len(toks) - 1):
            continue
        if not tok or any(c in tok for c in " *>\t\r\n"):
            return False
    return 0 < len(f.encode("utf-8")) <= 1024


def filter_matches(f: str, t: str) -> bool:
    """Whether the subject filter ``f`` matches the type ``t``."""
    ft, tt = f.split("."), t.split(".")
    for i, tok in enumerate(ft):
        if tok == ">":
            return len(tt) > i
        if i >= len(tt) or (tok != "*" and tok != tt[i]):
            return False
    return len(ft) == len(tt)


# ---- the event record --------------------------------------------------


@dataclasses.dataclass
class Event:
    """One event: the envelope and its payload (a dict).

    ``time`` is nanoseconds since the Unix epoch; 0 when encoding means now.
    ``raw`` holds the record an event was decoded from (else None)."""

    type: str
    payload: dict = dataclasses.field(default_factory=dict)
    network: str = ""
    key: str = ""
    origin: str = ""
    seq: int = 0
    time: int = 0
    raw: Optional[bytes] = dataclasses.field(default=None, repr=False, compare=False)

    def field(self, path: str) -> Any:
        """A field by the name rules use: ``seq``, ``type``, ... for the
        envelope, else a payload path such as ``peer.addr`` or
        ``addresses[0].port`` (with or without ``payload.``). Raises
        KeyError when a step is missing."""
        if path in ("seq", "time", "origin", "network", "type", "key"):
            return getattr(self, path)
        if path.startswith("payload."):
            path = path[8:]
        cur: Any = self.payload
        for step in _path_steps(path):
            if isinstance(step, int):
                if not isinstance(cur, list) or step >= len(cur):
                    raise KeyError(path)
                cur = cur[step]
            else:
                if not isinstance(cur, dict) or step not in cur:
                    raise KeyError(path)
                cur = cur[step]
        return cur

    @property
    def replayed(self) -> bool:
        """Whether this event was replayed from an archive: its origin
        carries the replay mark ``+replay`` (docs/archive.md)."""
        return self.origin.endswith("+replay")

    def to_dict(self) -> dict:
        """The event as one flat dict (envelope and payload), as tail --json
        shows it: handy for pandas.DataFrame(list_of_dicts)."""
        return {"seq": self.seq, "time": self.time, "origin": self.origin,
                "network": self.network, "type": self.type, "key": self.key,
                "payload": self.payload}

    def encode(self) -> bytes:
        """The record of this event (see :func:`encode_event`)."""
        return encode_event(self)


def _path_steps(path: str) -> Iterator[Union[str, int]]:
    for part in path.split("."):
        name, _, rest = part.partition("[")
        if name:
            yield name
        while rest:
            idx, _, rest = rest.partition("]")
            yield int(idx)
            rest = rest[1:] if rest.startswith("[") else rest


def _name(s: str, limit: int, what: str) -> bytes:
    b = s.encode("utf-8")
    if len(b) > limit:
        raise CodecError("%s longer than %d bytes" % (what, limit))
    if b"\0" in b:
        raise CodecError("%s holds a NUL byte" % what)
    return b


def encode_event(ev: Event) -> bytes:
    """Encodes a record. A ``time`` of 0 is replaced by the current time
    (as the C library does); ``ev`` itself is not changed."""
    if not type_valid(ev.type):
        raise CodecError("%r is not an event type" % ev.type)
    if not isinstance(ev.payload, (dict, Pairs)):
        raise CodecError("the payload must be a dict")
    out = bytearray([1])
    if not 0 <= ev.seq < 2**64:
        raise CodecError("seq out of range")
    _varint(ev.seq, out)
    t = ev.time or time.time_ns()
    out += struct.pack("<q", t)
    for s, lim, what in ((ev.origin, MAX_NAME, "origin"), (ev.network, MAX_NAME, "network"),
                         (ev.type, MAX_TYPE, "type"), (ev.key, MAX_NAME, "key")):
        b = _name(s, lim, what)
        _varint(len(b), out)
        out += b
    _put(ev.payload, out, 0)
    if len(out) > MAX_RECORD:
        raise CodecError("record of %d bytes is larger than 16 MiB" % len(out))
    return bytes(out)


def decode_event(b: bytes, pairs: bool = False) -> Event:
    """Decodes and validates a whole record (``pairs``: see
    :func:`decode_value`)."""
    b = bytes(b)
    if len(b) > MAX_RECORD:
        raise CodecError("record larger than 16 MiB")
    if not b:
        raise CodecError("empty record")
    if b[0] != 1:
        raise CodecError("record version %d is not supported" % b[0])
    r = _Reader(b, 1, len(b), pairs)
    seq = r.varint(len(b))
    t = struct.unpack("<q", r.take(8, len(b)))[0]
    names = []
    for i, what in enumerate(("origin", "network", "type", "key")):
        n = r.varint(len(b))
        if n > (MAX_TYPE if i == 2 else MAX_NAME):
            raise CodecError("%s of %d bytes is too long" % (what, n))
        raw = r.take(n, len(b))
        if b"\0" in raw:
            raise CodecError("NUL byte in %s" % what)
        try:
            names.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise CodecError("invalid UTF-8 in %s" % what) from None
    if not type_valid(names[2]):
        raise CodecError("%r is not an event type" % names[2])
    if r.p >= len(b):
        raise CodecError("truncated: no payload")
    if b[r.p] != T_OBJECT:
        raise CodecError("the payload is not an object")
    payload = r.value(len(b), 0)
    if r.p != len(b):
        raise CodecError("bytes after the payload")
    return Event(type=names[2], payload=payload, network=names[1], key=names[3],
                 origin=names[0], seq=seq, time=t, raw=b)


# ---- JSON, exactly as chainscope renders it ----------------------------


def _json_str(s: str, out: list) -> None:
    parts = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            parts.append('\\"')
        elif ch == "\\":
            parts.append("\\\\")
        elif ch == "\n":
            parts.append("\\n")
        elif ch == "\r":
            parts.append("\\r")
        elif ch == "\t":
            parts.append("\\t")
        elif o < 0x20 or o == 0x7F:
            parts.append("\\u%04x" % o)
        else:
            parts.append(ch)
    parts.append('"')
    out.append("".join(parts))


def _json_double(d: float) -> str:
    if not math.isfinite(d):
        return "null"
    s = "%.17g" % d
    for prec in range(1, 17):
        t = "%.*g" % (prec, d)
        if float(t) == d:
            s = t
            break
    if not any(c in s for c in ".eE"):
        s += ".0"
    return s


def _json(v: Any, out: list) -> None:
    if v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, int):
        out.append(str(v) if abs(v) <= JSON_MAX_SAFE and (-(2**63) <= v < 2**64)
                   else '"%d"' % v)
    elif isinstance(v, float):
        out.append(_json_double(v))
    elif isinstance(v, str):
        _json_str(v, out)
    elif isinstance(v, (bytes, bytearray, memoryview)):
        out.append('"0x' + bytes(v).hex() + '"')
    elif isinstance(v, (dict, Pairs)):
        out.append("{")
        for i, (k, item) in enumerate(v.items() if isinstance(v, dict) else v):
            if i:
                out.append(",")
            _json_str(k, out)
            out.append(":")
            _json(item, out)
        out.append("}")
    elif isinstance(v, (list, tuple)):
        out.append("[")
        for i, item in enumerate(v):
            if i:
                out.append(",")
            _json(item, out)
        out.append("]")
    else:
        raise CodecError("no JSON rendering for %s" % type(v).__name__)


def value_to_json(v: Any) -> str:
    """A value in chainscope's one JSON rendering (docs/events.md): integers
    past 2^53 - 1 as decimal strings, bytes as "0x" hex, doubles in the
    shortest form that reads back the same, non-finite doubles as null."""
    out: list = []
    _json(v, out)
    return "".join(out)


def event_to_json(ev: Event) -> str:
    """An event as ``chainscope tail --json`` prints it (without newline)."""
    out = ['{"seq":%d,"time":%d,"origin":' % (ev.seq, ev.time)]
    _json_str(ev.origin, out)
    out.append(',"network":')
    _json_str(ev.network, out)
    out.append(',"type":')
    _json_str(ev.type, out)
    out.append(',"key":')
    _json_str(ev.key, out)
    out.append(',"payload":')
    _json(ev.payload, out)
    out.append("}")
    return "".join(out)


def to_json(x: Union[Event, Any]) -> str:
    """:func:`event_to_json` for an Event, else :func:`value_to_json`."""
    return event_to_json(x) if isinstance(x, Event) else value_to_json(x)
