"""Client of the connector's control socket (docs/control-protocol.md):
everything ``chainscope ctl`` does::

    with chainscope.Control("/tmp/cs/control.sock") as ctl:
        pid = ctl.connect("127.0.0.1:18444")
        mid = ctl.register({"command": "getaddr"})
        ctl.send(mid, [pid])
        for p in ctl.peers():
            print(p["id"], p["addr"], p["user_agent"])

Every call returns what the server's RESULT holds; :attr:`Control.last`
keeps the whole :class:`Result` with its request id, which is the
``request`` field of the ``ctl.result`` event the connector publishes for it
(so a command can be matched with its log entry and with the traffic it
caused). A refused request raises :class:`ControlError` with the server's
status and message.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import struct
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

from .codec import decode_value

__all__ = ["Control", "AsyncControl", "ControlError", "Result", "default_control_socket",
           "CONNECT", "DISCONNECT", "REGISTER", "SEND", "PEERS", "RESULT"]

CONNECT, DISCONNECT, REGISTER, SEND, PEERS = 0x01, 0x02, 0x03, 0x04, 0x05
PEERS_PAGE_MAX = 5000  # peers in one PEERS page (docs/control-protocol.md)


def _peers_body(after: int, limit: int) -> bytes:
    if not 1 <= limit <= PEERS_PAGE_MAX:
        raise ValueError("a page holds 1..%d peers" % PEERS_PAGE_MAX)
    return struct.pack("<QI", after, limit)
RESULT = 0x80
MAX_FRAME = 4 << 20
# Status codes (docs/control-protocol.md).
EINVAL, ENOTFOUND, ELIMIT, EBLOCKED, EUNSUPPORTED = -10002, -10006, -10008, -10011, -10016


def default_control_socket() -> str:
    """$CHAINSCOPE_CONTROL, else /tmp/chainscope-$UID/control.sock (as
    ``chainscope ctl``)."""
    return os.environ.get("CHAINSCOPE_CONTROL") or \
        "/tmp/chainscope-%d/control.sock" % os.getuid()


@dataclasses.dataclass
class Result:
    """One RESULT: the request id it answers, the status (0 or a negative
    code) and the decoded object (``op`` and the op's fields, or ``error``)."""

    request: int
    status: int
    value: Dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status == 0


class ControlError(RuntimeError):
    """The connector refused a request: ``status`` is its code, the message
    what it said."""

    def __init__(self, op: str, result: Result) -> None:
        msg = result.value.get("error") if isinstance(result.value, dict) else None
        super().__init__("%s: %s (status %d)" % (op, msg or "failed", result.status))
        self.status = result.status
        self.result = result


def _register_body(message: Union[dict, str, bytes]) -> bytes:
    if isinstance(message, (bytes, bytearray, memoryview)):
        return b"\0" + bytes(message)
    text = message if isinstance(message, str) else json.dumps(message)
    return b"\1" + text.encode()


def _send_body(message: int, peers: Iterable[int]) -> bytes:
    ids = list(peers)
    return struct.pack("<II", message, len(ids)) + b"".join(struct.pack("<Q", i) for i in ids)


def _result(rid: int, payload: bytes) -> Result:
    if len(payload) < 4:
        raise ConnectionError("short RESULT from the connector")
    status = struct.unpack_from("<i", payload)[0]
    value = decode_value(payload[4:]) if len(payload) > 4 else {}
    res = Result(rid, status, value)
    if status != 0:
        raise ControlError(value.get("op", "request") if isinstance(value, dict) else
                           "request", res)
    return res


class Control:
    """A blocking control socket client; ``timeout`` bounds each reply."""

    def __init__(self, path: Optional[str] = None, timeout: float = 10.0) -> None:
        self.path = path or default_control_socket()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(self.path)
        except BaseException:
            self.sock.close()
            raise
        self._next_id = 0
        self._buf = bytearray()
        self.last: Optional[Result] = None

    # -- the protocol
    def request(self, op: int, body: bytes = b"") -> Result:
        """Sends one request and returns its result (raises ControlError
        when the status is not 0)."""
        self._next_id = (self._next_id + 1) & 0xFFFFFFFF or 1
        rid = self._next_id
        frame = struct.pack("<IBI", len(body) + 5, op, rid) + body
        if len(frame) - 4 > MAX_FRAME:
            raise ValueError("request larger than 4 MiB")
        self.sock.sendall(frame)
        while True:
            ftype, got, payload = self._read_frame()
            if ftype == RESULT and got == rid:
                break
        try:
            res = _result(rid, payload)
        except ControlError as e:
            self.last = e.result
            raise
        self.last = res
        return res

    def _read_frame(self) -> tuple:
        while True:
            if len(self._buf) >= 4:
                n = struct.unpack_from("<I", self._buf)[0]
                if n < 5 or n > MAX_FRAME:
                    raise ConnectionError("bad frame length %d from the connector" % n)
                if len(self._buf) >= 4 + n:
                    ftype, rid = struct.unpack_from("<BI", self._buf, 4)
                    body = bytes(self._buf[9:4 + n])
                    del self._buf[:4 + n]
                    return ftype, rid, body
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("the connector closed the control connection")
            self._buf += chunk

    # -- what chainscope ctl does
    def connect(self, addr: str) -> int:
        """Opens a connection to ``ip:port`` (``[v6]:port``); returns the
        new peer id."""
        return int(self.request(CONNECT, addr.encode()).value["id"])

    def disconnect(self, peer: Union[int, str] = 0) -> int:
        """Closes one peer by id, or every peer (0 or "all"); returns how
        many were closed."""
        pid = 0 if peer == "all" else int(peer)
        return int(self.request(DISCONNECT, struct.pack("<Q", pid)).value["count"])

    def register(self, message: Union[dict, str, bytes]) -> int:
        """Registers a message: a dict or JSON text describing it (the
        fields of ``chainscope p2p encode``, e.g. ``{"command": "ping",
        "nonce": 7}``) or ``bytes`` of a framed message sent as they are.
        Returns its message id."""
        return int(self.request(REGISTER, _register_body(message)).value["id"])

    def send(self, message: int, peers: Iterable[int] = ()) -> Dict[str, Any]:
        """Sends a registered message to the given peer ids (none: every
        peer whose handshake is done); returns ``sent`` and ``missing``."""
        return self.request(SEND, _send_body(message, peers)).value

    def send_message(self, message: Union[dict, str, bytes],
                     peers: Sequence[int] = ()) -> int:
        """Registers a message and sends it; returns to how many peers."""
        return int(self.send(self.register(message), peers)["sent"])

    def peers(self, page: int = PEERS_PAGE_MAX) -> List[Dict[str, Any]]:
        """The connections, in ascending id order, asked `page` at a time
        (so a horde of any size is listed): dicts with id, direction, addr,
        port, local_addr, local_port, ready, version, services, user_agent,
        start_height, rtt_ms (-1 before the first pong), bytes_in,
        bytes_out, msgs_in, msgs_out, connected_ms."""
        out: List[Dict[str, Any]] = []
        after = 0
        while True:
            v = self.request(PEERS, _peers_body(after, page)).value
            out += v.get("peers", [])
            nxt = int(v.get("next", 0))
            if nxt <= after:
                return out
            after = nxt

    def close(self) -> None:
        """Closes the connection."""
        self.sock.close()

    def __enter__(self) -> "Control":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncControl:
    """The asyncio control client: ``await AsyncControl.connect(path)``,
    then the same calls as :class:`Control`, awaited. Requests may be sent
    from several tasks at once; each result reaches the task that sent its
    request (by request id)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 timeout: float) -> None:
        self.reader, self.writer, self.timeout = reader, writer, timeout
        self._next_id = 0
        self._waiting: Dict[int, asyncio.Future] = {}
        self._task = asyncio.get_running_loop().create_task(self._read_loop())
        self.last: Optional[Result] = None

    @classmethod
    async def connect(cls, path: Optional[str] = None, timeout: float = 10.0) -> "AsyncControl":
        r, w = await asyncio.wait_for(
            asyncio.open_unix_connection(path or default_control_socket()), timeout)
        return cls(r, w, timeout)

    async def _read_loop(self) -> None:
        try:
            while True:
                hdr = await self.reader.readexactly(4)
                n = struct.unpack("<I", hdr)[0]
                if n < 5 or n > MAX_FRAME:
                    raise ConnectionError("bad frame length %d from the connector" % n)
                frame = await self.reader.readexactly(n)
                ftype, rid = struct.unpack_from("<BI", frame)
                fut = self._waiting.pop(rid, None)
                if ftype == RESULT and fut and not fut.done():
                    fut.set_result(frame[5:])
        except (asyncio.IncompleteReadError, ConnectionError) as e:
            for fut in self._waiting.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("the connector closed the control "
                                                      "connection: %s" % e))
            self._waiting.clear()

    async def request(self, op: int, body: bytes = b"") -> Result:
        """Sends one request and waits for its result (see Control.request)."""
        self._next_id = (self._next_id + 1) & 0xFFFFFFFF or 1
        rid = self._next_id
        fut = asyncio.get_running_loop().create_future()
        self._waiting[rid] = fut
        self.writer.write(struct.pack("<IBI", len(body) + 5, op, rid) + body)
        await self.writer.drain()
        try:
            payload = await asyncio.wait_for(fut, self.timeout)
        finally:
            self._waiting.pop(rid, None)
        try:
            res = _result(rid, payload)
        except ControlError as e:
            self.last = e.result
            raise
        self.last = res
        return res

    async def connect_peer(self, addr: str) -> int:
        """Control.connect (named so as not to clash with the constructor)."""
        return int((await self.request(CONNECT, addr.encode())).value["id"])

    async def disconnect(self, peer: Union[int, str] = 0) -> int:
        pid = 0 if peer == "all" else int(peer)
        return int((await self.request(DISCONNECT, struct.pack("<Q", pid))).value["count"])

    async def register(self, message: Union[dict, str, bytes]) -> int:
        return int((await self.request(REGISTER, _register_body(message))).value["id"])

    async def send(self, message: int, peers: Iterable[int] = ()) -> Dict[str, Any]:
        return (await self.request(SEND, _send_body(message, peers))).value

    async def send_message(self, message: Union[dict, str, bytes],
                           peers: Sequence[int] = ()) -> int:
        return int((await self.send(await self.register(message), peers))["sent"])

    async def peers(self, page: int = PEERS_PAGE_MAX) -> List[Dict[str, Any]]:
        out: List[Dict[str, Any]] = []
        after = 0
        while True:
            v = (await self.request(PEERS, _peers_body(after, page))).value
            out += v.get("peers", [])
            nxt = int(v.get("next", 0))
            if nxt <= after:
                return out
            after = nxt

    async def close(self) -> None:
        self._task.cancel()
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass

    async def __aenter__(self) -> "AsyncControl":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
