"""The antelope follower with `confirm: lib` against the fixture chain
(40 ms slots): a schedule change proposed in round 1 is announced as
proposed, then pending, then active with the next version, and the rounds
after it are counted against the new producer set (the removed producer
becomes a standby, the added one produces its 12); no block is published
above the LIB the node reported; an own node lagging 30 blocks fails its
check and the builtin:antelope pack's antelope-node-lagging alert reaches a
real webhook receiver."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from cslib import CHAINSCOPE, TempDir, free_port, read_jsonl, start, stop, wait_for  # noqa: E402
import fake_antelope_node as fx  # noqa: E402

SCRIPT = {"own": {"account": "ownbp", "nodes": ["bp-master", "bp-standby"]},
          "faults": [{"kind": "schedule", "round": 1, "remove": "bpab", "add": "sbaa"},
                     {"kind": "lag", "node": "bp-standby", "blocks": 30, "round": 1}]}


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
      confirm: lib
      from: 1
      poll: 10ms
      slot: 40ms
      check_every: 200ms
      db: {t.file('a.db')}
      own:
        - account: ownbp
          nodes: [{{name: bp-master, api: {urls['bp-master']}}},
                  {{name: bp-standby, api: {urls['bp-standby']}}}]
monitors:
  - include: [builtin:antelope]
  - name: antelope-node-lagging
    channels: [ops]
  - name: antelope-slot-missed
    enabled: false
channels:
  ops:
    type: webhook
    url: http://127.0.0.1:{hook_port}/hook
notify:
  outbox: {t.file('outbox.db')}
"""


def main():
    t = TempDir()
    try:
        chain, urls = fx.start(SCRIPT, slot_ms=40, history=30)
        hook_port = free_port()
        hooklog = t.file("hook.jsonl")
        hook = start(["/usr/bin/python3", os.path.join(HERE, "receivers.py"), "http",
                      str(hook_port), hooklog])
        assert hook.stdout.readline().strip() == b"ready"
        cfg = t.file("c.yaml")
        with open(cfg, "w") as f:
            f.write(config(t, urls, hook_port))
        out = t.file("out.jsonl")
        p = start([CHAINSCOPE, "run", "-c", cfg], stdout=open(out, "w"))
        ev = lambda ty: [e["payload"] for e in read_jsonl(out) if e["type"] == ty]  # noqa: E731

        def new_round():
            return [r for r in ev("antelope.round") if r["schedule_version"] == 2]
        rounds = wait_for(new_round, timeout=90, what="a round on schedule version 2")
        sched = ev("antelope.schedule")
        kinds = [(s["kind"], s["version"]) for s in sched]
        assert ("proposed", 2) in kinds and ("pending", 2) in kinds and ("active", 2) in kinds, kinds
        order = [kinds.index(("proposed", 2)), kinds.index(("pending", 2)),
                 kinds.index(("active", 2))]
        assert order == sorted(order), kinds
        active = [s for s in sched if s["kind"] == "active" and s["version"] == 2][0]
        assert "sbaa" in active["producers"] and "bpab" not in active["producers"], active
        r = rounds[0]
        prods = {x["producer"]: x for x in r["producers"]}
        assert "bpab" not in prods or prods["bpab"].get("standby"), prods.get("bpab")
        assert prods["sbaa"]["produced"] == 12 and prods["sbaa"]["missed"] == 0, prods["sbaa"]
        assert not r["missed_producers"], r["missed_producers"]
        # rounds before the change are counted on version 1 with bpab producing
        old = [x for x in ev("antelope.round") if x["schedule_version"] == 1]
        assert old and {x["producer"]: x for x in old[0]["producers"]}["bpab"]["produced"] == 12
        # confirm: lib: nothing above the LIB the node reported
        blocks = ev("antelope.block")
        assert blocks and all(b["num"] <= b["lib"] for b in blocks), \
            [(b["num"], b["lib"]) for b in blocks if b["num"] > b["lib"]][:5]
        nums = [b["num"] for b in blocks]
        assert nums == list(range(1, len(nums) + 1)), "gap or duplicate"
        # the lagging standby
        lag = wait_for(lambda: [n for n in ev("antelope.node")
                                if n["node"] == "bp-standby" and not n["ok"]],
                       timeout=20, what="a failed check of the lagging node")
        assert "behind" in lag[0]["reason"], lag[0]
        assert lag[0]["head_lag"] >= 25, lag[0]
        assert all(n["ok"] for n in ev("antelope.node") if n["node"] == "bp-master")
        hooks = wait_for(lambda: [h for h in read_jsonl(hooklog)
                                  if "antelope-node-lagging" in h["body"]],
                         timeout=20, what="the lagging-node alert at the webhook: %s"
                         % [h["body"][:200] for h in read_jsonl(hooklog)])
        assert "bp-standby" in hooks[0]["body"], hooks[0]["body"][:300]
        stop(p)
        chain.stop = True
        stop(hook)
    finally:
        t.cleanup()
    print("ok")


if __name__ == "__main__":
    main()
