// Reading image files (JPEG, PNG, ... through OpenCV) the way Caffe's ImageData layer and
// convert_imageset do: 3-channel BGR or 1-channel gray, optionally resized (bilinear) to a fixed size.
#pragma once

#include <string>

#include <opencv2/core/mat.hpp>

namespace condense {

// Reads the image; resizes it to height x width when both are positive. Throws naming the file when it
// is missing or not a decodable image.
cv::Mat ReadImage(const std::string& path, int height, int width, bool is_color);

}  // namespace condense
