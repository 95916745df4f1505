#!/usr/bin/env bash
# The quick start: installs what is missing, builds, and runs a word count (examples/wordcount.yaml) in this
# process for 10 seconds, printing its throughput every second.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product storm
.build/release/storm local examples/wordcount.yaml --duration "${DURATION:-10}"
