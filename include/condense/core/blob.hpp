// Blob: an N-dimensional float tensor with a value array (data) and a gradient array (diff), the unit
// of storage that layers read and write, as in Caffe. Shapes are checked against a cap before any memory
// is allocated, so a hostile file cannot ask for terabytes. Memory is 64-byte aligned for AVX-512 and is
// only re-allocated when a reshape needs more than the blob already holds.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace condense {

class BlobProto;
class BlobShape;

// Largest element count a blob may hold (2^31 floats = 8 GiB); larger shapes are refused.
constexpr int64_t kMaxBlobCount = int64_t{1} << 31;
constexpr int kMaxBlobAxes = 32;

// 64-byte aligned float storage, zero-initialised.
class AlignedBuffer {
 public:
  explicit AlignedBuffer(int64_t count);
  ~AlignedBuffer();
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  float* data() {
    version_ = NextVersion();
    return data_;
  }
  const float* data() const { return data_; }
  int64_t count() const { return count_; }
  // Changed by every mutable access, so that a cache derived from the values (quantized weights) knows
  // when to recompute. Drawn from one counter for all buffers: a cache keyed by the version alone then
  // never mistakes another buffer (weights shared from another net) for the one it saw.
  uint64_t version() const { return version_; }

 private:
  static uint64_t NextVersion();

  float* data_ = nullptr;
  int64_t count_ = 0;
  uint64_t version_ = 0;
};

class Blob {
 public:
  Blob() = default;
  explicit Blob(const std::vector<int64_t>& shape) { Reshape(shape); }

  // Changes the shape; keeps the memory when it is large enough. Throws on negative dimensions, too many
  // axes or a count over kMaxBlobCount.
  void Reshape(const std::vector<int64_t>& shape);
  void Reshape(const BlobShape& shape);
  void ReshapeLike(const Blob& other) { Reshape(other.shape()); }

  const std::vector<int64_t>& shape() const { return shape_; }
  // Size of one axis; negative axes count from the end.
  int64_t shape(int axis) const { return shape_[CanonicalAxisIndex(axis)]; }
  int num_axes() const { return static_cast<int>(shape_.size()); }
  int64_t count() const { return count_; }
  // Product of the dimensions in [start_axis, end_axis).
  int64_t count(int start_axis, int end_axis) const;
  int64_t count(int start_axis) const { return count(start_axis, num_axes()); }
  // Maps an axis in [-num_axes, num_axes) to [0, num_axes); throws when out of range.
  int CanonicalAxisIndex(int axis) const;
  std::string shape_string() const;
  bool ShapeEquals(const BlobProto& proto) const;

  // Caffe's 4-d accessors, for layers that only make sense on (N, C, H, W) blobs.
  int64_t LegacyShape(int index) const;
  int64_t num() const { return LegacyShape(0); }
  int64_t channels() const { return LegacyShape(1); }
  int64_t height() const { return LegacyShape(2); }
  int64_t width() const { return LegacyShape(3); }
  int64_t offset(int64_t n, int64_t c = 0, int64_t h = 0, int64_t w = 0) const {
    return ((n * channels() + c) * height() + h) * width() + w;
  }

  const float* data() const;
  const float* diff() const;
  float* mutable_data();
  float* mutable_diff();

  // Makes this blob use another blob's value or gradient memory (same count required).
  void ShareData(const Blob& other);
  void ShareDiff(const Blob& other);
  // Exchanges the value arrays of two blobs of equal count (the quantization wrapper swaps quantized
  // weights in and out without copying).
  void SwapData(Blob& other);
  // Changes whenever the values may have changed through this blob or any blob sharing them.
  uint64_t data_version() const { return data_ ? data_->version() : 0; }
  bool SharesDataWith(const Blob& other) const { return data_ && data_ == other.data_; }

  void SetData(float value);
  void SetDiff(float value);
  void CopyFrom(const Blob& source, bool copy_diff = false, bool reshape = false);
  // data -= diff (the plain gradient step the solvers finish with).
  void Update();

  float asum_data() const;
  float asum_diff() const;
  float sumsq_data() const;
  float sumsq_diff() const;
  void scale_data(float factor);
  void scale_diff(float factor);

  // Reads a BlobProto, legacy num/channels/height/width and double_data included. With reshape false
  // the shapes must match (legacy 4-d shapes are compared as Caffe does, ignoring leading 1s).
  void FromProto(const BlobProto& proto, bool reshape = true);
  void ToProto(BlobProto* proto, bool write_diff = false) const;

 private:
  void EnsureData();
  void EnsureDiff();

  std::vector<int64_t> shape_;
  int64_t count_ = 0;
  std::shared_ptr<AlignedBuffer> data_;
  std::shared_ptr<AlignedBuffer> diff_;
};

// Shape of a BlobProto, from its `shape` field or, in old files, from num/channels/height/width.
std::vector<int64_t> ShapeOfProto(const BlobProto& proto);
std::string ShapeString(const std::vector<int64_t>& shape);
// Checked element count of a shape: throws naming `what` on a negative dimension or a count over the cap.
int64_t CheckedCount(const std::vector<int64_t>& shape, const std::string& what);

}  // namespace condense
