#include "condense/data/data_transformer.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "condense/core/error.hpp"
#include "condense/core/proto_io.hpp"
#include "condense/data/lmdb_database.hpp"
#include "data_test_helpers.hpp"
#include "support/shared_data.hpp"

namespace condense {
namespace {

constexpr int kChannels = 2, kHeight = 3, kWidth = 4;

// Pixel (c, h, w) of the tiny test image is 100c + 10h + w, so every expected value reads off directly.
int PixelValue(int c, int h, int w) { return 100 * c + 10 * h + w; }

Datum TinyDatum() {
  Datum datum;
  datum.set_channels(kChannels);
  datum.set_height(kHeight);
  datum.set_width(kWidth);
  datum.set_label(3);
  std::string bytes;
  for (int c = 0; c < kChannels; ++c)
    for (int h = 0; h < kHeight; ++h)
      for (int w = 0; w < kWidth; ++w) bytes.push_back(static_cast<char>(PixelValue(c, h, w)));
  datum.set_data(bytes);
  return datum;
}

std::vector<float> TransformAll(const DataTransformer& transformer, const Datum& datum,
                       RandomEngine* rng = nullptr) {
  const std::vector<int64_t> shape = transformer.InferShape(datum, "test");
  std::vector<float> out(shape[0] * shape[1] * shape[2], -1.0f);
  transformer.Transform(datum, rng, out.data(), "test");
  return out;
}

TEST(DataTransformerTest, ScalesWithoutMeanOrCrop) {
  TransformationParameter param;
  param.set_scale(0.5f);
  DataTransformer transformer(param, TEST, "test");
  EXPECT_FALSE(transformer.NeedsRandom());
  const std::vector<float> out = TransformAll(transformer, TinyDatum());
  ASSERT_EQ(out.size(), 24u);
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[5], 5.5f);     // (0, 1, 1) = 11
  EXPECT_EQ(out[23], 61.5f);   // (1, 2, 3) = 123
}

TEST(DataTransformerTest, SubtractsMeanValuesBeforeScaling) {
  TransformationParameter param;
  param.set_scale(2.0f);
  param.add_mean_value(10.0f);
  param.add_mean_value(20.0f);
  DataTransformer per_channel(param, TEST, "test");
  std::vector<float> out = TransformAll(per_channel, TinyDatum());
  EXPECT_EQ(out[0], -20.0f);   // (0 - 10) * 2
  EXPECT_EQ(out[12], 160.0f);  // (100 - 20) * 2

  param.clear_mean_value();
  param.add_mean_value(1.5f);
  DataTransformer one_for_all(param, TEST, "test");
  out = TransformAll(one_for_all, TinyDatum());
  EXPECT_EQ(out[1], -1.0f);    // (1 - 1.5) * 2
  EXPECT_EQ(out[13], 199.0f);  // (101 - 1.5) * 2
}

TEST(DataTransformerTest, CentreCropInTest) {
  TransformationParameter param;
  param.set_crop_size(2);
  DataTransformer transformer(param, TEST, "test");
  EXPECT_FALSE(transformer.NeedsRandom());
  EXPECT_EQ(transformer.InferShape(TinyDatum(), "test"), (std::vector<int64_t>{2, 2, 2}));
  // Offsets (3 - 2) / 2 = 0 rows and (4 - 2) / 2 = 1 column.
  EXPECT_EQ(TransformAll(transformer, TinyDatum()),
            (std::vector<float>{1, 2, 11, 12, 101, 102, 111, 112}));
}

TEST(DataTransformerTest, RandomCropAndMirrorInTrainCoverEveryWindow) {
  TransformationParameter param;
  param.set_crop_size(2);
  param.set_mirror(true);
  DataTransformer transformer(param, TRAIN, "test");
  EXPECT_TRUE(transformer.NeedsRandom());
  // Every legal output, written out by hand from the 2 x 3 offsets and the mirror flag.
  std::set<std::vector<float>> legal;
  for (int row = 0; row <= 1; ++row) {
    for (int col = 0; col <= 2; ++col) {
      for (bool mirror : {false, true}) {
        std::vector<float> window;
        for (int c = 0; c < 2; ++c)
          for (int h = 0; h < 2; ++h)
            for (int w = 0; w < 2; ++w)
              window.push_back(static_cast<float>(PixelValue(c, row + h, col + (mirror ? 1 - w : w))));
        legal.insert(window);
      }
    }
  }
  ASSERT_EQ(legal.size(), 12u);
  RandomEngine rng(42);
  std::set<std::vector<float>> seen;
  for (int i = 0; i < 300; ++i) {
    const std::vector<float> out = TransformAll(transformer, TinyDatum(), &rng);
    EXPECT_TRUE(legal.count(out)) << "not a legal crop/mirror window";
    seen.insert(out);
  }
  EXPECT_EQ(seen.size(), 12u);
}

TEST(DataTransformerTest, DrawsMirrorThenRowThenColumn) {
  TransformationParameter param;
  param.set_crop_size(2);
  param.set_mirror(true);
  DataTransformer transformer(param, TRAIN, "test");
  RandomEngine rng(7);
  RandomEngine replay(7);
  for (int i = 0; i < 20; ++i) {
    const bool mirror = replay() % 2 != 0;
    const int row = static_cast<int>(replay() % 2);
    const int col = static_cast<int>(replay() % 3);
    std::vector<float> expected;
    for (int c = 0; c < 2; ++c)
      for (int h = 0; h < 2; ++h)
        for (int w = 0; w < 2; ++w)
          expected.push_back(static_cast<float>(PixelValue(c, row + h, col + (mirror ? 1 - w : w))));
    EXPECT_EQ(TransformAll(transformer, TinyDatum(), &rng), expected) << "draw " << i;
  }
}

TEST(DataTransformerTest, MirrorsWithoutCropInAnyPhaseAsCaffe) {
  TransformationParameter param;
  param.set_mirror(true);
  DataTransformer transformer(param, TEST, "test");
  RandomEngine rng(3);
  std::set<float> first_values;
  for (int i = 0; i < 50; ++i) first_values.insert(TransformAll(transformer, TinyDatum(), &rng)[0]);
  // Unmirrored, row 0 starts with pixel (0,0,0) = 0; mirrored with (0,0,3) = 3.
  EXPECT_EQ(first_values, (std::set<float>{0.0f, 3.0f}));
}

TEST(DataTransformerTest, FloatDataMatchesBytes) {
  Datum bytes = TinyDatum();
  Datum floats = bytes;
  floats.clear_data();
  for (unsigned char value : bytes.data()) floats.add_float_data(value);
  TransformationParameter param;
  param.set_scale(0.25f);
  param.add_mean_value(3.0f);
  param.set_crop_size(2);
  DataTransformer transformer(param, TEST, "test");
  EXPECT_EQ(TransformAll(transformer, floats), TransformAll(transformer, bytes));
}

TEST(DataTransformerTest, MatInputMatchesDatum) {
  cv::Mat image(kHeight, kWidth, CV_8UC2);
  for (int h = 0; h < kHeight; ++h)
    for (int w = 0; w < kWidth; ++w)
      for (int c = 0; c < kChannels; ++c) image.ptr<uint8_t>(h)[w * kChannels + c] = PixelValue(c, h, w);
  TransformationParameter param;
  param.set_crop_size(2);
  param.set_mirror(true);
  param.set_scale(0.1f);
  param.add_mean_value(4.0f);
  param.add_mean_value(9.0f);
  DataTransformer transformer(param, TRAIN, "test");
  RandomEngine rng_datum(11), rng_mat(11);
  for (int i = 0; i < 10; ++i) {
    std::vector<float> from_mat(8);
    EXPECT_EQ(transformer.InferShape(image, "mat"), (std::vector<int64_t>{2, 2, 2}));
    transformer.Transform(image, &rng_mat, from_mat.data(), "mat");
    EXPECT_EQ(from_mat, TransformAll(transformer, TinyDatum(), &rng_datum));
  }
}

class DataTransformerFileTest : public testing::TempDirTest {
 protected:
};

TEST_F(DataTransformerFileTest, SubtractsTheMeanFileAtTheCroppedPositions) {
  BlobProto mean;
  mean.set_num(1);
  mean.set_channels(kChannels);
  mean.set_height(kHeight);
  mean.set_width(kWidth);
  // Mean pixel = 100c + w: after subtraction a pixel keeps 10h.
  for (int c = 0; c < kChannels; ++c)
    for (int h = 0; h < kHeight; ++h)
      for (int w = 0; w < kWidth; ++w) mean.add_data(static_cast<float>(100 * c + w));
  const std::string mean_path = dir_ + "/mean.binaryproto";
  WriteBinaryProtoFile(mean_path, mean);
  TransformationParameter param;
  param.set_mean_file(mean_path);
  param.set_crop_size(2);
  param.set_scale(0.5f);
  DataTransformer transformer(param, TEST, "test");
  EXPECT_EQ(TransformAll(transformer, TinyDatum()), (std::vector<float>{0, 0, 5, 5, 0, 0, 5, 5}));
}

TEST_F(DataTransformerFileTest, CaffeMeanFileOnCaffeLmdbRecord) {
  CONDENSE_REQUIRE_SHARED(mean_path, "trafficsign_lmdb_h5/cifar10_mean.binaryproto");
  CONDENSE_REQUIRE_SHARED(lmdb_path, "trafficsign_lmdb_h5/lmdb/cifar10_test_lmdb");
  BlobProto mean;
  ReadBinaryProtoFile(mean_path, &mean);
  ASSERT_EQ(mean.data_size(), 3 * 32 * 32);
  // Per-channel averages recorded in the data's PROVENANCE (B, G, R).
  const double expected_channel_means[3] = {100.72, 106.29, 119.63};
  for (int c = 0; c < 3; ++c) {
    double sum = 0.0;
    for (int i = 0; i < 1024; ++i) sum += mean.data(c * 1024 + i);
    EXPECT_NEAR(sum / 1024.0, expected_channel_means[c], 0.01) << "channel " << c;
  }
  LmdbCursor cursor(lmdb_path);
  Datum datum;
  ASSERT_TRUE(datum.ParseFromArray(cursor.value().data(), static_cast<int>(cursor.value().size())));
  TransformationParameter param;
  param.set_mean_file(mean_path);
  param.set_scale(0.00390625f);
  DataTransformer transformer(param, TEST, "test");
  const std::vector<float> out = TransformAll(transformer, datum);
  ASSERT_EQ(out.size(), 3072u);
  for (int i = 0; i < 3072; ++i) {
    const float pixel = static_cast<uint8_t>(datum.data()[i]);
    ASSERT_EQ(out[i], (pixel - mean.data(i)) * 0.00390625f) << "element " << i;
  }
  // A crop takes the mean at the same (uncropped) positions as the pixels.
  param.set_crop_size(28);
  DataTransformer cropping(param, TEST, "test");
  const std::vector<float> cropped = TransformAll(cropping, datum);
  const int offset = (32 - 28) / 2;
  const int index = (1 * 32 + offset + 5) * 32 + offset + 7;  // channel 1, row 5, column 7 of the crop
  EXPECT_EQ(cropped[(1 * 28 + 5) * 28 + 7],
            (static_cast<uint8_t>(datum.data()[index]) - mean.data(index)) * 0.00390625f);
}

TEST_F(DataTransformerFileTest, RejectsInconsistentSettingsAndInputs) {
  CONDENSE_REQUIRE_SHARED(mean_path, "trafficsign_lmdb_h5/cifar10_mean.binaryproto");
  TransformationParameter both;
  both.set_mean_file(mean_path);
  both.add_mean_value(1.0f);
  EXPECT_THROW(DataTransformer(both, TEST, "test"), Error);

  TransformationParameter missing;
  missing.set_mean_file(dir_ + "/no_such.binaryproto");
  EXPECT_THROW(DataTransformer(missing, TEST, "test"), Error);

  TransformationParameter wrong_size;
  wrong_size.set_mean_file(mean_path);  // 3x32x32 against a 2x3x4 input
  DataTransformer mismatched(wrong_size, TEST, "test");
  EXPECT_THROW(TransformAll(mismatched, TinyDatum()), Error);

  TransformationParameter three_means;
  for (float value : {1.0f, 2.0f, 3.0f}) three_means.add_mean_value(value);
  EXPECT_THROW(TransformAll(DataTransformer(three_means, TEST, "test"), TinyDatum()), Error);

  TransformationParameter big_crop;
  big_crop.set_crop_size(4);  // larger than the 3 rows
  EXPECT_THROW(TransformAll(DataTransformer(big_crop, TEST, "test"), TinyDatum()), Error);

  TransformationParameter mirror;
  mirror.set_mirror(true);
  EXPECT_THROW(TransformAll(DataTransformer(mirror, TEST, "test"), TinyDatum(), nullptr), Error);

  Datum short_datum = TinyDatum();
  short_datum.mutable_data()->pop_back();
  EXPECT_THROW(TransformAll(DataTransformer(TransformationParameter(), TEST, "test"), short_datum), Error);
}

}  // namespace
}  // namespace condense
