"""bp.json and endpoint validation (`bp_json: true`) against fake_bp_sites.py:
a chain API with six registered producers, each with its own HTTPS site and
a certificate from a test CA (given to chainscope by `ca_file`).

- `chainscope audit --once`: the text and the JSON report name every
  scripted fault under its producer and check, and the good producer passes
  every check; the ledger holds exactly one result per check per producer.
- `chainscope run`: the certificate expiring in 5 days fails bp_cert, and
  that result reaches a webhook channel (a real HTTP receiver) through a
  monitor on node.check and the notifier's outbox."""
import json
import os
import sqlite3
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from cslib import Server, TempDir, cs, free_port, main, read_jsonl, start, stop, wait_for  # noqa
import fake_bp_sites as fx  # noqa: E402

CHECKS = ["bp_rank", "bp_json", "bp_chains", "bp_api", "bp_chain_id", "bp_version", "bp_cors",
          "bp_https", "bp_tls", "bp_cert", "bp_p2p"]

# (producer, check, state, words the detail must hold)
FAULTS = [
    ("bpbadjson", "bp_json", "fail", "producer_account_name: missing"),
    ("bpbadjson", "bp_json", "fail", "org.email: missing"),
    ("bpbadjson", "bp_json", "fail", "nodes[0].location: missing"),
    ("bpbadjson", "bp_p2p", "fail", "connection refused"),
    ("bpwrongchain", "bp_chain_id", "fail", "chain id 73e4385a2708e6d7"),
    ("bpwrongchain", "bp_chains", "fail", "does not list the chain"),
    ("bpnocors", "bp_cors", "fail", "no Access-Control-Allow-Origin"),
    ("bpnocors", "bp_cert", "fail", "under cert_warn_days"),
    ("bphttponly", "bp_https", "fail", "http only"),
    ("bpexpired", "bp_tls", "fail", "certificate has expired"),
    ("bpexpired", "bp_cert", "fail", "expired"),
    ("bpexpired", "bp_json", "fail", "certificate has expired"),
]


def config(t, f, extra=""):
    return f"""audit:
  db: {t.file('audit.db')}
  schedule: "every 2s"
  networks:
    - name: eos
      kind: antelope
      chain_id: {fx.CHAIN_ID}
      timeout: 3s
      bp_json: true
      ca_file: {f.ca}
      versions: [{fx.VERSION}]
      cert_warn_days: 7
      concurrency: 3
      nodes:
        - {{name: eos-api, role: rpc, rpc: "{f.api}"}}
""" + "".join(f"        - {{name: {n}, role: producer}}\n" for n in f.names) + extra


class AntelopeBpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.fx = fx.start(cls.tmp.path, 6, page=4)  # the table in two pages

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_1_audit_once_names_every_fault(self):
        t = self.tmp
        cfg = t.file("once.yaml", config(t, self.fx))
        r = cs("audit", "--once", "-c", cfg, "--format", "text")
        self.assertEqual(r.returncode, 1, r.stderr)  # problems found
        text = r.stdout
        notices = {}
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("[down] "):
                notices[line.split()[1]] = line
        for prod, check, _, words in FAULTS:
            self.assertIn(prod, notices, text)
            self.assertIn("%s: " % check, notices[prod])
            self.assertIn(words, notices[prod], (prod, check))
        self.assertNotIn("bpgood", notices)
        self.assertRegex(text, r"\nbpgood +producer .* up ")

        r = cs("audit", "--once", "-c", cfg, "--format", "json", "--db", t.file("j.db"))
        self.assertEqual(r.returncode, 1, r.stderr)
        rep = json.loads(r.stdout)
        net = [n for n in rep["networks"] if n["network"] == "eos"][0]
        nodes = {n["name"]: {c["check"]: c for c in n["checks"]} for n in net["nodes"]}
        for prod, check, state, words in FAULTS:
            c = nodes[prod][check]
            self.assertEqual(c["state"], state, (prod, c))
            self.assertIn(words, c["detail"], (prod, c))
        good = nodes["bpgood"]
        for check in CHECKS:
            self.assertEqual(good[check]["state"], "ok", good[check])
        # chains.json named the chain's document; the rank and vote share
        self.assertIn("/mainnet.json", good["bp_chains"]["detail"])
        self.assertIn("/mainnet.json", good["bp_json"]["detail"])
        self.assertEqual(good["bp_rank"]["value"], 1)
        self.assertIn("active", good["bp_rank"]["detail"])
        self.assertEqual(nodes["bphttponly"]["bp_rank"]["value"], 5)
        self.assertIn("inactive", nodes["bphttponly"]["bp_rank"]["detail"])
        self.assertGreater(good["bp_cert"]["value"], 300)
        self.assertTrue(4.9 <= nodes["bpnocors"]["bp_cert"]["value"] <= 5, nodes["bpnocors"])
        self.assertLess(nodes["bpexpired"]["bp_cert"]["value"], 0)
        self.assertIn("handshake_message", good["bp_p2p"]["detail"])
        # its http API redirects to https: judged there
        self.assertIn("redirects to https", good["bp_https"]["detail"])
        self.assertRegex(good["bp_api"]["detail"], r"^http://127\.0\.0\.1:\d+ -> https://")
        self.assertIn("https endpoint advertised", nodes["bpnocors"]["bp_https"]["detail"])
        # no chains.json: unknown; nothing readable: its endpoints unknown
        self.assertEqual(nodes["bpnocors"]["bp_chains"]["state"], "unknown")
        self.assertEqual(nodes["bpexpired"]["bp_api"]["state"], "unknown")
        self.assertIn("no bp.json", nodes["bpexpired"]["bp_api"]["detail"])
        # what no scripted fault touches passes
        for prod, checks in nodes.items():
            for check, c in checks.items():
                if not check.startswith("bp_") or c["state"] != "fail":
                    continue
                self.assertTrue(any(p == prod and k == check for p, k, _, _ in FAULTS),
                                "unexpected failure %s %s" % (prod, c))

        # the table was read in pages: the second from the first's `more`
        pages = self.fx.chain_api.pages[-2:]
        self.assertEqual([p.get("lower_bound") for p in pages], ["", "bphttponly"], pages)
        # the ledger: one result per check per producer of the sweep
        con = sqlite3.connect(t.file("j.db"))
        rows = con.execute("SELECT node, check_name, count(*) FROM results "
                           "WHERE check_name LIKE 'bp_%' GROUP BY node, check_name").fetchall()
        con.close()
        self.assertEqual(len(rows), len(self.fx.names) * len(CHECKS), rows)
        self.assertTrue(all(n == 1 for _, _, n in rows), rows)

    def test_2_run_alerts_a_webhook_on_the_expiring_certificate(self):
        t = self.tmp
        hook_port = free_port()
        hooklog = t.file("hook.jsonl")
        hook = start(["/usr/bin/python3", os.path.join(HERE, "receivers.py"), "http",
                      str(hook_port), hooklog])
        try:
            self.assertEqual(hook.stdout.readline().strip(), b"ready")
            extra = f"""monitors:
  - name: bp-cert-expiring
    type: event
    severity: high
    subjects: [node.check]
    condition: 'check == "bp_cert" && state == "fail"'
    title: "{{{{event.payload.node}}}}: {{{{event.payload.detail}}}}"
    channels: [ops]
channels:
  ops:
    type: webhook
    url: http://127.0.0.1:{hook_port}/hook
notify:
  outbox: {t.file('outbox.db')}
  backoff: 100ms
"""
            srv = Server(t, config(t, self.fx, extra).replace(t.file("audit.db"),
                                                              t.file("run.db")))
            try:
                hooks = wait_for(lambda: [h for h in read_jsonl(hooklog)
                                          if "bpnocors" in h["body"]], timeout=30,
                                 what="the bp_cert alert at the webhook: " + srv.logtext())
            finally:
                self.assertEqual(srv.stop(), 0)
            body = json.loads(hooks[0]["body"])
            text = json.dumps(body)
            self.assertIn("bp-cert-expiring", text)
            self.assertRegex(text, r"expires in (4\.9|5\.0) days")
            names = {n for n in fx.FAULTS if any(n in h["body"] for h in read_jsonl(hooklog))}
            self.assertEqual(names, {"bpnocors", "bpexpired"})  # only bp_cert failures
        finally:
            stop(hook)


if __name__ == "__main__":
    main()
