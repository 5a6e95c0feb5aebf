#!/usr/bin/env python3
"""Builds the seed corpora of the fuzz targets from real files, at run time (shared data is never copied
into the repository). Usage: make_seeds.py REPO SHARED_DATA OUTPUT_DIR

Writes OUTPUT_DIR/<target>/ for net_prototxt, caffemodel, mean_binaryproto, datum, idx and
quantization_param. The datum seeds from the shared LMDB are added by scripts/fuzz.sh with the
fuzz_lmdb_records helper; the ones here are made by hand (raw, float and PNG-encoded Datums) so the
corpus reaches every Datum form even without shared data.
"""
import gzip
import pathlib
import shutil
import struct
import sys
import zlib


def varint(value):
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number, wire_type, payload):
    key = varint((number << 3) | wire_type)
    if wire_type == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload


def datum(channels, height, width, data=None, floats=None, label=3, encoded=False):
    out = field(1, 0, channels) + field(2, 0, height) + field(3, 0, width)
    if data is not None:
        out += field(4, 2, data)
    out += field(5, 0, label)
    for value in floats or []:
        out += varint((6 << 3) | 5) + struct.pack("<f", value)
    if encoded:
        out += field(7, 0, 1)
    return out


def blob_proto(shape, values):
    shape_message = b"".join(field(1, 0, dim) for dim in shape)
    packed = b"".join(struct.pack("<f", v) for v in values)
    return field(7, 2, shape_message) + field(5, 2, packed)


def png(width, height, channels):
    color_type = {1: 0, 3: 2}[channels]
    rows = b"".join(b"\x00" + bytes((x * 31 + y * 17 + c * 50) & 0xFF
                                    for x in range(width) for c in range(channels))
                    for y in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) +
            chunk(b"IEND", b""))


def idx(magic_dims, dims, payload):
    return struct.pack(">I", 0x0800 | magic_dims) + b"".join(struct.pack(">I", d) for d in dims) + payload


def copy_all(files, target):
    for index, path in enumerate(sorted(files)):
        shutil.copyfile(path, target / f"{index:03d}_{path.name}")


def quantization_blocks(text):
    """The bodies of the quantization_param { ... } blocks of a prototxt."""
    blocks = []
    start = text.find("quantization_param")
    while start >= 0:
        open_brace = text.find("{", start)
        close_brace = text.find("}", open_brace)
        if open_brace < 0 or close_brace < 0:
            break
        blocks.append(text[open_brace + 1:close_brace].strip())
        start = text.find("quantization_param", close_brace)
    return blocks


def write_quantization_seeds(prototxts, target):
    blocks = {"precision: MINIFLOAT mant_bits: 3 exp_bits: 4",
              "precision: INTEGER_POWER_OF_2_WEIGHTS exp_min: -8 exp_max: -1 bw_layer_in: 8 fl_layer_in: 4",
              "precision: INTEGER_AFFINE bw_params: 8 bw_layer_in: 8 bw_layer_out: 8 per_channel: true",
              "precision: INTEGER_AFFINE bw_params: 4 range_in_min: -1 range_in_max: 3 affine_symmetric: true",
              "bw_layer_in: 8 fl_layer_in: 4 bw_params: 4 fl_params: 6 rounding_scheme: STOCHASTIC",
              "bw_params: 8 fl_params: 7 accumulator_bits: 16 zero_clipped_gradients: true"}
    # Ristretto nets carry real ones.
    for path in prototxts:
        blocks.update(quantization_blocks(path.read_text(errors="replace")))
    for index, block in enumerate(sorted(blocks)):
        (target / f"{index:03d}").write_text(block + "\n")


def write_dictionary(repo, path):
    """A libFuzzer dictionary of the schema's field names, enum values and registered layer types, so
    that mutations of a prototxt produce words the parser knows."""
    import re
    schema = (repo / "proto" / "condense.proto").read_text()
    words = set(re.findall(r"^\s*(?:optional|repeated|required)\s+\S+\s+(\w+)\s*=", schema, re.M))
    words |= set(re.findall(r"^\s*([A-Z][A-Z0-9_]*)\s*=\s*-?\d+\s*;", schema, re.M))
    for source in (repo / "src").glob("**/*.cpp"):
        words |= set(re.findall(r'CONDENSE_REGISTER_LAYER\("(\w+)"', source.read_text(errors="replace")))
    entries = [f'"{word}"' for word in sorted(words)] + ['" { "', '" } "', '": "', '"\\""']
    path.write_text("\n".join(entries) + "\n")


def main():
    repo, shared, output = (pathlib.Path(arg) for arg in sys.argv[1:4])
    targets = ["net_prototxt", "caffemodel", "mean_binaryproto", "datum", "idx", "quantization_param"]
    for name in targets:
        shutil.rmtree(output / name, ignore_errors=True)
        (output / name).mkdir(parents=True)
    bad = repo / "tests" / "bad_inputs" / "files"

    prototxts = [p for p in list(repo.glob("models/**/*.prototxt")) + list(shared.glob("**/*.prototxt")) +
                 list(bad.glob("*.prototxt")) if "solver" not in p.name]
    copy_all(prototxts, output / "net_prototxt")
    write_quantization_seeds(prototxts, output / "quantization_param")
    write_dictionary(repo, output / "net_prototxt.dict")
    shutil.copyfile(output / "net_prototxt.dict", output / "quantization_param.dict")

    copy_all(list(shared.glob("lenet_caffe/*.caffemodel")) + list(shared.glob("cifar10/*.caffemodel")) +
             list(bad.glob("*.caffemodel")), output / "caffemodel")

    means = output / "mean_binaryproto"
    copy_all(list(shared.glob("**/*.binaryproto")) + list(bad.glob("*.binaryproto")), means)
    (means / "tiny_mean").write_bytes(blob_proto([1, 3, 4, 4], [float(i) for i in range(48)]))

    datums = output / "datum"
    (datums / "raw_gray").write_bytes(b"\x41" + datum(1, 4, 4, data=bytes(range(16))))
    (datums / "raw_color").write_bytes(b"\x47" + datum(3, 5, 5, data=bytes(range(75))))
    (datums / "float").write_bytes(b"\x02" + datum(1, 2, 3, floats=[0.5, 1, 2, 3, 4, 5]))
    (datums / "png_color").write_bytes(b"\x10" + datum(0, 0, 0, data=png(6, 5, 3), encoded=True))
    (datums / "png_gray").write_bytes(b"\x42" + datum(0, 0, 0, data=png(7, 7, 1), encoded=True))

    images = shared / "mnist" / "t10k-images-idx3-ubyte.gz"
    labels = shared / "mnist" / "t10k-labels-idx1-ubyte.gz"
    idx_dir = output / "idx"
    if images.exists() and labels.exists():
        image_bytes = gzip.decompress(images.read_bytes())
        label_bytes = gzip.decompress(labels.read_bytes())
        count = 8
        subset = idx(3, [count, 28, 28], image_bytes[16:16 + count * 784])
        (idx_dir / "images8").write_bytes(subset)
        (idx_dir / "images8.gz").write_bytes(gzip.compress(subset, mtime=0))
        (idx_dir / "labels8").write_bytes(idx(1, [count], label_bytes[8:8 + count]))
        for i in range(2):
            (datums / f"mnist_{i}").write_bytes(
                bytes([0x46 + i]) + datum(1, 28, 28, data=image_bytes[16 + i * 784:16 + (i + 1) * 784],
                                          label=label_bytes[8 + i]))
    else:
        (idx_dir / "images2").write_bytes(idx(3, [2, 3, 3], bytes(range(18))))
        (idx_dir / "labels2").write_bytes(idx(1, [2], b"\x01\x07"))
    copy_all(list(bad.glob("*.idx")) + list(bad.glob("*.idx.gz")), idx_dir)


if __name__ == "__main__":
    main()
