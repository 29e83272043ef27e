"""Monitors and alerts end to end: `chainscope run` with monitors on the
bus, notifying local stand-ins for Slack, Discord, Telegram, PagerDuty,
Opsgenie, a webhook, a mail server (plain and STARTTLS) and a script; then
a receiver outage across a restart of chainscope: every notification
arrives, once per idempotency key."""
import email
import email.policy
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from cslib import CHAINSCOPE, Server, TempDir, cs, free_port, main, read_jsonl, start, stop, wait_for

PY = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN = "0x1bb1b73c4f0bda4f67dca266ce6ef42f520fbb98"
ALICE = "0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad"
SECRET = "hook-secret-4242"


def transfer_events(block, txs):
    """evm.tx + evm.log for each (hash, value), then evm.block."""
    out = []
    for h, value in txs:
        out.append({"type": "evm.tx", "network": "eth-main", "payload": {
            "hash": h, "from": ALICE, "to": TOKEN.upper().replace("0X", "0x"), "value": 0,
            "gas_price": 30000000000, "gas_used": 51000, "nonce": 1, "status": "success",
            "block_number": block, "block_hash": "0xb%d" % block}})
        out.append({"type": "evm.log", "network": "eth-main", "payload": {
            "address": TOKEN, "block_number": block, "block_hash": "0xb%d" % block,
            "tx_hash": h, "log_index": 0, "event": "Transfer",
            "signature": "Transfer(address,address,uint256)",
            "args": {"from": ALICE, "to": "0x00000000000000000000000000000000000000b0",
                     "value": str(value)}}})
    out.append({"type": "evm.block", "network": "eth-main",
                "payload": {"number": block, "hash": "0xb%d" % block}})
    return "".join(json.dumps(e) + "\n" for e in out)


def read_lines(path):
    return read_jsonl(path)


class Receiver:
    def __init__(self, kind, port, log, *extra):
        self.args = [PY, os.path.join(HERE, "receivers.py"), kind, str(port), log] + list(extra)
        self.log = log
        self.proc = None

    def start(self):
        self.proc = start(self.args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", line

    def stop(self):
        if self.proc:
            stop(self.proc, signal.SIGKILL)
            self.proc = None

    def records(self):
        return read_lines(self.log)


class NotifyTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        t = self.tmp
        self.http_port, self.smtp_port, self.tls_port = free_port(), free_port(), free_port()
        self.cert, self.key = t.file("cert.pem"), t.file("key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", self.key, "-out", self.cert], check=True,
                       capture_output=True)
        self.http = Receiver("http", self.http_port, t.file("http.jsonl"))
        self.smtp = Receiver("smtp", self.smtp_port, t.file("smtp.jsonl"))
        self.tls = Receiver("smtp", self.tls_port, t.file("tls.jsonl"), self.cert, self.key)
        for r in (self.http, self.smtp, self.tls):
            r.start()
        self.script_out = t.file("script.jsonl")
        os.environ["CS_TEST_SECRET"] = SECRET
        base = "http://127.0.0.1:%d" % self.http_port
        self.yaml = f"""
monitors:
  - name: big-transfers
    severity: high
    risk: financial
    addresses: ["{TOKEN}"]
    events:
      - signature: "Transfer(address indexed from, address indexed to, uint256 value)"
        condition: "value > 1000000000000000000000"
    channels: [hook, slack, discord, tg, pd, og, mail, mail-tls, script]
  - name: pings
    type: event
    severity: low
    risk: technical
    subjects: [demo.alert]
    condition: "level >= 3"
channels:
  hook:
    type: webhook
    url: {base}/hook
    secret: ${{CS_TEST_SECRET}}
    headers: {{X-Team: ops}}
  slack: {{type: slack, url: "{base}/slack"}}
  discord: {{type: discord, url: "{base}/discord"}}
  tg: {{type: telegram, url: "{base}/tg", token: "123:ABC", chat_id: "-100"}}
  pd: {{type: pagerduty, url: "{base}/pd", token: routing-key-1}}
  og: {{type: opsgenie, url: "{base}/og", token: genie-key-1}}
  mail:
    type: email
    smtp: smtp://127.0.0.1:{self.smtp_port}
    starttls: false
    from: chainscope@example.com
    to: [ops@example.com, oncall@example.com]
  mail-tls:
    type: email
    smtp: smtp://127.0.0.1:{self.tls_port}
    ca_file: {self.cert}
    from: chainscope@example.com
    to: [sec@example.com]
  script: {{type: script, command: [tee, -a, "{self.script_out}"]}}
notify:
  outbox: {t.file('outbox.db')}
  backoff: 100ms
  max_backoff: 400ms
  defaults:
    low: [hook]
  explorers:
    eth-main: https://etherscan.io/
"""

    def tearDown(self):
        for r in (self.http, self.smtp, self.tls):
            r.stop()
        self.tmp.cleanup()

    def publish(self, srv, text):
        r = cs("publish", "--socket", srv.socket, input=text)
        self.assertEqual(r.returncode, 0, r.stderr)

    def http_by_path(self, prefix):
        return [r for r in self.http.records() if r["path"].startswith(prefix)]

    def test_every_channel(self):
        # the ping (low) goes to the script too: two alerts, two lines
        srv = Server(self.tmp, self.yaml.replace("low: [hook]", "low: [hook, script]"), http=True)
        try:
            # one big transfer (5000 tokens) and one small; then a ping alert
            self.publish(srv, transfer_events(100, [("0xaa01", 5 * 10**21), ("0xaa02", 12)]))
            self.publish(srv, '{"type":"demo.alert","network":"btc-main","key":"peer-7",'
                              '"payload":{"level":5,"note":"<b>&"}}\n'
                              '{"type":"demo.alert","network":"btc-main","key":"peer-8",'
                              '"payload":{"level":1}}\n')
            wait_for(lambda: len(self.http.records()) >= 7 and len(self.smtp.records()) >= 1
                     and len(self.tls.records()) >= 1 and len(read_lines(self.script_out)) >= 2,
                     timeout=20, what="notifications: " + srv.logtext())
            time.sleep(0.5)  # nothing more should come
            import urllib.request
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % srv.http_port,
                                        timeout=5) as r:
                metrics = r.read().decode()
            p = subprocess.run(["promtool", "check", "metrics"], input=metrics, text=True,
                               capture_output=True)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn('chainscope_monitor_matches_total{monitor="big-transfers"} 1', metrics)
            self.assertIn('chainscope_monitor_matches_total{monitor="pings"} 1', metrics)
            self.assertIn("chainscope_notify_sent_total 11", metrics)
            self.assertIn("chainscope_notify_dead_total 0", metrics)
            self.assertIn("chainscope_monitor_transactions_total 2", metrics)
        finally:
            self.assertEqual(srv.stop(), 0)
        recs = self.http.records()
        self.assertEqual(len(recs), 7, [r["path"] for r in recs])

        hooks = self.http_by_path("/hook")
        self.assertEqual(len(hooks), 2)  # the transfer and the ping (low -> default hook)
        for h in hooks:
            ts, sig = h["headers"]["x-chainscope-timestamp"], h["headers"]["x-chainscope-signature"]
            want = hmac.new(SECRET.encode(), (ts + "." + h["body"]).encode(),
                            hashlib.sha256).hexdigest()
            self.assertEqual(sig, "sha256=" + want)
            self.assertEqual(h["headers"]["x-team"], "ops")
            self.assertEqual(len(h["headers"]["idempotency-key"]), 32)
        transfer = [json.loads(h["body"]) for h in hooks
                    if json.loads(h["body"])["monitor"]["name"] == "big-transfers"][0]
        self.assertEqual(transfer["transaction"]["hash"], "0xaa01")
        self.assertEqual(transfer["transaction"]["link"], "https://etherscan.io/tx/0xaa01")
        self.assertEqual(transfer["matchReasons"][0]["params"]["value"], "5000000000000000000000")
        self.assertEqual(transfer["severity"], "high")
        ping = [json.loads(h["body"]) for h in hooks
                if json.loads(h["body"])["monitor"]["name"] == "pings"][0]
        self.assertEqual(ping["event"]["key"], "peer-7")

        slack = json.loads(self.http_by_path("/slack")[0]["body"])
        self.assertTrue(slack["text"].startswith("*big-transfers* (high, financial) matched on "
                                                 "eth-main"), slack["text"])
        self.assertIn("<https://etherscan.io/tx/0xaa01|open in the explorer>", slack["text"])
        self.assertIn("value &gt; 1000000000000000000000", slack["text"])

        discord = json.loads(self.http_by_path("/discord")[0]["body"])
        self.assertTrue(discord["content"].startswith("**big-transfers**"))
        self.assertEqual(discord["allowed_mentions"], {"parse": []})

        tg = self.http_by_path("/tg/")[0]
        self.assertEqual(tg["path"], "/tg/bot123:ABC/sendMessage")
        tgb = json.loads(tg["body"])
        self.assertEqual(tgb["chat_id"], "-100")
        self.assertEqual(tgb["parse_mode"], "MarkdownV2")
        self.assertIn("*big\\-transfers* \\(high, financial\\)", tgb["text"])
        self.assertIn("https://etherscan\\.io/tx/0xaa01", tgb["text"])

        pd = json.loads(self.http_by_path("/pd/")[0]["body"])
        self.assertEqual(self.http_by_path("/pd/")[0]["path"], "/pd/v2/enqueue")
        self.assertEqual(pd["routing_key"], "routing-key-1")
        self.assertEqual(pd["event_action"], "trigger")
        self.assertEqual(pd["payload"]["severity"], "critical")
        self.assertEqual(pd["payload"]["summary"], "[high] big-transfers on eth-main")
        self.assertEqual(len(pd["dedup_key"]), 32)

        og = self.http_by_path("/og/")[0]
        self.assertEqual(og["path"], "/og/v2/alerts")
        self.assertEqual(og["headers"]["authorization"], "GenieKey genie-key-1")
        ogb = json.loads(og["body"])
        self.assertEqual(ogb["priority"], "P1")
        self.assertEqual(ogb["alias"], og["headers"]["idempotency-key"])
        self.assertLessEqual(len(ogb["message"]), 130)

        mail = self.smtp.records()[0]
        self.assertEqual(mail["to"], ["ops@example.com", "oncall@example.com"])
        self.assertFalse(mail["tls"])
        msg = email.message_from_string(mail["data"], policy=email.policy.default)
        self.assertEqual(msg["Subject"], "[high] big-transfers on eth-main")
        self.assertTrue(msg["Message-ID"].endswith("@chainscope>"))
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        self.assertIn("Transaction: 0xaa01", text)
        self.assertIn('<a href="https://etherscan.io/tx/0xaa01">', html)
        tls = self.tls.records()[0]
        self.assertTrue(tls["tls"])  # STARTTLS, verified against the test CA
        self.assertEqual(tls["to"], ["sec@example.com"])

        # `tee -a` appended stdin as it came: each alert document is one line
        with open(self.script_out) as f:
            raw = f.read()
        self.assertTrue(raw.endswith("}\n"), raw)
        scripted = [json.loads(l) for l in raw.split("\n")[:-1]]
        self.assertEqual(len(scripted), 2, raw)
        by_name = {d["monitor"]["name"]: d for d in scripted}
        self.assertEqual(sorted(by_name), ["big-transfers", "pings"])
        self.assertEqual(by_name["big-transfers"]["transaction"]["hash"], "0xaa01")
        self.assertEqual(by_name["pings"]["event"]["key"], "peer-7")

    def test_outage_and_restart_deliver_once(self):
        # only the webhook, to count exactly
        yaml = self.yaml.replace(
            "channels: [hook, slack, discord, tg, pd, og, mail, mail-tls, script]",
            "channels: [hook, slack]")
        srv = Server(self.tmp, yaml)
        self.publish(srv, transfer_events(200, [("0xbb%02d" % i, 2 * 10**21) for i in range(3)]))
        wait_for(lambda: len(self.http.records()) >= 6, timeout=20, what="first deliveries")
        # the receiver goes away; new alerts fail and are retried
        self.http.stop()
        self.publish(srv, transfer_events(201, [("0xcc%02d" % i, 2 * 10**21) for i in range(4)]))
        wait_for(lambda: srv.logtext().count("failed") >= 2, timeout=20,
                 what="failed attempts")
        # chainscope restarts while they are pending
        self.assertEqual(srv.stop(), 0)
        self.assertIn("attempt 1 failed", srv.logtext())
        srv = Server(self.tmp, yaml)
        try:
            # the same block replayed after the restart: no second notification
            self.publish(srv, transfer_events(201, [("0xcc%02d" % i, 2 * 10**21)
                                                    for i in range(4)]))
            time.sleep(0.3)
            self.http.start()
            wait_for(lambda: len(self.http.records()) >= 14, timeout=30,
                     what="deliveries after the restart: " + srv.logtext())
            time.sleep(1.0)
        finally:
            self.assertEqual(srv.stop(), 0)
        recs = self.http.records()
        keys = [r["headers"]["idempotency-key"] for r in recs]
        self.assertEqual(len(set(keys)), 14)  # 7 alerts x 2 channels
        self.assertEqual(len(keys), 14, "a key arrived twice")
        hashes = sorted(json.loads(r["body"])["transaction"]["hash"] for r in recs
                        if r["path"] == "/hook")
        self.assertEqual(hashes, sorted(["0xbb%02d" % i for i in range(3)] +
                                        ["0xcc%02d" % i for i in range(4)]))

    def test_sighup_reloads_monitors(self):
        srv = Server(self.tmp, self.yaml)
        try:
            ping = ('{"type":"demo.alert","network":"btc-main","key":"peer-%d",'
                    '"payload":{"level":2}}\n')
            self.publish(srv, ping % 1)  # level 2 < 3: no alert
            with open(srv.config) as f:
                text = f.read()
            with open(srv.config, "w") as f:
                f.write(text.replace('condition: "level >= 3"', 'condition: "level >= 2"'))
            srv.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "reloaded: 2 monitors" in srv.logtext(), what="reload")
            self.publish(srv, ping % 2)
            wait_for(lambda: len(self.http_by_path("/hook")) >= 1, timeout=10, what="alert")
            time.sleep(0.3)
            hooks = self.http_by_path("/hook")
            self.assertEqual(len(hooks), 1)
            self.assertEqual(json.loads(hooks[0]["body"])["event"]["key"], "peer-2")
            # a broken condition is refused and the running monitors stay
            with open(srv.config, "w") as f:
                f.write(text.replace('condition: "level >= 3"', 'condition: "level >="'))
            srv.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "reload refused" in srv.logtext(), what="refusal")
            self.assertIn("expected a value, found end of input", srv.logtext())
            self.publish(srv, ping % 3)
            wait_for(lambda: len(self.http_by_path("/hook")) >= 2, timeout=10, what="alert")
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_retry_after(self):
        # a receiver that rate-limits: 429 with Retry-After: 1, then 200
        yaml = self.yaml.replace("low: [hook]", "low: [busy]").replace(
            "  slack: {type: slack,",
            "  busy: {type: webhook, url: \"http://127.0.0.1:%d/busy\"}\n  slack: {type: slack,"
            % self.http_port)
        srv = Server(self.tmp, yaml)
        try:
            self.publish(srv, '{"type":"demo.alert","network":"btc-main","key":"peer-9",'
                              '"payload":{"level":4}}\n')
            wait_for(lambda: len(self.http_by_path("/busy")) >= 2, timeout=10,
                     what="the retry: " + srv.logtext())
        finally:
            self.assertEqual(srv.stop(), 0)
        first, second = self.http_by_path("/busy")[:2]
        self.assertEqual(first["headers"]["idempotency-key"],
                         second["headers"]["idempotency-key"])
        # backoff alone (100 ms, at most 400 ms) would have come back sooner
        self.assertGreaterEqual(second["t"] - first["t"], 0.95)
        self.assertIn("HTTP 429", srv.logtext())
        self.assertIn("(Retry-After: 1 s)", srv.logtext())

    def test_monitor_test_sends_nothing(self):
        cfg = self.tmp.file("m.yaml", self.yaml)
        ev = self.tmp.file("ev.jsonl", transfer_events(300, [("0xdd01", 7 * 10**21)]))
        r = cs("monitor", "test", "-c", cfg, "--events", ev)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("match 1: big-transfers/eth-main/0xdd01 (high, financial)", r.stdout)
        self.assertIn("-> tg (telegram)", r.stdout)
        self.assertIn("*big\\-transfers* \\(high, financial\\)", r.stdout)
        self.assertIn("1 matches, 1 to notify", r.stdout)
        time.sleep(0.3)
        self.assertEqual(self.http.records(), [])
        self.assertFalse(os.path.exists(self.tmp.file("outbox.db")))
        r = cs("monitor", "eval", "--rule", "value >> 1")
        self.assertEqual(r.returncode, 2)
        self.assertIn("1:8: expected a value, found '>'", r.stderr)
        r = cs("monitor", "eval", "--args", "--rule", "value > 0xde0b6b3a7640000",
               "--event", '{"args":{"value":"2000000000000000000"}}')
        self.assertEqual((r.returncode, r.stdout), (0, "event 1: true\n"))


if __name__ == "__main__":
    main()
