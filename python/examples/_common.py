"""Shared by the examples: command-line options for the two sockets, and
the peer id an event is about."""
from __future__ import annotations

import argparse
import os
import sys

try:
    import chainscope  # installed (pip install ./python)
except ImportError:  # run from the source tree
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import chainscope  # noqa: E402


def parser(doc: str) -> argparse.ArgumentParser:
    """An argument parser with --socket (the log server) and --control (the
    connector's control socket), defaulting like chainscope tail and ctl."""
    p = argparse.ArgumentParser(description=doc.strip().splitlines()[0],
                                epilog=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--socket", default=None,
                   help="log server: a unix socket or tcp:HOST:PORT (token from "
                        "$CHAINSCOPE_TOKEN; default %s)" % chainscope.default_socket())
    p.add_argument("--control", default=None,
                   help="connector control socket (default %s)"
                        % chainscope.default_control_socket())
    return p


def peer_id(ev: chainscope.Event) -> int:
    """The connector's id of the peer an event is about."""
    return int(ev.payload["peer"]["id"])


def peer_name(ev: chainscope.Event) -> str:
    """ip:port of the peer an event is about."""
    p = ev.payload["peer"]
    return ("[%s]:%d" if ":" in p["addr"] else "%s:%d") % (p["addr"], p["port"])


def wait_handshakes(client: chainscope.Client, ids: set, timeout: float) -> dict:
    """Reads events until every peer in ids has done its handshake (or
    failed or closed); returns {id: handshake event or None}."""
    done: dict = {}
    for ev in client.events(timeout=timeout):
        if ev.type.startswith("p2p.") and "peer" in ev.payload and peer_id(ev) in ids:
            pid = peer_id(ev)
            if ev.type == "p2p.handshake":
                done[pid] = ev
            elif ev.type in ("p2p.conn.failed", "p2p.conn.closed"):
                done.setdefault(pid, None)
        if len(done) == len(ids):
            break
    return done
