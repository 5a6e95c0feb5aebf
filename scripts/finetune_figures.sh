#!/usr/bin/env bash
# What fine-tuning wins back at low word widths, the figures of issue #4 (must-show 3), in one run.
# Every run fine-tunes from float weights with the solver ../shared/PEERS.md gives for Ristretto: SGD,
# lr 0.001 fixed, momentum 0.9, weight decay 5e-4, batch 64, 2000 iterations; then scores.
#  - MNIST: the real Caffe LeNet, trained on test half A, scored on half B (float 0.9950); needs
#    ../shared/data (skipped with a message without it). Each width is run with Ristretto's hand-set
#    file and with ours (models/lenet/lenet_*_mnist.prototxt).
#  - Fashion-MNIST: the main job's LeNet (out/lenet/lenet_iter_10000.caffemodel, from scripts/run.sh),
#    trained on its training set, scored on its test set: ours (models/lenet/lenet_w4a4_fashion.prototxt),
#    the formats `condense analyze` picks at 4/4 bits and, where ../shared is present, Ristretto's MNIST
#    w4a4 file.
# Environment: ITERATIONS (default 2000), THREADS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x build/condense ]] || scripts/build.sh
shared=../shared/data
iterations=${ITERATIONS:-2000}
threads=${THREADS:-2}
for setting in "ITERATIONS=$iterations" "THREADS=$threads"; do
  [[ ${setting#*=} =~ ^[1-9][0-9]*$ ]] || { echo "error: ${setting%%=*} must be a positive integer (got '${setting#*=}')" >&2; exit 1; }
done
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
rows=()

# A copy of a train_test prototxt reading the given LMDBs (TRAIN, then TEST) in batches of 64 and 100.
point_at() { # in train_db test_db out
  python3 - "$@" <<'PY'
import re, sys
src, train_db, test_db, out = sys.argv[1:]
text = open(src).read()
sources = iter([train_db, test_db])
text = re.sub(r'source:\s*"[^"]*"', lambda m: 'source: "%s"' % next(sources, test_db), text)
batches = iter(['64', '100'])
text = re.sub(r'(data_param\s*\{[^}]*?batch_size:\s*)\d+', lambda m: m.group(1) + next(batches, '100'), text)
open(out, 'w').write(text)
PY
}

# Fine-tunes, scores, and adds a row: name prototxt float_weights train_db test_db test_batches bar.
finetune() {
  local name=$1 model=$2 weights=$3 train_db=$4 test_db=$5 batches=$6 bar=$7
  local dir=$work/run${#rows[@]}; mkdir -p "$dir"  # names have commas, which --weights splits on
  point_at "$model" "$train_db" "$test_db" "$dir/net.prototxt"
  cat >"$dir/solver.prototxt" <<S
net: "$dir/net.prototxt"
test_iter: $batches
test_interval: 100000
test_initialization: false
base_lr: 0.001
lr_policy: "fixed"
momentum: 0.9
weight_decay: 0.0005
max_iter: $iterations
display: 500
snapshot: $iterations
snapshot_prefix: "$dir/ft"
random_seed: 42
S
  local before after scored
  before=$(score "$dir/net.prototxt" "$weights" "$batches")
  before=${before% *}
  build/condense train --solver="$dir/solver.prototxt" --weights="$weights" --threads="$threads" \
    >"$dir/train.log" 2>&1 || { echo "fine-tuning $name failed:"; tail -3 "$dir/train.log"; exit 1; }
  scored=$(score "$dir/net.prototxt" "$dir/ft_iter_${iterations}.caffemodel" "$batches")
  after=${scored% *}
  local ties=${scored#* }
  local verdict="holds"
  python3 -c "import sys; sys.exit(not ($after >= $bar))" || verdict="short"
  printf '  %-40s before %s  after %s, %s lost to ties  (bar %s: %s)\n' "$name" "$before" "$after" "$ties" \
    "$bar" "$verdict"
  rows+=("$(printf '%-40s %8s %8s %6s %8s  %s' "$name" "$before" "$after" "$ties" "$bar" "$verdict")")
}

# Prints the accuracy and the number of predictions lost to ties (see `condense test`), both of the
# Accuracy layer named `accuracy`, whose output of that name these LeNets score.
score() { # prototxt weights batches
  build/condense test --model="$1" --weights="$2" --iterations="$3" --json="$work/score.json" \
    >"$work/score.log" 2>&1 || { tail -3 "$work/score.log" >&2; exit 1; }
  python3 -c "import json; s = json.load(open('$work/score.json'))
ties = [t['lost_to_ties'] for t in s['ties'] if t['layer'] == 'accuracy']
print('%.4f %d' % (s['outputs']['accuracy'], ties[0]))"
}

echo "== MNIST, the real LeNet: train on test half A, score half B (float 0.9950, bar 0.990)"
if [[ -f $shared/lenet_caffe/lenet_iter_10000.caffemodel && -f $shared/mnist/t10k-a-images-idx3-ubyte.gz ]]; then
  for half in a b; do
    build/condense convert_mnist "$shared/mnist/t10k-$half-images-idx3-ubyte.gz" \
      "$shared/mnist/t10k-$half-labels-idx1-ubyte.gz" "$work/mnist_$half" >"$work/convert.log" 2>&1 ||
      { tail -3 "$work/convert.log"; exit 1; }
  done
  lenet=$shared/lenet_caffe/lenet_iter_10000.caffemodel
  for width in w4a4 w2a8; do
    finetune "MNIST $width, Ristretto's formats" "$shared/ristretto/manual_dfp/lenet_mnist_dfp_$width.prototxt" \
      "$lenet" "$work/mnist_a" "$work/mnist_b" 50 0.990
    finetune "MNIST $width, ours" "models/lenet/lenet_${width}_mnist.prototxt" \
      "$lenet" "$work/mnist_a" "$work/mnist_b" 50 0.990
  done
else
  echo "  skipped: $shared (the real LeNet and MNIST halves) is absent"
fi

echo "== Fashion-MNIST, the main job's LeNet: train on its training set, score its test set"
fashion_weights=out/lenet/lenet_iter_10000.caffemodel
if [[ -f $fashion_weights ]]; then
  scripts/prepare_fashion_mnist.sh >"$work/prepare.log" 2>&1 || { tail -3 "$work/prepare.log"; exit 1; }
  float=$(score models/lenet/lenet_train_test.prototxt "$fashion_weights" 100)
  float=${float% *}
  bar=$(python3 -c "print('%.4f' % ($float - 0.01))")
  echo "  float $float, bar (within 1 point) $bar"
  train=data/fashion_mnist/train_lmdb test=data/fashion_mnist/test_lmdb
  if [[ -f $shared/ristretto/manual_dfp/lenet_mnist_dfp_w4a4.prototxt ]]; then
    finetune "Fashion w4a4, Ristretto's MNIST formats" "$shared/ristretto/manual_dfp/lenet_mnist_dfp_w4a4.prototxt" \
      "$fashion_weights" "$train" "$test" 100 "$bar"
  fi
  build/condense analyze --model=models/lenet/lenet_train_test.prototxt --weights="$fashion_weights" \
    --model_quantized="$work/analyzed_w4a4.prototxt" --error_margin=1 --iterations=100 \
    --max_weight_bits=4 --max_activation_bits=4 >"$work/analyze.log" 2>&1 || { tail -3 "$work/analyze.log"; exit 1; }
  finetune "Fashion w4a4, analyze's formats" "$work/analyzed_w4a4.prototxt" "$fashion_weights" "$train" "$test" 100 "$bar"
  finetune "Fashion w4a4, ours" models/lenet/lenet_w4a4_fashion.prototxt "$fashion_weights" "$train" "$test" 100 "$bar"
else
  echo "  skipped: $fashion_weights is absent (scripts/run.sh trains it)"
fi

echo
echo "== summary: accuracy before and after $iterations fine-tuning iterations"
printf '%-40s %8s %8s %6s %8s\n' run before after ties bar
printf '%s\n' "${rows[@]}"
