#!/bin/sh
# The Antelope follower catch-up against the fixture (bench/antelope_follow.py); bench/run calls it.
exec /usr/bin/python3 "$(dirname "$0")/antelope_follow.py" "${1:-build}"
