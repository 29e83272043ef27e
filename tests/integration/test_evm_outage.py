"""The follower while its node is down: anvil is killed under a following
`chainscope evm follow`; the follower says once that the node is
unreachable (not a warning per poll), backs off between polls, and says when
the node is back after anvil is started again on the same port."""
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evm_common as ec  # noqa: E402

DOWN_S = 12  # long enough for about seven warnings at the old pace


def wait_for(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def main():
    tmp = tempfile.mkdtemp(prefix="cs-evm-outage-")
    port = ec.free_port()
    anvil, url = ec.start_anvil(port)
    ec.rpc(url, "anvil_mine", ["0x5"])
    err = os.path.join(tmp, "follow.err")
    f = ec.Follower("--rpc", url, "--poll", 200, "--network", "anvil", stderr_path=err)
    try:
        f.wait(lambda f: len(f.of("evm.block")) >= 1, what="a first block")
        ec.stop(anvil, sig=9)
        t0 = time.time()
        wait_for(lambda: "unreachable" in f.stderr(), 30, "the unreachable line")
        time.sleep(max(0, DOWN_S - (time.time() - t0)))
        text = f.stderr()
        down = [ln for ln in text.splitlines() if "unreachable" in ln]
        warns = [ln for ln in text.splitlines() if " warn " in ln]
        assert len(down) == 1, f"one unreachable line per outage, got {len(down)}:\n{text}"
        assert re.search(r"node anvil unreachable: .*127\.0\.0\.1:%d" % port, down[0]), down[0]
        assert len(warns) <= 2, f"{len(warns)} warnings in {DOWN_S} s down:\n{text}"
        ec.start_anvil(port)
        wait_for(lambda: "back after" in f.stderr(), 60, "the recovery line")
        back = [ln for ln in f.stderr().splitlines() if "back after" in ln]
        assert len(back) == 1, back
        m = re.search(r"node anvil back after (\d+) s", back[0])
        assert m and int(m.group(1)) >= 1, back[0]  # counted from the first failed call
        assert f.p.poll() is None, "the follower exited"
        print(f"ok: one warning while down, recovery after {m.group(1)} s")
    finally:
        f.stop()
        ec.stop_all()


if __name__ == "__main__":
    main()
