// Fuzz target: an MNIST-style IDX file (plain or gzip) read as images (idx3) and as labels (idx1), as
// convert_mnist reads them. The header's dimensions must be checked against the bytes present.
#include <cstdint>

#include "condense/core/error.hpp"
#include "condense/data/idx_file.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  condense::fuzz::InitTarget();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = condense::fuzz::InputFile().Write(data, size);
  try {
    const condense::IdxImages images = condense::ReadIdxImages(path);
    // Touch the last pixel of the last image: the reader promised count * rows * cols bytes.
    if (images.count > 0) {
      volatile uint8_t last = images.image(images.count - 1)[images.image_size() - 1];
      (void)last;
    }
  } catch (const condense::Error&) {
  }
  try {
    condense::ReadIdxLabels(path);
  } catch (const condense::Error&) {
  }
  return 0;
}
