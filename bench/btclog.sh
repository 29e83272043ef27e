#!/usr/bin/env bash
# debug.log parsing on a generated mixed log of 1,000,000 lines (every kind,
# every logging option; tests/integration/btclog_gen.py): bench_btclog beside
# Python's re applying the same patterns and beside grep -cE of one pattern
# (the floor of reading the bytes).
set -u
BUILD=${1:-build}
here=$(dirname "$0")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
log=$dir/debug.log
N=${BTCLOG_LINES:-1000000}
/usr/bin/python3 - "$log" "$N" <<PY
import sys
sys.path.insert(0, "$here/../tests/integration")
import btclog_gen
with open(sys.argv[1], "w") as f:
    f.writelines(btclog_gen.mixed(int(sys.argv[2])))
PY
echo "btclog_log_size: $(( $(stat -c %s "$log") / 1048576 )) MiB"
cat "$log" >/dev/null # in the page cache for every reader
out=$("$BUILD/bench_btclog" "$log") || exit 1
echo "$out"
"$BUILD/bench_btclog" --patterns >"$dir/patterns"
py=$(/usr/bin/python3 "$here/btclog_re.py" "$dir/patterns" "$log") || exit 1
echo "$py"
t0=$(date +%s.%N)
hits=$(grep -cE 'UpdateTip: new best=[0-9a-f]+ height=[0-9]+' "$log")
t1=$(date +%s.%N)
echo "btclog_grep_cE_hits: $hits lines"
awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { printf "btclog_grep_cE_rate: %.0f lines/s\n", n / (b - a) }'
c=$(echo "$out" | awk '/btclog_parse_rate/ {print $2}')
p=$(echo "$py" | awk '/btclog_python_re_rate/ {print $2}')
awk -v c="$c" -v p="$p" 'BEGIN { printf "btclog_speedup_vs_python_re: %.1f x\n", c / p }'
