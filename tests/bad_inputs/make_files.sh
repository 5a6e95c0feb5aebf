#!/usr/bin/env bash
# Regenerates the binary files of the bad-input cases in files/ (they are committed; run this after
# changing one). Protobuf files are written from text with protoc --encode, idx files with printf,
# LMDBs with a few lines of C against liblmdb. Needs protoc, a C compiler, liblmdb-dev, gzip, python3.
set -euo pipefail
cd "$(dirname "$0")"
repo=$(cd ../.. && pwd)
out=files
encode() {  # encode MESSAGE_TYPE OUTPUT < text
  protoc --encode="condense.$1" -I "$repo/proto" "$repo/proto/condense.proto" >"$2"
}

# --- caffemodels for tiny_net.prototxt (layer "fc": weights 2x3, bias 2) -----------------------------
fc_weights='blobs { shape { dim: 2 dim: 3 } data: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6] }'
fc_bias='blobs { shape { dim: 2 } data: [0.5, -0.5] }'
encode NetParameter "$out/tiny_net.caffemodel" <<<"name: 'tiny' layer { name: 'fc' type: 'InnerProduct' $fc_weights $fc_bias }"
# Cut inside the last blob: a download or copy that stopped early.
head -c $(($(stat -c %s "$out/tiny_net.caffemodel") - 9)) "$out/tiny_net.caffemodel" >"$out/truncated.caffemodel"
# The weights of another net: one blob where the net's layer has two.
encode NetParameter "$out/blob_count_mismatch.caffemodel" <<<"layer { name: 'fc' $fc_weights }"
# The same layer name with another shape (num_output changed since the model was trained).
encode NetParameter "$out/shape_mismatch.caffemodel" <<<"layer { name: 'fc' blobs { shape { dim: 3 dim: 3 } data: [1,2,3,4,5,6,7,8,9] } $fc_bias }"
# A shape that promises 6 values but holds 4.
encode NetParameter "$out/short_blob.caffemodel" <<<"layer { name: 'fc' blobs { shape { dim: 2 dim: 3 } data: [1,2,3,4] } $fc_bias }"
# A valid model followed by bytes that are no protobuf field (tag 0).
{ cat "$out/tiny_net.caffemodel"; printf '\0\0\0\0junk'; } >"$out/trailing_garbage.caffemodel"
# The 2013 V0 format: layers { layer { ... } }.
encode NetParameter "$out/v0.caffemodel" <<<"layers { layer { name: 'fc' type: 'innerproduct' } }"

# --- mean files ------------------------------------------------------------------------------------
encode BlobProto "$out/mean_3x4x4.binaryproto" <<<"shape { dim: 1 dim: 3 dim: 4 dim: 4 } $(python3 -c "print(' '.join(f'data: {i}' for i in range(48)))")"
head -c 100 "$out/mean_3x4x4.binaryproto" >"$out/corrupt_mean.binaryproto"
encode BlobProto "$out/mean_wrong_rank.binaryproto" <<<"shape { dim: 4 dim: 4 } data: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]"
encode BlobProto "$out/mean_too_few_values.binaryproto" <<<"shape { dim: 1 dim: 1 dim: 2 dim: 2 } data: [1, 2, 3]"

# --- solver states for tiny_solver.prototxt (SGD: one history blob per parameter, two in all) ---------
encode SolverState "$out/wrong_history.solverstate" <<<"iter: 2 learned_net: 'tiny_net.caffemodel' history { shape { dim: 2 dim: 3 } data: [0,0,0,0,0,0] }"
encode SolverState "$out/full.solverstate" <<<"iter: 2 learned_net: 'tiny_net.caffemodel' history { shape { dim: 2 dim: 3 } data: [0,0,0,0,0,0] } history { shape { dim: 2 } data: [0, 0] }"
head -c 20 "$out/full.solverstate" >"$out/truncated.solverstate"
rm "$out/full.solverstate"

# --- idx files (big-endian header: magic 0x0803 images / 0x0801 labels, then the dimensions) ---------
u32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }
pixels() { head -c "$1" /dev/zero | tr '\0' '\7'; }
{ u32 0x803; u32 2; u32 3; u32 3; pixels 18; } >"$out/images_2x3x3.idx"
{ u32 0x801; u32 2; printf '\1\2'; } >"$out/labels_2.idx"
{ u32 0x801; u32 3; printf '\1\2\3'; } >"$out/labels_3.idx"
# The header promises 5 images of 3x3; only 2 follow.
{ u32 0x803; u32 5; u32 3; u32 3; pixels 18; } >"$out/images_claims_5.idx"
# Dimensions whose product overflows 64 bits.
{ u32 0x803; u32 0xffffffff; u32 0xffffffff; u32 0xffffffff; pixels 18; } >"$out/images_huge_dims.idx"
{ u32 0x803; u32 2; u32 0; u32 3; } >"$out/images_zero_rows.idx"
{ u32 0x803; u32 2; u32 3; u32 3; pixels 25; } >"$out/images_trailing_bytes.idx"
gzip -9 -n -c "$out/images_2x3x3.idx" | head -c 30 >"$out/images_truncated.idx.gz"

# --- LMDBs (directories holding data.mdb; the lock file is not needed to read them) ------------------
datum_4x4=$(printf 'channels: 1 height: 4 width: 4 data: "%s" label: 1' "$(printf '\\%03o' $(seq 1 16))")
encode Datum "$out/datum_1x4x4.bin" <<<"$datum_4x4"
encode Datum "$out/datum_size_mismatch.bin" <<<'channels: 1 height: 4 width: 4 data: "0123456789" label: 1'
encode Datum "$out/datum_bad_image.bin" <<<'data: "not a JPEG at all" encoded: true label: 1'
builder=$(mktemp -d)
trap 'rm -rf "$builder"' EXIT
cat >"$builder/put.c" <<'C'
/* put DB KEY VALUE_FILE: writes one record into a new LMDB directory DB. */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char** argv) {
  FILE* file = fopen(argv[3], "rb");
  static char value[1 << 16];
  size_t size = fread(value, 1, sizeof(value), file);
  fclose(file);
  MDB_env* env; MDB_txn* txn; MDB_dbi dbi;
  MDB_val key = {strlen(argv[2]), argv[2]}, data = {size, value};
  if (mdb_env_create(&env) || mdb_env_set_mapsize(env, 1 << 20) || mdb_env_open(env, argv[1], 0, 0644) ||
      mdb_txn_begin(env, NULL, 0, &txn) || mdb_dbi_open(txn, NULL, 0, &dbi) ||
      mdb_put(txn, dbi, &key, &data, 0) || mdb_txn_commit(txn)) return 1;
  mdb_env_close(env);
  return 0;
}
C
cc -O1 -o "$builder/put" "$builder/put.c" -llmdb
make_lmdb() {  # make_lmdb NAME VALUE_FILE
  rm -rf "${out:?}/$1"
  mkdir "$out/$1"
  "$builder/put" "$out/$1" 00000000 "$2"
  rm -f "$out/$1/lock.mdb"
}
printf 'this record is text, not a serialized Datum \377\377\377' >"$builder/not_a_datum"
make_lmdb not_a_datum_lmdb "$builder/not_a_datum"
make_lmdb datum_size_mismatch_lmdb "$out/datum_size_mismatch.bin"
make_lmdb datum_bad_image_lmdb "$out/datum_bad_image.bin"
make_lmdb datum_1x4x4_lmdb "$out/datum_1x4x4.bin"
rm "$out"/datum_*.bin
