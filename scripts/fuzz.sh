#!/usr/bin/env bash
# Fuzzes condense's file readers: installs clang and libFuzzer, builds the targets of fuzz/ into
# build-fuzz/ (or $FUZZ_BUILD_DIR) with ASan and UBSan, builds seed corpora from ../shared/data and
# tests/bad_inputs, runs each target for SECONDS and prints a table of executions/s, corpus size and
# findings per target. Exits 1 when any target found a crash, leak, timeout or out-of-memory.
#   scripts/fuzz.sh SECONDS [TARGET...]     e.g. scripts/fuzz.sh 120, scripts/fuzz.sh 30 idx datum
# The corpora grow across runs in build-fuzz/fuzz/corpus/<target>; findings (inputs that crashed, with
# the log next to them) land in build-fuzz/fuzz/findings/<target>. Turn a finding into a regression case
# in tests/bad_inputs once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}
shift
scripts/install_deps.sh clang libclang-rt-14-dev libomp-14-dev llvm-14

build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
shared=${CONDENSE_SHARED_DATA:-../shared/data}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DCONDENSE_FUZZ=ON -DCONDENSE_BUILD_TESTS=OFF >/dev/null
cmake --build "$build_dir" -j"$(nproc)" --target fuzz

work="$build_dir/fuzz"
targets=("$@")
if ((${#targets[@]} == 0)); then
  for binary in "$work"/fuzz_*; do
    name=${binary##*/fuzz_}
    [[ $name == lmdb_records ]] || targets+=("$name")
  done
fi

python3 fuzz/make_seeds.py . "$shared" "$work/seeds"
lmdb="$shared/trafficsign_lmdb_h5/lmdb/cifar10_test_lmdb"
if [[ -d $lmdb ]]; then
  "$work/fuzz_lmdb_records" "$lmdb" "$work/seeds/datum" 16
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
command -v llvm-symbolizer >/dev/null || export ASAN_SYMBOLIZER_PATH=/usr/bin/llvm-symbolizer-14

# Inputs libFuzzer saved as findings in $findings (the loop's current target).
count_findings() {
  find "$findings" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' \) | wc -l
}

rows=()
failed=0
for name in "${targets[@]}"; do
  binary="$work/fuzz_$name"
  [[ -x $binary ]] || { echo "no fuzz target '$name' (built: $(ls "$work" | grep '^fuzz_' | tr '\n' ' '))"; exit 2; }
  corpus="$work/corpus/$name"
  findings="$work/findings/$name"
  log="$work/logs/$name.log"
  mkdir -p "$corpus" "$findings" "$(dirname "$log")"
  echo "== fuzz_$name for ${seconds}s (log: $log)"
  # Whole caffemodels are the interesting inputs there: LeNet's is 1.7 MB, above the default cap.
  options=()
  [[ $name == caffemodel ]] && options=(-max_len=2000000)
  # Text targets get a dictionary of the schema's words (fuzz/make_seeds.py).
  [[ -f $work/seeds/$name.dict ]] && options+=(-dict="$work/seeds/$name.dict")
  before=$(count_findings)
  status=0
  "$binary" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=3072 -print_final_stats=1 \
    "${options[@]}" -artifact_prefix="$findings/" "$corpus" "$work/seeds/$name" >"$log" 2>&1 || status=$?
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  per_second=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  # The last status line's "corp: N/SIZE": inputs in the in-memory corpus and their total size.
  corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -1 | sed 's/corp: //')
  found=$(($(count_findings) - before))
  if ((status != 0)); then
    found=$((found > 0 ? found : 1))
    cp "$log" "$findings/$(date +%Y%m%d-%H%M%S).log"
    failed=1
  fi
  rows+=("$name|${executions:-?}|${per_second:-?}|${corp:-?}|$found")
done

printf '\n%-20s %12s %8s %16s %9s\n' target executions exec/s 'corpus (n/size)' findings
for row in "${rows[@]}"; do
  IFS='|' read -r name executions per_second corp found <<<"$row"
  printf '%-20s %12s %8s %16s %9s\n' "$name" "$executions" "$per_second" "$corp" "$found"
done
exit "$failed"
