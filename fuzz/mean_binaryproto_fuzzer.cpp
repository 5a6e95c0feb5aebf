// Fuzz target: a mean.binaryproto as a Data layer's transform_param.mean_file reads it: the
// DataTransformer loads and checks the BlobProto; when it accepts the file, raw Datums of the mean's
// own shape and of a neighbouring shape are transformed against it, with and without a crop.
#include <cstdint>
#include <string>
#include <vector>

#include "condense/core/blob.hpp"
#include "condense/core/error.hpp"
#include "condense/core/proto_io.hpp"
#include "condense/data/data_transformer.hpp"
#include "condense/proto/condense.pb.h"
#include "fuzz_support.hpp"

namespace {

constexpr int64_t kMaxTransformedValues = int64_t{1} << 20;

// Transforms a Datum of the given size; an error is the expected answer to a size the mean rejects.
void TransformOnce(const condense::DataTransformer& transformer, int64_t channels, int64_t height,
                   int64_t width) {
  if (channels <= 0 || height <= 0 || width <= 0 || channels > 4 || height > 1024 || width > 1024 ||
      channels * height * width > kMaxTransformedValues) {
    return;
  }
  condense::Datum datum;
  datum.set_channels(static_cast<int>(channels));
  datum.set_height(static_cast<int>(height));
  datum.set_width(static_cast<int>(width));
  datum.set_data(std::string(static_cast<size_t>(channels * height * width), '\x80'));
  try {
    const std::vector<int64_t> shape = transformer.InferShape(datum, "fuzz datum");
    std::vector<float> out(static_cast<size_t>(shape[0] * shape[1] * shape[2]));
    condense::RandomEngine rng(1);
    transformer.Transform(datum, &rng, out.data(), "fuzz datum");
  } catch (const condense::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  condense::fuzz::InitTarget();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = condense::fuzz::InputFile().Write(data, size);
  for (int crop : {0, 3}) {
    try {
      condense::TransformationParameter param;
      param.set_mean_file(path);
      param.set_scale(0.5f);
      param.set_mirror(crop > 0);
      param.set_crop_size(crop);
      const condense::DataTransformer transformer(param, condense::TRAIN, "fuzz layer");
      // Accepted: the file is a BlobProto whose shape, without leading 1s, is C x H x W.
      condense::BlobProto proto;
      condense::ReadBinaryProtoFile(path, &proto);
      std::vector<int64_t> dims = condense::ShapeOfProto(proto);
      while (dims.size() > 3) dims.erase(dims.begin());
      if (dims.size() != 3) continue;
      TransformOnce(transformer, dims[0], dims[1], dims[2]);
      TransformOnce(transformer, dims[0], dims[1], dims[2] + 1);
    } catch (const condense::Error&) {
    }
  }
  return 0;
}
