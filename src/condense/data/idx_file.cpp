#include "condense/data/idx_file.hpp"

#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"

namespace condense {

namespace {

// IDX magic: two zero bytes, the element type (0x08 = unsigned byte), the number of dimensions.
constexpr uint8_t kUnsignedByteType = 0x08;
// No real IDX file comes near this; it keeps the size arithmetic far from overflow.
constexpr int64_t kMaxIdxElements = int64_t{1} << 40;

uint32_t ReadBigEndian32(const std::string& bytes, size_t offset) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data()) + offset;
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Checks the header of an unsigned-byte IDX file with `num_dims` dimensions and that exactly the bytes
// the dimensions promise follow it; returns the dimensions.
std::vector<int64_t> CheckIdxHeader(const std::string& bytes, int num_dims, const char* kind,
                                    const std::string& path) {
  const size_t header_size = 4 + 4 * static_cast<size_t>(num_dims);
  CONDENSE_CHECK(bytes.size() >= 4, path, ": too short for an IDX file (", bytes.size(), " bytes)");
  const uint32_t magic = ReadBigEndian32(bytes, 0);
  const uint32_t expected_magic = (uint32_t{kUnsignedByteType} << 8) | static_cast<uint32_t>(num_dims);
  if (magic != expected_magic) {
    Fail(path, ": not an IDX ", kind, " file: magic 0x", std::hex, magic, " where 0x", expected_magic,
         " was expected");
  }
  CONDENSE_CHECK(bytes.size() >= header_size, path, ": truncated IDX header (", bytes.size(),
                 " bytes, the header needs ", header_size, ")");
  std::vector<int64_t> dims(num_dims);
  int64_t elements = 1;
  for (int i = 0; i < num_dims; ++i) {
    dims[i] = ReadBigEndian32(bytes, 4 + 4 * static_cast<size_t>(i));
    // Checked before multiplying: two 32-bit dimensions can overflow 64 bits.
    CONDENSE_CHECK(dims[i] == 0 || elements <= kMaxIdxElements / dims[i], path,
                   ": IDX dimensions too large");
    elements *= dims[i];
  }
  const int64_t present = static_cast<int64_t>(bytes.size() - header_size);
  CONDENSE_CHECK(present >= elements, path, ": truncated IDX ", kind, " file: the header promises ",
                 elements, " bytes of data but only ", present, " follow it");
  CONDENSE_CHECK(present == elements, path, ": ", present - elements,
                 " unexpected bytes after the IDX ", kind, " data");
  return dims;
}

}  // namespace

IdxImages ReadIdxImages(const std::string& path) {
  std::string bytes = ReadMaybeGzipped(path);
  const std::vector<int64_t> dims = CheckIdxHeader(bytes, 3, "image", path);
  CONDENSE_CHECK(dims[1] > 0 && dims[2] > 0, path, ": IDX images of size ", dims[1], "x", dims[2]);
  IdxImages images;
  images.count = dims[0];
  images.rows = dims[1];
  images.cols = dims[2];
  bytes.erase(0, 16);
  images.pixels = std::move(bytes);
  return images;
}

std::vector<uint8_t> ReadIdxLabels(const std::string& path) {
  const std::string bytes = ReadMaybeGzipped(path);
  CheckIdxHeader(bytes, 1, "label", path);
  return std::vector<uint8_t>(bytes.begin() + 8, bytes.end());
}

}  // namespace condense
