#!/usr/bin/env bash
# Installs what condense needs, builds it and runs the whole test suite with ctest.
#   scripts/test.sh              Release build in build/
#   scripts/test.sh --sanitize   AddressSanitizer + UndefinedBehaviorSanitizer build in build-asan/: the
#                                same suite, where any sanitizer report (a leak included) fails the test
#                                that caused it, also when it comes from a `condense` the test started
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=false
case "${1:-}" in
  --sanitize) sanitize=true ;;
  "") ;;
  *) echo "usage: scripts/test.sh [--sanitize]" >&2; exit 2 ;;
esac
scripts/install_deps.sh
if $sanitize; then
  export BUILD_DIR=${BUILD_DIR:-build-asan}
  scripts/build.sh -DCONDENSE_SANITIZE=ON
  # Exit codes no test expects (the CLI's errors exit 1), so a report inside a child `condense` fails
  # the test too. LeakSanitizer runs at every exit (detect_leaks); UBSan stops at the first report.
  export ASAN_OPTIONS=detect_leaks=1:exitcode=86:halt_on_error=1:strict_string_checks=1:check_initialization_order=1
  export UBSAN_OPTIONS=halt_on_error=1:exitcode=87:print_stacktrace=1
  export LSAN_OPTIONS=exitcode=86
else
  scripts/build.sh
fi
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j"$(nproc)" --timeout 900
