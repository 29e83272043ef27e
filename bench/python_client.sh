#!/usr/bin/env bash
# The Python package's figures (bench/python_client.py).
exec /usr/bin/python3 "$(dirname "$0")/python_client.py"
