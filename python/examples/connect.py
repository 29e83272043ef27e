#!/usr/bin/env python3
"""Connect to one peer and print what it says about itself.

Asks the connector (through its control socket) to open a connection to
ADDR, waits on the log server for the handshake, prints the peer's version,
user agent, services and height, then every message from it for --seconds.

  python3 connect.py --socket /tmp/cs/bus.sock --control /tmp/cs/control.sock \\
      127.0.0.1:18444
"""
import time

from _common import chainscope, parser, peer_id, wait_handshakes


def main() -> int:
    p = parser(__doc__)
    p.add_argument("addr", help="the peer, ip:port or [ipv6]:port")
    p.add_argument("--seconds", type=float, default=5, help="how long to watch (default 5)")
    a = p.parse_args()
    with chainscope.Client(a.socket, name="connect.py") as bus, \
            chainscope.Control(a.control) as ctl:
        bus.subscribe("p2p.>")
        bus.flush()
        pid = ctl.connect(a.addr)
        print("peer %d: connecting to %s (request %d)" % (pid, a.addr, ctl.last.request))
        hs = wait_handshakes(bus, {pid}, timeout=15).get(pid)
        if hs is None:
            print("peer %d: no handshake" % pid)
            return 1
        pl = hs.payload
        print("peer %d: handshake: version %d, user agent %s, services %d, height %d"
              % (pid, pl["version"], pl["user_agent"], pl["services"], pl["start_height"]))
        end = time.monotonic() + a.seconds
        while (left := end - time.monotonic()) > 0:
            ev = bus.next(timeout=left)
            if ev and ev.type.startswith("p2p.msg.") and peer_id(ev) == pid \
                    and ev.payload["direction"] == "in":
                print("peer %d: %s (%d bytes)" % (pid, ev.payload["command"], ev.payload["size"]))
        ctl.disconnect(pid)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
