#!/usr/bin/python3
"""Decode speed of python3-bitcoinlib on the corpus bench_btc_decode writes.

usage: bench/btc_decode_bitcoinlib.py CORPUS [SECONDS]
  (make the corpus with: bench_btc_decode --corpus-out CORPUS)
Prints `name: value unit` lines, like the C bench."""
import io
import sys
import time

import bitcoin
from bitcoin.messages import MsgSerializable


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    data = open(sys.argv[1], "rb").read()
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    bitcoin.SelectParams("mainnet")
    rounds = msgs = 0
    t0 = time.monotonic()
    while True:
        f = io.BytesIO(data)
        while f.tell() < len(data):
            MsgSerializable.stream_deserialize(f)  # checks the checksum too
            msgs += 1
        rounds += 1
        t = time.monotonic() - t0
        if t >= seconds:
            break
    print("bitcoinlib_decode_throughput: %.1f MB/s" % (len(data) * rounds / t / 1e6))
    print("bitcoinlib_decode_rate: %.0f msgs/s" % (msgs / t))
    return 0


if __name__ == "__main__":
    sys.exit(main())
