"""The Antelope network report: `chainscope run` with the follower and the
audit on the fixture chain (fake_antelope_node.py) with a
scripted missed round (bpac), 5 of 12 missed (bpae), a fork and a double
production of our account (ownbp), all in round 1 (80 ms slots, 7 producers). The audit accounts the
follower's events per day in its database; then

- `chainscope antelope producers --json` (the follower's own database)
  names bpac and bpae with the missed counts of the script, the standbys as
  standby and ownbp's last block;
- the daily report sent to a webhook channel (every 5 s here) carries the
  network report;
- `chainscope audit report` (text, json, md, html) names each faulty
  producer with the same counts as the follower's database, the fork, the
  double production, and the bp.json / endpoint results found in the
  ledger: rows with the names and shapes the bp checks write (bp_rank,
  bp_json, bp_p2p, bp_cert, ...) are added to the ledger as that check
  would, for three producers, and must come out in the right columns."""
import json
import os
import sqlite3
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from cslib import CHAINSCOPE, TempDir, cs, free_port, read_jsonl, start, stop, wait_for  # noqa: E402
import fake_antelope_node as fx  # noqa: E402

# The faults of test_antelope_follow, all in round 1, on 7 producers (6 and
# ours) at 80 ms a slot: a round takes 6.7 s, and a block late by a loaded
# machine's hiccup stays within its slot.
SCRIPT = {"producers": 7, "own": {"account": "ownbp", "nodes": ["bp-master", "bp-standby"]},
          "faults": [{"kind": "miss_round", "producer": "bpac", "round": 1},
                     {"kind": "miss_blocks", "producer": "bpae", "round": 1, "count": 5},
                     {"kind": "fork", "round": 1, "depth": 3}, {"kind": "double", "round": 1}]}
SLOT_MS = 80


def config(t, urls, hook_port):
    return f"""node: t1
logserver:
  enabled: false
console:
  filter: ["antelope.>"]
  json: true
antelope:
  networks:
    - name: eos
      api: [{urls['api']}]
      from: 1
      poll: 10ms
      slot: {SLOT_MS}ms
      check_every: 500ms
      db: {t.file('follower.db')}
      own:
        - account: ownbp
          nodes: [{{name: bp-master, api: {urls['bp-master']}}},
                  {{name: bp-standby, api: {urls['bp-standby']}}}]
channels:
  ops:
    type: webhook
    url: http://127.0.0.1:{hook_port}/hook
notify:
  outbox: {t.file('outbox.db')}
audit:
  db: {t.file('audit.db')}
  schedule: "@daily"
  report: {{schedule: "every 5s", format: json, channels: [ops]}}
  networks:
    - name: eos
      kind: antelope
      nodes:
        - {{name: eos-api, role: rpc, rpc: "{urls['api']}"}}
"""


# What the bp checks of the audit write, per producer (value, state, detail).
BP_ROWS = {
    "bpaa": [("bp_rank", 0, 1, "votes 3.21%, active"), ("bp_json", 0, None, "valid"),
             ("bp_api", 0, 12, "get_info 12 ms"), ("bp_p2p", 0, 3, "handshake"),
             ("bp_tls", 0, None, "verified"), ("bp_cert", 0, 80, "80 days")],
    "bpac": [("bp_rank", 0, 3, "votes 2.50%, active"), ("bp_json", 1, None,
                                                        "missing org.candidate_name"),
             ("bp_api", 0, 20, "ok"), ("bp_p2p", 1, None, "refused"),
             ("bp_cert", 1, 5, "expires in 5 days")],
    "sbaa": [("bp_rank", 0, 22, "votes 0.10%, standby")],
}


def add_bp_rows(db):
    con = sqlite3.connect(db)
    now = int(time.time())
    for node, rows in BP_ROWS.items():
        for check, state, value, detail in rows:
            con.execute("INSERT INTO results(time, network, node, check_name, state, value, "
                        "detail) VALUES(?,?,?,?,?,?,?)", (now, "eos", node, check, state, value,
                                                          detail))
    con.commit()
    con.close()


def main():
    t = TempDir()
    try:
        chain, urls = fx.start(SCRIPT, slot_ms=SLOT_MS, history=50)
        hook_port = free_port()
        hooklog = t.file("hook.jsonl")
        hook = start(["/usr/bin/python3", os.path.join(HERE, "receivers.py"), "http",
                      str(hook_port), hooklog])
        assert hook.stdout.readline().strip() == b"ready"
        cfg = t.file("c.yaml")
        with open(cfg, "w") as f:
            f.write(config(t, urls, hook_port))
        out = t.file("out.jsonl")
        t0 = time.time()
        p = start([CHAINSCOPE, "run", "-c", cfg], stdout=open(out, "w"))
        ev = lambda ty: [e for e in read_jsonl(out) if e["type"] == ty]  # noqa: E731
        wait_for(lambda: ev("antelope.fork"), timeout=45, what="antelope.fork")
        wait_for(lambda: [e for e in ev("antelope.round") if e["payload"]["missed_producers"]],
                 timeout=20, what="the round with the missed producer")
        wait_for(lambda: ev("antelope.double_production"), timeout=20,
                 what="antelope.double_production")
        # the daily report as the channel gets it (every 5 s here), with the
        # network report once the counts of round 1 are written
        def sent():
            for h in read_jsonl(hooklog):
                doc = json.loads(h["body"])
                ant = doc.get("report", {}).get("networks", [{}])[0].get("antelope", {})
                prods = {x["producer"]: x for x in ant.get("producers", [])}
                if prods.get("bpac", {}).get("missed") == 12 and \
                        prods.get("ownbp", {}).get("double_productions") == 1:
                    return doc
            return None
        def seen():
            out = []
            for h in read_jsonl(hooklog):
                doc = json.loads(h["body"])
                ant = doc.get("report", {}).get("networks", [{}])[0].get("antelope", {})
                prods = {x["producer"]: x for x in ant.get("producers", [])}
                out.append((doc.get("id"), prods.get("bpac"), prods.get("ownbp")))
            return out[-3:]
        try:
            doc = wait_for(sent, timeout=20, what="the report with round 1 at the webhook")
        except AssertionError:
            raise AssertionError("no report with round 1 at the webhook; the last: %s; "
                                 "follower: %s" % (seen(), cs("antelope", "producers", "-c", cfg,
                                                              "--json").stdout[:1500]))
        assert doc["type"] == "audit.report" and "network report" in doc["text"], doc["text"]
        assert "ownbp: double production in 1 round" in doc["text"]
        assert stop(p) == 0
        stop(hook)
        run_s = time.time() - t0
        chain.stop = True

        # the follower's view
        r = cs("antelope", "producers", "-c", cfg, "--json")
        assert r.returncode == 0, r.stderr
        fol = {x["producer"]: x for x in json.loads(r.stdout)["producers"]}
        assert fol["bpac"]["day"]["missed"] == 12, (fol["bpac"], [
            (e["payload"]["slot_time"], e["payload"]["expected_block"], e["payload"]["consecutive"],
             e["time"]) for e in ev("antelope.slot.missed")])
        assert fol["bpac"]["day"]["missed_rounds"] == 1, fol["bpac"]
        assert fol["bpae"]["day"]["missed"] == 5, fol["bpae"]
        assert fol["bpae"]["day"]["missed_rounds"] == 0
        assert fol["bpaa"]["day"]["missed"] == 0 and fol["bpaa"]["day"]["produced"] >= 24
        standbys = sorted(k for k, v in fol.items() if v["standby"])
        assert standbys == ["sbaa", "sbab", "sbac"], standbys
        assert all(not fol[k]["standby"] for k in ("bpaa", "bpac", "ownbp"))
        assert fol["ownbp"]["last_block"] > 0 and fol["ownbp"]["since_ms"] is not None
        txt = cs("antelope", "producers", "-c", cfg)
        assert txt.returncode == 0, txt.stderr
        line = lambda s, name: next(x for x in s.splitlines() if x.startswith(name + " "))  # noqa
        assert "standby" in line(txt.stdout, "sbab") and "never" in line(txt.stdout, "sbab")
        assert "active" in line(txt.stdout, "bpac") and " ago" in line(txt.stdout, "bpac")
        assert "10 producers (7 active, 3 standby)" in txt.stdout, txt.stdout[:200]
        r = cs("antelope", "producers", "-c", cfg, "--network", "nope")
        assert r.returncode == 3 and "no antelope network 'nope'" in r.stderr, r.stderr
        assert cs("antelope").returncode == 2
        h = cs("antelope", "producers", "--help")
        assert h.returncode == 0 and "standby" in h.stdout and "rounds missed" in h.stdout

        # the audit's network report, from the stream; the day of the chain's slots
        add_bp_rows(t.file("audit.db"))
        fault_ms = [b["payload"]["timestamp"] for b in ev("antelope.block")][-1]
        day = time.strftime("%Y-%m-%d", time.gmtime(fault_ms / 1000))
        r = cs("audit", "report", "-c", cfg, "--day", day, "--format", "json")
        assert r.returncode == 0, r.stdout + r.stderr
        doc = json.loads(r.stdout)
        net = doc["networks"][0]
        assert net["network"] == "eos" and net["kind"] == "antelope", net
        ant = net["antelope"]
        assert ant["day"] == day and ant["forks"] == 1, ant
        nblocks = len([b for b in ev("antelope.block") if not b["payload"].get("replaces")])
        assert ant["blocks"] == nblocks, (ant["blocks"], nblocks)
        assert ant["block_time_ms"] >= 500, ant  # 0.5 s slots, more where a slot was missed
        assert 20 <= ant["lib_lag"]["max"] <= 30, ant["lib_lag"]  # the fixture's LIB is 24 behind
        rep = {x["producer"]: x for x in ant["producers"]}
        for name, f in fol.items():
            if f["standby"]:
                continue
            assert rep[name]["missed"] == f["day"]["missed"], (name, rep[name], f)
            assert rep[name]["produced"] == f["day"]["produced"], (name, rep[name], f)
            assert rep[name]["rounds_missed"] == f["day"]["missed_rounds"], (name, rep[name], f)
            assert rep[name]["last_block"] == f["last_block"], (name, rep[name], f)
        assert rep["bpac"]["missed"] == 12 and rep["bpac"]["rounds_missed"] == 1
        assert rep["bpae"]["missed"] == 5 and rep["bpae"]["rounds_missed"] == 0
        assert rep["bpac"]["rounds"] >= 2, rep["bpac"]  # round 0 and round 1 complete
        assert rep["ownbp"]["double_productions"] == 1, rep["ownbp"]
        assert [x["producer"] for x in ant["producers"]][:3] == ["bpaa", "bpac", "sbaa"]
        assert rep["bpaa"]["rank"] == 1 and rep["bpaa"]["votes"] == "3.21%"
        assert rep["bpac"]["checks"]["bp_cert"]["value"] == 5
        assert rep["sbaa"]["standby"] is True and rep["sbaa"]["produced"] == 0
        assert rep["bpab"]["rank"] is None and rep["bpab"]["checks"] == {}
        # text: one row per producer, the faulty ones with their counts
        r = cs("audit", "report", "-c", cfg, "--day", day)
        assert r.returncode == 0, r.stderr
        text = r.stdout
        if os.environ.get("CS_TEST_SHOW"):
            print(text + cs("antelope", "producers", "-c", cfg).stdout)
        assert "network report " + day in text and "forks: 1" in text, text[:600]
        cells = lambda name: line(text, name).split()  # noqa: E731
        c = cells("bpac")
        assert c[1] == "3" and c[2] == "2.50%" and c[4] == "12" and c[5:8] == ["1", "of",
                                                                             str(rep["bpac"]
                                                                                 ["rounds"])], c
        assert "p2p fail" in line(text, "bpac") and "invalid" in line(text, "bpac"), c
        assert c[-1] == "5", c
        c = cells("bpae")
        assert c[1] == "\u2014" and c[4] == "5", c
        assert cells("bpaa")[-3:] == ["ok", "valid", "80"], cells("bpaa")
        assert "standby" in line(text, "sbaa")
        assert "ownbp: double production in 1 round" in text
        # md and html: the same section; html with its bar chart, no script
        r = cs("audit", "report", "-c", cfg, "--day", day, "--format", "md")
        assert r.returncode == 0 and "### Network report " + day in r.stdout
        assert any(x.startswith("| bpac ") and "| 12 |" in x for x in r.stdout.splitlines())
        r = cs("audit", "report", "-c", cfg, "--day", day, "--format", "html")
        assert r.returncode == 0 and "<h3>Network report " + day in r.stdout
        assert "<title>12 missed</title>" in r.stdout and "<script" not in r.stdout
        assert "<svg" in r.stdout and 'aria-label="blocks produced and missed' in r.stdout
        # another day has no data
        r = cs("audit", "report", "-c", cfg, "--day", "2001-01-01")
        assert r.returncode == 0 and "no producer data" in r.stdout, r.stdout
        r = cs("audit", "report", "-c", cfg, "--day", "2001-13-01")
        assert r.returncode == 2 and "YYYY-MM-DD" in r.stderr, r.stderr
        print("run: %.1f s, %d blocks, report day %s" % (run_s, nblocks, day))
    finally:
        t.cleanup()
    print("ok")


if __name__ == "__main__":
    main()
