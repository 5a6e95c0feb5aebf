// Helpers shared by the layer test suites: build a layer from prototxt text, and fill blobs with
// seeded random values.
#pragma once

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "condense/core/blob.hpp"
#include "condense/core/random.hpp"
#include "condense/net/layer_registry.hpp"

namespace condense::testing {

// `text` is the inside of a `layer { }` block; name defaults to "test".
inline LayerParameter ParseLayer(const std::string& text, Phase phase = TRAIN) {
  LayerParameter param;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &param)) << text;
  if (!param.has_name()) param.set_name("test");
  param.set_phase(phase);
  return param;
}

inline std::unique_ptr<Layer> MakeLayer(const std::string& text, Phase phase = TRAIN) {
  return LayerRegistry::Create(ParseLayer(text, phase));
}

inline void FillUniformBlob(Blob* blob, float low, float high, uint64_t seed = 1701) {
  SeedRandom(seed);
  FillUniform(blob->count(), low, high, blob->mutable_data());
}

inline void FillGaussianBlob(Blob* blob, float stddev = 1.0f, uint64_t seed = 1701) {
  SeedRandom(seed);
  FillGaussian(blob->count(), 0.0f, stddev, blob->mutable_data());
}

inline std::vector<float> Values(const Blob& blob) {
  return std::vector<float>(blob.data(), blob.data() + blob.count());
}

inline std::vector<float> Gradients(const Blob& blob) {
  return std::vector<float>(blob.diff(), blob.diff() + blob.count());
}

}  // namespace condense::testing
