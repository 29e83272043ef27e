"""The control client drives a connector (chainscope run) to a simnet:
connect, peers, register and send, disconnect, refusals; each result is
matched with its ctl.result event on the log server."""
import asyncio
import hashlib

import pytest

import chainscope
from chainscope.control import EINVAL, ENOTFOUND


def handshakes(bus, ids, timeout=20):
    seen = set()
    for ev in bus.events(timeout=timeout):
        if ev.type == "p2p.handshake" and ev.payload["peer"]["id"] in ids:
            seen.add(ev.payload["peer"]["id"])
            if seen == ids:
                break
    return seen


def test_control_client_drives_connector(connector, simnet):
    with chainscope.Client(connector.socket) as bus, chainscope.Control(connector.control) as ctl:
        bus.subscribe("p2p.handshake", "p2p.msg.addr", "p2p.msg.addrv2", "ctl.result")
        bus.flush()
        ids = [ctl.connect(a) for a in simnet[:3]]
        assert len(set(ids)) == 3
        assert handshakes(bus, set(ids)) == set(ids)
        peers = {p["id"]: p for p in ctl.peers()}
        assert set(peers) == set(ids)
        for pid, addr in zip(ids, simnet[:3]):
            p = peers[pid]
            assert "%s:%d" % (p["addr"], p["port"]) == addr
            assert p["ready"] is True and p["direction"] == "out" and p["version"] > 0
        mid = ctl.register({"command": "getaddr"})
        res = ctl.send(mid, ids[:2])
        assert res["sent"] == 2 and res["missing"] == 0
        send_request = ctl.last.request
        answered = set()
        results = {}
        for ev in bus.events(timeout=10):
            if ev.type == "ctl.result":
                results[ev.payload["request"]] = ev.payload
            elif ev.payload.get("direction") == "in":
                answered.add(ev.payload["peer"]["id"])
            if answered == set(ids[:2]) and send_request in results:
                break
        assert answered == set(ids[:2])
        r = results[send_request]
        assert r["ok"] is True and r["result"]["op"] == "send" and r["result"]["sent"] == 2
        # raw bytes: a framed ping, sent as is to every ready peer
        payload = bytes(8)
        check = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
        raw = bytes.fromhex("fabfb5da") + b"ping".ljust(12, b"\0") + \
            len(payload).to_bytes(4, "little") + check + payload
        assert ctl.send(ctl.register(raw))["sent"] == 3
        assert ctl.disconnect(ids[0]) == 1
        assert {p["id"] for p in ctl.peers()} == set(ids[1:])
        with pytest.raises(chainscope.ControlError) as e:
            ctl.disconnect(999999)
        assert e.value.status == ENOTFOUND
        with pytest.raises(chainscope.ControlError) as e:
            ctl.connect("not an address")
        assert e.value.status == EINVAL and "error" in e.value.result.value
        assert ctl.disconnect("all") == 2
        assert ctl.peers() == []


def test_async_control_concurrent_requests(connector, simnet):
    async def run():
        async with await chainscope.AsyncControl.connect(connector.control) as ctl:
            ids = await asyncio.gather(*(ctl.connect_peer(a) for a in simnet[:5]))
            assert len(set(ids)) == 5
            peers, mid = await asyncio.gather(ctl.peers(), ctl.register({"command": "ping",
                                                                          "nonce": 3}))
            assert {p["id"] for p in peers} == set(ids) and mid >= 1
            try:
                await ctl.disconnect(123456)
            except chainscope.ControlError as e:
                assert e.status == ENOTFOUND and ctl.last.status == ENOTFOUND
            else:
                raise AssertionError("disconnect of no peer succeeded")
            assert await ctl.disconnect("all") == 5
            assert await ctl.peers() == []
    asyncio.run(run())
