// BatchPrefetcher: a background thread that prepares the next batches of a data layer while the net
// computes, as Caffe's prefetching data layers do. The fill function runs only on that thread, one batch
// after another, so the records read and the random numbers drawn follow the same order whatever the
// timing: a prefetched run gives the same batches as a synchronous one (depth 0). An error thrown while
// filling is handed to the consumer, after the batches completed before it. The destructor stops the
// thread and waits for it.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "condense/core/blob.hpp"

namespace condense {

struct Batch {
  Blob data;
  Blob label;
};

class BatchPrefetcher {
 public:
  // Fills `batch` (reshaping its blobs as needed) with the next batch of the source.
  using FillFunction = std::function<void(Batch* batch)>;

  // `depth` batches are prepared ahead; 0 fills synchronously inside Next(), without a thread.
  BatchPrefetcher(FillFunction fill, int depth);
  ~BatchPrefetcher();
  BatchPrefetcher(const BatchPrefetcher&) = delete;
  BatchPrefetcher& operator=(const BatchPrefetcher&) = delete;

  // Waits for the next batch. The reference stays valid until the next call; rethrows a fill error.
  const Batch& Next();
  int depth() const { return depth_; }

 private:
  void Run();

  FillFunction fill_;
  int depth_;
  std::vector<std::unique_ptr<Batch>> storage_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch*> free_;
  std::deque<Batch*> full_;
  Batch* current_ = nullptr;
  std::exception_ptr error_;
  bool stopping_ = false;
  std::thread worker_;
};

// Copies a batch into a data layer's tops (data, and label when there is a second top), reshaping them.
// Copied rather than shared: layers wired to the tops keep pointing at the tops' own memory.
void CopyBatchToTops(const Batch& batch, const std::vector<Blob*>& top);

}  // namespace condense
