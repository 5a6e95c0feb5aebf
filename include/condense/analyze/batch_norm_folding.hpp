// Folding BatchNorm (and the Scale layer that usually follows it) into the convolution, deconvolution
// or inner product before it, so that quantization sees the weights the net really multiplies by: with
// inference statistics a BatchNorm is a per-channel affine map, y = (x - mean) * gamma / sqrt(var + eps)
// + beta, which the preceding layer absorbs as w' = w * gamma / sqrt(var + eps) per output channel and
// b' = (b - mean) * gamma / sqrt(var + eps) + beta. Quantizing the unfolded net would round w with
// one scale and then stretch the rounding error by gamma / sqrt(var + eps), differently per channel.
//
// A pair is folded only where that is exact: the BatchNorm is the only reader of the layer's output,
// uses its stored statistics, and its parameters sit in the weights; anything else is left as it is,
// with a log line saying why.
#pragma once

#include <string>
#include <vector>

#include "condense/proto/condense.pb.h"

namespace condense {

struct FoldedNet {
  NetParameter model;    // the definition without the folded BatchNorm / Scale layers
  NetParameter weights;  // the caffemodel with the folded blobs and without the folded layers' entries
  std::vector<std::string> folded;  // one line per fold: "bn1 + scale1 into conv1"
};

// `model` is a net definition (any phase), `weights` its caffemodel as ReadWeightsFile returns it;
// `source` names the model in errors and logs.
FoldedNet FoldBatchNorm(const NetParameter& model, const NetParameter& weights,
                        const std::string& source);

}  // namespace condense
