#!/usr/bin/env bash
# Installs what building and testing need and is not already there: Debian's Thrift C++ library and compiler,
# boost and libevent headers (libthrift's headers need them), OpenSSL's headers (SASL's digests), ZooKeeper's C client and server, a JDK and Debian's Thrift Java
# library for the Java client, PyPI's thrift, pytest and pystorm for the Python client and the end-to-end tests,
# Node.js and Ruby for the polyglot example, and this repository's Python client and multilang adapter. With --tests,
# also what only the tests need: Chromium and its driver, with PyPI's selenium, for the UI's browser tests,
# Prometheus, which scrapes a test cluster's metrics, PyPI's streamparse, whose copy of Storm's own storm.thrift
# the tests call nimbus through, and PyPI's thrift_sasl and pure-sasl, the SASL clients Python users authenticate with.
# Safe to run again.
set -euo pipefail

packages=(libthrift-dev libevent-dev libssl-dev openssl thrift-compiler libboost-dev pkg-config libzookeeper-mt-dev zookeeper zlib1g-dev nodejs ruby
          default-jdk-headless libthrift-java libslf4j-java)
python_packages=("thrift>=0.16" pytest pystorm packaging)
python_modules="thrift, pytest, pystorm, packaging"
if [ "${1:-}" = "--tests" ]; then
  packages+=(chromium chromium-driver prometheus)
  python_packages+=(selenium streamparse thrift_sasl pure-sasl)
  python_modules+=", selenium, streamparse, thrift_sasl, puresasl"
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python3 -c "import $python_modules" 2>/dev/null || python3 -m pip install -q --disable-pip-version-check "${python_packages[@]}"
# Our client and multilang adapter (the Python examples' shell components import stormclient.multilang).
python3 -m pip install -q --disable-pip-version-check "$(dirname "$0")/../clients/python"
if ! command -v swift >/dev/null; then
  echo "swift is not on PATH: this project needs a Swift 6 toolchain" >&2
  exit 1
fi
