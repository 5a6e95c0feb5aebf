// Readers for the IDX files that MNIST and Fashion-MNIST ship in (idx3 images, idx1 labels), plain or
// gzip-compressed. The header (magic, dimensions) is checked against the bytes actually present before
// anything is sized from it, so a truncated or mislabelled file is an Error naming the path instead of a
// huge allocation or a read past the end.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace condense {

// Images of an idx3-ubyte file: `count` images of rows x cols uint8 pixels, row-major, back to back.
struct IdxImages {
  int64_t count = 0;
  int64_t rows = 0;
  int64_t cols = 0;
  std::string pixels;  // count * rows * cols bytes

  int64_t image_size() const { return rows * cols; }
  const uint8_t* image(int64_t index) const {
    return reinterpret_cast<const uint8_t*>(pixels.data()) + index * image_size();
  }
};

// Reads an idx3-ubyte image file (magic 0x00000803), gzip or plain.
IdxImages ReadIdxImages(const std::string& path);
// Reads an idx1-ubyte label file (magic 0x00000801), gzip or plain.
std::vector<uint8_t> ReadIdxLabels(const std::string& path);

}  // namespace condense
