// PrefetchingDataLayer: what Caffe's data layers ("Data", "ImageData") share. They have no bottoms and
// no gradient; a background BatchPrefetcher fills the next batches from the subclass's FillBatch while
// the net computes, and Forward copies the next ready batch into the tops (data, optional label). Each
// layer forks its own random engine at set-up, so skips, shuffles, crops and mirrors depend only on the
// seed and the set-up order, never on the thread's timing.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "condense/core/random.hpp"
#include "condense/data/batch_prefetcher.hpp"
#include "condense/data/data_transformer.hpp"
#include "condense/net/layer.hpp"

namespace condense {

class PrefetchingDataLayer : public Layer {
 public:
  using Layer::Layer;
  ~PrefetchingDataLayer() override;

  int ExactNumBottomBlobs() const override { return 0; }
  int MinTopBlobs() const override { return 1; }
  int MaxTopBlobs() const override { return 2; }
  // The second top holds labels.
  bool QuantizableOutput(int top_index) const override { return top_index == 0; }
  // Each batch brings its own shape; Forward reshapes the tops.
  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {}

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override;
  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {}

  // Checks the batch size (`field` names it in errors), forks the layer's engine, builds the transformer.
  void InitSource(int64_t batch_size, const char* field);
  // Shapes the tops for items of `item_shape` ({C, H, W}) and starts filling `depth` batches ahead
  // (0: synchronously, in Forward) with `fill`, which runs on the prefetch thread only. `fill` should
  // call a non-virtual member: a virtual call would read the object's vtable pointer, which the
  // subclass destructor rewrites before it can stop the thread.
  void StartPrefetching(const std::vector<int64_t>& item_shape, const std::vector<Blob*>& top,
                        int depth, BatchPrefetcher::FillFunction fill);
  // Stops the thread. A subclass destructor calls it first, while what its fill function uses exists.
  void StopPrefetching() { prefetcher_.reset(); }
  // The memory of item `item` in the batch. Item 0 shapes the batch, as in Caffe (so a batch of one may
  // vary in size from batch to batch); later items must have its shape.
  float* BatchItem(Batch* batch, int64_t item, const std::vector<int64_t>& item_shape,
                   const std::string& where) const;

  int64_t batch_size_ = 0;
  RandomEngine rng_;
  std::unique_ptr<DataTransformer> transformer_;

 private:
  std::unique_ptr<BatchPrefetcher> prefetcher_;
};

}  // namespace condense
