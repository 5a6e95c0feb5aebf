// The Data layer, built directly from the registry (no Net): reading order, wrap-around, prefetching
// against synchronous reads, rand_skip, and the errors on bad settings.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "condense/core/error.hpp"
#include "condense/core/random.hpp"
#include "condense/data/datum.hpp"
#include "condense/data/lmdb_database.hpp"
#include "condense/net/layer_registry.hpp"
#include "data_test_helpers.hpp"
#include "support/shared_data.hpp"

namespace condense {
namespace {

using testing::ErrorOf;

constexpr char kCaffeLmdb[] = "trafficsign_lmdb_h5/lmdb/cifar10_test_lmdb";
constexpr char kCaffeMean[] = "trafficsign_lmdb_h5/cifar10_mean.binaryproto";

LayerParameter DataLayerParam(const std::string& source, int batch_size, Phase phase) {
  LayerParameter param;
  param.set_name("data");
  param.set_type("Data");
  param.set_phase(phase);
  param.add_top("data");
  param.add_top("label");
  param.mutable_data_param()->set_source(source);
  param.mutable_data_param()->set_batch_size(batch_size);
  param.mutable_data_param()->set_backend(DataParameter::LMDB);
  return param;
}

// A set-up layer and its two tops.
struct DataSource {
  std::unique_ptr<Layer> layer;
  Blob data;
  Blob label;

  explicit DataSource(const LayerParameter& param) : layer(LayerRegistry::Create(param)) {
    layer->SetUp({}, {&data, &label});
  }
  void Forward() { layer->Forward({}, {&data, &label}); }
};

std::vector<Datum> ReadAllRecords(const std::string& path) {
  std::vector<Datum> records;
  for (LmdbCursor cursor(path); cursor.valid(); cursor.Next()) {
    records.emplace_back();
    records.back().ParseFromArray(cursor.value().data(), static_cast<int>(cursor.value().size()));
  }
  return records;
}

TEST(DataLayerTest, ReadsCaffeLmdbInKeyOrderAndWrapsAround) {
  CONDENSE_REQUIRE_SHARED(path, kCaffeLmdb);
  const std::vector<Datum> records = ReadAllRecords(path);
  ASSERT_EQ(records.size(), 527u);
  DataSource source(DataLayerParam(path, 100, TEST));
  EXPECT_EQ(source.data.shape(), (std::vector<int64_t>{100, 3, 32, 32}));
  EXPECT_EQ(source.label.shape(), (std::vector<int64_t>{100}));
  EXPECT_STREQ(source.layer->type(), "Data");
  for (int pass = 0; pass < 6; ++pass) {  // 600 records: the sixth batch wraps to the start
    source.Forward();
    for (int item = 0; item < 100; ++item) {
      const Datum& record = records[(pass * 100 + item) % 527];
      ASSERT_EQ(source.label.data()[item], static_cast<float>(record.label()));
      const float* pixels = source.data.data() + item * 3072;
      for (int i = 0; i < 3072; i += 97) {
        ASSERT_EQ(pixels[i], static_cast<float>(static_cast<uint8_t>(record.data()[i])))
            << "batch " << pass << " item " << item;
      }
    }
  }
}

TEST(DataLayerTest, PrefetchingGivesTheSameBatchesAsSynchronousReads) {
  CONDENSE_REQUIRE_SHARED(path, kCaffeLmdb);
  CONDENSE_REQUIRE_SHARED(mean, kCaffeMean);
  LayerParameter param = DataLayerParam(path, 64, TRAIN);
  param.mutable_data_param()->set_rand_skip(50);
  param.mutable_transform_param()->set_crop_size(28);
  param.mutable_transform_param()->set_mirror(true);
  param.mutable_transform_param()->set_mean_file(mean);
  param.mutable_transform_param()->set_scale(0.0078125f);

  param.mutable_data_param()->set_prefetch(4);
  SeedRandom(2024);
  DataSource prefetched(param);
  param.mutable_data_param()->set_prefetch(0);
  SeedRandom(2024);
  DataSource synchronous(param);
  EXPECT_EQ(prefetched.data.shape(), (std::vector<int64_t>{64, 3, 28, 28}));
  for (int iteration = 0; iteration < 12; ++iteration) {
    prefetched.Forward();
    synchronous.Forward();
    ASSERT_EQ(prefetched.data.count(), synchronous.data.count());
    for (int64_t i = 0; i < prefetched.data.count(); ++i) {
      ASSERT_EQ(prefetched.data.data()[i], synchronous.data.data()[i]) << "iteration " << iteration;
    }
    for (int i = 0; i < 64; ++i) ASSERT_EQ(prefetched.label.data()[i], synchronous.label.data()[i]);
  }
  // Another seed gives other crops.
  SeedRandom(7);
  DataSource other(param);
  other.Forward();
  SeedRandom(2024);
  DataSource again(param);
  again.Forward();
  bool differs = false;
  for (int64_t i = 0; i < other.data.count() && !differs; ++i) {
    differs = other.data.data()[i] != again.data.data()[i];
  }
  EXPECT_TRUE(differs);
}

TEST(DataLayerTest, RandSkipStartsAtTheDrawnRecord) {
  CONDENSE_REQUIRE_SHARED(path, kCaffeLmdb);
  const std::vector<Datum> records = ReadAllRecords(path);
  SeedRandom(77);
  RandomEngine replay = ForkRandom();  // the layer forks exactly once, at set-up
  const uint64_t skip = replay() % 300;
  LayerParameter param = DataLayerParam(path, 1, TEST);
  param.mutable_data_param()->set_rand_skip(300);
  SeedRandom(77);
  DataSource source(param);
  source.Forward();
  EXPECT_EQ(source.label.data()[0], static_cast<float>(records[skip].label()));
  EXPECT_EQ(source.data.data()[1],
            static_cast<float>(static_cast<uint8_t>(records[skip].data()[1])));
}

class DataLayerFileTest : public testing::TempDirTest {
 protected:

  // An LMDB of 1 x 2 x 2 records whose pixels are 10i + p; the Datum may be tweaked per record.
  std::string MakeDb(const std::string& name, int count,
                     const std::function<void(int, Datum*)>& tweak = nullptr) {
    const std::string path = dir_ + "/" + name;
    LmdbWriter writer(path);
    for (int i = 0; i < count; ++i) {
      Datum datum;
      datum.set_channels(1);
      datum.set_height(2);
      datum.set_width(2);
      datum.set_label(i);
      for (int p = 0; p < 4; ++p) datum.mutable_data()->push_back(static_cast<char>(10 * i + p));
      if (tweak) tweak(i, &datum);
      char key[16];
      std::snprintf(key, sizeof(key), "%08d", i);
      writer.Put(key, datum.SerializeAsString());
    }
    writer.Finish();
    return path;
  }
};

TEST_F(DataLayerFileTest, TransformsAndLabelsEachRecord) {
  LayerParameter param = DataLayerParam(MakeDb("db", 3), 2, TEST);
  param.mutable_transform_param()->set_scale(0.5f);
  DataSource source(param);
  EXPECT_EQ(source.data.shape(), (std::vector<int64_t>{2, 1, 2, 2}));
  source.Forward();
  EXPECT_EQ(std::vector<float>(source.data.data(), source.data.data() + 8),
            (std::vector<float>{0, 0.5, 1, 1.5, 5, 5.5, 6, 6.5}));
  EXPECT_EQ(source.label.data()[1], 1.0f);
  source.Forward();  // record 2, then record 0 again
  EXPECT_EQ(source.label.data()[0], 2.0f);
  EXPECT_EQ(source.label.data()[1], 0.0f);
  EXPECT_EQ(source.data.data()[0], 10.0f);
}

TEST_F(DataLayerFileTest, DecodesEncodedRecords) {
  const std::string path = MakeDb("encoded", 2, [](int i, Datum* datum) {
    cv::Mat image(2, 2, CV_8UC1);
    for (int p = 0; p < 4; ++p) image.data[p] = static_cast<uint8_t>(10 * i + p);
    std::vector<uchar> png;
    cv::imencode(".png", image, png);
    datum->Clear();
    datum->set_data(png.data(), png.size());
    datum->set_encoded(true);
    datum->set_label(i);
  });
  DataSource source(DataLayerParam(path, 2, TEST));
  EXPECT_EQ(source.data.shape(), (std::vector<int64_t>{2, 1, 2, 2}));
  source.Forward();
  EXPECT_EQ(source.data.data()[5], 11.0f);
}

TEST_F(DataLayerFileTest, WorksWithoutALabelTop) {
  LayerParameter param = DataLayerParam(MakeDb("db", 2), 2, TEST);
  param.clear_top();
  param.add_top("data");
  std::unique_ptr<Layer> layer = LayerRegistry::Create(param);
  Blob data;
  layer->SetUp({}, {&data});
  layer->Forward({}, {&data});
  EXPECT_EQ(data.data()[4], 10.0f);
}

TEST_F(DataLayerFileTest, RecordsOfOneBatchMustShareASize) {
  const std::string path = MakeDb("mixed", 2, [](int i, Datum* datum) {
    if (i == 1) {
      datum->set_width(1);
      datum->mutable_data()->resize(2);
    }
  });
  DataSource source(DataLayerParam(path, 2, TEST));
  const std::string message = ErrorOf([&] { source.Forward(); });
  EXPECT_NE(message.find("00000001"), std::string::npos) << message;
}

TEST_F(DataLayerFileTest, RefusesBadSettingsAndBadRecords) {
  const std::string path = MakeDb("db", 2);
  std::string message = ErrorOf([&] { DataSource source(DataLayerParam(path, 0, TEST)); });
  EXPECT_NE(message.find("batch_size"), std::string::npos) << message;

  const std::string missing = dir_ + "/nowhere_lmdb";
  message = ErrorOf([&] { DataSource source(DataLayerParam(missing, 4, TEST)); });
  EXPECT_NE(message.find("missing LMDB"), std::string::npos) << message;
  EXPECT_NE(message.find(missing), std::string::npos) << message;

  LayerParameter leveldb = DataLayerParam(path, 4, TEST);
  leveldb.mutable_data_param()->set_backend(DataParameter::LEVELDB);
  message = ErrorOf([&] { DataSource source(leveldb); });
  EXPECT_NE(message.find("LevelDB is not supported"), std::string::npos) << message;

  message = ErrorOf([&] { DataSource source(DataLayerParam("", 4, TEST)); });
  EXPECT_NE(message.find("source"), std::string::npos) << message;

  const std::string not_datum = dir_ + "/not_datum";
  {
    LmdbWriter writer(not_datum);
    writer.Put("00000000", std::string("\xff\xff\xff\xff", 4));
    writer.Finish();
  }
  EXPECT_THROW(DataSource source(DataLayerParam(not_datum, 1, TEST)), Error);

  const std::string bad_size = MakeDb("bad_size", 1, [](int, Datum* datum) { datum->set_height(3); });
  message = ErrorOf([&] { DataSource source(DataLayerParam(bad_size, 1, TEST)); });
  EXPECT_NE(message.find("needs 6 bytes"), std::string::npos) << message;
}

}  // namespace
}  // namespace condense
