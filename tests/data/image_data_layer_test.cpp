// The ImageData layer on Caffe's demo photos, built directly from the registry (no Net).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "condense/core/error.hpp"
#include "condense/core/random.hpp"
#include "condense/data/image_file.hpp"
#include "condense/net/layer_registry.hpp"
#include "data_test_helpers.hpp"
#include "support/shared_data.hpp"

namespace condense {
namespace {

using testing::ErrorOf;

class ImageDataLayerTest : public testing::TempDirTest {
 protected:
  void SetUp() override {
    images_ = testing::SharedDataPath("squeezenet/images");
    if (images_.empty()) GTEST_SKIP() << "../shared/data/squeezenet/images is absent";
    TempDirTest::SetUp();
  }

  std::string WriteList(const std::string& text) {
    const std::string path = dir_ + "/list.txt";
    std::ofstream(path) << text;
    return path;
  }

  LayerParameter Param(const std::string& list, int batch_size, int height, int width) {
    LayerParameter param;
    param.set_name("images");
    param.set_type("ImageData");
    param.set_phase(TEST);
    param.add_top("data");
    param.add_top("label");
    ImageDataParameter* image_param = param.mutable_image_data_param();
    image_param->set_source(list);
    image_param->set_root_folder(images_ + "/");
    image_param->set_batch_size(batch_size);
    image_param->set_new_height(height);
    image_param->set_new_width(width);
    return param;
  }

  std::string images_;
};

TEST_F(ImageDataLayerTest, ReadsColorImagesResizedInListOrder) {
  const std::string list = WriteList("cat.jpg 281\nfish-bike.jpg 1\ncat_gray.jpg 2\n");
  std::unique_ptr<Layer> layer = LayerRegistry::Create(Param(list, 2, 24, 32));
  Blob data, label;
  layer->SetUp({}, {&data, &label});
  EXPECT_EQ(data.shape(), (std::vector<int64_t>{2, 3, 24, 32}));
  layer->Forward({}, {&data, &label});
  EXPECT_EQ(label.data()[0], 281.0f);
  EXPECT_EQ(label.data()[1], 1.0f);
  // Item 1 is fish-bike.jpg, BGR, channel-major.
  const cv::Mat expected = ReadImage(images_ + "/fish-bike.jpg", 24, 32, true);
  const float* item = data.data() + 3 * 24 * 32;
  for (int c = 0; c < 3; ++c)
    for (int h = 0; h < 24; ++h)
      for (int w = 0; w < 32; ++w)
        ASSERT_EQ(item[(c * 24 + h) * 32 + w], expected.ptr<uint8_t>(h)[w * 3 + c]);
  layer->Forward({}, {&data, &label});  // cat_gray.jpg (expanded to 3 channels), then cat.jpg again
  EXPECT_EQ(label.data()[0], 2.0f);
  EXPECT_EQ(label.data()[1], 281.0f);
}

TEST_F(ImageDataLayerTest, ReadsGrayWhenIsColorIsOff) {
  const std::string list = WriteList("cat_gray.jpg 0\ncat.jpg 1\n");
  LayerParameter param = Param(list, 2, 0, 0);
  param.mutable_image_data_param()->set_is_color(false);
  param.mutable_transform_param()->set_crop_size(100);
  std::unique_ptr<Layer> layer = LayerRegistry::Create(param);
  Blob data, label;
  layer->SetUp({}, {&data, &label});
  EXPECT_EQ(data.shape(), (std::vector<int64_t>{2, 1, 100, 100}));
  layer->Forward({}, {&data, &label});
  // Centre crop of the 360 x 480 gray photo: offsets 130 rows, 190 columns.
  const cv::Mat gray = ReadImage(images_ + "/cat_gray.jpg", 0, 0, false);
  EXPECT_EQ(data.data()[0], gray.ptr<uint8_t>(130)[190]);
  EXPECT_EQ(data.data()[99 * 100 + 99], gray.ptr<uint8_t>(229)[289]);
}

TEST_F(ImageDataLayerTest, ShuffleIsSeededAndCoversEveryImage) {
  std::string text;
  for (int i = 0; i < 12; ++i) {
    text += std::string(i % 2 ? "cat.jpg " : "fish-bike.jpg ") + std::to_string(i) + "\n";
  }
  LayerParameter param = Param(WriteList(text), 12, 8, 8);
  param.mutable_image_data_param()->set_shuffle(true);
  auto labels_after_setup = [&](uint64_t seed) {
    SeedRandom(seed);
    std::unique_ptr<Layer> layer = LayerRegistry::Create(param);
    Blob data, label;
    layer->SetUp({}, {&data, &label});
    layer->Forward({}, {&data, &label});
    return std::vector<float>(label.data(), label.data() + 12);
  };
  const std::vector<float> first = labels_after_setup(5);
  EXPECT_EQ(labels_after_setup(5), first);
  EXPECT_NE(labels_after_setup(6), first);
  EXPECT_EQ(std::set<float>(first.begin(), first.end()).size(), 12u);
}

TEST_F(ImageDataLayerTest, AnUnreadableImageIsAnErrorNamingIt) {
  Blob data, label;
  // The first image is read at set-up.
  std::unique_ptr<Layer> first_missing =
      LayerRegistry::Create(Param(WriteList("no_such_photo.jpg 0\ncat.jpg 1\n"), 1, 8, 8));
  std::string message = ErrorOf([&] { first_missing->SetUp({}, {&data, &label}); });
  EXPECT_NE(message.find("no_such_photo.jpg"), std::string::npos) << message;
  // A later one surfaces from the prefetch thread at the Forward that needs it.
  std::unique_ptr<Layer> later_missing =
      LayerRegistry::Create(Param(WriteList("cat.jpg 0\nmissing_too.jpg 1\n"), 1, 8, 8));
  later_missing->SetUp({}, {&data, &label});
  later_missing->Forward({}, {&data, &label});
  message = ErrorOf([&] { later_missing->Forward({}, {&data, &label}); });
  EXPECT_NE(message.find("missing_too.jpg"), std::string::npos) << message;
}

TEST_F(ImageDataLayerTest, RefusesBadSettings) {
  Blob data, label;
  const std::string list = WriteList("cat.jpg 0\n");
  std::unique_ptr<Layer> zero_batch = LayerRegistry::Create(Param(list, 0, 8, 8));
  std::string message = ErrorOf([&] { zero_batch->SetUp({}, {&data, &label}); });
  EXPECT_NE(message.find("batch_size"), std::string::npos) << message;

  std::unique_ptr<Layer> half_resize = LayerRegistry::Create(Param(list, 1, 8, 0));
  EXPECT_THROW(half_resize->SetUp({}, {&data, &label}), Error);

  std::unique_ptr<Layer> empty_list = LayerRegistry::Create(Param(WriteList("\n"), 1, 8, 8));
  EXPECT_THROW(empty_list->SetUp({}, {&data, &label}), Error);

  // Different sizes in one batch need new_height/new_width (or a crop).
  std::unique_ptr<Layer> mixed =
      LayerRegistry::Create(Param(WriteList("cat.jpg 0\nfish-bike.jpg 1\n"), 2, 0, 0));
  mixed->SetUp({}, {&data, &label});
  EXPECT_THROW(mixed->Forward({}, {&data, &label}), Error);
}

}  // namespace
}  // namespace condense
