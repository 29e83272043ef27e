#!/usr/bin/env python3
"""Ask many peers for addresses and collect what they answer.

Connects to every peer given (arguments, or one ip:port per line of
--from FILE, such as `chainscope simnet --list`), waits for the handshakes,
sends one getaddr to every peer at once through the control socket, and
collects the addresses in addr and addrv2 answers for --seconds. Prints one
line per peer (how many addresses it gave) and the number of distinct
addresses; --out writes them, one per line.

  python3 getaddr.py --control /tmp/cs/control.sock --from nodes.txt --out seen.txt
"""
import collections
import time

from _common import chainscope, parser, peer_id, wait_handshakes


def main() -> int:
    p = parser(__doc__)
    p.add_argument("addrs", nargs="*", help="peers, ip:port")
    p.add_argument("--from", dest="from_file", help="file with one peer per line (first word)")
    p.add_argument("--seconds", type=float, default=5, help="how long to collect (default 5)")
    p.add_argument("--out", help="write the distinct addresses here")
    a = p.parse_args()
    addrs = list(a.addrs)
    if a.from_file:
        with open(a.from_file) as f:
            addrs += [line.split()[0] for line in f if line.strip()]
    if not addrs:
        p.error("no peers given")
    with chainscope.Client(a.socket, name="getaddr.py") as bus, \
            chainscope.Control(a.control) as ctl:
        bus.subscribe("p2p.handshake", "p2p.conn.*", "p2p.msg.addr", "p2p.msg.addrv2")
        bus.flush()
        ids = {ctl.connect(addr): addr for addr in addrs}
        ready = [pid for pid, ev in wait_handshakes(bus, set(ids), 30).items() if ev]
        print("%d of %d peers completed the handshake" % (len(ready), len(ids)))
        sent = ctl.send_message({"command": "getaddr"}, ready)
        print("getaddr sent to %d peers" % sent)
        per_peer: collections.Counter = collections.Counter()
        seen: set = set()
        end = time.monotonic() + a.seconds
        while (left := end - time.monotonic()) > 0:
            ev = bus.next(timeout=left)
            if ev is None or ev.payload.get("direction") != "in" or peer_id(ev) not in ids:
                continue
            if ev.type in ("p2p.msg.addr", "p2p.msg.addrv2"):
                for entry in ev.payload["msg"].get("addresses", []):
                    addr = entry["addr"]
                    seen.add(("[%s]:%d" if ":" in str(addr) else "%s:%d") % (addr, entry["port"]))
                    per_peer[peer_id(ev)] += 1
        for pid in sorted(ids):
            print("peer %d %s: %d addresses" % (pid, ids[pid], per_peer[pid]))
        print("%d distinct addresses from %d peers" % (len(seen), len(per_peer)))
        if a.out:
            with open(a.out, "w") as f:
                f.writelines(s + "\n" for s in sorted(seen))
        ctl.disconnect("all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
