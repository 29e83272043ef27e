"""Client of the chainscope log server (docs/protocol.md, "Log server").

Two interfaces with the same methods: :class:`Client` (blocking sockets) and
:class:`AsyncClient` (asyncio)::

    with chainscope.Client() as c:            # the default socket
        c.subscribe("p2p.msg.*")
        c.flush()                             # the subscription is in place
        for ev in c.events(timeout=5):
            print(ev.type, ev.payload)

    async with await chainscope.AsyncClient.connect("tcp:127.0.0.1:7400",
                                                     token="...") as c:
        await c.publish(chainscope.Event("demo.sample", {"n": 1}))
        await c.flush()

Back-pressure: publishing writes to the socket and blocks (``Client``) or
waits in ``drain()`` (``AsyncClient``) while the server is not reading, which
it stops doing while its bus is pressed. Nothing is dropped on the way; a
subscriber that does not read is cut off by the server once its output
bound is passed (``logserver.buffer``).
"""
from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from typing import AsyncIterator, Iterator, List, Optional, Tuple

from .codec import CodecError, Event, decode_event, encode_event, filter_valid

__all__ = ["Client", "AsyncClient", "LogServerError", "default_socket",
           "HELLO", "WELCOME", "SUB", "UNSUB", "PUB", "EVENT", "PING", "PONG", "ERROR"]

HELLO, WELCOME, SUB, UNSUB, PUB, EVENT, PING, PONG, ERROR = range(1, 10)
VERSION = 1
FRAME_MAX = (16 << 20) + 1  # type byte and body
STR_MAX = 1024
MAX_FILTERS = 64


class LogServerError(ConnectionError):
    """The server refused or closed the connection; ``reason`` is what it
    said in its ERROR frame (empty when it said nothing). Reasons starting
    with "limit:" mean the server is full: try again later."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message + (": " + reason if reason else ""))
        self.reason = reason


def default_socket() -> str:
    """The socket ``chainscope tail`` and ``publish`` use by default:
    $CHAINSCOPE_SOCKET, else $XDG_RUNTIME_DIR/chainscope/bus.sock, else
    /tmp/chainscope-$UID/bus.sock."""
    env = os.environ.get("CHAINSCOPE_SOCKET")
    if env:
        return env
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return os.path.join(xdg, "chainscope", "bus.sock")
    return "/tmp/chainscope-%d/bus.sock" % os.getuid()


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _str(s: str) -> bytes:
    b = s.encode("utf-8")
    if len(b) > STR_MAX:
        raise ValueError("string longer than %d bytes" % STR_MAX)
    return _varint(len(b)) + b


def _get_str(body: bytes, p: int = 0) -> Tuple[str, int]:
    n = shift = 0
    while True:
        if p >= len(body):
            raise CodecError("truncated string")
        c = body[p]
        p += 1
        n |= (c & 0x7F) << shift
        if not c & 0x80:
            break
        shift += 7
    if n > STR_MAX or p + n > len(body):
        raise CodecError("bad string length")
    return body[p:p + n].decode("utf-8", "replace"), p + n


def frame(ftype: int, body: bytes = b"") -> bytes:
    """One frame: u32 LE length of type and body, the type, the body."""
    if len(body) + 1 > FRAME_MAX:
        raise ValueError("frame larger than 16 MiB")
    return struct.pack("<IB", len(body) + 1, ftype) + body


def _hello(name: str, token: Optional[str]) -> bytes:
    return frame(HELLO, bytes([VERSION]) + _str(name) + _str(token or ""))


def _parse_address(address: Optional[str]) -> Tuple[str, object]:
    address = address or default_socket()
    if address.startswith("tcp:"):
        host, _, port = address[4:].rpartition(":")
        return "tcp", (host.strip("[]"), int(port))
    return "unix", address


def _check_filter(f: str) -> None:
    if not filter_valid(f):
        raise ValueError("%r is not a subject filter" % f)


class _Base:
    """What both clients share: the subscription list and the PING cookie."""

    def __init__(self) -> None:
        self.server_name = ""
        self.filters: List[str] = []
        self._cookie = 0
        self._pending: List[Event] = []
        self.error = ""
        self._buf = bytearray()

    def _take(self) -> Optional[Tuple[int, bytes]]:
        if len(self._buf) < 5:
            return None
        n = struct.unpack_from("<I", self._buf)[0]
        if n < 1 or n > FRAME_MAX:
            raise LogServerError("bad frame length %d from the server" % n)
        if len(self._buf) < 4 + n:
            return None
        ftype = self._buf[4]
        body = bytes(self._buf[5:4 + n])
        del self._buf[:4 + n]
        return ftype, body

    def _sub_frame(self, f: str) -> bytes:
        _check_filter(f)
        if f not in self.filters:
            if len(self.filters) >= MAX_FILTERS:
                raise ValueError("at most %d filters per client" % MAX_FILTERS)
            self.filters.append(f)
        return frame(SUB, _str(f))

    def _unsub_frame(self, f: str) -> bytes:
        _check_filter(f)
        if f in self.filters:
            self.filters.remove(f)
        return frame(UNSUB, _str(f))

    def _welcome(self, ftype: int, body: bytes) -> None:
        if ftype == ERROR:
            reason = _get_str(body)[0]
            raise LogServerError("refused by the server", reason)
        if ftype != WELCOME or not body or body[0] != VERSION:
            raise LogServerError("the server did not answer WELCOME")
        self.server_name = _get_str(body, 1)[0]

    def _next_cookie(self) -> int:
        self._cookie += 1
        return self._cookie


class Client(_Base):
    """A blocking log server client. ``address`` is a unix socket path or
    ``tcp:HOST:PORT`` (default :func:`default_socket`); ``token`` defaults
    to $CHAINSCOPE_TOKEN (TCP needs it, the unix socket ignores it).
    Raises :class:`LogServerError` when the server refuses the client."""

    def __init__(self, address: Optional[str] = None, name: str = "python",
                 token: Optional[str] = None, timeout: float = 10.0) -> None:
        super().__init__()
        kind, where = _parse_address(address)
        self.address = address or default_socket()
        if token is None:
            token = os.environ.get("CHAINSCOPE_TOKEN", "")
        if kind == "tcp":
            self.sock = socket.create_connection(where, timeout=timeout)  # type: ignore[arg-type]
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        else:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(where)  # type: ignore[arg-type]
        try:
            try:
                self.sock.sendall(_hello(name, token))
            except OSError:
                pass  # a refusing server may close first: read its reason
            self._welcome(*self._read_frame(timeout))
        except BaseException:
            self.sock.close()
            raise
        self.sock.settimeout(None)

    # -- framing
    def _fill(self, timeout: Optional[float]) -> bool:
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(1 << 16)
        except (socket.timeout, BlockingIOError):
            return False
        except OSError as e:
            raise LogServerError("connection lost: %s" % e, self.error) from None
        if not chunk:
            raise LogServerError("the server closed the connection", self.error)
        self._buf += chunk
        return True

    def _read_frame(self, timeout: Optional[float]) -> Tuple[int, bytes]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            f = self._take()
            if f:
                return f
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError("nothing from the server for %g s" % timeout)
            self._fill(left)

    def _control(self, ftype: int, body: bytes) -> Optional[Event]:
        """Handles a frame; returns the event of an EVENT frame."""
        if ftype == EVENT:
            return decode_event(body)
        if ftype == ERROR:
            self.error = _get_str(body)[0]
        elif ftype == PING:
            self._send(frame(PONG, body))
        return None

    def _send(self, data: bytes) -> None:
        self.sock.settimeout(None)
        self.sock.sendall(data)  # blocks while the server does not read

    # -- API
    def subscribe(self, *filters: str) -> None:
        """Adds subject filters (NATS style: ``p2p.msg.*``, ``evm.>``)."""
        self._send(b"".join(self._sub_frame(f) for f in filters))

    def unsubscribe(self, *filters: str) -> None:
        """Removes subject filters."""
        self._send(b"".join(self._unsub_frame(f) for f in filters))

    def publish(self, ev: Event) -> None:
        """Publishes one event (its record is built with encode_event).
        Blocks while the server does not read: back-pressure."""
        self._send(frame(PUB, encode_event(ev)))

    def publish_raw(self, record: bytes) -> None:
        """Publishes an already encoded record as it is."""
        self._send(frame(PUB, bytes(record)))

    def flush(self, timeout: float = 30.0) -> None:
        """Waits until the server has handed on every event published before
        (and, for a subscriber, until the subscriptions sent before are in
        place). Events that arrive meanwhile are kept for :meth:`next`."""
        cookie = self._next_cookie()
        self._send(frame(PING, struct.pack("<Q", cookie)))
        deadline = time.monotonic() + timeout
        while True:
            ftype, body = self._read_frame(max(0.0, deadline - time.monotonic()))
            if ftype == PONG and len(body) == 8 and struct.unpack("<Q", body)[0] == cookie:
                return
            ev = self._control(ftype, body)
            if ev is not None:
                self._pending.append(ev)

    def next(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event, or None when none arrives within ``timeout``
        seconds (None waits for ever). Raises LogServerError when the
        connection ends."""
        if self._pending:
            return self._pending.pop(0)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            f = self._take()
            if f:
                ev = self._control(*f)
                if ev is not None:
                    return ev
                continue
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None
            if not self._fill(left):
                return None

    def events(self, timeout: Optional[float] = None, count: Optional[int] = None
               ) -> Iterator[Event]:
        """Iterates events until ``count`` were seen or none arrives within
        ``timeout`` seconds."""
        seen = 0
        while count is None or seen < count:
            ev = self.next(timeout)
            if ev is None:
                return
            seen += 1
            yield ev

    __iter__ = events

    def fileno(self) -> int:
        """The socket, for select()."""
        return self.sock.fileno()

    def close(self) -> None:
        """Closes the connection."""
        self.sock.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient(_Base):
    """The asyncio log server client; make one with ``await
    AsyncClient.connect(...)`` (same arguments as :class:`Client`)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__()
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, address: Optional[str] = None, name: str = "python",
                      token: Optional[str] = None, timeout: float = 10.0) -> "AsyncClient":
        kind, where = _parse_address(address)
        if token is None:
            token = os.environ.get("CHAINSCOPE_TOKEN", "")
        if kind == "tcp":
            host, port = where  # type: ignore[misc]
            r, w = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        else:
            r, w = await asyncio.wait_for(asyncio.open_unix_connection(where), timeout)
        c = cls(r, w)
        try:
            w.write(_hello(name, token))
            try:
                await w.drain()
            except OSError:
                pass
            c._welcome(*await asyncio.wait_for(c._read_frame(), timeout))
        except BaseException:
            w.close()
            raise
        return c

    async def _read_frame(self) -> Tuple[int, bytes]:
        # Reads into the buffer and takes whole frames from it, so that a
        # timeout (a cancelled read) never loses half a frame.
        while True:
            f = self._take()
            if f:
                return f
            try:
                chunk = await self.reader.read(1 << 16)
            except ConnectionError as e:
                raise LogServerError("connection lost: %s" % e, self.error) from None
            if not chunk:
                raise LogServerError("the server closed the connection", self.error)
            self._buf += chunk

    async def _send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()  # waits while the server does not read

    async def _control(self, ftype: int, body: bytes) -> Optional[Event]:
        if ftype == EVENT:
            return decode_event(body)
        if ftype == ERROR:
            self.error = _get_str(body)[0]
        elif ftype == PING:
            await self._send(frame(PONG, body))
        return None

    async def subscribe(self, *filters: str) -> None:
        """Adds subject filters."""
        await self._send(b"".join(self._sub_frame(f) for f in filters))

    async def unsubscribe(self, *filters: str) -> None:
        """Removes subject filters."""
        await self._send(b"".join(self._unsub_frame(f) for f in filters))

    async def publish(self, ev: Event) -> None:
        """Publishes one event; waits while the server does not read."""
        await self._send(frame(PUB, encode_event(ev)))

    async def publish_raw(self, record: bytes) -> None:
        """Publishes an already encoded record as it is."""
        await self._send(frame(PUB, bytes(record)))

    async def flush(self, timeout: float = 30.0) -> None:
        """See :meth:`Client.flush`."""
        cookie = self._next_cookie()
        await self._send(frame(PING, struct.pack("<Q", cookie)))

        async def wait() -> None:
            while True:
                ftype, body = await self._read_frame()
                if ftype == PONG and len(body) == 8 and struct.unpack("<Q", body)[0] == cookie:
                    return
                ev = await self._control(ftype, body)
                if ev is not None:
                    self._pending.append(ev)
        await asyncio.wait_for(wait(), timeout)

    async def next(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event, or None after ``timeout`` seconds without one."""
        if self._pending:
            return self._pending.pop(0)

        async def wait() -> Event:
            while True:
                ev = await self._control(*await self._read_frame())
                if ev is not None:
                    return ev
        try:
            return await asyncio.wait_for(wait(), timeout)
        except asyncio.TimeoutError:
            return None

    async def events(self, timeout: Optional[float] = None) -> AsyncIterator[Event]:
        """Iterates events until none arrives within ``timeout`` seconds."""
        while True:
            ev = await self.next(timeout)
            if ev is None:
                return
            yield ev

    def __aiter__(self) -> AsyncIterator[Event]:
        return self.events()

    async def close(self) -> None:
        """Closes the connection."""
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
