#!/usr/bin/env bash
# Converts Debian's Fashion-MNIST (package dataset-fashion-mnist) into the LMDBs that
# models/lenet/lenet_train_test.prototxt reads: data/fashion_mnist/{train,test}_lmdb. Skips what exists.
set -euo pipefail
cd "$(dirname "$0")/.."
source=/usr/share/datasets/fashion-mnist
condense=${CONDENSE:-build/condense}
mkdir -p data/fashion_mnist
for split in train:train t10k:test; do
  from=${split%%:*}; to=${split##*:}
  db=data/fashion_mnist/${to}_lmdb
  if [[ -f $db/data.mdb ]]; then echo "$db exists"; continue; fi
  "$condense" convert_mnist "$source/$from-images-idx3-ubyte.gz" "$source/$from-labels-idx1-ubyte.gz" "$db"
done
