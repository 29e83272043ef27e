"""Python's re applying the kinds table's patterns (printed by
bench_btclog --patterns, translated to regular expressions) to a debug.log:
the prefixes split off, each row tried in order, the fields converted to
their types. The peer that bench/btclog.sh compares bench_btclog with.

usage: btclog_re.py PATTERNS FILE"""
import re
import sys
import time

PREFIX = re.compile(
    r"(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z)?(?: \(mocktime: [^)]*\))? ?"
    r"(?:\[(?P<thread>[^\] :]+)\] (?=\[|[A-Za-z0-9 -]))?"
    r"(?:\[(?P<source>[^\]]+:\d+)\] \[(?P<function>[^\]]+)\] )?"
    r"(?:\[(?P<category>[a-z0-9]+)(?::(?P<level>[a-z]+))?\] )? *")
NUM = {"u64": r"\d+", "i64": r"-?\d+", "double": r"-?\d+(?:\.\d+)?"}
CONV = {"u64": int, "i64": int, "double": float}


def translate(pattern, types):
    """The table's pattern syntax as a regex; returns it and group->field."""
    out, names, i = [], {}, 0
    while i < len(pattern):
        if pattern.startswith("{?", i):
            out.append("(?:")
            i += 2
        elif pattern[i] == "{":
            j = pattern.index("}", i)
            name = pattern[i + 1:j]
            t = types.get(name, "string")
            g = "g%d" % len(names)
            names[g] = (name, t)
            out.append("(?P<%s>%s)" % (g, NUM.get(t, ".*?")))
            i = j + 1
        elif pattern[i] == "}":
            out.append(")?")
            i += 1
        else:
            j = i
            while j < len(pattern) and pattern[j] not in "{}":
                j += 1
            out.append(re.escape(pattern[i:j]))
            i = j
    return re.compile("".join(out) + ("" if out[-1].endswith(")") else "")), names


def main():
    rows = []
    for line in open(sys.argv[1]):
        kind, pattern, fields = line.rstrip("\n").split("\t")
        types = dict(f.split(":") for f in fields.split(","))
        rx, names = translate(pattern, types)
        rows.append((kind, rx, names))
    t0 = time.monotonic()
    lines = matched = 0
    with open(sys.argv[2], encoding="utf-8", errors="replace") as f:
        for line in f:
            lines += 1
            p = PREFIX.match(line)
            msg = line[p.end():].rstrip()
            for kind, rx, names in rows:
                m = rx.match(msg)
                if m:
                    ev = {"node": "node-a"}
                    for k in ("time", "thread", "source", "function", "category", "level"):
                        if p.group(k):
                            ev[k] = p.group(k)
                    for g, (name, t) in names.items():
                        v = m.group(g)
                        if v is not None:
                            ev[name] = CONV[t](v) if t in CONV else v
                    matched += 1
                    break
    t = time.monotonic() - t0
    print("btclog_python_re_matched: %d lines" % matched)
    print("btclog_python_re_rate: %.0f lines/s" % (lines / t))
    print("btclog_python_re_time: %.3f s" % t)


main()
