// DataTransformer: turns one stored image (a Datum or a decoded cv::Mat) into the floats a data layer
// outputs, exactly as Caffe's TransformationParameter describes: choose the crop (random offsets in TRAIN,
// centred in TEST) and the mirror flag (random, only when `mirror` is set), then write
// (pixel - mean) * scale, where the mean is the mean_file image or one mean_value per channel.
// Randomness comes from an engine the caller passes in (drawn in the order mirror, row offset, column
// offset), so a data source running on its own thread stays reproducible for a given seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "condense/core/random.hpp"
#include "condense/data/datum.hpp"
#include "condense/proto/condense.pb.h"

namespace cv {
class Mat;
}

namespace condense {

class DataTransformer {
 public:
  // Reads and checks mean_file now. `where` (e.g. "layer 'mnist' (Data)") starts error messages.
  DataTransformer(const TransformationParameter& param, Phase phase, const std::string& where);

  // Whether Transform draws random numbers: mirror is set, or a crop is taken in TRAIN.
  bool NeedsRandom() const;
  // Decodes an encoded Datum as force_color / force_gray ask (native colour otherwise).
  Datum Decode(const Datum& datum, const std::string& where) const;

  // {C, H, W} of the output for this input (crop_size replaces H and W when set).
  std::vector<int64_t> InferShape(const Datum& datum, const std::string& where) const;
  std::vector<int64_t> InferShape(const cv::Mat& image, const std::string& where) const;

  // Writes the C*H*W transformed values to `out`. `rng` may be null when NeedsRandom() is false.
  // An encoded Datum is decoded first.
  void Transform(const Datum& datum, RandomEngine* rng, float* out, const std::string& where) const;
  // `image` must be 8-bit with 1 or 3 channels (H x W x C, as OpenCV stores it).
  void Transform(const cv::Mat& image, RandomEngine* rng, float* out, const std::string& where) const;

  const TransformationParameter& param() const { return param_; }

 private:
  struct Window {
    int64_t row_offset = 0;
    int64_t col_offset = 0;
    int64_t height = 0;
    int64_t width = 0;
    bool mirror = false;
  };
  // Checks the input size against crop_size and the mean, then draws the crop window.
  Window ChooseWindow(int64_t channels, int64_t height, int64_t width, RandomEngine* rng,
                      const std::string& where) const;
  std::vector<int64_t> OutputShape(int64_t channels, int64_t height, int64_t width,
                                   const std::string& where) const;
  void CheckMean(int64_t channels, int64_t height, int64_t width, const std::string& where) const;
  template <typename PixelAt>
  void Apply(const Window& window, int64_t channels, int64_t height, int64_t width,
             const PixelAt& pixel_at, float* out) const;

  TransformationParameter param_;
  Phase phase_;
  // mean_file contents, C x H x W, empty when there is none.
  std::vector<float> mean_image_;
  int64_t mean_channels_ = 0;
  int64_t mean_height_ = 0;
  int64_t mean_width_ = 0;
};

}  // namespace condense
