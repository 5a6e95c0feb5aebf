// `condense convert_mnist IMAGES LABELS DB`: writes an MNIST (or Fashion-MNIST) idx image/label pair as
// an LMDB of Datum records, record for record what Caffe's convert_mnist_data writes: keys "%08d" of the
// index, channels 1, height rows, width cols, the raw uint8 pixels and the label. The idx files may be
// gzipped. An existing DB is refused, and the database is built beside it and renamed into place at the
// end, so an interrupted run leaves nothing under the requested name.
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <cstdio>
#include <iostream>
#include <vector>

#include "condense/core/error.hpp"
#include "condense/data/idx_file.hpp"
#include "condense/data/lmdb_database.hpp"
#include "condense/proto/condense.pb.h"
#include "console_table.hpp"
#include "verb.hpp"

// Shared by the data verbs (convert_mnist, convert_imageset, compute_image_mean), defined here once.
DEFINE_string(backend, "lmdb", "Database format of the data verbs: lmdb (LevelDB is not supported).");

namespace condense::tools {

namespace {

int ConvertMnistMain(const VerbArgs& args) {
  CONDENSE_CHECK(args.size() == 3, "usage: condense convert_mnist IMAGES LABELS DB [--backend=lmdb] (got ",
                 args.size(), " arguments)");
  CONDENSE_CHECK(FLAGS_backend == "lmdb", "--backend=", FLAGS_backend,
                 ": only lmdb is supported (LevelDB is not; convert to LMDB)");
  const std::string& images_path = args[0];
  const std::string& labels_path = args[1];
  const std::string& db_path = args[2];

  const IdxImages images = ReadIdxImages(images_path);
  const std::vector<uint8_t> labels = ReadIdxLabels(labels_path);
  CONDENSE_CHECK(static_cast<int64_t>(labels.size()) == images.count, labels_path, ": ",
                 labels.size(), " labels for the ", images.count, " images of ", images_path);
  LOG(INFO) << "A total of " << images.count << " items.";
  LOG(INFO) << "Rows: " << images.rows << " Cols: " << images.cols;

  LmdbWriter writer(db_path);
  Datum datum;
  datum.set_channels(1);
  datum.set_height(static_cast<int>(images.rows));
  datum.set_width(static_cast<int>(images.cols));
  std::vector<int64_t> label_counts(256, 0);
  char key[32];
  for (int64_t index = 0; index < images.count; ++index) {
    datum.set_data(images.image(index), static_cast<size_t>(images.image_size()));
    datum.set_label(labels[index]);
    ++label_counts[labels[index]];
    std::snprintf(key, sizeof(key), "%08lld", static_cast<long long>(index));
    writer.Put(key, datum.SerializeAsString());
    if ((index + 1) % 10000 == 0) LOG(INFO) << "Processed " << index + 1 << " of " << images.count;
  }
  writer.Finish();
  LOG(INFO) << "Processed " << images.count << " files; wrote " << db_path;

  ConsoleTable table({"label", "records"});
  for (int label = 0; label < 256; ++label) {
    if (label_counts[label] > 0) table.AddRow({std::to_string(label), std::to_string(label_counts[label])});
  }
  table.AddRow({"all", std::to_string(images.count)});
  std::cout << "\n" << db_path << ": " << images.count << " Datum records of 1x" << images.rows << "x"
            << images.cols << "\n" << table.Render();
  return 0;
}

}  // namespace

CONDENSE_REGISTER_VERB("convert_mnist",
                       "idx images+labels (plain or .gz) to an LMDB of Datum: IMAGES LABELS DB",
                       ConvertMnistMain);

}  // namespace condense::tools
