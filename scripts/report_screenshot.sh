#!/usr/bin/env bash
# Renders an analysis report (the analysis.html that `condense analyze --report=DIR` writes) in Debian's
# headless Chromium and saves a 1280x2000 screenshot of it:
#
#   scripts/report_screenshot.sh REPORT.html OUT.png
#
# Fails, saying why, when the page's plots were not drawn (the page marks <body data-charts="drawn">
# only after all three charts were made without an exception), when a script error reached the
# console, or when the screenshot is blank. Installs the chromium package when it is missing.
set -euo pipefail
fail() { echo "report_screenshot: $*" >&2; exit 1; }

(($# == 2)) || { echo "usage: $0 REPORT.html OUT.png" >&2; exit 2; }
[[ -f $1 ]] || fail "$1: no such file"
report=$(realpath "$1")
out=$(realpath -m "$2")
mkdir -p "$(dirname "$out")"

if ! command -v chromium >/dev/null; then
  "$(dirname "$0")/install_deps.sh" chromium
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
url=$(python3 -c 'import pathlib, sys; print(pathlib.Path(sys.argv[1]).as_uri())' "$report")
# A profile of its own, so that runs side by side do not fight over one.
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,2000
  --user-data-dir="$scratch/profile")

# First pass: the DOM after the scripts ran, and the console on stderr.
timeout 120 chromium "${flags[@]}" --enable-logging=stderr --v=0 --dump-dom "$url" \
  >"$scratch/dom.html" 2>"$scratch/chromium.log" || fail "chromium could not load $report"
console_errors=$(grep 'CONSOLE' "$scratch/chromium.log" | grep -iE 'uncaught|error' || true)
[[ -z $console_errors ]] || fail "the page logged errors: $console_errors"
state=$(grep -o 'data-charts="[a-z]*"' "$scratch/dom.html" | head -1 || true)
case $state in
  'data-charts="drawn"') ;;
  'data-charts="unavailable"') fail "$report has no plots: condense was built without Chart.js (libjs-chart.js)" ;;
  '') fail "$report is not an analysis report, or chromium rendered nothing" ;;
  *) fail "$report: the plots were not drawn ($state)" ;;
esac

# Second pass: the picture.
rm -f "$out"
timeout 120 chromium "${flags[@]}" --screenshot="$out" "$url" >"$scratch/screenshot.log" 2>&1 ||
  fail "chromium could not take the screenshot: $(tail -1 "$scratch/screenshot.log")"
[[ -s $out ]] || fail "chromium wrote no screenshot to $out"

# A blank page is a handful of colours; plots and text bring hundreds (anti-aliasing). Counted on the
# PNG's decompressed (filtered) rows, which is enough to tell the two apart.
python3 - "$out" <<'PY' || fail "$out is blank"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
chunks, at = [], 8
while at + 8 <= len(data):
    length, kind = struct.unpack(">I4s", data[at:at + 8])
    if kind == b"IDAT":
        chunks.append(data[at + 8:at + 8 + length])
    at += 12 + length
raw = zlib.decompress(b"".join(chunks))
distinct = len({raw[i:i + 3] for i in range(0, min(len(raw), 3_000_000), 3)})
print("report_screenshot: %s, %d bytes, ~%d distinct colours" % (sys.argv[1], len(data), distinct))
sys.exit(distinct < 50)
PY
