#!/usr/bin/env bash
# Installs what condense needs, builds it and runs the whole test suite with ctest.
#   scripts/test.sh              Release build in build/
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j"$(nproc)" --timeout 600
