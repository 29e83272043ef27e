#!/usr/bin/env python3
"""Disconnect duplicate connections.

Lists the connector's peers and, where several connections go to the same
remote address and port, keeps the oldest (lowest id) and closes the others.
With --by-agent, connections with the same address but any port and the
same user agent count as duplicates too. --dry-run only prints.

  python3 disconnect_duplicates.py --control /tmp/cs/control.sock
"""
import collections

from _common import chainscope, parser


def main() -> int:
    p = parser(__doc__)
    p.add_argument("--by-agent", action="store_true",
                   help="same address and user agent is a duplicate, whatever the port")
    p.add_argument("--dry-run", action="store_true", help="print, close nothing")
    a = p.parse_args()
    with chainscope.Control(a.control) as ctl:
        peers = ctl.peers()
        groups = collections.defaultdict(list)
        for peer in peers:
            k = (peer["addr"], peer["user_agent"]) if a.by_agent else (peer["addr"], peer["port"])
            groups[k].append(peer)
        closed = 0
        for k, group in sorted(groups.items()):
            if len(group) < 2:
                continue
            group.sort(key=lambda x: x["id"])
            keep, extra = group[0], group[1:]
            print("%s: %d connections, keeping peer %d, closing %s" % (
                "%s %s" % k, len(group), keep["id"], " ".join(str(x["id"]) for x in extra)))
            for x in extra:
                if not a.dry_run:
                    closed += ctl.disconnect(x["id"])
        print("%d peers, %d duplicates closed" % (len(peers), closed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
