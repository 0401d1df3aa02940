#!/usr/bin/env bash
# The whole test suite, as CI runs it: install dependencies (the notebooks' too), check
# formatting, build with -Werror and run every test, then build with AddressSanitizer +
# UndefinedBehaviorSanitizer and run every test again.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# The notebooks' Python packages, so that the CTest test `notebooks` runs rather than skips.
scripts/install-notebook-deps.sh
scripts/check-format.sh

echo "== release build (-Werror) =="
# Tests and benchmarks on whatever the cache holds: scripts/moesim.sh (the README's first
# command) configures build/release without them.
scripts/build.sh release -DMOESIM_WERROR=ON -DMOESIM_BUILD_TESTS=ON -DMOESIM_BUILD_BENCH=ON
ctest --test-dir build/release --output-on-failure --no-tests=error

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build =="
# -O1 -g1 (line tables only): half the build time of -O2 -g on 2 cores, with the same checks and
# file:line in every sanitizer report.
scripts/build.sh asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DMOESIM_SANITIZE=ON -DMOESIM_BUILD_HWVAL=OFF -DMOESIM_BUILD_BENCH=OFF
ctest --test-dir build/asan --output-on-failure --no-tests=error
