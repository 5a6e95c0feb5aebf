#include "condense/data/datum.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "condense/core/error.hpp"
#include "condense/data/image_file.hpp"
#include "condense/data/image_list.hpp"
#include "support/shared_data.hpp"

namespace condense {
namespace {

// A 2 x 3 BGR image whose pixel (h, w) channel c holds 50c + 10h + w.
cv::Mat SmallImage() {
  cv::Mat image(2, 3, CV_8UC3);
  for (int h = 0; h < 2; ++h)
    for (int w = 0; w < 3; ++w)
      for (int c = 0; c < 3; ++c) image.ptr<uint8_t>(h)[w * 3 + c] = 50 * c + 10 * h + w;
  return image;
}

TEST(DatumTest, MatToDatumStoresChannelPlanes) {
  Datum datum;
  datum.set_label(4);
  MatToDatum(SmallImage(), &datum);
  EXPECT_EQ(datum.channels(), 3);
  EXPECT_EQ(datum.height(), 2);
  EXPECT_EQ(datum.width(), 3);
  EXPECT_EQ(datum.label(), 4);
  EXPECT_FALSE(datum.encoded());
  const std::string expected = {0, 1, 2, 10, 11, 12, 50, 51, 52, 60, 61, 62, 100, 101, 102, 110, 111, 112};
  EXPECT_EQ(datum.data(), expected);
  EXPECT_EQ(CheckedDatumShape(datum, "test"), (std::vector<int64_t>{3, 2, 3}));
}

TEST(DatumTest, CheckedDatumShapeRefusesSizeMismatches) {
  Datum datum;
  MatToDatum(SmallImage(), &datum);
  datum.set_height(3);  // claims 27 bytes, holds 18
  try {
    CheckedDatumShape(datum, "record 'k'");
    FAIL() << "expected an Error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("record 'k'"), std::string::npos) << error.what();
  }
  datum.set_height(0);
  EXPECT_THROW(CheckedDatumShape(datum, "test"), Error);
  datum.set_height(2);
  datum.clear_data();
  EXPECT_THROW(CheckedDatumShape(datum, "test"), Error);  // neither data nor float_data
  for (int i = 0; i < 18; ++i) datum.add_float_data(0.5f);
  EXPECT_EQ(CheckedDatumShape(datum, "test"), (std::vector<int64_t>{3, 2, 3}));
  datum.set_channels(1 << 30);
  datum.set_height(1 << 30);
  EXPECT_THROW(CheckedDatumShape(datum, "test"), Error);  // overflowing product
}

TEST(DatumTest, DecodesEncodedPngInEachColorMode) {
  std::vector<uchar> png;
  ASSERT_TRUE(cv::imencode(".png", SmallImage(), png));
  Datum encoded;
  encoded.set_data(png.data(), png.size());
  encoded.set_encoded(true);
  encoded.set_label(9);
  EXPECT_THROW(CheckedDatumShape(encoded, "test"), Error);

  Datum raw;
  MatToDatum(SmallImage(), &raw);
  const Datum native = DecodeDatum(encoded, DecodeColor::kNative, "test");
  EXPECT_EQ(native.data(), raw.data());
  EXPECT_EQ(native.label(), 9);
  EXPECT_FALSE(native.encoded());
  EXPECT_EQ(DecodeDatum(encoded, DecodeColor::kGray, "test").channels(), 1);
  EXPECT_EQ(DecodeDatum(encoded, DecodeColor::kColor, "test").channels(), 3);
  // A raw Datum passes through.
  EXPECT_EQ(DecodeDatum(raw, DecodeColor::kGray, "test").data(), raw.data());

  Datum garbage = encoded;
  garbage.set_data("definitely not an image");
  EXPECT_THROW(DecodeDatum(garbage, DecodeColor::kNative, "test"), Error);
}

TEST(ImageFileTest, ReadsSharedJpegsInColorAndGray) {
  CONDENSE_REQUIRE_SHARED(cat, "squeezenet/images/cat.jpg");
  CONDENSE_REQUIRE_SHARED(cat_gray, "squeezenet/images/cat_gray.jpg");
  const cv::Mat color = ReadImage(cat, 0, 0, true);
  EXPECT_EQ(color.rows, 360);
  EXPECT_EQ(color.cols, 480);
  EXPECT_EQ(color.channels(), 3);
  EXPECT_EQ(ReadImage(cat, 0, 0, false).channels(), 1);
  EXPECT_EQ(ReadImage(cat_gray, 0, 0, false).channels(), 1);
  EXPECT_EQ(ReadImage(cat_gray, 0, 0, true).channels(), 3);  // gray files expand to BGR on request
  const cv::Mat small = ReadImage(cat, 32, 48, true);
  EXPECT_EQ(small.rows, 32);
  EXPECT_EQ(small.cols, 48);
}

TEST(ImageFileTest, UnreadableImagesNameTheFile) {
  const std::string dir = testing::MakeTempDir("condense_image_");
  const std::string missing = dir + "/missing.jpg";
  const std::string garbage = dir + "/garbage.jpg";
  std::ofstream(garbage) << "not a jpeg";
  for (const std::string& path : {missing, garbage}) {
    try {
      ReadImage(path, 0, 0, true);
      ADD_FAILURE() << "expected an Error for " << path;
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find(path), std::string::npos) << error.what();
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(ImageListTest, ParsesPathsWithSpacesAndSkipsBlankLines) {
  const std::string dir = testing::MakeTempDir("condense_list_");
  const std::string list = dir + "/list.txt";
  std::ofstream(list) << "a.jpg 1\r\n\nsub dir/b c.png\t22\n  \nlast.jpg -3";
  const std::vector<ImageListEntry> entries = ReadImageList(list);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].path, "a.jpg");
  EXPECT_EQ(entries[0].label, 1);
  EXPECT_EQ(entries[1].path, "sub dir/b c.png");
  EXPECT_EQ(entries[1].label, 22);
  EXPECT_EQ(entries[2].label, -3);

  const std::string bad = dir + "/bad.txt";
  std::ofstream(bad) << "a.jpg 1\nb.jpg cat\n";
  try {
    ReadImageList(bad);
    FAIL() << "expected an Error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(bad + ":2"), std::string::npos) << error.what();
  }
  std::ofstream(bad) << "no_label_here\n";
  EXPECT_THROW(ReadImageList(bad), Error);
  EXPECT_THROW(ReadImageList(dir + "/missing.txt"), Error);
  std::filesystem::remove_all(dir);
}

TEST(ImageListTest, ShuffleIsASeededPermutation) {
  std::vector<ImageListEntry> entries;
  for (int i = 0; i < 20; ++i) entries.push_back({"img" + std::to_string(i), i});
  std::vector<ImageListEntry> first = entries, second = entries;
  RandomEngine a(5), b(5);
  ShuffleImageList(&first, &a);
  ShuffleImageList(&second, &b);
  std::vector<int> labels_first, labels_second;
  for (const auto& e : first) labels_first.push_back(e.label);
  for (const auto& e : second) labels_second.push_back(e.label);
  EXPECT_EQ(labels_first, labels_second);
  std::vector<int> sorted = labels_first;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 20; ++i) EXPECT_EQ(sorted[i], i);
  std::vector<int> identity(20);
  for (int i = 0; i < 20; ++i) identity[i] = i;
  EXPECT_NE(labels_first, identity);
}

}  // namespace
}  // namespace condense
