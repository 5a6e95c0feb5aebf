// The "ImageData" layer: batches of image files named in a "path label" list, read with OpenCV
// (resized to new_height x new_width when given, colour or gray), transformed by transform_param and
// prepared ahead on a background thread. The list is shuffled at the start and after every pass when
// `shuffle` is set, from the layer's seeded engine. An image that cannot be read is an Error naming it.
#include <glog/logging.h>

#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "condense/core/error.hpp"
#include "condense/data/image_file.hpp"
#include "condense/data/image_list.hpp"
#include "condense/data/prefetching_data_layer.hpp"
#include "condense/net/layer_registry.hpp"

namespace condense {

namespace {

// Batches prepared ahead; ImageDataParameter has no prefetch field of its own.
constexpr int kImageDataPrefetch = 3;

class ImageDataLayer : public PrefetchingDataLayer {
 public:
  using PrefetchingDataLayer::PrefetchingDataLayer;
  ~ImageDataLayer() override { StopPrefetching(); }

  const char* type() const override { return "ImageData"; }
  void LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override;

 private:
  // Runs on the prefetch thread only.
  void FillBatch(Batch* batch);
  // Caffe joins the two as plain strings: root_folder "images/" and path "cat.jpg".
  std::string ImagePath() const { return root_folder_ + entries_[position_].path; }
  cv::Mat ReadCurrentImage() const;
  // Moves to the next entry; after the last, back to the first (reshuffled when shuffle is set).
  void Advance();

  int new_height_ = 0;
  int new_width_ = 0;
  bool is_color_ = true;
  bool shuffle_ = false;
  std::string root_folder_;
  std::vector<ImageListEntry> entries_;
  size_t position_ = 0;
};

void ImageDataLayer::LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) {
  const ImageDataParameter& param = layer_param_.image_data_param();
  CONDENSE_CHECK(!param.source().empty(), Describe(), ": image_data_param.source is not set");
  CONDENSE_CHECK((param.new_height() == 0) == (param.new_width() == 0), Describe(),
                 ": image_data_param sets new_height ", param.new_height(), " and new_width ",
                 param.new_width(), "; set both or neither");
  InitSource(param.batch_size(), "image_data_param.batch_size");
  new_height_ = static_cast<int>(param.new_height());
  new_width_ = static_cast<int>(param.new_width());
  is_color_ = param.is_color();
  shuffle_ = param.shuffle();
  root_folder_ = param.root_folder();

  try {
    entries_ = ReadImageList(param.source());
  } catch (const Error& error) {
    Fail(Describe(), ": ", error.what());
  }
  CONDENSE_CHECK(!entries_.empty(), Describe(), ": image list '", param.source(), "' is empty");
  if (shuffle_) ShuffleImageList(&entries_, &rng_);
  LOG(INFO) << Describe() << ": " << entries_.size() << " images in " << param.source()
            << (shuffle_ ? " (shuffled)" : "");
  if (param.rand_skip() > 0) {
    const uint64_t skip = rng_() % param.rand_skip();
    LOG(INFO) << Describe() << ": skipping the first " << skip << " images";
    position_ = static_cast<size_t>(skip % entries_.size());
  }
  StartPrefetching(
      transformer_->InferShape(ReadCurrentImage(), StrCat(Describe(), ": image ", ImagePath())), top,
      kImageDataPrefetch, [this](Batch* batch) { FillBatch(batch); });
}

cv::Mat ImageDataLayer::ReadCurrentImage() const {
  try {
    return ReadImage(ImagePath(), new_height_, new_width_, is_color_);
  } catch (const Error& error) {
    Fail(Describe(), ": ", error.what());
  }
}

void ImageDataLayer::Advance() {
  ++position_;
  if (position_ < entries_.size()) return;
  position_ = 0;
  if (shuffle_) ShuffleImageList(&entries_, &rng_);
}

void ImageDataLayer::FillBatch(Batch* batch) {
  for (int64_t item = 0; item < batch_size_; ++item) {
    const cv::Mat image = ReadCurrentImage();
    const std::string where = StrCat(Describe(), ": image ", ImagePath());
    float* out = BatchItem(batch, item, transformer_->InferShape(image, where), where);
    transformer_->Transform(image, &rng_, out, where);
    batch->label.mutable_data()[item] = static_cast<float>(entries_[position_].label);
    Advance();
  }
}

}  // namespace

CONDENSE_REGISTER_LAYER("ImageData", ImageDataLayer);

}  // namespace condense
