#include "condense/data/image_file.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"

namespace condense {

cv::Mat ReadImage(const std::string& path, int height, int width, bool is_color) {
  CONDENSE_CHECK(FileExists(path), path, ": image file not found");
  CONDENSE_CHECK(!IsDirectory(path), path, ": is a directory, not an image file");
  cv::Mat image = cv::imread(path, is_color ? cv::IMREAD_COLOR : cv::IMREAD_GRAYSCALE);
  CONDENSE_CHECK(!image.empty(), path,
                 ": cannot read the image (corrupt, or a format OpenCV cannot decode)");
  if (height > 0 && width > 0 && (image.rows != height || image.cols != width)) {
    cv::Mat resized;
    cv::resize(image, resized, cv::Size(width, height));
    return resized;
  }
  return image;
}

}  // namespace condense
