#!/usr/bin/env bash
# The main job on an embedded default: installs what condense needs, builds it, converts Debian's
# Fashion-MNIST, trains LeNet with Caffe's lenet_solver settings and scores it.
# Environment: THREADS (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
echo "== 1/4 installing packages"
scripts/install_deps.sh dataset-fashion-mnist
echo "== 2/4 building"
scripts/build.sh
echo "== 3/4 converting Fashion-MNIST"
scripts/prepare_fashion_mnist.sh
echo "== 4/4 training LeNet (10000 iterations) and scoring it"
mkdir -p out/lenet
threads=${THREADS:-0}
build/condense train --solver=models/lenet/lenet_solver.prototxt --threads="$threads" 2>&1 | tee out/lenet/train.log
build/condense test --model=models/lenet/lenet_train_test.prototxt --weights=out/lenet/lenet_iter_10000.caffemodel \
  --iterations=100 --threads="$threads" --json=out/lenet/test.json 2>&1 | tee out/lenet/test.log
echo
echo "Done in $(( $(date +%s) - start )) s. Trained model: out/lenet/lenet_iter_10000.caffemodel; scores: out/lenet/test.json"
