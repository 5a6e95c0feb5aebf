#!/usr/bin/env bash
# The main job: the whole condense pipeline on Fashion-MNIST. Installs what condense needs, builds it,
# converts Debian's Fashion-MNIST, trains LeNet with Caffe's lenet_solver settings (or reuses
# out/lenet/lenet_iter_10000.caffemodel), lets `condense analyze` choose per-layer widths of at most
# 4-bit weights and 8-bit activations, fine-tunes the condensed net, scores float against condensed,
# exports the condensed weights and prints one summary table. Each stage logs to out/logs/<stage>.log.
# Environment: THREADS (default: all cores); CONDENSE (a condense binary to use instead of building one).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${THREADS:-0}
out=out/lenet
logs=out/logs
float_weights=$out/lenet_iter_10000.caffemodel
condensed_model=$out/lenet_condensed.prototxt
finetune_solver=models/lenet/lenet_finetune_solver.prototxt
finetune_iterations=$(sed -n 's/^max_iter: *\([0-9]*\).*/\1/p' "$finetune_solver")
finetuned_weights=$out/condensed_iter_$finetune_iterations.caffemodel
stages=8
mkdir -p "$out" "$logs"
: >"$logs/times.tsv"

stage_number=0
stage_title=""
stage_started=0
# Closes the running stage (its time goes to times.tsv) and opens the next one with a banner line.
stage() { # SHORT_NAME TITLE
  finish_stage
  stage_number=$((stage_number + 1))
  stage_title=$1
  stage_started=$(date +%s%N)
  echo
  echo "== $stage_number/$stages $2"
}
finish_stage() {
  [[ -z $stage_title ]] && return
  local elapsed_ms=$((($(date +%s%N) - stage_started) / 1000000))
  printf '%s\t%d.%03d\n' "$stage_title" $((elapsed_ms / 1000)) $((elapsed_ms % 1000)) >>"$logs/times.tsv"
}
fail() {
  echo "error: stage $stage_number/$stages ($stage_title) failed: $*" >&2
  stage_title=""
  exit 1
}
trap 'status=$?; ((status == 0)) || [[ -z $stage_title ]] || echo "error: stage $stage_number/$stages ($stage_title) failed (exit $status)" >&2' EXIT

# Runs condense with its whole output in out/logs/NAME.log and shows, indented, only the lines that matter:
# warnings and errors, the lines matching SHOW (an awk regex on the raw line) without glog's prefix, and,
# every EVERY training iterations, the iteration, loss and ETA plus each test score. On failure, the log's
# tail and exit 1.
condense_logged() { # NAME SHOW EVERY condense-arguments...
  local name=$1 show=$2 every=$3
  shift 3
  local log=$logs/$name.log status=0
  "$condense" "$@" --threads="$threads" 2>&1 | tee "$log" | awk -v show="$show" -v every="$every" '
    {
      message = $0; level = ""
      if (match($0, /^[IWEF][0-9]+ [0-9:.]+ +[0-9]+ [^ ]+\] /)) {
        level = substr($0, 1, 1); message = substr($0, RLENGTH + 1)
      }
      if (level == "W") print "   warning: " message
      else if (level == "E" || level == "F") print "   error: " message
      else if (every > 0 && match(message, /^Iteration [0-9]+ \(/)) {
        iteration = substr(message, 11, RLENGTH - 12) + 0
        loss = message; sub(/.*loss = /, "", loss)
      } else if (every > 0 && match(message, /ETA .*/) && iteration > 0 && iteration % every == 0) {
        print "   iteration " iteration ", loss " loss ", " substr(message, RSTART)
      } else if (every > 0 && match(message, /^Iteration [0-9]+, Testing/)) {
        tested = substr(message, 11); sub(/,.*/, "", tested)
      } else if (every > 0 && match(message, /Test net output #[0-9]+: accuracy = /) && tested % every == 0) {
        print "   test accuracy " substr(message, RSTART + RLENGTH) " at iteration " tested
      } else if (show != "" && $0 ~ show) print "   " message
      fflush()
    }' || status=${PIPESTATUS[0]}
  if ((status != 0)); then
    echo "--- last lines of $log:" >&2
    tail -n 15 "$log" >&2
    fail "condense $1 exited with $status (full log: $log)"
  fi
}

stage packages "installing packages"
scripts/install_deps.sh dataset-fashion-mnist

if [[ -n ${CONDENSE:-} ]]; then
  stage build "building: skipped, using CONDENSE=$CONDENSE"
  condense=$CONDENSE
else
  stage build "building"
  scripts/build.sh >"$logs/build.log" 2>&1 || { tail -n 30 "$logs/build.log" >&2; fail "see $logs/build.log"; }
  condense=build/condense
fi
export CONDENSE=$condense

stage data "converting Fashion-MNIST"
scripts/prepare_fashion_mnist.sh >"$logs/data.log" 2>&1 || { tail -n 15 "$logs/data.log" >&2; fail "see $logs/data.log"; }
grep -E "records of|exists" "$logs/data.log" | sed 's/^/   /'

if [[ -f $float_weights ]]; then
  stage train "training float LeNet: reusing $float_weights (delete it to train again)"
else
  stage train "training float LeNet (10000 iterations, lenet_solver)"
  condense_logged train "" 1000 train --solver=models/lenet/lenet_solver.prototxt
  [[ -f $float_weights ]] || fail "training ended without writing $float_weights"
fi

stage analyze "analyzing: widths per layer, weights <= 4 bits, activations <= 8 bits, 1-point margin"
condense_logged analyze 'bit_width_search|net_evaluator|^([^IWEF]|[IWEF][^0-9])' 0 analyze \
  --model=models/lenet/lenet_train_test.prototxt --weights="$float_weights" --model_quantized="$condensed_model" \
  --error_margin=1 --iterations=100 --max_weight_bits=4 --max_activation_bits=8 --report="$out/report"

stage finetune "fine-tuning the condensed net ($finetune_iterations iterations, $finetune_solver)"
rm -f "$finetuned_weights"
condense_logged finetune "" 500 train --solver="$finetune_solver" --weights="$float_weights"
[[ -f $finetuned_weights ]] || fail "fine-tuning ended without writing $finetuned_weights"

stage score "scoring float and condensed on the Fashion-MNIST test set"
echo "   float:"
condense_logged test_float 'test\.cpp:[0-9]+\] accuracy =' 0 test \
  --model=models/lenet/lenet_train_test.prototxt --weights="$float_weights" --iterations=100 --json="$out/float_test.json"
echo "   condensed, fine-tuned:"
condense_logged test_condensed 'test\.cpp:[0-9]+\] accuracy =' 0 test \
  --model="$condensed_model" --weights="$finetuned_weights" --iterations=100 --json="$out/condensed_test.json"

stage export "exporting the condensed weights"
rm -rf "$out/export"
condense_logged export '^codes:' 0 export --model="$condensed_model" --weights="$finetuned_weights" \
  --output_dir="$out/export"
finish_stage
stage_title=""

echo
echo "== summary"
python3 scripts/pipeline_summary.py "$out" "$finetune_iterations" ||
  { echo "error: scripts/pipeline_summary.py could not summarise $out" >&2; exit 1; }
echo
echo "HTML report:      $out/report/analysis.html"
echo "condensed net:    $condensed_model with $finetuned_weights"
echo "export:           $out/export (LeNet.caffemodel on the grid, LeNet.h, raw/)"
echo "logs:             $logs"
