"""The audit as a service and its reports, against real parts.

- `chainscope run` with an audit schedule and `audit.report.channels`: the
  daily report reaches a mail server (aiosmtpd: a text and an HTML part), a
  Slack stand-in (the text as a code block) and a webhook (a JSON document)
  through the persistent outbox.
- SIGHUP: a new inventory and report channels apply, the ledger stays; a
  broken schedule is refused and the running audit goes on.
- A stalled chain: anvil producing a block a second, then told to stop;
  `chainscope audit --once` reports the chain as stalled.
"""
import email
import email.policy
import json
import os
import signal
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from cslib import ANVIL, Server, TempDir, cs, free_port, main, start, stop, wait_for
from test_audit import _up as up, rpc
from test_notify import Receiver


def anvil(*extra):
    port = free_port()
    p = start([ANVIL, "--port", str(port), "--silent"] + list(extra))
    url = "http://127.0.0.1:%d" % port
    wait_for(lambda: up(url), what="anvil")
    return p, url


class AuditRunTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            stop(p)
        self.tmp.cleanup()

    def receivers(self):
        self.smtp = Receiver("smtp", free_port(), self.tmp.file("smtp.jsonl"))
        self.http = Receiver("http", free_port(), self.tmp.file("http.jsonl"))
        for r in (self.smtp, self.http):
            r.start()
        self.addCleanup(self.smtp.stop)
        self.addCleanup(self.http.stop)

    def service_yaml(self, node_url, channels="[ops-mail, ops-slack, ops-hook]", nodes=""):
        base = "http://127.0.0.1:%s" % self.http.args[3]
        dead = "http://127.0.0.1:%d" % free_port()
        return f"""
channels:
  ops-mail:
    type: email
    smtp: smtp://127.0.0.1:{self.smtp.args[3]}
    starttls: false
    from: audit@example.com
    to: [ops@example.com]
  ops-slack: {{type: slack, url: "{base}/slack"}}
  ops-hook: {{type: webhook, url: "{base}/hook"}}
notify:
  outbox: {self.tmp.file('outbox.db')}
  backoff: 100ms
audit:
  db: {self.tmp.file('audit.db')}
  schedule: "every 1s"
  report:
    schedule: "every 2s"
    format: html
    channels: {channels}
  networks:
    - name: devnet
      kind: evm
      timeout: 2s
      head_max_age: 30s
      nodes:
        - {{name: rpc-1, role: rpc, rpc: "{node_url}", owner: alice, checks: [rpc, lag]}}
        - {{name: rpc-dead, role: rpc, rpc: "{dead}", owner: bob, checks: [rpc, lag]}}
{nodes}"""

    def test_report_by_mail_chat_and_webhook(self):
        p, url = anvil("--block-time", "1")
        self.procs.append(p)
        self.receivers()
        srv = Server(self.tmp, self.service_yaml(url))
        try:
            def report_mail():
                for m in self.smtp.records():
                    if "rpc-dead" in m["data"]:
                        return m
            mail = wait_for(report_mail, timeout=20, what="the report by mail: " + srv.logtext())
            wait_for(lambda: len([r for r in self.http.records()
                                  if "rpc-dead" in r["body"]]) >= 2,
                     timeout=10, what="the report on chat and webhook")
        finally:
            self.assertEqual(srv.stop(), 0)
        self.assertEqual(mail["to"], ["ops@example.com"])
        msg = email.message_from_string(mail["data"], policy=email.policy.default)
        day = time.strftime("%Y-%m-%d", time.gmtime())
        # The subject names the network and counts its problems (rpc-dead down).
        self.assertIn(msg["Subject"], ("chainscope audit %s devnet: 1 problem" % day,
                                       "chainscope audit %s devnet: 1 problem" % time.strftime(
                                           "%Y-%m-%d", time.gmtime(time.time() - 60))))
        self.assertTrue(msg["Message-ID"].endswith("@chainscope>"))
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        self.assertIn("devnet", text)
        self.assertIn("rpc-1", text)
        row = [l for l in text.splitlines() if l.startswith("rpc-dead ")][0]
        self.assertIn("down", row)
        self.assertIn("bob", row)
        self.assertIn("<html", html.lower())
        self.assertIn("rpc-dead", html)

        slack = [json.loads(r["body"]) for r in self.http.records()
                 if r["path"] == "/slack" and "rpc-dead" in r["body"]][0]
        self.assertTrue(slack["text"].startswith("*chainscope audit "), slack["text"])
        self.assertIn("```", slack["text"])
        self.assertLessEqual(len(slack["text"].encode()), 3000)
        hook = [json.loads(r["body"]) for r in self.http.records()
                if r["path"] == "/hook" and "rpc-dead" in r["body"]][0]
        self.assertEqual(hook["type"], "audit.report")
        self.assertEqual(hook["severity"], "medium")
        self.assertGreaterEqual(hook["problems"], 1)
        self.assertEqual(hook["format"], "html")
        self.assertIn("rpc-dead", hook["text"])
        self.assertTrue(hook["id"].startswith("audit.report/audit@test/"))

        # Every report went through the outbox, once per channel and report.
        con = sqlite3.connect(self.tmp.file("outbox.db"))
        rows = con.execute("SELECT channel, state FROM outbox WHERE monitor='audit.report'"
                           ).fetchall()
        con.close()
        self.assertGreaterEqual(len(rows), 3)
        self.assertEqual({c for c, _ in rows}, {"ops-mail", "ops-slack", "ops-hook"})
        keys = [r["headers"]["idempotency-key"] for r in self.http.records()]
        self.assertEqual(len(keys), len(set(keys)), "a report arrived twice")

    def test_sighup_reload(self):
        p, url = anvil("--block-time", "1")
        self.procs.append(p)
        self.receivers()
        srv = Server(self.tmp, self.service_yaml(url))
        db = self.tmp.file("audit.db")

        def count(node):
            con = sqlite3.connect(db)
            try:
                return con.execute("SELECT count(*) FROM results WHERE node=?",
                                   (node,)).fetchone()[0]
            except sqlite3.OperationalError:
                return 0
            finally:
                con.close()
        try:
            wait_for(lambda: count("rpc-dead") >= 2, timeout=15, what="sweeps")
            self.assertEqual(count("rpc-2"), 0)
            # a node more, reports to the webhook only
            with open(srv.config) as f:
                text = f.read()
            new = text.replace("channels: [ops-mail, ops-slack, ops-hook]",
                               "channels: [ops-hook]").replace(
                "        - {name: rpc-dead",
                '        - {name: rpc-2, role: rpc, rpc: "%s", checks: [rpc]}\n'
                "        - {name: rpc-dead" % url)
            with open(srv.config, "w") as f:
                f.write(new)
            before = count("rpc-dead")
            srv.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "audit: reloaded: 1 network" in srv.logtext(), what="reload: "
                     + srv.logtext())
            wait_for(lambda: count("rpc-2") >= 1, timeout=10, what="the new node checked")
            self.assertGreaterEqual(count("rpc-dead"), before)  # the ledger stayed
            mails = len(self.smtp.records())
            wait_for(lambda: any("rpc-2" in r["body"] for r in self.http.records()
                                 if r["path"] == "/hook"), timeout=10,
                     what="a report naming the new node")
            time.sleep(2.5)  # another report: none by mail any more
            self.assertLessEqual(len(self.smtp.records()), mails + 1)  # one may have been queued
            # a broken schedule is refused; the audit goes on
            with open(srv.config, "w") as f:
                f.write(new.replace('schedule: "every 1s"', 'schedule: "every now and then"'))
            srv.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "reload refused" in srv.logtext() or
                     "audit: reload failed" in srv.logtext(), what="refusal")
            self.assertIn("every now and then", srv.logtext())
            n = count("rpc-2")
            wait_for(lambda: count("rpc-2") > n, timeout=10, what="sweeps after the refusal")
            self.assertTrue(srv.alive())
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_stalled_chain(self):
        p, url = anvil("--block-time", "1")
        self.procs.append(p)
        cfg = self.tmp.file("audit.yaml", f"""
audit:
  db: {self.tmp.file('stall.db')}
  networks:
    - name: devnet
      kind: evm
      timeout: 2s
      head_max_age: 2s
      nodes:
        - {{name: rpc-1, role: rpc, rpc: "{url}", checks: [rpc, lag]}}
""")
        wait_for(lambda: int(rpc(url, "eth_blockNumber")["result"], 16) >= 1, what="a block")
        r = cs("audit", "--once", "-c", cfg, "--format", "json")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        net = json.loads(r.stdout)["networks"][0]
        self.assertEqual(net["status"], "ok")
        # the producer stops: no more blocks, and none on transactions either
        rpc(url, "evm_setAutomine", [False])
        rpc(url, "evm_setIntervalMining", [0])
        stuck = int(rpc(url, "eth_blockNumber")["result"], 16)
        time.sleep(3.2)
        self.assertEqual(int(rpc(url, "eth_blockNumber")["result"], 16), stuck)
        r = cs("audit", "--once", "-c", cfg)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("DOWN (the chain is not advancing)", r.stdout)
        self.assertIn("chain head_age: stalled: the best head %d is" % stuck, r.stdout)
        self.assertIn("chain advancing: stalled: stuck at %d since the sweep" % stuck, r.stdout)
        # the node itself answers and is at the head: up
        row = [l for l in r.stdout.splitlines() if l.startswith("rpc-1 ")][0]
        self.assertIn("up", row)


if __name__ == "__main__":
    main()
