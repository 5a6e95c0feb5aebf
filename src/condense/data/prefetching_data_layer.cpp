#include "condense/data/prefetching_data_layer.hpp"

#include <glog/logging.h>

#include "condense/core/error.hpp"

namespace condense {

PrefetchingDataLayer::~PrefetchingDataLayer() { StopPrefetching(); }

void PrefetchingDataLayer::InitSource(int64_t batch_size, const char* field) {
  CONDENSE_CHECK(batch_size > 0, Describe(), ": ", field, " must be positive, got ", batch_size);
  batch_size_ = batch_size;
  rng_ = ForkRandom();
  transformer_ =
      std::make_unique<DataTransformer>(layer_param_.transform_param(), phase_, Describe());
}

void PrefetchingDataLayer::StartPrefetching(const std::vector<int64_t>& item_shape,
                                            const std::vector<Blob*>& top, int depth,
                                            BatchPrefetcher::FillFunction fill) {
  top[0]->Reshape({batch_size_, item_shape[0], item_shape[1], item_shape[2]});
  if (top.size() > 1) top[1]->Reshape({batch_size_});
  LOG(INFO) << Describe() << ": output data " << top[0]->shape_string();
  prefetcher_ = std::make_unique<BatchPrefetcher>(std::move(fill), depth);
}

void PrefetchingDataLayer::ForwardCpu(const std::vector<Blob*>& bottom,
                                      const std::vector<Blob*>& top) {
  CopyBatchToTops(prefetcher_->Next(), top);
}

float* PrefetchingDataLayer::BatchItem(Batch* batch, int64_t item,
                                       const std::vector<int64_t>& item_shape,
                                       const std::string& where) const {
  if (item == 0) {
    batch->data.Reshape({batch_size_, item_shape[0], item_shape[1], item_shape[2]});
    batch->label.Reshape({batch_size_});
  } else {
    const std::vector<int64_t> batch_item_shape(batch->data.shape().begin() + 1,
                                                batch->data.shape().end());
    if (item_shape != batch_item_shape) {
      Fail(where, ": gives ", ShapeString(item_shape), " but this batch started with ",
           ShapeString(batch_item_shape), "; items of one batch must have one size");
    }
  }
  return batch->data.mutable_data() + item * batch->data.count(1);
}

}  // namespace condense
