// The "Data" layer: batches of Datum records read in key order from an LMDB, transformed by
// transform_param and prepared ahead on a background thread (data_param.prefetch batches; 0 reads in
// Forward). Wraps around to the first record at the end of the database, as Caffe does. Tops: data
// (N x C x H x W) and optionally label (N).
#include <glog/logging.h>

#include <memory>
#include <string>
#include <vector>

#include "condense/core/error.hpp"
#include "condense/data/lmdb_database.hpp"
#include "condense/data/prefetching_data_layer.hpp"
#include "condense/net/layer_registry.hpp"

namespace condense {

namespace {

class DataLayer : public PrefetchingDataLayer {
 public:
  using PrefetchingDataLayer::PrefetchingDataLayer;
  ~DataLayer() override { StopPrefetching(); }

  const char* type() const override { return "Data"; }
  void LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override;

 private:
  // Runs on the prefetch thread only.
  void FillBatch(Batch* batch);
  void OpenSource(const DataParameter& param);
  // "layer 'x' (Data): LMDB '<path>' record '<key>'", for messages about the current record.
  std::string RecordWhere() const;
  Datum ReadRecord(const std::string& where) const;
  // Moves to the next record, back to the first after the last.
  void Advance();

  std::unique_ptr<LmdbCursor> cursor_;
};

void DataLayer::OpenSource(const DataParameter& param) {
  CONDENSE_CHECK(!param.source().empty(), Describe(), ": data_param.source is not set");
  // An unset backend means LevelDB in Caffe; condense reads an LMDB there and names LevelDB only when
  // the prototxt asks for it or the directory is one.
  if (param.has_backend() && param.backend() == DataParameter::LEVELDB) {
    Fail(Describe(), ": data_param.backend LEVELDB ('", param.source(),
         "'): LevelDB is not supported; convert the data to LMDB and set backend: LMDB");
  }
  try {
    cursor_ = std::make_unique<LmdbCursor>(param.source());
  } catch (const Error& error) {
    Fail(Describe(), ": ", error.what());
  }
  CONDENSE_CHECK(cursor_->valid(), Describe(), ": LMDB '", param.source(), "' holds no records");
}

void DataLayer::LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) {
  const DataParameter& param = layer_param_.data_param();
  InitSource(param.batch_size(), "data_param.batch_size");
  OpenSource(param);
  LOG(INFO) << Describe() << ": " << cursor_->entries() << " records in " << param.source();
  if (param.rand_skip() > 0) {
    const uint64_t skip = rng_() % param.rand_skip();
    LOG(INFO) << Describe() << ": skipping the first " << skip << " records";
    for (uint64_t i = 0; i < skip; ++i) Advance();
  }
  // Each batch in flight holds a whole batch of floats; a typo here should not exhaust memory.
  CONDENSE_CHECK(param.prefetch() <= 64, Describe(), ": data_param.prefetch ", param.prefetch(),
                 " is more batches ahead than can help; use at most 64");
  const std::string where = RecordWhere();
  StartPrefetching(transformer_->InferShape(ReadRecord(where), where), top,
                   static_cast<int>(param.prefetch()), [this](Batch* batch) { FillBatch(batch); });
}

std::string DataLayer::RecordWhere() const {
  return StrCat(Describe(), ": LMDB '", cursor_->path(), "' record '", cursor_->key(), "'");
}

Datum DataLayer::ReadRecord(const std::string& where) const {
  const std::string_view bytes = cursor_->value();
  Datum datum;
  CONDENSE_CHECK(datum.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())), where,
                 ": not a serialized Datum (", bytes.size(), " bytes)");
  return datum;
}

void DataLayer::Advance() {
  cursor_->Next();
  if (!cursor_->valid()) {
    DLOG(INFO) << Describe() << ": restarting from the first record";
    cursor_->SeekToFirst();
  }
}

void DataLayer::FillBatch(Batch* batch) {
  for (int64_t item = 0; item < batch_size_; ++item) {
    const std::string where = RecordWhere();
    Datum datum = ReadRecord(where);
    if (datum.encoded()) datum = transformer_->Decode(datum, where);
    float* out = BatchItem(batch, item, transformer_->InferShape(datum, where), where);
    transformer_->Transform(datum, &rng_, out, where);
    batch->label.mutable_data()[item] = static_cast<float>(datum.label());
    Advance();
  }
}

}  // namespace

CONDENSE_REGISTER_LAYER("Data", DataLayer);

}  // namespace condense
