"""`chainscope monitor test --network NET --block N [--tx HASH]` against
anvil: one block is fetched from the node of the config's evm network and
turned into events as the follower does (with the network's ABI), the
monitors run on it, and the command prints what matched, why, what the
alert policy decided, and the message each channel would get. Nothing is
sent and no outbox is written. Bad blocks, transactions and networks are
reported."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evm_common as ec  # noqa: E402
from cslib import TempDir, cs, main  # noqa: E402
from test_notify import Receiver  # noqa: E402

TO = "0x00000000000000000000000000000000000000b0"


class MonitorTestBlock(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.http = None

    def tearDown(self):
        if self.http:
            self.http.stop()
        ec.stop_all()
        self.tmp.cleanup()

    def test_one_block_from_anvil(self):
        t = self.tmp
        anvil, url = ec.start_anvil(ec.free_port())
        ec.helper("compile", t.path)
        addr = ec.helper("deploy", url, t.path)["address"]
        # three transfers in one block
        ec.rpc(url, "evm_setAutomine", [False])
        txs = ec.helper("send", url, addr, [["transfer", TO, "5000"], ["transfer", TO, "7"],
                                            ["transfer", TO, "2000"]])["txs"]
        ec.rpc(url, "evm_mine")
        ec.rpc(url, "evm_setAutomine", [True])
        block = int(ec.rpc(url, "eth_getTransactionReceipt", [txs[0]])["blockNumber"], 16)
        for h in txs:
            r = ec.rpc(url, "eth_getTransactionReceipt", [h])
            self.assertEqual(int(r["blockNumber"], 16), block)
        port = ec.free_port()
        self.http = Receiver("http", port, t.file("http.jsonl"))
        self.http.start()
        base = "http://127.0.0.1:%d" % port
        cfg = t.file("chainscope.yaml", f"""
evm:
  networks:
    - name: anvil
      rpc: {url}
      abi: ["{addr}=Emitter.abi.json"]
monitors:
  - name: big-transfers
    severity: high
    addresses: ["{addr}"]
    events:
      - signature: "Transfer(address indexed from, address indexed to, uint256 value)"
        condition: "value > 1000"
    transaction: 'status == "success"'
    channels: [slack, tg]
    message: "{{{{ args.value }}}} to {{{{ args.to }}}}"
  - name: third-call
    addresses: ["{addr}"]
    functions: ["transfer(address,uint256)"]
    alert: {{threshold: 3, within: 1h}}
    channels: [hook]
channels:
  slack: {{type: slack, url: "{base}/slack"}}
  tg: {{type: telegram, url: "{base}/tg", token: "1:A", chat_id: "-1"}}
  hook: {{type: webhook, url: "{base}/hook"}}
notify:
  outbox: {t.file('outbox.db')}
""")
        r = cs("monitor", "test", "-c", cfg, "--network", "anvil", "--block", str(block))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = r.stdout
        self.assertIn("block %d (0x" % block, out)
        self.assertIn("of anvil: 3 transactions, 3 logs", out)
        # the two big transfers, why, and the rendered messages
        self.assertIn("match 1: big-transfers/anvil/%s (high, none)" % txs[0], out)
        self.assertIn("Signature: Transfer(address,address,uint256)", out)
        self.assertIn("Condition: value > 1000", out)
        self.assertIn("value=5000", out)
        self.assertIn("Type: transaction\n    Condition: status == \"success\"", out)
        self.assertIn("  -> slack (slack)\n    subject: [high] big-transfers on anvil\n"
                      "    5000 to %s\n" % TO, out)
        self.assertIn("  -> tg (telegram)\n", out)
        self.assertIn("big-transfers/anvil/%s" % txs[2], out)
        self.assertIn("    2000 to %s\n" % TO, out)
        self.assertNotIn("big-transfers/anvil/%s" % txs[1], out)
        # a function monitor whose policy holds back the first two calls
        self.assertIn("third-call/anvil/%s (medium, none)" % txs[0], out)
        self.assertIn("Type: function\n    Address: %s\n    Signature: transfer(address,uint256)"
                      % addr, out)
        self.assertEqual(out.count("held back by the alert policy: threshold"), 2, out)
        self.assertIn("  -> hook (webhook)\n    subject: [medium] third-call on anvil\n"
                      "    (the alert JSON)", out)
        self.assertIn("7 events, 3 transactions in 1 blocks, 5 matches, 3 to notify", out)

        # one transaction of the block
        r = cs("monitor", "test", "-c", cfg, "--block", str(block), "--tx", txs[1].upper()
               .replace("0X", "0x"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("trying transaction", r.stdout)
        self.assertIn("3 events, 1 transactions in 1 blocks, 1 matches, 0 to notify", r.stdout)
        r = cs("monitor", "test", "-c", cfg, "--block", str(block), "--tx", txs[2], "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.strip().splitlines()
        self.assertEqual(len(lines), 2, r.stdout)
        self.assertIn('"params":{"from":', lines[0])
        self.assertIn('"value":2000', lines[0])

        # mistakes
        r = cs("monitor", "test", "-c", cfg, "--block", str(block), "--tx", "0x" + "ab" * 32)
        self.assertEqual(r.returncode, 1)
        self.assertIn("transaction 0x%s is not in block %d of anvil" % ("ab" * 32, block),
                      r.stderr)
        r = cs("monitor", "test", "-c", cfg, "--block", "100000")
        self.assertEqual(r.returncode, 1)
        self.assertIn("anvil: block 100000 is beyond the node's head (%d)" % block, r.stderr)
        r = cs("monitor", "test", "-c", cfg, "--network", "mainnet", "--block", "1")
        self.assertEqual(r.returncode, 3)
        self.assertIn("no evm network 'mainnet' in the config (it has: anvil)", r.stderr)
        r = cs("monitor", "test", "-c", cfg, "--block", "x1")
        self.assertEqual(r.returncode, 2)
        r = cs("monitor", "test", "-c", cfg, "--tx", txs[0])
        self.assertEqual(r.returncode, 2)
        self.assertIn("--network and --tx go with --block N", r.stderr)
        # a node that is not there
        ec.stop(anvil)
        r = cs("monitor", "test", "-c", cfg, "--block", str(block))
        self.assertEqual(r.returncode, 4, r.stdout + r.stderr)
        self.assertIn("eth_blockNumber", r.stderr)

        time.sleep(0.3)
        self.assertEqual(self.http.records(), [])  # nothing was sent
        self.assertFalse(os.path.exists(t.file("outbox.db")))


if __name__ == "__main__":
    main()
