#!/usr/bin/env python3
"""Prints the summary table that ends scripts/run.sh: the widths `condense analyze` chose per layer, float
against condensed accuracy before and after fine-tuning, the size of the weights and the time per stage.
Usage: pipeline_summary.py OUT_DIR FINETUNE_ITERATIONS
reads OUT_DIR/report/analysis.json, OUT_DIR/float_test.json, OUT_DIR/condensed_test.json,
OUT_DIR/export/raw/index.json and OUT_DIR/../logs/times.tsv (stage<TAB>seconds lines)."""
import json
import os
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def table(header, rows):
    """Rows of strings as aligned columns: the first left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    def line(cells):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def duration(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def points(accuracy, reference):
    return f"{100 * (accuracy - reference):+.2f} points"


def main(out_dir, finetune_iterations):
    analysis = load(os.path.join(out_dir, "report", "analysis.json"))
    float_accuracy = load(os.path.join(out_dir, "float_test.json"))["outputs"]["accuracy"]
    condensed_test = load(os.path.join(out_dir, "condensed_test.json"))
    condensed_accuracy = condensed_test["outputs"]["accuracy"]
    before = analysis["condensed_accuracy"]
    exported = load(os.path.join(out_dir, "export", "raw", "index.json"))["files"]
    bias_bits = {f["layer"]: f["format"].get("bw") for f in exported if f["blob"] == "bias"}

    print("Widths per layer (bits, dynamic fixed point)")
    rows = [[l["layer"], l["type"], str(l["params"]), str(l["params_format"]["bits"] or "float"),
             str(bias_bits.get(l["layer"]) or "float"), str(l["input"]["bits"] or "float"),
             str(l["output"]["bits"] or "float")] for l in analysis["layers"]]
    print(table(["layer", "type", "params", "weights", "bias", "in", "out"], rows))

    print(f"\nAccuracy on the Fashion-MNIST test set ({condensed_test['images']} images)")
    rows = [["float", f"{float_accuracy:.4f}", ""],
            ["condensed, before fine-tuning", f"{before:.4f}", points(before, float_accuracy)],
            [f"condensed, fine-tuned {finetune_iterations} iterations", f"{condensed_accuracy:.4f}",
             points(condensed_accuracy, float_accuracy)]]
    print(table(["model", "accuracy", "vs float"], rows))

    float_bits = sum(32 * f["count"] for f in exported)
    condensed_bits = sum((f["format"].get("bw") or 32) * f["count"] for f in exported)
    stored_bytes = sum(f["bytes"] for f in exported)
    print("\nWeights and biases")
    rows = [["float32", f"{float_bits}", f"{float_bits / 8192:.1f}", "1.00x"],
            ["condensed", f"{condensed_bits}", f"{condensed_bits / 8192:.1f}",
             f"{float_bits / condensed_bits:.2f}x smaller"],
            ["exported codes (int8/int16 files)", f"{8 * stored_bytes}", f"{stored_bytes / 1024:.1f}",
             f"{4 * sum(f['count'] for f in exported) / stored_bytes:.2f}x smaller"]]
    print(table(["", "bits", "KB", ""], rows))

    times = []
    with open(os.path.join(out_dir, "..", "logs", "times.tsv")) as f:
        for line in f:
            stage, seconds = line.rstrip("\n").split("\t")
            times.append((stage, float(seconds)))
    print("\nTime per stage")
    rows = [[stage, duration(seconds)] for stage, seconds in times]
    rows.append(["total", duration(sum(s for _, s in times))])
    print(table(["stage", "time"], rows))

    met = condensed_accuracy >= float_accuracy - 0.01
    print(f"\nCondensed within 1 point of float after fine-tuning: {'yes' if met else 'NO'} "
          f"({100 * (condensed_accuracy - float_accuracy):+.2f} points)")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
