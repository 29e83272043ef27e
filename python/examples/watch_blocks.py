#!/usr/bin/env python3
"""Watch block announcements across every connected peer.

Subscribes to the inv, headers and cmpctblock messages the connector's
peers send and prints, for each block, when it was first announced and by
whom, then each later announcement with its delay after the first: how a
block spreads over the peers. Runs until interrupted or for --seconds.

  python3 watch_blocks.py --socket /tmp/cs/bus.sock --seconds 600
"""
import time

from _common import chainscope, parser, peer_name

BLOCK_INV = ("block", "witness_block", "filtered_block", "cmpct_block")


def block_hashes(ev: chainscope.Event) -> list:
    """The block hashes an announcement names."""
    msg = ev.payload.get("msg", {})
    if ev.type == "p2p.msg.inv":
        return [i["hash"] for i in msg.get("inventory", []) if i.get("type") in BLOCK_INV]
    if ev.type == "p2p.msg.headers":
        return [h["hash"] for h in msg.get("headers", []) if "hash" in h]
    if ev.type == "p2p.msg.cmpctblock":
        h = msg.get("header", {}).get("hash") or msg.get("hash")
        return [h] if h else []
    return []


def main() -> int:
    p = parser(__doc__)
    p.add_argument("--seconds", type=float, default=None, help="stop after this long")
    a = p.parse_args()
    first: dict = {}
    with chainscope.Client(a.socket, name="watch_blocks.py") as bus:
        bus.subscribe("p2p.msg.inv", "p2p.msg.headers", "p2p.msg.cmpctblock")
        bus.flush()
        print("watching block announcements", flush=True)
        end = None if a.seconds is None else time.monotonic() + a.seconds
        try:
            while end is None or time.monotonic() < end:
                ev = bus.next(timeout=None if end is None else max(0.0, end - time.monotonic()))
                if ev is None or ev.payload.get("direction") != "in":
                    continue
                for h in block_hashes(ev):
                    via = ev.type.rsplit(".", 1)[1]
                    if h not in first:
                        first[h] = (ev.time, set())
                        print("block %s first announced by %s (%s)" % (h, peer_name(ev), via),
                              flush=True)
                    t0, peers = first[h]
                    if peer_name(ev) not in peers:
                        if peers:
                            print("block %s announced by %s (%s) %.1f ms later"
                                  % (h, peer_name(ev), via, (ev.time - t0) / 1e6), flush=True)
                        peers.add(peer_name(ev))
        except KeyboardInterrupt:
            pass
    for h, (_, peers) in first.items():
        print("block %s: %d peers" % (h, len(peers)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
