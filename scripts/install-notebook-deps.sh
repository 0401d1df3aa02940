#!/usr/bin/env bash
# Debian packages for the notebooks in notebooks/ (not needed to build or run moesim; the CTest
# test `notebooks` is skipped without them, and scripts/test.sh installs them so that it runs):
# matplotlib, pandas, nbconvert and the IPython kernel for Debian's system Python. Idempotent.
set -euo pipefail
packages=(python3-matplotlib python3-pandas python3-nbformat python3-ipykernel jupyter-nbconvert)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi
