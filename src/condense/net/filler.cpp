#include "condense/net/filler.hpp"

#include <cmath>
#include <vector>

#include "condense/core/error.hpp"
#include "condense/core/math.hpp"
#include "condense/core/random.hpp"

namespace condense {

namespace {

// Fan-in and fan-out as Caffe derives them from a weight blob: (out, in, kh, kw) or (out, in).
float VarianceNorm(const FillerParameter& filler, const Blob& blob) {
  const float fan_in = static_cast<float>(blob.count() / blob.shape(0));
  const float fan_out =
      static_cast<float>(blob.num_axes() > 1 ? blob.count() / blob.shape(1) : blob.count());
  switch (filler.variance_norm()) {
    case FillerParameter::FAN_OUT:
      return fan_out;
    case FillerParameter::AVERAGE:
      return (fan_in + fan_out) / 2.0f;
    default:
      return fan_in;
  }
}

void FillGaussianMaybeSparse(const FillerParameter& filler, Blob* blob) {
  float* values = blob->mutable_data();
  FillGaussian(blob->count(), filler.mean(), filler.std(), values);
  if (filler.sparse() < 0) return;
  // Keep about `sparse` non-zero inputs per output unit.
  CONDENSE_CHECK(blob->num_axes() >= 1, "gaussian filler: sparse needs a blob with an output axis");
  const float keep = static_cast<float>(filler.sparse()) / static_cast<float>(blob->shape(0));
  std::vector<uint32_t> mask(blob->count());
  FillBernoulli(blob->count(), keep, mask.data());
  for (int64_t i = 0; i < blob->count(); ++i) values[i] *= static_cast<float>(mask[i]);
}

void FillPositiveUnitball(Blob* blob) {
  float* values = blob->mutable_data();
  FillUniform(blob->count(), 0.0f, 1.0f, values);
  const int64_t rows = blob->shape(0);
  const int64_t row_size = blob->count() / rows;
  for (int64_t row = 0; row < rows; ++row) {
    float sum = 0.0f;
    for (int64_t j = 0; j < row_size; ++j) sum += values[row * row_size + j];
    for (int64_t j = 0; j < row_size; ++j) values[row * row_size + j] /= sum;
  }
}

// Weights of a bilinear upsampling kernel, for deconvolution layers that start as interpolation.
void FillBilinear(Blob* blob) {
  CONDENSE_CHECK(blob->num_axes() == 4 && blob->shape(2) == blob->shape(3),
                 "bilinear filler needs a 4-d blob with square kernels, not ", blob->shape_string());
  const int64_t width = blob->shape(3);
  const int64_t height = blob->shape(2);
  const float f = std::ceil(static_cast<float>(width) / 2.0f);
  const float center = static_cast<float>(width - 1) / (2.0f * f);
  float* values = blob->mutable_data();
  for (int64_t i = 0; i < blob->count(); ++i) {
    const float x = static_cast<float>(i % width);
    const float y = static_cast<float>((i / width) % height);
    values[i] = (1.0f - std::fabs(x / f - center)) * (1.0f - std::fabs(y / f - center));
  }
}

}  // namespace

void Fill(const FillerParameter& filler, Blob* blob) {
  if (blob->count() == 0) return;
  const std::string& type = filler.type();
  if (type == "constant") {
    blob->SetData(filler.value());
  } else if (type == "uniform") {
    CONDENSE_CHECK(filler.min() <= filler.max(), "uniform filler: min ", filler.min(),
                   " is larger than max ", filler.max());
    FillUniform(blob->count(), filler.min(), filler.max(), blob->mutable_data());
  } else if (type == "gaussian") {
    FillGaussianMaybeSparse(filler, blob);
  } else if (type == "positive_unitball") {
    FillPositiveUnitball(blob);
  } else if (type == "xavier") {
    const float scale = std::sqrt(3.0f / VarianceNorm(filler, *blob));
    FillUniform(blob->count(), -scale, scale, blob->mutable_data());
  } else if (type == "msra") {
    const float stddev = std::sqrt(2.0f / VarianceNorm(filler, *blob));
    FillGaussian(blob->count(), 0.0f, stddev, blob->mutable_data());
  } else if (type == "bilinear") {
    FillBilinear(blob);
  } else {
    Fail("unknown filler type '", type,
         "' (known: constant, uniform, gaussian, positive_unitball, xavier, msra, bilinear)");
  }
}

}  // namespace condense
