"""The contract template gallery on anvil: small contracts in the shape of
Ownable, Pausable, AccessControl, an ERC-1967 proxy, a Governor, a
TimelockController, a Safe and an ERC-20 (tests/integration/gallery_helper.js,
compiled with solc) are deployed and driven one transaction per block. A
monitor from each template (`chainscope monitor new --template ...`, pointed
at its contract) fires on the blocks of its events and on no other block
(`chainscope monitor test --network anvil --block N`); the imported Defender
and OpenZeppelin Monitor files (tests/data/import/) fire where their
documented semantics say, and a Defender message template renders the text
Defender would."""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evm_common as ec  # noqa: E402
from cslib import CHAINSCOPE, TempDir, cs, main  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "import")
KNOWN = "0x00000000000000000000000000000000000000c0"

# template -> (contract, params, the steps it fires on)
GALLERY = {
    "ownership-transferred": ("Owned", [], {"ownership"}),
    "paused-unpaused": ("Pausy", [], {"pause", "unpause", "pricey"}),
    "access-control-roles": ("Roles", [], {"grant", "revoke", "role-admin"}),
    "proxy-upgraded": ("Proxy1967", [], {"upgrade", "admin"}),
    "governor-proposals": ("Gov", [], {"propose", "queue", "execute", "cancel"}),
    "timelock-operations": ("Timelock", [], {"schedule", "execute-op"}),
    "safe-owners": ("SafeLike", [], {"add-owner", "remove-owner", "threshold"}),
    "large-transfer": ("Token", ["threshold=1000000000000000000000"],
                       {"big-transfer", "big-mint", "big-burn"}),
    "large-mint": ("Token", ["threshold=1000000000000000000000"], {"big-mint"}),
    "large-burn": ("Token", ["threshold=1000000000000000000000"], {"big-burn"}),
    "approval-unknown-spender": ("Token", ["spender=" + KNOWN], {"approve-unknown"}),
    "failed-transactions": ("Owned", [], {"failed"}),
    "gas-price-spike": ("Pausy", ["gwei=100"], {"pricey"}),
}


class Templates(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.anvil, cls.url = ec.start_anvil(ec.free_port())
        env = dict(os.environ, NODE_PATH=ec.NODE_PATH)
        r = subprocess.run(["node", os.path.join(HERE, "gallery_helper.js"), cls.url,
                            cls.tmp.path], capture_output=True, text=True, env=env, timeout=180)
        if r.returncode != 0:
            raise RuntimeError(r.stderr)
        cls.scn = json.loads(r.stdout)

    @classmethod
    def tearDownClass(cls):
        ec.stop_all()
        cls.tmp.cleanup()

    def addr(self, contract):
        return self.scn["contracts"][contract]

    def run_blocks(self, cfg, network="anvil"):
        """step -> sorted names of the monitors that matched its block."""
        out = {}
        for s in self.scn["steps"]:
            r = cs("monitor", "test", "-c", cfg, "--network", network, "--block",
                   str(s["block"]), "--json")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            out[s["name"]] = sorted({json.loads(line)["monitor"]["name"]
                                     for line in r.stdout.splitlines() if line.startswith("{")})
        return out

    def test_each_template_fires_on_its_events_only(self):
        body = ""
        for name, (contract, params, _) in GALLERY.items():
            args = ["monitor", "new", "--template", name, "--address", self.addr(contract),
                    "--network", "anvil", "--name", name]
            for p in params:
                args += ["--param", p]
            r = cs(*args)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.stdout.startswith("monitors:\n"), r.stdout)
            body += r.stdout[len("monitors:\n"):]
        cfg = self.tmp.file("gallery.yaml", "evm:\n  networks:\n    - name: anvil\n      rpc: %s\n"
                            "monitors:\n%s" % (self.url, body))
        r = cs("check-config", "-c", cfg)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        fired = self.run_blocks(cfg)
        self.assertEqual(next(s for s in self.scn["steps"] if s["name"] == "failed")["status"], 0)
        for name, (_, _, want) in GALLERY.items():
            with self.subTest(template=name):
                got = {step for step, names in fired.items() if name in names}
                self.assertEqual(got, want)

    def imported(self, kind, src, subst):
        """Imports src (a copy with the deployed addresses) and returns
        (YAML text, report text)."""
        import shutil
        dst = os.path.join(self.tmp.path, "in-" + kind)
        if os.path.isdir(src):
            shutil.copytree(src, dst, dirs_exist_ok=True)
            files = [os.path.join(d, f) for d, _, fs in os.walk(dst) for f in fs]
        else:
            shutil.copy(src, dst)
            files = [dst]
        for f in files:
            with open(f) as fh:
                text = fh.read()
            for k, v in subst.items():
                text = text.replace(k, v)
            with open(f, "w") as fh:
                fh.write(text)
        out, rep = self.tmp.file(kind + ".yaml"), self.tmp.file(kind + ".report")
        r = cs("monitor", "import", "--from", kind, dst, "-o", out, "--report", rep)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(out) as fh, open(rep) as fr:
            return fh.read(), fr.read()

    def test_defender_import_fires_and_renders(self):
        text, rep = self.imported("defender", os.path.join(DATA, "defender-monitor.json"),
                                  {"@TOKEN@": self.addr("Token")})
        for field in ("autotaskCondition", "skipABIValidation", "stackResourceId",
                      "notificationChannels", "only BLOCK monitors"):
            self.assertIn(field, rep)
        cfg = self.tmp.file("defender-run.yaml", f"""evm:
  networks:
    - name: mainnet
      rpc: {self.url}
channels:
  ops-hook: {{type: webhook, url: "http://127.0.0.1:9/hook"}}
""" + text)
        r = cs("check-config", "-c", cfg)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        got = {step for step, names in self.run_blocks(cfg, "mainnet").items()
               if "Large token transfers" in names}
        # Defender: a Transfer above 1,000 tokens in a successful transaction
        self.assertEqual(got, {"big-transfer", "big-mint", "big-burn"})
        step = next(s for s in self.scn["steps"] if s["name"] == "big-transfer")
        rc = ec.rpc(self.url, "eth_getTransactionReceipt", [step["hash"]])
        want = "Large token transfers: tx %s in block %d from %s, gas used %d" % (
            step["hash"], int(rc["blockNumber"], 16), rc["from"].lower(), int(rc["gasUsed"], 16))
        r = cs("monitor", "test", "-c", cfg, "--network", "mainnet", "--block", str(step["block"]))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(want, r.stdout)
        self.assertIn("Large token transfers on %d" % int(rc["blockNumber"], 16), r.stdout)

    def test_oz_monitor_import_fires(self):
        text, rep = self.imported("oz-monitor", os.path.join(DATA, "oz"),
                                  {"@OWNED@": self.addr("Owned"), "@RPC@": self.url})
        for field in ("cron_schedule", "store_blocks", "config.headers", "trigger_conditions",
                      "config.secret"):
            self.assertIn(field, rep)
        self.assertNotIn("s3cret", text)  # secrets are never written
        self.assertNotIn("hooks.slack.com", text)
        cfg = self.tmp.file("oz-run.yaml", text)
        env = {"OWNER_SLACK_URL": "http://127.0.0.1:9/s", "OPS_WEBHOOK_URL": "http://127.0.0.1:9/w",
               "OPS_WEBHOOK_SECRET": "x"}
        os.environ.update(env)
        try:
            r = cs("check-config", "-c", cfg)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            fired = self.run_blocks(cfg, "ethereum_anvil")
        finally:
            for k in env:
                del os.environ[k]
        # OZ Monitor: an OwnershipTransferred in a successful transaction;
        # a failed transaction of the contract
        self.assertEqual({s for s, n in fired.items() if "Owner changes" in n}, {"ownership"})
        self.assertEqual({s for s, n in fired.items() if "Failed calls" in n}, {"failed"})

    def test_templates_listed(self):
        out = cs("monitor", "templates").stdout
        for name in GALLERY:
            self.assertIn(name, out)
        for cat in ("governance", "access-control", "suspicious", "financial", "technical"):
            self.assertIn(cat, out)


if __name__ == "__main__":
    main()
