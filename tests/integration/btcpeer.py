"""Helpers for the Bitcoin P2P integration tests: a small peer built on
python3-bitcoinlib (bitcoin.messages) and a runner for chainscope processes
that collects their JSON events. Loopback only, free ports, every process
stopped whatever happens."""
import io
import json
import os
import queue
import socket
import struct
import subprocess
import threading
import time

import bitcoin
import bitcoin.messages as m
from bitcoin.core import Hash
from bitcoin.messages import MsgSerializable
from bitcoin.net import CAddress

CHAINSCOPE = os.environ.get("CHAINSCOPE", "build/chainscope")
bitcoin.SelectParams("regtest")
MAGIC = bitcoin.params.MESSAGE_START


class msg_empty(MsgSerializable):
    """Messages bitcoinlib lacks that have no payload (BIP339, BIP155)."""

    def __init__(self, command, protover=70016):
        super().__init__(protover)
        self.command = command

    def msg_ser(self, f):
        pass


class msg_addrv2(MsgSerializable):
    """BIP155 addrv2, which bitcoinlib lacks: entries (time, services,
    network id, address bytes, port)."""
    command = b"addrv2"

    def __init__(self, entries=(), protover=70016):
        super().__init__(protover)
        self.entries = list(entries)

    def msg_ser(self, f):
        f.write(bytes([len(self.entries)]))
        for t, services, net, addr, port in self.entries:
            f.write(struct.pack("<I", t))
            assert services < 0xfd
            f.write(bytes([services, net, len(addr)]))
            f.write(addr)
            f.write(struct.pack(">H", port))


# Checks collect failures instead of stopping at the first, so one run shows
# every disagreement; a test exits non-zero when `failures` is not empty.
failures = []


def start_simnet(args):
    """Starts `chainscope simnet ARGS`; returns the process, its first node
    (host:port) and {kind: [nodes]} from the startup lines simnet prints for
    its spamming nodes. Stop it with stop()."""
    p = subprocess.Popen([CHAINSCOPE, "simnet"] + args, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    line = p.stderr.readline()
    if not line.startswith("simnet:"):
        p.kill()
        p.wait()
        raise RuntimeError("simnet did not start: %r" % line)
    kinds = {}
    for _ in range(sum(1 for a in args if a in ("--addr-spam", "--ping-spam"))):
        words = p.stderr.readline().split()
        kinds[words[1]] = words[2:]
    return p, line.split("first ")[1].strip(), kinds


def stop(p):
    """Stops a process with SIGTERM, killing it after 10 s."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def frame(command, payload):
    """A framed message with any command and payload (for broken ones)."""
    return (MAGIC + command.ljust(12, b"\0") + struct.pack("<I", len(payload))
            + Hash(payload)[:4] + payload)


class Conn:
    """One connection, read with bitcoinlib's deserializer."""

    def __init__(self, sock):
        self.sock = sock
        self.sock.settimeout(10)
        self.buf = b""

    def send(self, msg):
        self.sock.sendall(msg.to_bytes() if hasattr(msg, "to_bytes") else msg)

    def recv(self):
        while True:
            if len(self.buf) >= 24:
                n = struct.unpack("<I", self.buf[16:20])[0]
                if len(self.buf) >= 24 + n:
                    raw, self.buf = self.buf[:24 + n], self.buf[24 + n:]
                    cmd = raw[4:16].rstrip(b"\0")
                    if cmd in (b"wtxidrelay", b"sendaddrv2", b"sendheaders"):
                        return msg_empty(cmd)
                    return MsgSerializable.stream_deserialize(io.BytesIO(raw))
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("peer closed")
            self.buf += data

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def version_msg(user_agent=b"/bitcoinlib-peer:0.1/", height=101, nonce=7, version=70016):
    v = m.msg_version(protover=version)
    v.nVersion = version
    v.nServices = 1 | 8
    v.nTime = int(time.time())
    v.addrTo.ip, v.addrTo.port = "127.0.0.1", 18444
    v.addrFrom.ip, v.addrFrom.port = "0.0.0.0", 0
    v.nNonce = nonce
    v.strSubVer = user_agent
    v.nStartingHeight = height
    v.fRelay = 1
    return v


class PeerServer:
    """Listens on a free loopback port; each accepted connection runs the
    next behaviour from the queue (a function taking a Conn) in a thread."""

    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.behaviours = queue.Queue()
        self.errors = []
        self.results = queue.Queue()
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            try:
                fn = self.behaviours.get(timeout=5)
            except queue.Empty:
                s.close()
                continue
            threading.Thread(target=self._run, args=(fn, Conn(s)), daemon=True).start()

    def _run(self, fn, conn):
        try:
            self.results.put((fn.__name__, fn(conn)))
        except Exception as e:  # reported by the test
            self.errors.append("%s: %r" % (fn.__name__, e))
            self.results.put((fn.__name__, e))
        finally:
            conn.close()

    def close(self):
        self.stopped = True
        self.lsock.close()


class Proc:
    """A chainscope process whose stdout carries JSON events."""

    def __init__(self, args, stderr_lines=0):
        self.p = subprocess.Popen([CHAINSCOPE] + args, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.events = []
        self.cv = threading.Condition()
        self.err = []
        threading.Thread(target=self._out, daemon=True).start()
        for _ in range(stderr_lines):
            line = self.p.stderr.readline()
            if not line:
                break
            self.err.append(line.strip())
        threading.Thread(target=self._errs, daemon=True).start()

    def _out(self):
        for line in self.p.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            with self.cv:
                self.events.append(ev)
                self.cv.notify_all()

    def _errs(self):
        for line in self.p.stderr:
            self.err.append(line.strip())

    def wait_for(self, pred, timeout=10, start=0):
        """The first event from index `start` that satisfies pred, or None."""
        deadline = time.time() + timeout
        with self.cv:
            i = start
            while True:
                while i < len(self.events):
                    if pred(self.events[i]):
                        return self.events[i]
                    i += 1
                left = deadline - time.time()
                if left <= 0:
                    return None
                self.cv.wait(left)

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode


def ctl(sock, *args, timeout=20):
    return subprocess.run([CHAINSCOPE, "ctl", "--socket", sock] + list(args),
                          capture_output=True, text=True, timeout=timeout)
