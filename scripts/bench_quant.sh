#!/usr/bin/env bash
# What simulating reduced word widths costs, side by side in one run:
#  1. `condense time` of LeNet (batch 64) and cifar10_quick (batch 100) with every Convolution and
#     InnerProduct at dynamic fixed point 8/8/8, over the float net, in TRAIN (forward+backward) and TEST
#     (forward), 1 thread, best of 3 with float and quantized runs taking turns;
#  2. quantize-kernel throughput per core for each format (build/bench/quant_bench, Google Benchmark),
#     and torch.fake_quantize_per_tensor_affine beside it where Debian's python3-torch is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x build/condense ]] || scripts/build.sh
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
iterations=${ITERATIONS:-30}

# A copy of a model whose Convolution and InnerProduct layers carry 8-bit dynamic fixed point.
quantize_model() { # in out
  python3 - "$1" "$2" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
q = ('  quantization_param { bw_layer_in: 8 fl_layer_in: 4 bw_layer_out: 8 fl_layer_out: 2 '
     'bw_params: 8 fl_params: 6 }\n}')
def add(block):
    body = block.group(0)
    if re.search(r'type:\s*"(Convolution|InnerProduct)"', body):
        body = body[:body.rstrip().rfind('}')] + q
    return body
open(sys.argv[2], 'w').write(re.sub(r'layer \{.*?\n\}', add, text, flags=re.S))
PY
}

time_ms() { # model phase key
  build/condense time --model="$1" --stage=synthetic --phase="$2" --iterations="$iterations" --threads=1 \
    --json="$out/t.json" >"$out/log" 2>&1 || { tail -3 "$out/log" >&2; exit 1; }
  python3 -c "import json; print(json.load(open('$out/t.json'))['$3'])"
}

# The best of 3 runs of each model, float and quantized taking turns, so that a machine that slows
# down or speeds up during the measurement weighs on both alike.
best_pair() { # float_model quantized_model phase key -> "float quantized"
  local f=1e9 q=1e9
  for _ in 1 2 3; do
    f=$(python3 -c "print(min($f, $(time_ms "$1" "$3" "$4")))")
    q=$(python3 -c "print(min($q, $(time_ms "$2" "$3" "$4")))")
  done
  echo "$f $q"
}

echo "== simulation overhead, DFP 8/8/8 over float, 1 thread (ms, best of 3, runs alternating)"
printf '%-14s %-6s %10s %10s %8s\n' net phase float quantized ratio
for net in lenet cifar10_quick; do
  model=models/$net/${net}_train_test.prototxt
  quantize_model "$model" "$out/q.prototxt"
  for phase in TRAIN TEST; do
    key=forward_backward_ms; [[ $phase == TEST ]] && key=forward_ms
    pair=$(best_pair "$model" "$out/q.prototxt" $phase $key)
    read -r f q <<<"$pair"
    printf '%-14s %-6s %10.2f %10.2f %7.2fx\n' "$net" "$phase" "$f" "$q" "$(python3 -c "print($q/$f)")"
  done
done

echo
echo "== quantize kernels, 1 thread, 16M floats (elements/s)"
if [[ -x build/bench/quant_bench ]]; then
  build/bench/quant_bench --benchmark_filter='/16777216' 2>/dev/null | grep -E '^[A-Za-z]' || true
else
  echo "(build/bench/quant_bench not built: install libbenchmark-dev)"
fi
if /usr/bin/python3 -c "import torch" 2>/dev/null; then
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 - <<'PY'
import time, torch
torch.set_num_threads(1)
x = torch.randn(1 << 24)
def rate(f):
    f(); t = time.perf_counter(); f(); return (1 << 24) / (time.perf_counter() - t)
print("torch.fake_quantize_per_tensor_affine   %.2e elements/s" % rate(lambda: torch.fake_quantize_per_tensor_affine(x, 0.05, 0, -128, 127)))
y = x.clone()
print("torch in-place mul/round_/clamp_/mul_   %.2e elements/s" % rate(lambda: y.copy_(x).mul_(16).round_().clamp_(-128, 127).mul_(1 / 16)))
PY
fi
