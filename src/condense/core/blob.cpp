#include "condense/core/blob.hpp"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "condense/core/error.hpp"
#include "condense/core/math.hpp"
#include "condense/proto/condense.pb.h"

namespace condense {

uint64_t AlignedBuffer::NextVersion() {
  static std::atomic<uint64_t> counter{0};
  return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}

AlignedBuffer::AlignedBuffer(int64_t count) : count_(count), version_(NextVersion()) {
  const size_t bytes = ((static_cast<size_t>(count) * sizeof(float) + 63) / 64) * 64;
  if (bytes == 0) return;
  data_ = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (data_ == nullptr) Fail("out of memory allocating ", bytes, " bytes for a blob");
  std::memset(data_, 0, bytes);
}

AlignedBuffer::~AlignedBuffer() { std::free(data_); }

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ",";
    text += std::to_string(shape[i]);
  }
  return text + ")";
}

int64_t CheckedCount(const std::vector<int64_t>& shape, const std::string& what) {
  CONDENSE_CHECK(static_cast<int>(shape.size()) <= kMaxBlobAxes, what, ": shape ", ShapeString(shape),
                 " has more than ", kMaxBlobAxes, " axes");
  int64_t count = 1;
  for (int64_t dim : shape) {
    CONDENSE_CHECK(dim >= 0, what, ": shape ", ShapeString(shape), " has a negative dimension");
    if (dim != 0 && count > kMaxBlobCount / dim) {
      Fail(what, ": shape ", ShapeString(shape), " has more than ", kMaxBlobCount,
           " elements; refusing to allocate it");
    }
    count *= dim;
  }
  CONDENSE_CHECK(count <= kMaxBlobCount, what, ": shape ", ShapeString(shape), " has more than ",
                 kMaxBlobCount, " elements; refusing to allocate it");
  return count;
}

void Blob::Reshape(const std::vector<int64_t>& shape) {
  count_ = CheckedCount(shape, "blob");
  shape_ = shape;
  if (data_ && data_->count() < count_) data_.reset();
  if (diff_ && diff_->count() < count_) diff_.reset();
}

void Blob::Reshape(const BlobShape& shape) {
  std::vector<int64_t> dims(shape.dim().begin(), shape.dim().end());
  Reshape(dims);
}

int64_t Blob::count(int start_axis, int end_axis) const {
  CONDENSE_CHECK(0 <= start_axis && start_axis <= end_axis && end_axis <= num_axes(),
                 "axis range [", start_axis, ",", end_axis, ") is outside blob ", shape_string());
  int64_t result = 1;
  for (int i = start_axis; i < end_axis; ++i) result *= shape_[i];
  return result;
}

int Blob::CanonicalAxisIndex(int axis) const {
  CONDENSE_CHECK(axis >= -num_axes() && axis < num_axes(), "axis ", axis,
                 " is out of range for a blob of shape ", shape_string());
  return axis < 0 ? axis + num_axes() : axis;
}

std::string Blob::shape_string() const { return ShapeString(shape_); }

int64_t Blob::LegacyShape(int index) const {
  CONDENSE_CHECK(num_axes() <= 4, "blob ", shape_string(), " has more than 4 axes");
  if (index >= num_axes() || index < -num_axes()) return 1;
  return shape(index);
}

void Blob::EnsureData() {
  if (!data_) data_ = std::make_shared<AlignedBuffer>(count_);
}

void Blob::EnsureDiff() {
  if (!diff_) diff_ = std::make_shared<AlignedBuffer>(count_);
}

const float* Blob::data() const {
  const_cast<Blob*>(this)->EnsureData();
  return std::as_const(*data_).data();
}

const float* Blob::diff() const {
  const_cast<Blob*>(this)->EnsureDiff();
  return std::as_const(*diff_).data();
}

float* Blob::mutable_data() {
  EnsureData();
  return data_->data();
}

float* Blob::mutable_diff() {
  EnsureDiff();
  return diff_->data();
}

void Blob::ShareData(const Blob& other) {
  CONDENSE_CHECK(count_ == other.count_, "cannot share data of blob ", other.shape_string(),
                 " with blob ", shape_string());
  const_cast<Blob&>(other).EnsureData();
  data_ = other.data_;
}

void Blob::ShareDiff(const Blob& other) {
  CONDENSE_CHECK(count_ == other.count_, "cannot share diff of blob ", other.shape_string(),
                 " with blob ", shape_string());
  const_cast<Blob&>(other).EnsureDiff();
  diff_ = other.diff_;
}

void Blob::SwapData(Blob& other) {
  CONDENSE_CHECK(count_ == other.count_, "cannot swap values of blob ", other.shape_string(),
                 " with blob ", shape_string());
  EnsureData();
  other.EnsureData();
  data_.swap(other.data_);
}

void Blob::SetData(float value) { Set(count_, value, mutable_data()); }
void Blob::SetDiff(float value) { Set(count_, value, mutable_diff()); }

void Blob::CopyFrom(const Blob& source, bool copy_diff, bool reshape) {
  if (source.shape_ != shape_) {
    CONDENSE_CHECK(reshape, "cannot copy blob ", source.shape_string(), " into blob ", shape_string());
    Reshape(source.shape_);
  }
  if (copy_diff) {
    Copy(count_, source.diff(), mutable_diff());
  } else {
    Copy(count_, source.data(), mutable_data());
  }
}

void Blob::Update() { Axpy(count_, -1.0f, diff(), mutable_data()); }

float Blob::asum_data() const { return Asum(count_, data()); }
float Blob::asum_diff() const { return Asum(count_, diff()); }
float Blob::sumsq_data() const { return SumSq(count_, data()); }
float Blob::sumsq_diff() const { return SumSq(count_, diff()); }
void Blob::scale_data(float factor) { Scale(count_, factor, mutable_data()); }
void Blob::scale_diff(float factor) { Scale(count_, factor, mutable_diff()); }

std::vector<int64_t> ShapeOfProto(const BlobProto& proto) {
  if (proto.has_shape()) {
    return std::vector<int64_t>(proto.shape().dim().begin(), proto.shape().dim().end());
  }
  if (proto.has_num() || proto.has_channels() || proto.has_height() || proto.has_width()) {
    return {proto.num(), proto.channels(), proto.height(), proto.width()};
  }
  // A blob with no shape at all is a flat vector of its values, as old files wrote biases.
  const int values = proto.double_data_size() > 0 ? proto.double_data_size() : proto.data_size();
  return {values};
}

// Caffe compares a legacy 4-d proto shape with a blob of fewer axes by padding the blob's shape with
// leading 1s: a V1 fully connected weight stored as (1,1,N,K) fits an (N,K) blob.
static bool LegacyShapeMatches(const std::vector<int64_t>& blob_shape, const BlobProto& proto) {
  if (blob_shape.size() > 4) return false;
  std::vector<int64_t> padded(4 - blob_shape.size(), 1);
  padded.insert(padded.end(), blob_shape.begin(), blob_shape.end());
  return padded == std::vector<int64_t>{proto.num(), proto.channels(), proto.height(), proto.width()};
}

bool Blob::ShapeEquals(const BlobProto& proto) const {
  if (!proto.has_shape() &&
      (proto.has_num() || proto.has_channels() || proto.has_height() || proto.has_width())) {
    return LegacyShapeMatches(shape_, proto);
  }
  return ShapeOfProto(proto) == shape_;
}

void Blob::FromProto(const BlobProto& proto, bool reshape) {
  if (reshape) {
    Reshape(ShapeOfProto(proto));
  } else {
    CONDENSE_CHECK(ShapeEquals(proto), "shape mismatch: the file holds ",
                   ShapeString(ShapeOfProto(proto)), " but the layer expects ", shape_string());
  }
  float* values = mutable_data();
  if (proto.double_data_size() > 0) {
    CONDENSE_CHECK(proto.double_data_size() == count_, "blob holds ", proto.double_data_size(),
                   " values but its shape ", shape_string(), " needs ", count_);
    for (int64_t i = 0; i < count_; ++i) values[i] = static_cast<float>(proto.double_data(i));
  } else {
    CONDENSE_CHECK(proto.data_size() == count_, "blob holds ", proto.data_size(),
                   " values but its shape ", shape_string(), " needs ", count_);
    std::memcpy(values, proto.data().data(), sizeof(float) * count_);
  }
  if (proto.double_diff_size() > 0) {
    CONDENSE_CHECK(proto.double_diff_size() == count_, "blob diff has the wrong size");
    float* grads = mutable_diff();
    for (int64_t i = 0; i < count_; ++i) grads[i] = static_cast<float>(proto.double_diff(i));
  } else if (proto.diff_size() > 0) {
    CONDENSE_CHECK(proto.diff_size() == count_, "blob diff has the wrong size");
    std::memcpy(mutable_diff(), proto.diff().data(), sizeof(float) * count_);
  }
}

void Blob::ToProto(BlobProto* proto, bool write_diff) const {
  proto->Clear();
  for (int64_t dim : shape_) proto->mutable_shape()->add_dim(dim);
  proto->mutable_data()->Resize(static_cast<int>(count_), 0.0f);
  if (count_ > 0) std::memcpy(proto->mutable_data()->mutable_data(), data(), sizeof(float) * count_);
  if (write_diff) {
    proto->mutable_diff()->Resize(static_cast<int>(count_), 0.0f);
    if (count_ > 0) std::memcpy(proto->mutable_diff()->mutable_data(), diff(), sizeof(float) * count_);
  }
}

}  // namespace condense
