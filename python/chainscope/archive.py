"""Reader of archive segments (docs/protocol.md, "Archive segments";
docs/archive.md): folders of ``*.cseg`` files holding event records in
zstd-compressed frames, with an index when a segment was closed cleanly.

Needs python3-zstandard (the ``archive`` extra) to decompress frames::

    import chainscope.archive as ar
    for ev in ar.read("/var/lib/chainscope/archive", start="2026-12-02T10:00:00Z",
                      types=["p2p.msg.*"]):
        print(ev.time, ev.type, ev.payload)

    # pandas, if you have it (the package does not need it):
    df = pandas.DataFrame(ar.read(folder, as_dict=True))

Seeking by time skips every frame whose [tmin, tmax] does not meet the
range, without decompressing it; events inside the frames read are filtered
one by one (frames are in arrival order, so their times need not grow).
A segment that was cut (a crash) or damaged is read up to its last complete
frame; :attr:`Segment.status` says which case applies.
"""
from __future__ import annotations

import dataclasses
import datetime
import glob
import os
import struct
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Union

from .codec import CodecError, Event, decode_event, filter_matches

__all__ = ["Segment", "Frame", "ArchiveError", "read", "segments", "crc32c"]

MAGIC = b"CSARCHV1"
END_MAGIC = b"CSARCEND"
VERSION = 1
HEADER, BLOCK_HEADER, FOOTER = 16, 40, 16
KIND_FRAME, KIND_INDEX = b"FRAM", b"INDX"
MAX_RAW = 64 << 20
MAX_BODY = 72 << 20
MAX_RECORD = 16 << 20

TimeArg = Union[None, int, float, str, datetime.datetime]


class ArchiveError(ValueError):
    """A file that is not a segment, or a frame that cannot be read."""


def _crc_table() -> List[int]:
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_CRC = _crc_table()


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC-32C (Castagnoli, as iSCSI): crc32c(b"123456789") == 0xE3069283."""
    c = crc ^ 0xFFFFFFFF
    t = _CRC
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def to_ns(t: TimeArg) -> Optional[int]:
    """A time as nanoseconds since the epoch: an int (ns), a float
    (seconds), an ISO 8601 string or a datetime (naive means UTC)."""
    if t is None or isinstance(t, int):
        return t
    if isinstance(t, float):
        return int(t * 1e9)
    if isinstance(t, str):
        t = datetime.datetime.fromisoformat(t.replace("Z", "+00:00"))
    if isinstance(t, datetime.datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=datetime.timezone.utc)
        delta = t - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        return (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000
    raise TypeError("not a time: %r" % (t,))


@dataclasses.dataclass
class Frame:
    """One FRAM block: where its header is, how many events, their span."""

    offset: int
    count: int
    body_len: int
    raw_len: int
    tmin: int
    tmax: int
    crc: int = 0  # of the body


class Segment:
    """One segment file (or its bytes). ``status`` is "complete" (index and
    footer present and agreeing), "cut" (the file ends inside or right after
    a block) or "damaged" (a CRC, kind or length is wrong); ``end`` is the
    byte where the readable part ends and ``why`` the reason reading
    stopped there. ``types`` counts events per type (from the index; empty
    without one).

    With ``verify`` (the default) every block's body CRC is checked when the
    segment is opened, as the format's reading rules say; with
    ``verify=False`` a frame's body CRC is checked only when the frame is
    read, so seeking into a large segment skips the CRC of the frames it
    does not read (pure Python CRC-32C runs at a few MB/s)."""

    def __init__(self, source: Union[str, bytes, os.PathLike], verify: bool = True) -> None:
        self.verify = verify
        if isinstance(source, (bytes, bytearray, memoryview)):
            self.path = None
            self.data = bytes(source)
        else:
            self.path = os.fspath(source)
            with open(self.path, "rb") as f:
                self.data = f.read()
        d = self.data
        if len(d) < HEADER or d[:8] != MAGIC or struct.unpack_from("<I", d, 8)[0] != VERSION:
            raise ArchiveError("%s: not a chainscope archive segment (version 1)"
                               % (self.path or "bytes"))
        self.frames: List[Frame] = []
        self.types: Dict[str, int] = {}
        self.status = "cut"
        self.why = ""
        self.end = HEADER
        self._scan()

    def _block(self, off: int) -> tuple:
        d = self.data
        if len(d) - off < BLOCK_HEADER:
            return "cut", "the file ends inside a block header at %d" % off, None
        kind = d[off:off + 4]
        body_len, raw_len, count, tmin, tmax, bcrc, hcrc = struct.unpack_from(
            "<IIIqqII", d, off + 4)
        if crc32c(d[off:off + 36]) != hcrc:
            return "damaged", "block header CRC mismatch at %d" % off, None
        if kind not in (KIND_FRAME, KIND_INDEX):
            return "damaged", "unknown block kind at %d" % off, None
        if body_len > MAX_BODY or (kind == KIND_FRAME and (raw_len > MAX_RAW or count < 1
                                                            or tmin > tmax)) \
                or (kind == KIND_INDEX and raw_len != body_len):
            return "damaged", "bad lengths in the block at %d" % off, None
        body_at = off + BLOCK_HEADER
        if len(d) - body_at < body_len:
            return "cut", "the file ends inside the block at %d" % off, None
        if (self.verify or kind == KIND_INDEX) and crc32c(d[body_at:body_at + body_len]) != bcrc:
            return "damaged", "body CRC mismatch in the block at %d" % off, None
        return kind, Frame(off, count, body_len, raw_len, tmin, tmax, bcrc), body_at

    def _scan(self) -> None:
        d = self.data
        off = HEADER
        while True:
            if off == len(d):
                self.status, self.why = "cut", "the file ends after a block (no index)"
                break
            kind, info, body_at = self._block(off)
            if body_at is None:
                self.status, self.why = kind, info
                break
            if kind == KIND_FRAME:
                self.frames.append(info)
                off = body_at + info.body_len
                self.end = off
                continue
            # INDX: the segment is complete if the footer and index agree
            end = body_at + info.body_len
            ok = (len(d) == end + FOOTER and d[end + 8:end + 16] == END_MAGIC
                  and struct.unpack_from("<Q", d, end)[0] == off)
            if ok:
                ok = self._index(d[body_at:end], info.count)
            self.status = "complete" if ok else "damaged"
            self.why = "" if ok else "the index or footer disagrees with the frames"
            break

    def _index(self, body: bytes, n: int) -> bool:
        if n != len(self.frames) or len(body) < 32 * n + 4:
            return False
        for i, fr in enumerate(self.frames):
            o, c, bl, tmin, tmax = struct.unpack_from("<QIIqq", body, 32 * i)
            if (o, c, bl, tmin, tmax) != (fr.offset, fr.count, fr.body_len, fr.tmin, fr.tmax):
                return False
        p = 32 * n
        ntypes = struct.unpack_from("<I", body, p)[0]
        p += 4
        types = {}
        try:
            for _ in range(ntypes):
                length = shift = 0
                while True:
                    b = body[p]
                    p += 1
                    length |= (b & 0x7F) << shift
                    shift += 7
                    if not b & 0x80:
                        break
                name = body[p:p + length].decode("utf-8")
                p += length
                types[name] = struct.unpack_from("<Q", body, p)[0]
                p += 8
        except (IndexError, UnicodeDecodeError, struct.error):
            return False
        if p != len(body):
            return False
        self.types = types
        return True

    @property
    def count(self) -> int:
        """Events in the readable frames."""
        return sum(f.count for f in self.frames)

    @property
    def tmin(self) -> Optional[int]:
        return min((f.tmin for f in self.frames), default=None)

    @property
    def tmax(self) -> Optional[int]:
        return max((f.tmax for f in self.frames), default=None)

    def records(self, frame: Frame) -> List[bytes]:
        """The records of one frame, decompressed and split (raises
        ArchiveError for a frame that does not decompress as specified)."""
        try:
            import zstandard
        except ImportError:
            raise ArchiveError("reading archive frames needs python3-zstandard "
                               "(pip extra: chainscope[archive])") from None
        body = self.data[frame.offset + BLOCK_HEADER:frame.offset + BLOCK_HEADER + frame.body_len]
        if not self.verify and crc32c(body) != frame.crc:
            raise ArchiveError("frame at %d: body CRC mismatch" % frame.offset)
        try:
            if zstandard.frame_content_size(body) != frame.raw_len:
                raise ArchiveError("frame at %d: content size is not raw_len" % frame.offset)
            dobj = zstandard.ZstdDecompressor().decompressobj()
            raw = dobj.decompress(body)
            if dobj.unused_data or len(raw) != frame.raw_len:
                raise ArchiveError("frame at %d: not one whole zstd frame" % frame.offset)
        except zstandard.ZstdError as e:
            raise ArchiveError("frame at %d: %s" % (frame.offset, e)) from None
        out = []
        p = 0
        for _ in range(frame.count):
            n = shift = 0
            while True:
                if p >= len(raw):
                    raise ArchiveError("frame at %d: items end early" % frame.offset)
                b = raw[p]
                p += 1
                n |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            if not 1 <= n <= MAX_RECORD or p + n > len(raw):
                raise ArchiveError("frame at %d: bad item length" % frame.offset)
            out.append(raw[p:p + n])
            p += n
        if p != len(raw):
            raise ArchiveError("frame at %d: bytes after the last item" % frame.offset)
        return out

    def events(self, start: TimeArg = None, end: TimeArg = None,
               types: Optional[Sequence[str]] = None) -> Iterator[Event]:
        """Events with start <= time < end whose type matches one of the
        subject filters ``types`` (all when None), frame by frame."""
        lo, hi = to_ns(start), to_ns(end)
        for fr in self.frames:
            if (lo is not None and fr.tmax < lo) or (hi is not None and fr.tmin >= hi):
                continue
            for rec in self.records(fr):
                try:
                    ev = decode_event(rec)
                except CodecError as e:
                    raise ArchiveError("frame at %d: bad record: %s" % (fr.offset, e)) from None
                if lo is not None and ev.time < lo or hi is not None and ev.time >= hi:
                    continue
                if types is not None and not any(filter_matches(f, ev.type) for f in types):
                    continue
                yield ev

    __iter__ = events


def segments(path: Union[str, os.PathLike]) -> List[str]:
    """The segment files of an archive folder, in name order (names sort
    by time: docs/archive.md), or [path] for one file."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return sorted(glob.glob(os.path.join(path, "**", "*.cseg"), recursive=True))
    return [path]


def read(path: Union[str, os.PathLike, Iterable[str]], start: TimeArg = None,
         end: TimeArg = None, types: Optional[Sequence[str]] = None,
         as_dict: bool = False, verify: bool = True) -> Iterator[Any]:
    """Events of a segment file, an archive folder or a list of files, in
    file order, seeking by time (see :meth:`Segment.events`). With
    ``as_dict``, each as :meth:`Event.to_dict` (rows for pandas);
    ``verify``: see :class:`Segment`."""
    files = segments(path) if isinstance(path, (str, os.PathLike)) else list(path)
    lo, hi = to_ns(start), to_ns(end)
    for f in files:
        seg = Segment(f, verify=verify)
        if (lo is not None and seg.tmax is not None and seg.tmax < lo) or \
                (hi is not None and seg.tmin is not None and seg.tmin >= hi):
            continue
        for ev in seg.events(lo, hi, types):
            yield ev.to_dict() if as_dict else ev
