#include "condense/data/batch_prefetcher.hpp"

#include "condense/core/math.hpp"


namespace condense {

BatchPrefetcher::BatchPrefetcher(FillFunction fill, int depth)
    : fill_(std::move(fill)), depth_(depth < 0 ? 0 : depth) {
  if (depth_ == 0) {
    storage_.push_back(std::make_unique<Batch>());
    return;
  }
  // One more than the depth: the batch the consumer holds does not count against the ones in flight.
  for (int i = 0; i <= depth_; ++i) {
    storage_.push_back(std::make_unique<Batch>());
    free_.push_back(storage_.back().get());
  }
  worker_ = std::thread(&BatchPrefetcher::Run, this);
}

BatchPrefetcher::~BatchPrefetcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    changed_.notify_all();
  }
  if (worker_.joinable()) worker_.join();
}

void BatchPrefetcher::Run() {
  while (true) {
    Batch* batch = nullptr;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [this] { return stopping_ || !free_.empty(); });
      if (stopping_) return;
      batch = free_.front();
      free_.pop_front();
    }
    try {
      fill_(batch);
    } catch (...) {
      // Stop after the first failure: later batches would come from a source in an unknown state.
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::current_exception();
      changed_.notify_all();
      return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    full_.push_back(batch);
    changed_.notify_all();
  }
}

const Batch& BatchPrefetcher::Next() {
  if (depth_ == 0) {
    fill_(storage_.front().get());
    return *storage_.front();
  }
  std::unique_lock<std::mutex> lock(mutex_);
  if (current_ != nullptr) {
    free_.push_back(current_);
    current_ = nullptr;
    changed_.notify_all();
  }
  changed_.wait(lock, [this] { return !full_.empty() || error_ != nullptr; });
  if (full_.empty()) std::rethrow_exception(error_);
  current_ = full_.front();
  full_.pop_front();
  return *current_;
}

void CopyBatchToTops(const Batch& batch, const std::vector<Blob*>& top) {
  top[0]->ReshapeLike(batch.data);
  Copy(batch.data.count(), batch.data.data(), top[0]->mutable_data());
  if (top.size() > 1) {
    top[1]->ReshapeLike(batch.label);
    Copy(batch.label.count(), batch.label.data(), top[1]->mutable_data());
  }
}

}  // namespace condense
