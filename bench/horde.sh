#!/usr/bin/env bash
# A horde of 4 connector processes x 10,000 peers beside one process with
# 10,000 (bench/horde_peers.py). bench/run passes the build folder first.
if [ $# -gt 0 ] && [ -d "$1" ]; then
  export CHAINSCOPE="${CHAINSCOPE:-$1/chainscope}"
  shift
fi
exec python3 "$(dirname "$0")/horde_peers.py" "$@"
