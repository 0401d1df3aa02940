#!/usr/bin/env bash
# The main job: install dependencies, build, and run `moesim compare` (GB200 NVL72 versus HGX
# H200 on built-in defaults). Any arguments are passed to moesim instead of `compare`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release -DMOESIM_BUILD_TESTS=OFF -DMOESIM_BUILD_BENCH=OFF >/dev/null
if (($#)); then
  exec build/release/moesim "$@"
fi
exec build/release/moesim compare
