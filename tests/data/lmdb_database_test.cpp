#include "condense/data/lmdb_database.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>

#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"
#include "condense/proto/condense.pb.h"
#include "data_test_helpers.hpp"
#include "support/shared_data.hpp"

namespace condense {
namespace {

using testing::ErrorOf;

constexpr char kCaffeLmdb[] = "trafficsign_lmdb_h5/lmdb/cifar10_test_lmdb";

class LmdbDatabaseTest : public testing::TempDirTest {
 protected:
};

TEST_F(LmdbDatabaseTest, ReadsTheCaffeWrittenLmdbInKeyOrder) {
  CONDENSE_REQUIRE_SHARED(path, kCaffeLmdb);
  const std::string lock_before = ReadFileToString(path + "/lock.mdb");
  {
    LmdbCursor cursor(path);
    EXPECT_EQ(cursor.entries(), 527);
    ASSERT_TRUE(cursor.valid());
    EXPECT_EQ(cursor.key(), "00000000_Stop.41.png");
    std::map<int, int> label_counts;
    std::string previous_key;
    int records = 0;
    for (; cursor.valid(); cursor.Next(), ++records) {
      const std::string key(cursor.key());
      EXPECT_LT(previous_key, key);
      previous_key = key;
      Datum datum;
      ASSERT_TRUE(datum.ParseFromArray(cursor.value().data(), static_cast<int>(cursor.value().size())));
      EXPECT_EQ(datum.channels(), 3);
      EXPECT_EQ(datum.height(), 32);
      EXPECT_EQ(datum.width(), 32);
      EXPECT_EQ(datum.data().size(), 3072u);
      EXPECT_FALSE(datum.encoded());
      ++label_counts[datum.label()];
      // Same field numbers as caffe.proto: our serialization reproduces Caffe's bytes.
      EXPECT_EQ(datum.SerializeAsString(), std::string(cursor.value()));
    }
    EXPECT_EQ(records, 527);
    const std::map<int, int> expected = {{0, 60}, {1, 59}, {2, 60}, {3, 60}, {4, 60},
                                         {5, 59}, {6, 53}, {7, 58}, {8, 58}};
    EXPECT_EQ(label_counts, expected);
    cursor.SeekToFirst();
    EXPECT_EQ(cursor.key(), "00000000_Stop.41.png");
  }
  // Reading never writes to the database's lock file.
  EXPECT_EQ(ReadFileToString(path + "/lock.mdb"), lock_before);
}

TEST_F(LmdbDatabaseTest, WriterCommitsInBatchesAndReadsBackInKeyOrder) {
  const std::string path = dir_ + "/db";
  {
    LmdbWriter writer(path, 100);
    // Put out of order: LMDB sorts by key.
    for (int i = 249; i >= 0; --i) {
      char key[16];
      std::snprintf(key, sizeof(key), "%08d", i);
      writer.Put(key, "value " + std::to_string(i));
    }
    EXPECT_EQ(writer.count(), 250);
    EXPECT_FALSE(FileExists(path));  // nothing under the final name before Finish
    writer.Finish();
  }
  ASSERT_TRUE(IsLmdb(path));
  LmdbCursor cursor(path);
  EXPECT_EQ(cursor.entries(), 250);
  for (int i = 0; i < 250; ++i, cursor.Next()) {
    ASSERT_TRUE(cursor.valid());
    char key[16];
    std::snprintf(key, sizeof(key), "%08d", i);
    EXPECT_EQ(cursor.key(), key);
    EXPECT_EQ(cursor.value(), "value " + std::to_string(i));
  }
  EXPECT_FALSE(cursor.valid());
  // Only the finished database is left in the folder: no temporary directory.
  int entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    (void)entry;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST_F(LmdbDatabaseTest, WriterGrowsTheMapForLargeDatabases) {
  const std::string path = dir_ + "/big";
  const std::string value(1 << 20, 'x');
  {
    LmdbWriter writer(path, 50);
    for (int i = 0; i < 150; ++i) writer.Put("k" + std::to_string(1000 + i), value);
    writer.Finish();
  }
  LmdbCursor cursor(path);
  EXPECT_EQ(cursor.entries(), 150);
  EXPECT_EQ(cursor.value().size(), value.size());
}

TEST_F(LmdbDatabaseTest, WriterRefusesAnExistingPath) {
  const std::string path = dir_ + "/exists";
  MakeDirectories(path);
  const std::string message = ErrorOf([&] { LmdbWriter writer(path); });
  EXPECT_NE(message.find("already exists"), std::string::npos) << message;
  EXPECT_NE(message.find(path), std::string::npos) << message;
}

TEST_F(LmdbDatabaseTest, AnUnfinishedWriterLeavesNothingBehind) {
  const std::string path = dir_ + "/interrupted";
  {
    LmdbWriter writer(path, 10);
    for (int i = 0; i < 25; ++i) writer.Put("k" + std::to_string(i), "v");
  }
  EXPECT_FALSE(FileExists(path));
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
}

TEST_F(LmdbDatabaseTest, WriterIgnoresTrailingSlashes) {
  // "out/db/" once staged the database inside out/db/ and then failed to rename it onto its parent.
  {
    LmdbWriter writer(dir_ + "/db//", 10);
    writer.Put("k", "v");
    writer.Finish();
    EXPECT_EQ(writer.path(), dir_ + "/db");
  }
  LmdbCursor cursor(dir_ + "/db");
  EXPECT_EQ(cursor.entries(), 1);
  // Nothing but the database itself is left in the output directory.
  int entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().filename(), "db");
    ++entries;
  }
  EXPECT_EQ(entries, 1);
  const std::string message = ErrorOf([&] { LmdbWriter writer(dir_ + "/db/"); });
  EXPECT_NE(message.find("already exists"), std::string::npos) << message;
}

TEST_F(LmdbDatabaseTest, AWriterThatCannotOpenLeavesNoStagingDirectory) {
  // A path whose staging directory can be made but whose files (".../lock.mdb") exceed PATH_MAX:
  // mdb_env_open fails after the directory exists.
  std::string parent = dir_;
  const std::string suffix = ".partial-" + std::to_string(::getpid());
  constexpr size_t kStagingLength = 4090;  // + "/lock.mdb" passes 4095, the longest path Linux takes
  while (parent.size() + 1 + 200 + 1 + suffix.size() < kStagingLength) {
    parent += "/" + std::string(200, 'p');
  }
  const std::string path =
      parent + "/" + std::string(kStagingLength - parent.size() - 1 - suffix.size(), 'd');
  ASSERT_EQ(path.size() + suffix.size(), kStagingLength);
  EXPECT_THROW(LmdbWriter writer(path), Error);
  EXPECT_FALSE(FileExists(path + suffix));
  EXPECT_FALSE(FileExists(path));
}

TEST_F(LmdbDatabaseTest, ErrorsNameThePath) {
  const std::string missing = dir_ + "/no_such_db";
  std::string message = ErrorOf([&] { LmdbCursor cursor(missing); });
  EXPECT_NE(message.find("missing LMDB"), std::string::npos) << message;
  EXPECT_NE(message.find(missing), std::string::npos) << message;

  const std::string file = dir_ + "/plain_file";
  std::ofstream(file) << "not a database";
  message = ErrorOf([&] { LmdbCursor cursor(file); });
  EXPECT_NE(message.find("not an LMDB"), std::string::npos) << message;

  const std::string empty = dir_ + "/empty_dir";
  MakeDirectories(empty);
  message = ErrorOf([&] { LmdbCursor cursor(empty); });
  EXPECT_NE(message.find("not an LMDB"), std::string::npos) << message;

  const std::string leveldb = dir_ + "/leveldb";
  MakeDirectories(leveldb);
  std::ofstream(leveldb + "/CURRENT") << "MANIFEST-000001\n";
  message = ErrorOf([&] { LmdbCursor cursor(leveldb); });
  EXPECT_NE(message.find("LevelDB is not supported"), std::string::npos) << message;

  const std::string corrupt = dir_ + "/corrupt";
  MakeDirectories(corrupt);
  std::ofstream(corrupt + "/data.mdb") << std::string(10000, 'z');
  EXPECT_THROW(LmdbCursor cursor(corrupt), Error);
}

}  // namespace
}  // namespace condense
