#!/bin/sh
# The EVM follower against anvil (bench/evm_follow.py); bench/run calls it.
exec /usr/bin/python3 "$(dirname "$0")/evm_follow.py" "${1:-build}"
