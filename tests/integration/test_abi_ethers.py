"""chainscope abi decode-log / decode-call against ethers v6.

abi_cases.js draws random values for every ABI type (uintN, intN, address,
bool, bytesN, bytes, string, fixed and dynamic arrays, nested arrays, tuples,
arrays of tuples, indexed dynamic values, anonymous events), encodes them with
ethers and records ethers' own decoding; this test decodes the same bytes
with the chainscope binary and compares the JSON, value for value. Then bad
input: short data, odd-length hex, an invalid ABI file.
"""
import json
import os
import subprocess
import sys
import tempfile

CS = os.environ.get("CHAINSCOPE", "build/chainscope")
SRC = os.environ.get("CS_SOURCE_DIR", ".")
NODE_PATH = os.path.join(SRC, "tests", "node", "node_modules")


def run(*args):
    return subprocess.run([CS, "abi", *args], capture_output=True, text=True, timeout=30)


def main():
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NODE_PATH=NODE_PATH, ABI_ROUNDS="5")
        for seed in ("11", "12"):
            out = os.path.join(tmp, seed)
            subprocess.run(["node", os.path.join(SRC, "tests", "integration", "abi_cases.js"),
                            seed, out], check=True, env=env, timeout=60, stdout=subprocess.DEVNULL)
            abi = os.path.join(out, "abi.json")
            with open(os.path.join(out, "cases.json")) as f:
                cases = json.load(f)
            assert len(cases) > 50, len(cases)
            kinds = set()
            for c in cases:
                if c["kind"] == "log":
                    args = ["decode-log", "--abi", abi, "--topics", ",".join(c["topics"]),
                            "--data", c["data"]]
                    if c["event"]:
                        args += ["--event", c["event"]]
                else:
                    args = ["decode-call", "--abi", abi, "--data", c["data"]]
                r = run(*args)
                kinds.add(c["name"])
                if r.returncode != 0:
                    print(f"FAIL {c['kind']} {c['name']}: exit {r.returncode}: {r.stderr}")
                    failures += 1
                    continue
                got = json.loads(r.stdout)
                if got != c["expect"]:
                    print(f"FAIL {c['kind']} {c['name']}:\n  got    {json.dumps(got)}\n"
                          f"  ethers {json.dumps(c['expect'])}")
                    failures += 1
            # Every event and function of the generated ABI was exercised.
            assert len(kinds) >= 15, kinds

        # An anonymous event found by shape, without --event.
        anon = [c for c in cases if c["name"] == "Anon"][0]
        r = run("decode-log", "--abi", abi, "--topics", ",".join(anon["topics"]),
                "--data", anon["data"])
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout) == anon["expect"]

        # Short data: names the event, the argument and the bytes.
        tr = [c for c in cases if c["name"] == "Swap"][0]
        short = tr["data"][: 2 + 64 * 3]
        r = run("decode-log", "--abi", abi, "--topics", ",".join(tr["topics"]), "--data", short)
        assert r.returncode == 1, (r.returncode, r.stderr)
        assert "event Swap" in r.stderr and "amount1Out" in r.stderr and "96 bytes" in r.stderr, \
            r.stderr

        # A wrong topic count.
        r = run("decode-log", "--abi", abi, "--topics", tr["topics"][0], "--data", tr["data"])
        assert r.returncode == 1 and "topics" in r.stderr, r.stderr

        # Odd-length hex is a usage error.
        r = run("decode-log", "--abi", abi, "--topics", ",".join(tr["topics"]), "--data", "0xabc")
        assert r.returncode == 2 and "odd number of hex digits" in r.stderr, r.stderr

        # Calldata with an unknown selector.
        r = run("decode-call", "--abi", abi, "--data", "0xdeadbeef")
        assert r.returncode == 1 and "0xdeadbeef" in r.stderr, r.stderr

        # An invalid ABI file names the file and the entry.
        bad = os.path.join(tmp, "bad.json")
        with open(bad, "w") as f:
            json.dump([{"type": "event", "name": "E",
                        "inputs": [{"name": "x", "type": "uint7"}]}], f)
        r = run("decode-log", "--abi", bad, "--topics", tr["topics"][0])
        assert r.returncode == 3, r.returncode
        assert "bad.json" in r.stderr and "uint7" in r.stderr and "entry 0" in r.stderr, r.stderr
        with open(bad, "w") as f:
            f.write('[{"type": "event", ')
        r = run("decode-log", "--abi", bad, "--topics", "")
        assert r.returncode == 3 and "bad.json:1:" in r.stderr, r.stderr

        # selector
        r = run("selector", "function transfer(address to, uint amount)")
        assert json.loads(r.stdout) == {
            "signature": "transfer(address,uint256)", "selector": "0xa9059cbb",
            "topic": "0xa9059cbb2ab09eb219583f4a59a5d0623ade346d962bcd4e46b11da047c9049b"}

    if failures:
        print(f"{failures} case(s) differ from ethers")
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
