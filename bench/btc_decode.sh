#!/usr/bin/env bash
# python3-bitcoinlib decoding the same corpus as bench_btc_decode.
set -u
BUILD=${1:-build}
corpus=$(mktemp)
trap 'rm -f "$corpus"' EXIT
"$BUILD/bench_btc_decode" --seconds 0.2 --corpus-out "$corpus" >/dev/null
/usr/bin/python3 "$(dirname "$0")/btc_decode_bitcoinlib.py" "$corpus" 2
