"""Fixtures of the Python package's tests: a running `chainscope run` (log
server, optionally a connector with its control socket), a simnet, and the
C helper codec_echo. They use the integration tests' helpers (cslib)."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("CS_SOURCE_DIR") or os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SOURCE_DIR, "python"))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))

import cslib  # noqa: E402

CHAINSCOPE = cslib.CHAINSCOPE
TOKEN = "python-test-token-0123456789"
EXAMPLES = os.path.join(SOURCE_DIR, "python", "examples")


@pytest.fixture
def tmp():
    t = cslib.TempDir()
    yield t
    t.cleanup()


@pytest.fixture
def server(tmp):
    """A log server on a private unix socket and on TCP with a token."""
    port = cslib.free_port()
    os.environ["CS_TEST_TOKEN"] = TOKEN
    srv = cslib.Server(tmp, logserver_yaml="  tcp:\n    listen: 127.0.0.1:%d\n"
                       "    token: ${CS_TEST_TOKEN}\n" % port)
    srv.tcp = "tcp:127.0.0.1:%d" % port
    yield srv
    srv.stop()


def start_simnet(nodes, *extra):
    """A simnet of `nodes` nodes; returns (process, [ip:port of each])."""
    import btcpeer
    tmpl = cslib.TempDir()
    listing = tmpl.file("nodes.txt")
    p, _, _ = btcpeer.start_simnet(["--nodes", str(nodes), "--list", listing] + list(extra))
    with open(listing) as f:
        addrs = [line.split()[0] for line in f if line.strip()]
    tmpl.cleanup()
    return p, addrs


@pytest.fixture
def simnet():
    p, addrs = start_simnet(8)
    yield addrs
    cslib.stop(p)


@pytest.fixture
def connector(tmp):
    """chainscope run with a log server and a connector (message events on)
    with a control socket: the server has .socket and .control."""
    control = tmp.file("control.sock")
    srv = cslib.Server(tmp, "connector:\n  network: regtest\n  control: %s\n"
                       "  msg_events: true\n" % control)
    cslib.wait_for(lambda: os.path.exists(control), what="control socket")
    srv.control = control
    yield srv
    srv.stop()
