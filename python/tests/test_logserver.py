"""The log server client against a running chainscope, and the codec on
every event type chainscope knows, in both directions:

- Python publishes one event of every type (payload fields of the types
  `chainscope events --markdown` lists); `chainscope tail --json` prints
  each exactly as Python renders it;
- `chainscope publish` reads those JSON lines; a Python subscriber gets
  events that render to the very same lines.
"""
import asyncio
import random
import re
import subprocess
import threading

import pytest

import chainscope
from chainscope import Event
from conftest import CHAINSCOPE, TOKEN, cslib


def schema():
    """[(type, [(field, type)])] from `chainscope events --markdown`."""
    md = subprocess.run([CHAINSCOPE, "events", "--markdown"], capture_output=True, text=True,
                        check=True).stdout
    types = []
    for block in md.split("\n### ")[1:]:
        name = block.split("\n", 1)[0].strip()
        fields = re.findall(r"^\| ([^|]+?) \| ([a-z0-9]+)[^|]*\|", block, re.M)
        types.append((name, [(f, t) for f, t in fields if f != "field"]))
    return types


def sample(r, t):
    return {
        "string": lambda: r.choice(["", "abc", "héllo \"q\"\n", "127.0.0.1"]),
        "bool": lambda: r.random() < 0.5,
        "u64": lambda: r.choice([0, 1, 2**53 - 1, 2**53 + 1, 2**64 - 1]),
        "i64": lambda: r.choice([0, -1, 70016, -(2**63)]),
        "u256": lambda: r.choice([0, 2**200 + 12345, 2**256 - 1]),
        "double": lambda: r.choice([0.0, 1.5, -2.25e-5, 123456.789]),
        "bytes": lambda: bytes(r.getrandbits(8) for _ in range(r.randrange(1, 9))),
        "object": lambda: {"k": 1},
        "array": lambda: ["x", 2],
        "any": lambda: r.choice([None, 3, "s", [1], {"a": True}]),
    }.get(t, lambda: "?")()


def put(payload, path, t, r):
    """Sets a field named like the schema does: `a.b`, `a[].b`."""
    cur = payload
    parts = path.split(".")
    for p in parts[:-1]:
        if p.endswith("[]"):
            lst = cur.setdefault(p[:-2], [{}])
            if not lst or not isinstance(lst[0], dict):
                lst[:] = [{}]
            cur = lst[0]
        else:
            nxt = cur.get(p)
            if not isinstance(nxt, dict):
                cur[p] = nxt = {}
            cur = nxt
    last = parts[-1]
    if last.endswith("[]"):
        cur[last[:-2]] = [sample(r, t)]
    elif not (last in cur and isinstance(cur[last], (dict, list))):
        cur[last] = sample(r, t)


def every_type_events():
    r = random.Random(15)
    evs = []
    for i, (name, fields) in enumerate(schema()):
        payload = {}
        for f, t in fields:
            put(payload, f, t, r)
        evs.append(Event(name.replace("*", "ping"), payload, network="regtest",
                         key="%d 127.0.0.1:18444" % i, origin="python@test", seq=i + 1,
                         time=1700000000000000000 + i))
    return evs


def test_schema_is_read():
    evs = every_type_events()
    types = {e.type for e in evs}
    assert {"p2p.msg.ping", "evm.block", "alert.fired", "ctl.result"} <= types
    assert len(evs) >= 25


def tail(server, n, *filters):
    args = [CHAINSCOPE, "tail", "--socket", server.socket, "--json", "--count", str(n),
            "--timeout", "30"]
    for f in filters or (">",):
        args += ["--filter", f]
    p = cslib.start(args, text=True)
    assert "connected" in p.stderr.readline()
    return p


def test_python_publishes_every_type_c_tail_prints_it(server):
    evs = every_type_events()
    t = tail(server, len(evs), *sorted({e.type for e in evs}))
    with chainscope.Client(server.socket, name="test") as c:
        for ev in evs:
            c.publish(ev)
        c.flush()
    out, err = t.communicate(timeout=60)
    assert t.returncode == 0, err
    assert out.splitlines() == [chainscope.to_json(e) for e in evs]


def test_c_publish_every_type_python_receives_it(server):
    lines = [chainscope.to_json(e) for e in every_type_events()]
    with chainscope.Client(server.socket) as c:
        c.subscribe(">")
        c.flush()
        r = subprocess.run([CHAINSCOPE, "publish", "--socket", server.socket],
                           input="\n".join(lines) + "\n", capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr
        got = [chainscope.to_json(ev) for ev in c.events(timeout=10, count=len(lines))]
    assert got == lines


def test_tcp_token_and_refusal(server):
    with chainscope.Client(server.tcp, token=TOKEN, name="tcp-test") as c:
        assert c.server_name
        c.subscribe("demo.*")
        c.flush()
        cslib.cs("publish", "--socket", server.socket, "--type", "demo.sample",
                 "--json", '{"n":1}', check=True)
        ev = c.next(timeout=10)
        assert ev.type == "demo.sample" and ev.payload == {"n": 1}
    with pytest.raises(chainscope.LogServerError) as e:
        chainscope.Client(server.tcp, token="wrong-token-0123456789")
    assert e.value.reason.startswith("authentication failed")


def test_filters_and_unsubscribe(server):
    with chainscope.Client(server.socket) as sub, chainscope.Client(server.socket) as pub:
        sub.subscribe("a.*", "b.>")
        sub.flush()
        for t in ("a.x", "a.x.y", "b.c.d", "c", "b"):
            pub.publish(Event(t, {"t": t}))
        pub.flush()
        sub.unsubscribe("a.*")
        sub.flush()
        pub.publish(Event("a.z", {}))
        pub.publish(Event("b.end", {}))
        pub.flush()
        got = [ev.type for ev in sub.events(timeout=2)]
    assert got == ["a.x", "b.c.d", "b.end"]


def test_many_events_none_lost(server):
    """A fast publisher and a subscriber: every event arrives, in order. The
    publisher writes as fast as the socket takes (blocking when the server
    stops reading: back-pressure)."""
    n = 20000
    with chainscope.Client(server.socket) as sub:
        sub.subscribe("load.>")
        sub.flush()

        def publish():
            with chainscope.Client(server.socket) as pub:
                for i in range(n):
                    pub.publish(Event("load.n", {"i": i, "pad": "x" * 200}, seq=i + 1))
                pub.flush(60)
        th = threading.Thread(target=publish)
        th.start()
        got = [ev.payload["i"] for ev in sub.events(timeout=30, count=n)]
        th.join(60)
    assert got == list(range(n))
    assert "cut off" not in server.logtext()


def test_asyncio_client(server):
    async def run():
        sub = await chainscope.AsyncClient.connect(server.socket, name="async-sub")
        pub = await chainscope.AsyncClient.connect(server.tcp, token=TOKEN, name="async-pub")
        await sub.subscribe("demo.>")
        await sub.flush()
        for i in range(100):
            await pub.publish(Event("demo.async", {"i": i}))
        await pub.flush()
        got = []
        async for ev in sub.events(timeout=5):
            got.append(ev.payload["i"])
            if len(got) == 100:
                break
        assert await sub.next(timeout=0.2) is None
        await pub.close()
        await sub.close()
        return got
    assert asyncio.run(run()) == list(range(100))
