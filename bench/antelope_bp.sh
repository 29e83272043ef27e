#!/usr/bin/env bash
# bp.json and endpoint validation of 60 producers (bp_json: true): one
# `chainscope audit --once` against tests/integration/fake_bp_sites.py,
# wall time at concurrency 8 (the default) beside concurrency 1, with the
# sites answering at once on loopback and with 50 ms before every answer
# (a site across the Internet). Each producer is 2 to 3 document fetches,
# its API probes, 1 to 2 certificate handshakes and a P2P connection.
set -u
BUILD=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
CS=${CHAINSCOPE:-$BUILD/chainscope}
N=${BP_PRODUCERS:-60}
dir=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

# fixture DELAY_MS: starts the sites, waits for their ports file
fixture() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -f "$dir/ports.json"
  /usr/bin/python3 "$here/../tests/integration/fake_bp_sites.py" --dir "$dir" --producers "$N" \
    --delay-ms "$1" --ports-file "$dir/ports.json" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 600); do [ -s "$dir/ports.json" ] && return 0; sleep 0.1; done
  echo "# fake_bp_sites.py did not start" >&2
  return 1
}

# sweep CONCURRENCY NAME: one audit --once, its wall time and result count
sweep() {
  local api ca db=$dir/$2.db
  api=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api"])' "$dir/ports.json")
  ca=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ca"])' "$dir/ports.json")
  cat >"$dir/$2.yaml" <<YAML
audit:
  db: $db
  networks:
    - name: eos
      kind: antelope
      timeout: 5s
      bp_json: true
      ca_file: $ca
      versions: [v5.0.2]
      concurrency: $1
      bp_limit: $N
      nodes:
        - {name: eos-api, role: rpc, rpc: "$api"}
YAML
  local t0 t1
  t0=$(date +%s.%N)
  "$CS" audit --once -c "$dir/$2.yaml" --format json >/dev/null 2>"$dir/$2.err"
  t1=$(date +%s.%N)
  local n
  n=$(/usr/bin/python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(
"SELECT count(DISTINCT node) FROM results WHERE check_name = '"'"'bp_json'"'"'").fetchone()[0])' "$db")
  awk -v a="$t0" -v b="$t1" -v name="$2" -v n="$n" 'BEGIN {
    printf "%s_wall: %.2f s\n%s_producers_judged: %d producers\n", name, b - a, name, n }'
}

echo "antelope_bp_producers: $N producers"
fixture 0 || exit 1
sweep 8 antelope_bp_loopback_c8
sweep 1 antelope_bp_loopback_c1
fixture 50 || exit 1
sweep 8 antelope_bp_delay50ms_c8
sweep 1 antelope_bp_delay50ms_c1
