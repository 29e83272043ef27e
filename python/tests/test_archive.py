"""The archive reader on a segment the C archiver wrote
(tests/data/archive/README.md): every event read back as published, seeking
by time, type filters, a cut and a damaged copy read up to their last
complete frame, and (when this chainscope has `archive`) a live recording
read by Python and by `chainscope archive cat` alike."""
import os
import signal
import subprocess
import time

import pytest

import chainscope
from chainscope import archive
from conftest import CHAINSCOPE, SOURCE_DIR, cslib

DATA = os.path.join(SOURCE_DIR, "tests", "data", "archive")
SEG = os.path.join(DATA, "every-type.cseg")
zstandard = pytest.importorskip("zstandard")


def expected():
    with open(os.path.join(DATA, "every-type.jsonl")) as f:
        return f.read().splitlines()


def test_crc32c():
    assert archive.crc32c(b"123456789") == 0xE3069283


def test_complete_segment_reads_every_event():
    seg = archive.Segment(SEG)
    assert seg.status == "complete" and len(seg.frames) == 3 and seg.count == 27
    assert seg.types["p2p.msg.ping"] == 1 and sum(seg.types.values()) == 27
    assert [chainscope.to_json(e) for e in archive.read(SEG)] == expected()
    assert [chainscope.to_json(e) for e in archive.read(DATA)] == expected()
    rows = list(archive.read(SEG, as_dict=True))
    assert rows[0]["type"] == "chainscope.started" and "payload" in rows[0]


def test_seek_by_time_and_type():
    evs = list(archive.read(SEG))
    times = sorted(e.time for e in evs)
    lo, hi = times[5], times[15]
    got = list(archive.read(SEG, start=lo, end=hi))
    assert sorted(e.time for e in got) == times[5:15]
    iso = "2023-11-14T22:13:25Z"  # 1700000005 s
    assert all(e.time >= 1700000005 * 10**9 for e in archive.read(SEG, start=iso))
    only = list(archive.read(SEG, types=["p2p.conn.*"]))
    assert only and all(e.type.startswith("p2p.conn.") for e in only)
    # frames outside the range are not decompressed
    seg = archive.Segment(SEG)
    opened = []
    real = seg.records
    seg.records = lambda fr: opened.append(fr.offset) or real(fr)
    list(seg.events(start=max(f.tmax for f in seg.frames)))
    assert 0 < len(opened) < len(seg.frames) or len(seg.frames) == 1


def test_cut_and_damaged_segments():
    with open(SEG, "rb") as f:
        data = f.read()
    seg = archive.Segment(data)
    second = seg.frames[2].offset
    cut = archive.Segment(data[:second + 50])
    assert cut.status == "cut" and len(cut.frames) == 2
    assert [chainscope.to_json(e) for e in cut.events()] == \
        expected()[:seg.frames[0].count + seg.frames[1].count]
    bad = bytearray(data)
    bad[seg.frames[1].offset + 45] ^= 0xFF  # inside the second frame's body
    dmg = archive.Segment(bytes(bad))
    assert dmg.status == "damaged" and "CRC" in dmg.why and len(dmg.frames) == 1
    lazy = archive.Segment(bytes(bad), verify=False)  # CRCs checked when read
    assert lazy.status == "complete" and len(list(lazy.events(end=seg.frames[0].tmin + 1))) >= 1
    with pytest.raises(archive.ArchiveError, match="CRC"):
        list(lazy.events())
    with pytest.raises(archive.ArchiveError):
        archive.Segment(b"CSARCHV2" + data[8:])


def has_archive():
    return subprocess.run([CHAINSCOPE, "archive", "--help"], capture_output=True).returncode == 0


@pytest.mark.skipif(not has_archive(), reason="this chainscope has no archive command")
def test_live_recording_read_alike(server, tmp):
    folder = tmp.file("ar")
    rec = cslib.start([CHAINSCOPE, "archive", "record", "--socket", server.socket, "--dir",
                       folder, "--frame-events", "7"], text=True)
    assert "recording" in rec.stderr.readline()
    with chainscope.Client(server.socket) as c:
        for i in range(50):
            c.publish(chainscope.Event("demo.arch", {"i": i, "b": bytes([i])}, seq=i + 1,
                                       time=1700000000 * 10**9 + i))
        c.flush()
    time.sleep(1.5)  # a frame stays open up to --frame-interval (1 s)
    rec.send_signal(signal.SIGTERM)
    assert rec.wait(30) == 0
    got = [chainscope.to_json(e) for e in archive.read(folder, types=["demo.>"])]
    assert [e["payload"]["i"] for e in archive.read(folder, types=["demo.>"], as_dict=True)] \
        == list(range(50))
    cat = cslib.cs("archive", "cat", "--json", "--filter", "demo.>", folder)
    assert cat.returncode == 0, cat.stderr
    assert cat.stdout.splitlines() == got
