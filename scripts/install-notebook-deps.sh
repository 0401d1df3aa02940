#!/usr/bin/env bash
# Debian packages for the notebooks in notebooks/ (not needed to build, run or test moesim):
# matplotlib and nbconvert for Debian's system Python. Idempotent.
set -euo pipefail
packages=(python3-matplotlib python3-nbformat python3-ipykernel jupyter-nbconvert)
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
