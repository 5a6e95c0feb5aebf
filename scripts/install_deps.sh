#!/usr/bin/env bash
# Installs the Debian 12 packages condense builds and runs with. Needs root (or sudo) and Debian's
# package registry; skips the install when everything is already there.
set -euo pipefail
packages=(build-essential cmake pkg-config libopenblas-dev libprotobuf-dev protobuf-compiler
  libgoogle-glog-dev libgflags-dev libopencv-dev libgtest-dev libgmock-dev liblmdb-dev libhdf5-dev
  zlib1g-dev nlohmann-json3-dev python3 libjs-chart.js)
packages+=("$@")
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "Installing: ${missing[*]}"
  sudo=""; [[ $(id -u) == 0 ]] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
