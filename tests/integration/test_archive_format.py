#!/usr/bin/python3
"""docs/protocol.md, "Archive segments", is enough to read an archive in
another language: a reader written here from that page alone (CRC-32C,
blocks, zstd frames via python3-zstandard, the index and footer, the event
record's envelope) reads what `chainscope run` with `archive:` wrote and
finds the same events as `chainscope archive cat`, the same index and type
counts, and, for a segment cut short, the same end as `archive verify`."""
import glob
import json
import os
import struct
import sys
import unittest

import zstandard

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cslib import Server, TempDir, cs, main  # noqa: E402


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, i


def envelope(rec):
    """The record's envelope per docs/protocol.md, "Event record"."""
    assert rec[0] == 1
    seq, i = varint(rec, 1)
    (t,) = struct.unpack_from("<q", rec, i)
    i += 8
    out = {"seq": seq, "time": t}
    for name in ("origin", "network", "type", "key"):
        n, i = varint(rec, i)
        out[name] = rec[i:i + n].decode()
        i += n
    return out


def read_segment(data):
    """Returns (events, frames, index or None, end offset)."""
    assert data[:8] == b"CSARCHV1" and struct.unpack_from("<I", data, 8)[0] == 1
    off, frames, events, index = 16, [], [], None
    while off + 40 <= len(data):
        h = data[off:off + 40]
        kind = h[:4]
        body_len, raw_len, count, tmin, tmax, bcrc, hcrc = struct.unpack_from("<IIIqqII", h, 4)
        if crc32c(h[:36]) != hcrc or kind not in (b"FRAM", b"INDX"):
            break
        body = data[off + 40:off + 40 + body_len]
        if len(body) < body_len or crc32c(body) != bcrc:
            break
        if kind == b"FRAM":
            raw = zstandard.ZstdDecompressor().decompress(body)
            assert len(raw) == raw_len
            i, n = 0, 0
            while i < len(raw):
                ln, i = varint(raw, i)
                e = envelope(raw[i:i + ln])
                assert tmin <= e["time"] <= tmax
                events.append(e)
                i += ln
                n += 1
            assert n == count
            frames.append((off, count, body_len, tmin, tmax))
            off += 40 + body_len
            continue
        entries = [struct.unpack_from("<QIIqq", body, 32 * k) for k in range(count)]
        p = 32 * count
        (ntypes,) = struct.unpack_from("<I", body, p)
        p += 4
        types = {}
        for _ in range(ntypes):
            ln, p = varint(body, p)
            name = body[p:p + ln].decode()
            p += ln
            (types[name],) = struct.unpack_from("<Q", body, p)
            p += 8
        footer = data[off + 40 + body_len:]
        assert len(footer) == 16 and footer[8:] == b"CSARCEND"
        assert struct.unpack_from("<Q", footer)[0] == off
        index = {"entries": entries, "types": types}
        off = len(data)
        break
    return events, frames, index, off


class FormatTest(unittest.TestCase):
    def test_a_reader_from_the_spec(self):
        tmp = TempDir()
        self.addCleanup(tmp.cleanup)
        arc = tmp.file("arc")
        srv = Server(tmp, "archive:\n  dir: %s\n  frame_events: 50\n  filter: [demo.>]\n" % arc)
        lines = "".join(json.dumps({"type": "demo.%s" % ("a" if i % 4 else "b"), "network": "lab",
                                    "key": "k%d" % i, "payload": {"i": i, "s": "x" * (i % 7)}})
                        + "\n" for i in range(333))
        r = cs("publish", "--socket", srv.socket, "--origin", "spec@test", input=lines)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(srv.stop(), 0)
        [seg] = glob.glob(os.path.join(arc, "*.cseg"))
        with open(seg, "rb") as f:
            data = f.read()
        events, frames, index, _ = read_segment(data)
        self.assertIsNotNone(index, "closed cleanly: index and footer")
        self.assertEqual([e[:5] for e in index["entries"]], frames)
        self.assertEqual(index["types"], {"demo.a": 249, "demo.b": 84})
        cat = cs("archive", "cat", "--json", seg)
        theirs = [json.loads(line) for line in cat.stdout.splitlines()]
        self.assertEqual(len(events), 333)
        self.assertEqual([(e["seq"], e["time"], e["origin"], e["type"], e["key"]) for e in events],
                         [(e["seq"], e["time"], e["origin"], e["type"], e["key"]) for e in theirs])

        # cut inside the fourth frame: the reader and verify agree on the end
        cut = frames[3][0] + 40 + frames[3][2] // 2
        with open(seg, "r+b") as f:
            f.truncate(cut)
        with open(seg, "rb") as f:
            events, frames2, index, end = read_segment(f.read())
        self.assertIsNone(index)
        self.assertEqual(len(frames2), 3)
        self.assertEqual(len(events), 150)
        v = cs("archive", "verify", seg)
        self.assertIn("cut: 3 complete frames, 150 events readable", v.stdout)
        self.assertIn("readable up to byte %d" % end, v.stdout)


if __name__ == "__main__":
    main()
