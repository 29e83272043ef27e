#!/usr/bin/python3
"""Figures of the Python package: codec rates on a P2P message event, and
events per second a Python subscriber takes from a log server beside the C
client (`chainscope tail --json`) on the same stream."""
import os
import subprocess
import sys
import threading
import time

SRC = os.environ.get("CS_SOURCE_DIR", os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(SRC, "python"))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
import chainscope  # noqa: E402
import cslib  # noqa: E402

EV = chainscope.Event("p2p.msg.addr", {
    "peer": {"id": 17, "addr": "203.0.113.7", "port": 8333, "direction": "in"},
    "direction": "in", "command": "addr", "size": 301,
    "msg": {"count": 10, "addresses": [{"time": 1700000000 + i, "services": 1033,
                                        "addr": "198.51.100.%d" % i, "port": 8333}
                                       for i in range(10)]}},
    network="btc-main", key="17 203.0.113.7:8333", origin="connector@lab", seq=1, time=1)


def rate(fn, n):
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - t)


def main():
    rec = EV.encode()
    n = 20000
    print("python_encode_addr_event: %.0f events/s" % rate(EV.encode, n))
    print("python_decode_addr_event: %.0f events/s" % rate(lambda: chainscope.decode_event(rec), n))
    print("python_json_addr_event: %.0f events/s" % rate(lambda: chainscope.to_json(EV), n))
    print("addr_event_record: %d bytes" % len(rec))
    tmp = cslib.TempDir()
    srv = cslib.Server(tmp)
    try:
        events = 100000
        for who in ("python", "c_tail"):
            if who == "python":
                c = chainscope.Client(srv.socket)
                c.subscribe("p2p.>")
                c.flush()
            else:
                p = cslib.start([cslib.CHAINSCOPE, "tail", "--socket", srv.socket, "--json",
                                 "--filter", "p2p.>", "--count", str(events)],
                                stdout=subprocess.DEVNULL, text=True)
                p.stderr.readline()
            recs = []
            for i in range(events):
                EV.seq = i + 1
                recs.append(EV.encode())

            def publish():
                with chainscope.Client(srv.socket) as pub:
                    for r in recs:
                        pub.publish_raw(r)
                    pub.flush(120)
            th = threading.Thread(target=publish)
            t = time.perf_counter()
            th.start()
            if who == "python":
                got = sum(1 for _ in c.events(timeout=30, count=events))
                c.close()
            else:
                p.wait(120)
                got = events if p.returncode == 0 else 0
            dt = time.perf_counter() - t
            th.join()
            print("logserver_subscriber_%s: %.0f events/s (%d events of %d bytes)"
                  % (who, got / dt, got, len(rec)))
    finally:
        srv.stop()
        tmp.cleanup()


if __name__ == "__main__":
    main()
