"""Monitors on a real chain: `chainscope run` follows anvil with the EVM
follower, a contract monitor watches Transfer events with `value > 1000`,
and every channel (webhook, Slack, Discord, Telegram, PagerDuty, Opsgenie,
email through aiosmtpd, a script) gets exactly the matching transfers, once
each, with the monitor's templates rendered.

The follower has no ABI for the contract: the monitor's own `abi:` decodes
the logs. Transfers of 999 and 1000, Transfers from a second (unwatched)
copy of the contract, and the small Transfers of one multi-log transaction
must not notify; 1001, 5000 and 10**30 (past 64 bits) must."""
import email
import email.policy
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evm_common as ec  # noqa: E402
from cslib import Server, TempDir, main, wait_for  # noqa: E402
from test_notify import PY, Receiver, read_lines  # noqa: E402

TO = "0x00000000000000000000000000000000000000b0"
BIG = 10**30


class MonitorsOnAnvil(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.receivers = []

    def tearDown(self):
        for r in self.receivers:
            r.stop()
        ec.stop_all()
        self.tmp.cleanup()

    def receiver(self, kind):
        port = ec.free_port()
        r = Receiver(kind, port, self.tmp.file(kind + ".jsonl"))
        r.start()
        self.receivers.append(r)
        return r, port

    def test_transfers_through_every_channel(self):
        t = self.tmp
        anvil, url = ec.start_anvil(ec.free_port())
        ec.helper("compile", t.path)
        dep = ec.helper("deploy", url, t.path)
        watched, me = dep["address"], dep["from"]
        other = ec.helper("deploy", url, t.path)["address"]
        start = int(ec.rpc(url, "eth_blockNumber"), 16) + 1
        http, hport = self.receiver("http")
        smtp, sport = self.receiver("smtp")
        script_out = t.file("script.jsonl")
        t.file("script.py", "import sys\nd = sys.stdin.read()\n"
               "open(sys.argv[1], 'a').write(d.replace('\\n', ' ') + '\\n')\n")
        base = "http://127.0.0.1:%d" % hport
        yaml = f"""
evm:
  networks:
    - name: anvil
      rpc: {url}
      from: {start}
      poll: 100ms
monitors:
  - name: big-transfers
    networks: [anvil]
    severity: high
    risk: financial
    addresses: ["{watched.upper().replace('0X', '0x')}"]
    abi: Emitter.abi.json
    events:
      - signature: "Transfer(address indexed from, address indexed to, uint256 value)"
        condition: "value > 1000"
    transaction: 'status == "success" AND to == "{watched}"'
    channels: [hook, slack, discord, tg, pd, og, mail, script]
    title: "Transfer of {{{{ args.value }}}} on {{{{ network }}}}"
    message: "Transfer of {{{{ args.value }}}} to {{{{ args.to }}}} in {{{{ transaction.hash }}}}"
channels:
  hook: {{type: webhook, url: "{base}/hook"}}
  slack: {{type: slack, url: "{base}/slack"}}
  discord: {{type: discord, url: "{base}/discord"}}
  tg: {{type: telegram, url: "{base}/tg", token: "123:ABC", chat_id: "-100"}}
  pd: {{type: pagerduty, url: "{base}/pd", token: routing-key-1}}
  og: {{type: opsgenie, url: "{base}/og", token: genie-key-1}}
  mail:
    type: email
    smtp: smtp://127.0.0.1:{sport}
    starttls: false
    from: chainscope@example.com
    to: [ops@example.com]
  script: {{type: script, command: ["{PY}", "{t.file('script.py')}", "{script_out}"]}}
notify:
  outbox: {t.file('outbox.db')}
  backoff: 100ms
  max_backoff: 400ms
  explorers:
    anvil: https://explorer.example
"""
        srv = Server(t, yaml)
        try:
            calls = [["transfer", TO, str(v)] for v in (999, 1000, 1001, 5000)]
            calls += [["many", 3], ["transfer", TO, str(BIG)], ["transfer", TO, "1"]]
            txs = ec.helper("send", url, watched, calls)["txs"]
            # the same contract elsewhere: not watched
            ec.helper("send", url, other, [["transfer", TO, "7000"]])
            want = {txs[2]: 1001, txs[3]: 5000, txs[5]: BIG}

            def http_done():
                return len(http.records()) >= 6 * 3 and len(smtp.records()) >= 3 \
                    and len(read_lines(script_out)) >= 3
            wait_for(http_done, timeout=25, what="notifications: " + srv.logtext())
            last = int(ec.rpc(url, "eth_blockNumber"), 16)
            time.sleep(1.0)  # nothing more should come
        finally:
            self.assertEqual(srv.stop(), 0)
        self.assertGreaterEqual(last, start + len(calls))
        recs = http.records()
        paths = sorted(r["path"].split("/")[1] for r in recs)
        self.assertEqual(paths, sorted(["hook", "slack", "discord", "tg", "pd", "og"] * 3), paths)
        keys = [r["headers"]["idempotency-key"] for r in recs]
        self.assertEqual(len(keys), len(set(keys)), "a notification arrived twice")

        def text_of(h):
            return "Transfer of %d to %s in %s" % (want[h], TO, h)

        # webhook: the alert document (the monitor's message does not replace it)
        docs = [json.loads(r["body"]) for r in recs if r["path"] == "/hook"]
        self.assertEqual(sorted(d["transaction"]["hash"] for d in docs), sorted(want))
        for d in docs:
            h = d["transaction"]["hash"]
            self.assertEqual(d["monitor"]["name"], "big-transfers")
            self.assertEqual(d["network"], "anvil")
            self.assertEqual(int(d["args"]["value"]), want[h])
            self.assertEqual(d["args"]["from"], me)
            self.assertEqual(d["matchReasons"][0]["signature"],
                             "Transfer(address,address,uint256)")
            self.assertEqual(d["matchReasons"][1], {"type": "transaction", "condition":
                                                    'status == "success" AND to == "%s"' % watched})
            self.assertEqual(d["transaction"]["status"], 1)
            self.assertEqual(d["transaction"]["link"], "https://explorer.example/tx/" + h)
            self.assertEqual(d["matchedAddresses"], [watched])
        # chat channels: the rendered message, one per matching transfer
        slack = sorted(json.loads(r["body"])["text"] for r in recs if r["path"] == "/slack")
        self.assertEqual(slack, sorted(text_of(h) for h in want))
        discord = sorted(json.loads(r["body"])["content"] for r in recs
                         if r["path"] == "/discord")
        self.assertEqual(discord, sorted(text_of(h) for h in want))
        tg = [r for r in recs if r["path"].startswith("/tg/")]
        self.assertTrue(all(r["path"] == "/tg/bot123:ABC/sendMessage" for r in tg))
        self.assertEqual(sorted(json.loads(r["body"])["text"] for r in tg),
                         sorted(text_of(h) for h in want))
        pd = [json.loads(r["body"]) for r in recs if r["path"].startswith("/pd/")]
        self.assertEqual(sorted(p["payload"]["summary"] for p in pd),
                         sorted("Transfer of %d on anvil" % v for v in want.values()))
        self.assertTrue(all(p["payload"]["severity"] == "critical" for p in pd))
        self.assertEqual(sorted(p["payload"]["custom_details"]["transaction"]["hash"]
                                for p in pd), sorted(want))
        og = [json.loads(r["body"]) for r in recs if r["path"].startswith("/og/")]
        self.assertEqual(sorted(o["message"] for o in og),
                         sorted("Transfer of %d on anvil" % v for v in want.values()))
        self.assertEqual(sorted(o["description"] for o in og), sorted(text_of(h) for h in want))
        # email: title as subject, message as the text part
        mails = smtp.records()
        self.assertEqual(len(mails), 3)
        got = []
        for m in mails:
            msg = email.message_from_string(m["data"], policy=email.policy.default)
            got.append((msg["Subject"], msg.get_body(("plain",)).get_content().strip()))
        self.assertEqual(sorted(got), sorted(("Transfer of %d on anvil" % want[h], text_of(h))
                                             for h in want))
        # script: the alert document on stdin
        scripted = read_lines(script_out)
        self.assertEqual(sorted(s["transaction"]["hash"] for s in scripted), sorted(want))


if __name__ == "__main__":
    main()
