#include "condense/data/idx_file.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"
#include "data_test_helpers.hpp"
#include "support/shared_data.hpp"

namespace condense {
namespace {

std::string BigEndian(uint32_t value) {
  std::string bytes(4, '\0');
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>((value >> (24 - 8 * i)) & 0xff);
  return bytes;
}

class IdxFileTest : public testing::TempDirTest {
 protected:
  std::string Write(const std::string& name, const std::string& bytes) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
};

TEST_F(IdxFileTest, ReadsMnistTestImagesAndLabelsFromGzip) {
  CONDENSE_REQUIRE_SHARED(images_path, "mnist/t10k-images-idx3-ubyte.gz");
  CONDENSE_REQUIRE_SHARED(labels_path, "mnist/t10k-labels-idx1-ubyte.gz");
  const IdxImages images = ReadIdxImages(images_path);
  EXPECT_EQ(images.count, 10000);
  EXPECT_EQ(images.rows, 28);
  EXPECT_EQ(images.cols, 28);
  ASSERT_EQ(images.pixels.size(), 10000u * 28 * 28);
  const std::vector<uint8_t> labels = ReadIdxLabels(labels_path);
  ASSERT_EQ(labels.size(), 10000u);
  const std::vector<uint8_t> first = {7, 2, 1, 0, 4, 1, 4, 9, 5, 9};
  EXPECT_EQ(std::vector<uint8_t>(labels.begin(), labels.begin() + 10), first);
  // The first test digit (a 7) has ink in the middle rows and a blank border.
  const uint8_t* seven = images.image(0);
  EXPECT_EQ(seven[0], 0);
  int ink = 0;
  for (int i = 0; i < 28 * 28; ++i) ink += seven[i] > 128;
  EXPECT_GT(ink, 50);
}

TEST_F(IdxFileTest, ReadsTrainLabels) {
  CONDENSE_REQUIRE_SHARED(labels_path, "mnist/train-labels-idx1-ubyte.gz");
  const std::vector<uint8_t> labels = ReadIdxLabels(labels_path);
  ASSERT_EQ(labels.size(), 60000u);
  EXPECT_EQ(labels[0], 5);  // the first MNIST training digit is a 5
}

TEST_F(IdxFileTest, ReadsPlainUncompressedFiles) {
  const std::string images_path =
      Write("images", BigEndian(0x803) + BigEndian(2) + BigEndian(2) + BigEndian(3) +
                          std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\xff", 12));
  const IdxImages images = ReadIdxImages(images_path);
  EXPECT_EQ(images.count, 2);
  EXPECT_EQ(images.rows, 2);
  EXPECT_EQ(images.cols, 3);
  EXPECT_EQ(images.image(1)[0], 7);
  EXPECT_EQ(images.image(1)[5], 255);
  const std::string labels_path = Write("labels", BigEndian(0x801) + BigEndian(3) + "\x03\x01\x09");
  EXPECT_EQ(ReadIdxLabels(labels_path), (std::vector<uint8_t>{3, 1, 9}));
}

TEST_F(IdxFileTest, RejectsBadMagic) {
  const std::string path =
      Write("bad", BigEndian(0x804) + BigEndian(1) + BigEndian(1) + BigEndian(1) + "x");
  try {
    ReadIdxImages(path);
    FAIL() << "expected an Error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("magic"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find(path), std::string::npos) << error.what();
  }
}

TEST_F(IdxFileTest, RejectsALabelFileReadAsImages) {
  CONDENSE_REQUIRE_SHARED(labels_path, "mnist/t10k-labels-idx1-ubyte.gz");
  EXPECT_THROW(ReadIdxImages(labels_path), Error);
}

TEST_F(IdxFileTest, RejectsTruncatedData) {
  // Two 2x2 images promised, seven bytes present.
  const std::string path =
      Write("short", BigEndian(0x803) + BigEndian(2) + BigEndian(2) + BigEndian(2) + "1234567");
  try {
    ReadIdxImages(path);
    FAIL() << "expected an Error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("truncated"), std::string::npos) << error.what();
  }
  EXPECT_THROW(ReadIdxLabels(Write("short_labels", BigEndian(0x801) + BigEndian(5) + "12")), Error);
  EXPECT_THROW(ReadIdxImages(Write("short_header", BigEndian(0x803) + BigEndian(2))), Error);
}

TEST_F(IdxFileTest, RejectsHugeDimensionsBeforeAllocating) {
  const std::string path = Write("huge", BigEndian(0x803) + BigEndian(0xffffffffu) +
                                             BigEndian(0xffffffffu) + BigEndian(0xffffffffu) + "abc");
  EXPECT_THROW(ReadIdxImages(path), Error);
}

TEST_F(IdxFileTest, RejectsTrailingBytes) {
  const std::string path = Write("long", BigEndian(0x801) + BigEndian(2) + "1234");
  EXPECT_THROW(ReadIdxLabels(path), Error);
}

TEST_F(IdxFileTest, RejectsTruncatedGzipAndMissingFiles) {
  CONDENSE_REQUIRE_SHARED(labels_path, "mnist/t10k-labels-idx1-ubyte.gz");
  const std::string gz = ReadFileToString(labels_path);
  EXPECT_THROW(ReadIdxLabels(Write("cut.gz", gz.substr(0, gz.size() / 2))), Error);
  EXPECT_THROW(ReadIdxLabels(dir_ + "/no-such-file"), Error);
}

}  // namespace
}  // namespace condense
