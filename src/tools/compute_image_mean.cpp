// `condense compute_image_mean INPUT_DB [OUTPUT_FILE]`: the mean image of every Datum in an LMDB, as
// Caffe's compute_image_mean computes it, written as a .binaryproto BlobProto of shape 1 x C x H x W (in
// the legacy num/channels/height/width fields, as Caffe writes it) and replaced atomically. Logs the
// per-channel means, the figures a mean_value line wants. Sums are kept in double precision.
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <iostream>
#include <vector>

#include "condense/core/blob.hpp"
#include "condense/core/error.hpp"
#include "condense/core/proto_io.hpp"
#include "condense/data/datum.hpp"
#include "condense/data/lmdb_database.hpp"
#include "condense/proto/condense.pb.h"
#include "console_table.hpp"
#include "verb.hpp"

DECLARE_string(backend);  // defined in convert_mnist.cpp

namespace condense::tools {

namespace {

Datum ReadDecodedRecord(const LmdbCursor& cursor, const std::string& where) {
  Datum datum;
  const std::string_view bytes = cursor.value();
  CONDENSE_CHECK(datum.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())), where,
                 ": not a serialized Datum");
  return DecodeDatum(datum, DecodeColor::kNative, where);
}

int ComputeImageMeanMain(const VerbArgs& args) {
  CONDENSE_CHECK(args.size() == 1 || args.size() == 2,
                 "usage: condense compute_image_mean INPUT_DB [OUTPUT_FILE] (got ", args.size(),
                 " arguments)");
  CONDENSE_CHECK(FLAGS_backend == "lmdb", "--backend=", FLAGS_backend,
                 ": only lmdb is supported (LevelDB is not; convert to LMDB)");
  LmdbCursor cursor(args[0]);
  CONDENSE_CHECK(cursor.valid(), "LMDB '", args[0], "' holds no records");

  std::vector<int64_t> shape;
  std::vector<double> sums;
  int64_t records = 0;
  LOG(INFO) << "Starting iteration";
  for (; cursor.valid(); cursor.Next()) {
    const std::string where = StrCat("LMDB '", args[0], "' record '", cursor.key(), "'");
    const Datum datum = ReadDecodedRecord(cursor, where);
    const std::vector<int64_t> record_shape = CheckedDatumShape(datum, where);
    if (shape.empty()) {
      shape = record_shape;
      sums.assign(static_cast<size_t>(shape[0] * shape[1] * shape[2]), 0.0);
    }
    CONDENSE_CHECK(record_shape == shape, where, ": ", ShapeString(record_shape),
                   " differs from the first record's ", ShapeString(shape),
                   "; a mean needs one size");
    if (!datum.data().empty()) {
      const auto* bytes = reinterpret_cast<const uint8_t*>(datum.data().data());
      for (size_t i = 0; i < sums.size(); ++i) sums[i] += bytes[i];
    } else {
      for (size_t i = 0; i < sums.size(); ++i) sums[i] += datum.float_data(static_cast<int>(i));
    }
    if (++records % 10000 == 0) LOG(INFO) << "Processed " << records << " files.";
  }
  if (records % 10000 != 0) LOG(INFO) << "Processed " << records << " files.";

  BlobProto mean;
  mean.set_num(1);
  mean.set_channels(static_cast<int>(shape[0]));
  mean.set_height(static_cast<int>(shape[1]));
  mean.set_width(static_cast<int>(shape[2]));
  for (double sum : sums) mean.add_data(static_cast<float>(sum / records));
  if (args.size() == 2) {
    LOG(INFO) << "Write to " << args[1];
    WriteBinaryProtoFile(args[1], mean);
  }

  const int64_t plane = shape[1] * shape[2];
  LOG(INFO) << "Number of channels: " << shape[0];
  ConsoleTable table({"channel", "mean"});
  for (int64_t c = 0; c < shape[0]; ++c) {
    double channel_sum = 0.0;
    for (int64_t i = 0; i < plane; ++i) channel_sum += mean.data(static_cast<int>(c * plane + i));
    const double channel_mean = channel_sum / static_cast<double>(plane);
    LOG(INFO) << "mean_value channel [" << c << "]: " << channel_mean;
    table.AddRow({std::to_string(c), FormatFixed(channel_mean, 4)});
  }
  std::cout << "\n" << args[0] << ": mean of " << records << " records of " << ShapeString(shape)
            << "\n" << table.Render();
  return 0;
}

}  // namespace

CONDENSE_REGISTER_VERB("compute_image_mean",
                       "mean image of an LMDB as a .binaryproto: INPUT_DB [OUTPUT_FILE]",
                       ComputeImageMeanMain);

}  // namespace condense::tools
