#!/usr/bin/env bash
# Regenerates every binding of idl/storm.thrift that is committed: the Swift model and Nimbus glue, and the
# Python client's modules. (The Java client is generated when it is built: see clients/java/build.sh.)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$root/Tests/StormThriftTests/Generated"
thrift --gen json -o "$work" "$root/idl/storm.thrift"
python3 "$root/scripts/thrift_swift_gen.py" "$root/idl/storm.thrift" "$work/gen-json/storm.json" \
  "$root/Sources/StormThrift/Generated" "$root/Tests/StormThriftTests/Generated"

thrift --gen py:slots -o "$work" "$root/idl/storm.thrift"
rm -rf "$root/clients/python/storm_thrift"
cp -r "$work/gen-py/storm_thrift" "$root/clients/python/storm_thrift"
rm -f "$root/clients/python/storm_thrift/"*-remote
