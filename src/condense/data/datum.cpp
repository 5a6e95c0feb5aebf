#include "condense/data/datum.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "condense/core/blob.hpp"
#include "condense/core/error.hpp"

namespace condense {

std::vector<int64_t> CheckedDatumShape(const Datum& datum, const std::string& where) {
  CONDENSE_CHECK(!datum.encoded(), where, ": an encoded Datum must be decoded before use");
  const std::vector<int64_t> shape = {datum.channels(), datum.height(), datum.width()};
  CONDENSE_CHECK(shape[0] > 0 && shape[1] > 0 && shape[2] > 0, where, ": Datum shape ", shape[0], "x",
                 shape[1], "x", shape[2], " (channels x height x width) is not positive");
  const int64_t count = CheckedCount(shape, where);
  const bool has_bytes = !datum.data().empty();
  const int64_t present =
      has_bytes ? static_cast<int64_t>(datum.data().size()) : datum.float_data_size();
  CONDENSE_CHECK(present == count, where, ": Datum of shape ", shape[0], "x", shape[1], "x", shape[2],
                 " needs ", count, has_bytes ? " bytes of data" : " float_data values", " but holds ",
                 present);
  return shape;
}

Datum DecodeDatum(const Datum& datum, DecodeColor color, const std::string& where) {
  if (!datum.encoded()) return datum;
  const std::string& bytes = datum.data();
  CONDENSE_CHECK(!bytes.empty(), where, ": encoded Datum holds no image bytes");
  const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8UC1,
                       const_cast<char*>(bytes.data()));
  int flags = cv::IMREAD_ANYCOLOR;
  if (color == DecodeColor::kColor) flags = cv::IMREAD_COLOR;
  if (color == DecodeColor::kGray) flags = cv::IMREAD_GRAYSCALE;
  const cv::Mat image = cv::imdecode(buffer, flags);
  CONDENSE_CHECK(!image.empty(), where, ": encoded Datum (", bytes.size(),
                 " bytes) is not an image OpenCV can decode");
  Datum decoded;
  MatToDatum(image, &decoded);
  decoded.set_label(datum.label());
  return decoded;
}

void MatToDatum(const cv::Mat& image, Datum* datum) {
  CONDENSE_CHECK(image.depth() == CV_8U, "MatToDatum: only 8-bit images can be stored in a Datum");
  CONDENSE_CHECK(!image.empty(), "MatToDatum: empty image");
  const int channels = image.channels();
  const int height = image.rows;
  const int width = image.cols;
  datum->set_channels(channels);
  datum->set_height(height);
  datum->set_width(width);
  datum->clear_float_data();
  datum->set_encoded(false);
  std::string* data = datum->mutable_data();
  data->assign(static_cast<size_t>(channels) * height * width, '\0');
  // OpenCV interleaves channels per pixel; a Datum keeps one plane per channel.
  for (int row = 0; row < height; ++row) {
    const uint8_t* pixels = image.ptr<uint8_t>(row);
    for (int col = 0; col < width; ++col) {
      for (int c = 0; c < channels; ++c) {
        (*data)[(static_cast<size_t>(c) * height + row) * width + col] =
            static_cast<char>(pixels[col * channels + c]);
      }
    }
  }
}

}  // namespace condense
