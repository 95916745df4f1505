#!/usr/bin/env bash
# The quick start: installs what is missing, builds, starts a nimbus on a free port, submits a word-count
# topology of Python shell components through the Python client, shows it with `storm list`, kills it and stops
# nimbus. (Topologies do not run yet: workers and local mode come next.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product storm
storm=.build/release/storm
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
conf=(-c "nimbus.thrift.port=$port" -c "nimbus.seeds=[\"127.0.0.1\"]" -c "storm.local.dir=$dir/local"
      -c "storm.cluster.state.store=memory")
"$storm" nimbus "${conf[@]}" 2>"$dir/nimbus.log" &
nimbus=$!
trap 'kill $nimbus 2>/dev/null; wait $nimbus 2>/dev/null; rm -rf "$dir"' EXIT
PYTHONPATH=clients/python python3 examples/submit_wordcount.py 127.0.0.1 "$port"
"$storm" list "${conf[@]}"
"$storm" kill wordcount -w 0 "${conf[@]}"
