#!/usr/bin/env bash
# Times the float engine as `caffe time` does (TRAIN phase, forward + backward, 50 iterations) for LeNet
# (batch 64) and cifar10_quick (batch 100) at 1 and 2 threads, and the same steps in PyTorch where
# Debian's python3-torch is installed (BENCH_INSTALL_TORCH=1 installs it). Prints one table with the
# ratios against Caffe's figures from ../shared/PEERS.md and against PyTorch measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${ITERATIONS:-50}
[[ -x build/condense ]] || scripts/build.sh
if [[ ${BENCH_INSTALL_TORCH:-0} == 1 ]] && ! python3 -c "import torch" 2>/dev/null; then
  scripts/install_deps.sh python3-torch
fi
have_torch=0
/usr/bin/python3 -c "import torch" 2>/dev/null && have_torch=1
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT

# Caffe's forward-backward ms on this machine kind (PEERS.md, the better end of each range).
declare -A caffe=([lenet:1]=21.4 [lenet:2]=19.5 [cifar10_quick:1]=187.7 [cifar10_quick:2]=161.3)
declare -A goal=([lenet:1]=17 [lenet:2]=15.5 [cifar10_quick:1]=150 [cifar10_quick:2]=130)

printf '%-14s %7s %10s %10s %10s %9s %9s %10s %9s\n' net threads forward backward "fwd+bwd" goal "/Caffe" PyTorch "/PyTorch"
for net in lenet cifar10_quick; do
  for threads in 1 2; do
    build/condense time --model=models/$net/${net}_train_test.prototxt --stage=synthetic \
      --iterations="$iterations" --threads="$threads" --json="$out/t.json" >"$out/log" 2>&1 ||
      { echo "condense time failed for $net:"; tail -3 "$out/log"; exit 1; }
    read -r fwd bwd both < <(python3 -c "import json; d=json.load(open('$out/t.json')); print(d['forward_ms'], d['backward_ms'], d['forward_backward_ms'])")
    torch_both="-"; torch_ratio="-"
    if ((have_torch)); then
      # Torch's own threads and OpenBLAS's add up: hold OpenBLAS to one thread beside it.
      read -r _ _ torch_both < <(OPENBLAS_NUM_THREADS=1 /usr/bin/python3 scripts/bench_torch.py "$net" "$threads" "$iterations")
      torch_ratio=$(python3 -c "print('%.2f' % ($both / $torch_both))")
    fi
    printf '%-14s %7s %10.2f %10.2f %10.2f %9s %9.2f %10s %9s\n' "$net" "$threads" "$fwd" "$bwd" "$both" \
      "${goal[$net:$threads]}" "$(python3 -c "print($both / ${caffe[$net:$threads]})")" "$torch_both" "$torch_ratio"
  done
done
echo "(ms per iteration; /Caffe is condense over Caffe's figure in ../shared/PEERS.md, /PyTorch over PyTorch measured here)"
