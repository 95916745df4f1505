#!/usr/bin/env bash
# Checks every handwritten Swift file against .swift-format (the toolchain's swift-format); fails on a violation.
# `scripts/lint.sh --fix` rewrites the files in place first. Generated code (Sources/StormThrift/Generated) is left
# as the generator writes it.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files -- 'Sources/*.swift' 'Tests/*.swift' 'Package.swift' | grep -v '/Generated/')
if [ "${1:-}" = "--fix" ]; then swift format --in-place -- "${files[@]}"; fi
swift format lint --strict -- "${files[@]}"
echo "lint: ${#files[@]} files follow .swift-format"
