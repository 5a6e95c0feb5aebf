// Fuzz target: one LMDB record as the Data layer handles it: parse a Datum, decode it when encoded
// (OpenCV), check its shape against the bytes it holds, and transform it into a batch slot. The first
// input byte picks the transform_param (mirror, phase, crop, mean values, colour forcing) so those paths
// are fuzzed together with the record; the rest is the serialized Datum, as stored in the LMDB.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "condense/core/error.hpp"
#include "condense/data/data_transformer.hpp"
#include "condense/proto/condense.pb.h"
#include "fuzz_support.hpp"

namespace {

condense::TransformationParameter ParamsFromByte(uint8_t options) {
  condense::TransformationParameter param;
  param.set_mirror(options & 0x01);
  if (options & 0x02) param.set_crop_size(1 + ((options >> 5) & 0x07) * 3);
  if (options & 0x04) {
    param.add_mean_value(104.0f);
    if (options & 0x08) {
      param.add_mean_value(117.0f);
      param.add_mean_value(123.0f);
    }
  }
  param.set_force_color(options & 0x10);
  // force_color together with force_gray must be refused; bit 0x10 with 0x80 asks for it.
  param.set_force_gray((options & 0x80) && !(options & 0x02));
  param.set_scale(0.00390625f);
  return param;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  condense::fuzz::InitTarget();
  // OpenCV's own cap on decoded pixels (2^30 by default) is beyond a fuzzer's memory; keep it small.
  setenv("OPENCV_IO_MAX_IMAGE_PIXELS", "4194304", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const condense::Phase phase = (data[0] & 0x40) ? condense::TRAIN : condense::TEST;
  const std::string where = "fuzz LMDB record";
  try {
    const condense::DataTransformer transformer(ParamsFromByte(data[0]), phase, "fuzz layer");
    condense::Datum datum;
    if (!datum.ParseFromArray(data + 1, static_cast<int>(size - 1))) return 0;
    if (datum.encoded()) datum = transformer.Decode(datum, where);
    const std::vector<int64_t> shape = transformer.InferShape(datum, where);
    std::vector<float> out(static_cast<size_t>(shape[0] * shape[1] * shape[2]));
    condense::RandomEngine rng(7);
    transformer.Transform(datum, &rng, out.data(), where);
  } catch (const condense::Error&) {
  }
  return 0;
}
