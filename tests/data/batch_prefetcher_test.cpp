#include "condense/data/batch_prefetcher.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "condense/core/error.hpp"
#include "condense/core/random.hpp"

namespace condense {
namespace {

// A source that numbers its batches and draws from its own engine, like a data layer.
struct CountingSource {
  int next = 0;
  RandomEngine rng{99};
  void Fill(Batch* batch) {
    batch->data.Reshape({2});
    batch->label.Reshape({1});
    batch->data.mutable_data()[0] = static_cast<float>(next);
    batch->data.mutable_data()[1] = static_cast<float>(rng() % 1000);
    batch->label.mutable_data()[0] = static_cast<float>(next % 7);
    ++next;
  }
};

std::vector<float> Drain(BatchPrefetcher* prefetcher, int batches, bool jitter) {
  std::vector<float> values;
  for (int i = 0; i < batches; ++i) {
    if (jitter && i % 3 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const Batch& batch = prefetcher->Next();
    values.push_back(batch.data.data()[0]);
    values.push_back(batch.data.data()[1]);
    values.push_back(batch.label.data()[0]);
  }
  return values;
}

TEST(BatchPrefetcherTest, PrefetchedBatchesEqualSynchronousOnes) {
  CountingSource sync_source, async_source;
  BatchPrefetcher sync([&](Batch* b) { sync_source.Fill(b); }, 0);
  BatchPrefetcher async([&](Batch* b) { async_source.Fill(b); }, 3);
  const std::vector<float> expected = Drain(&sync, 50, false);
  EXPECT_EQ(Drain(&async, 50, true), expected);
  EXPECT_EQ(expected[0], 0.0f);
  EXPECT_EQ(expected[3], 1.0f);  // batches come in order
}

// Waits (up to 10 s, for a busy machine) until `counter` reaches `value`.
bool WaitFor(const std::atomic<int>& counter, int value) {
  for (int i = 0; i < 10000 && counter.load() < value; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return counter.load() >= value;
}

TEST(BatchPrefetcherTest, FillsAtMostDepthBatchesAhead) {
  std::atomic<int> filled{0};
  {
    BatchPrefetcher prefetcher(
        [&](Batch* b) {
          b->data.Reshape({1});
          ++filled;
        },
        3);
    // Depth 3 plus the slot the consumer holds: four fills, then the thread waits.
    ASSERT_TRUE(WaitFor(filled, 4));
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    EXPECT_EQ(filled.load(), 4);
    prefetcher.Next();
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    EXPECT_EQ(filled.load(), 4);  // the held batch is not refilled until the next call
    prefetcher.Next();
    EXPECT_TRUE(WaitFor(filled, 5));
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    EXPECT_EQ(filled.load(), 5);
  }  // the destructor stops a waiting thread
}

TEST(BatchPrefetcherTest, HandsOnAnErrorAfterTheBatchesBeforeIt) {
  int next = 0;
  BatchPrefetcher prefetcher(
      [&](Batch* b) {
        if (next == 2) throw Error("record 3 is corrupt");
        b->data.Reshape({1});
        b->data.mutable_data()[0] = static_cast<float>(next++);
      },
      3);
  EXPECT_EQ(prefetcher.Next().data.data()[0], 0.0f);
  EXPECT_EQ(prefetcher.Next().data.data()[0], 1.0f);
  try {
    prefetcher.Next();
    FAIL() << "expected an Error";
  } catch (const Error& error) {
    EXPECT_STREQ(error.what(), "record 3 is corrupt");
  }
  EXPECT_THROW(prefetcher.Next(), Error);  // and keeps failing
}

TEST(BatchPrefetcherTest, SynchronousModeThrowsDirectly) {
  BatchPrefetcher prefetcher([](Batch*) { throw Error("bad"); }, 0);
  EXPECT_THROW(prefetcher.Next(), Error);
}

TEST(BatchPrefetcherTest, CopyBatchToTopsReshapesAndCopies) {
  Batch batch;
  batch.data.Reshape({2, 3});
  batch.label.Reshape({2});
  for (int i = 0; i < 6; ++i) batch.data.mutable_data()[i] = static_cast<float>(i);
  batch.label.mutable_data()[0] = 5.0f;
  batch.label.mutable_data()[1] = 6.0f;
  Blob data, label;
  CopyBatchToTops(batch, {&data, &label});
  EXPECT_EQ(data.shape(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(data.data()[5], 5.0f);
  EXPECT_EQ(label.data()[1], 6.0f);
  EXPECT_FALSE(data.SharesDataWith(batch.data));
}

}  // namespace
}  // namespace condense
