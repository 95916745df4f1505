#!/usr/bin/env bash
# Runs every test: the Swift unit and integration tests, then the end-to-end tests that start real `storm nimbus`
# processes and drive them from Python, Java and the `storm` command line.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build
swift test
python3 -m pytest -q Tests/e2e
