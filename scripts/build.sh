#!/usr/bin/env bash
# Configures and builds moesim in build/<name> (default: release). Extra arguments go to cmake.
# Usage: scripts/build.sh [name] [cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:-release}
shift || true
mkdir -p build
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "build/$name" -DCMAKE_BUILD_TYPE=Release "$@" >"build/$name.cmake.log" 2>&1 ||
  { cat "build/$name.cmake.log"; exit 1; }
grep -E "^-- hwval" "build/$name.cmake.log" || true
rm -f "build/$name.cmake.log"
cmake --build "build/$name" -j"$jobs"
