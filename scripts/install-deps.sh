#!/usr/bin/env bash
# Installs what moesim needs from Debian packages; does nothing for packages already present
# (idempotent, no network then). The CUDA toolkit is optional and never installed here: hwval is
# built only where it is already present.
set -euo pipefail

packages=(
  build-essential cmake git clang-format
  libeigen3-dev libboost-graph-dev libyaml-cpp-dev doctest-dev libbenchmark-dev
  libopenmpi-dev openmpi-bin  # moesim study over MPI ranks (optional: built where found)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
