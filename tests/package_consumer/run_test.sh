#!/usr/bin/env bash
# Installs a built condense into a scratch prefix, then configures, builds and runs the consumer project
# in this folder against that prefix only, so a missing header, target or dependency in the installed
# package config fails here. Usage: run_test.sh <condense build dir> <condense source dir>
set -euo pipefail

build_dir=$(cd "$1" && pwd)
source_dir=$(cd "$2" && pwd)
cmake=${CMAKE:-cmake}  # ctest passes the cmake that configured the build
scratch=$(mktemp -d "${TMPDIR:-/tmp}/condense_package_XXXXXX")
trap 'rm -rf "$scratch"' EXIT

"$cmake" --install "$build_dir" --prefix "$scratch/prefix" > "$scratch/install.log" \
  || { cat "$scratch/install.log"; exit 1; }
"$cmake" -S "$source_dir/tests/package_consumer" -B "$scratch/build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$scratch/prefix" -DCONSUMER_EXPECTED_PREFIX="$scratch/prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
"$cmake" --build "$scratch/build"
"$scratch/build/package_consumer"
