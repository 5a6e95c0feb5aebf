#include "condense/data/data_transformer.hpp"

#include <glog/logging.h>

#include <opencv2/core.hpp>

#include "condense/core/blob.hpp"
#include "condense/core/error.hpp"
#include "condense/core/proto_io.hpp"

namespace condense {

namespace {

// Uniform draw in [0, n) from the raw engine output, so the sequence is the same with every standard
// library (the std distributions are implementation-defined).
int64_t Draw(RandomEngine* rng, int64_t n) {
  return static_cast<int64_t>((*rng)() % static_cast<uint64_t>(n));
}

}  // namespace

DataTransformer::DataTransformer(const TransformationParameter& param, Phase phase,
                                 const std::string& where)
    : param_(param), phase_(phase) {
  CONDENSE_CHECK(!(param.has_mean_file() && param.mean_value_size() > 0), where,
                 ": transform_param sets both mean_file and mean_value; give only one");
  CONDENSE_CHECK(!(param.force_color() && param.force_gray()), where,
                 ": transform_param sets both force_color and force_gray");
  if (!param.has_mean_file()) return;
  const std::string& path = param.mean_file();
  LOG(INFO) << where << ": loading mean file " << path;
  BlobProto proto;
  ReadBinaryProtoFile(path, &proto);
  std::vector<int64_t> dims = ShapeOfProto(proto);
  const std::string stored_shape = ShapeString(dims);
  while (dims.size() > 3 && dims.front() == 1) dims.erase(dims.begin());
  CONDENSE_CHECK(dims.size() == 3, where, ": mean_file '", path, "' holds a blob of shape ",
                 stored_shape, "; a mean image is 1 x channels x height x width");
  const int64_t count = CheckedCount(dims, path);
  if (proto.data_size() == count) {
    mean_image_.assign(proto.data().begin(), proto.data().end());
  } else if (proto.double_data_size() == count) {
    mean_image_.assign(proto.double_data().begin(), proto.double_data().end());
  } else {
    Fail(where, ": mean_file '", path, "' has shape ", stored_shape, " but holds ", proto.data_size(),
         " values");
  }
  mean_channels_ = dims[0];
  mean_height_ = dims[1];
  mean_width_ = dims[2];
}

bool DataTransformer::NeedsRandom() const {
  return param_.mirror() || (phase_ == TRAIN && param_.crop_size() > 0);
}

Datum DataTransformer::Decode(const Datum& datum, const std::string& where) const {
  DecodeColor color = DecodeColor::kNative;
  if (param_.force_color()) color = DecodeColor::kColor;
  if (param_.force_gray()) color = DecodeColor::kGray;
  return DecodeDatum(datum, color, where);
}

void DataTransformer::CheckMean(int64_t channels, int64_t height, int64_t width,
                                const std::string& where) const {
  if (!mean_image_.empty() &&
      (channels != mean_channels_ || height != mean_height_ || width != mean_width_)) {
    Fail(where, ": mean_file '", param_.mean_file(), "' is ", mean_channels_, "x", mean_height_, "x",
         mean_width_, " but the input is ", channels, "x", height, "x", width,
         " (channels x height x width, before cropping)");
  }
  const int mean_values = param_.mean_value_size();
  CONDENSE_CHECK(mean_values == 0 || mean_values == 1 || mean_values == channels, where, ": ",
                 mean_values, " mean_value entries for a ", channels,
                 "-channel input; give one, or one per channel");
}

std::vector<int64_t> DataTransformer::OutputShape(int64_t channels, int64_t height, int64_t width,
                                                  const std::string& where) const {
  CheckMean(channels, height, width, where);
  const int64_t crop = param_.crop_size();
  if (crop == 0) return {channels, height, width};
  CONDENSE_CHECK(crop <= height && crop <= width, where, ": crop_size ", crop,
                 " is larger than the ", height, "x", width, " input");
  return {channels, crop, crop};
}

DataTransformer::Window DataTransformer::ChooseWindow(int64_t channels, int64_t height,
                                                      int64_t width, RandomEngine* rng,
                                                      const std::string& where) const {
  const std::vector<int64_t> shape = OutputShape(channels, height, width, where);
  CONDENSE_CHECK(rng != nullptr || !NeedsRandom(), where,
                 ": the transformer needs a random engine for mirror or a TRAIN crop");
  Window window;
  window.height = shape[1];
  window.width = shape[2];
  // Caffe's order of draws: the mirror coin first, then the row and the column offset.
  window.mirror = param_.mirror() && Draw(rng, 2) != 0;
  if (param_.crop_size() > 0) {
    if (phase_ == TRAIN) {
      window.row_offset = Draw(rng, height - window.height + 1);
      window.col_offset = Draw(rng, width - window.width + 1);
    } else {
      window.row_offset = (height - window.height) / 2;
      window.col_offset = (width - window.width) / 2;
    }
  }
  return window;
}

template <typename PixelAt>
void DataTransformer::Apply(const Window& window, int64_t channels, int64_t height, int64_t width,
                            const PixelAt& pixel_at, float* out) const {
  const float scale = param_.scale();
  const bool has_mean_image = !mean_image_.empty();
  std::vector<float> channel_means(channels, 0.0f);
  for (int64_t c = 0; c < channels && param_.mean_value_size() > 0; ++c) {
    channel_means[c] = param_.mean_value(param_.mean_value_size() == 1 ? 0 : static_cast<int>(c));
  }
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t h = 0; h < window.height; ++h) {
      const int64_t row = window.row_offset + h;
      float* out_row = out + (c * window.height + h) * window.width;
      const float* mean_row =
          has_mean_image ? mean_image_.data() + (c * height + row) * width : nullptr;
      for (int64_t w = 0; w < window.width; ++w) {
        const int64_t col = window.col_offset + w;
        const float mean = has_mean_image ? mean_row[col] : channel_means[c];
        const int64_t out_col = window.mirror ? window.width - 1 - w : w;
        out_row[out_col] = (pixel_at(c, row, col) - mean) * scale;
      }
    }
  }
}

std::vector<int64_t> DataTransformer::InferShape(const Datum& datum,
                                                 const std::string& where) const {
  if (datum.encoded()) return InferShape(Decode(datum, where), where);
  const std::vector<int64_t> shape = CheckedDatumShape(datum, where);
  return OutputShape(shape[0], shape[1], shape[2], where);
}

std::vector<int64_t> DataTransformer::InferShape(const cv::Mat& image,
                                                 const std::string& where) const {
  CONDENSE_CHECK(!image.empty() && image.depth() == CV_8U, where,
                 ": the transformer takes 8-bit images only");
  return OutputShape(image.channels(), image.rows, image.cols, where);
}

void DataTransformer::Transform(const Datum& datum, RandomEngine* rng, float* out,
                                const std::string& where) const {
  if (datum.encoded()) {
    Transform(Decode(datum, where), rng, out, where);
    return;
  }
  const std::vector<int64_t> shape = CheckedDatumShape(datum, where);
  const int64_t channels = shape[0], height = shape[1], width = shape[2];
  const Window window = ChooseWindow(channels, height, width, rng, where);
  if (!datum.data().empty()) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(datum.data().data());
    Apply(window, channels, height, width,
          [&](int64_t c, int64_t row, int64_t col) {
            return static_cast<float>(bytes[(c * height + row) * width + col]);
          },
          out);
  } else {
    const float* values = datum.float_data().data();
    Apply(window, channels, height, width,
          [&](int64_t c, int64_t row, int64_t col) {
            return values[(c * height + row) * width + col];
          },
          out);
  }
}

void DataTransformer::Transform(const cv::Mat& image, RandomEngine* rng, float* out,
                                const std::string& where) const {
  CONDENSE_CHECK(!image.empty() && image.depth() == CV_8U, where,
                 ": the transformer takes 8-bit images only");
  const int64_t channels = image.channels(), height = image.rows, width = image.cols;
  const Window window = ChooseWindow(channels, height, width, rng, where);
  const uint8_t* base = image.data;
  const size_t row_step = image.step[0];
  Apply(window, channels, height, width,
        [&](int64_t c, int64_t row, int64_t col) {
          return static_cast<float>(base[row * row_step + col * channels + c]);
        },
        out);
}

}  // namespace condense
