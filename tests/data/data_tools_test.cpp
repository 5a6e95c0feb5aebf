// End-to-end runs of the data verbs of the `condense` program: convert_mnist, convert_imageset and
// compute_image_mean, checked by reading what they wrote.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "condense/core/file_io.hpp"
#include "condense/core/proto_io.hpp"
#include "condense/data/idx_file.hpp"
#include "condense/data/lmdb_database.hpp"
#include "condense/proto/condense.pb.h"
#include "data_test_helpers.hpp"
#include "support/shared_data.hpp"

namespace condense {
namespace {

class DataToolsTest : public testing::TempDirTest {
 protected:
  void SetUp() override {
    binary_ = testing::CondenseBinary();
    if (!FileExists(binary_)) GTEST_SKIP() << "the condense program is not built at " << binary_;
    TempDirTest::SetUp();
  }

  // Runs `condense <arguments>`; returns the exit code and keeps stderr in last_stderr_.
  int Condense(const std::string& arguments) {
    const std::string err = dir_ + "/stderr.txt";
    const std::string command = "'" + binary_ + "' " + arguments + " > /dev/null 2> '" + err + "'";
    const int status = std::system(command.c_str());
    last_stderr_ = FileExists(err) ? ReadFileToString(err) : "";
    std::filesystem::remove(err);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::vector<std::string> DirectoryEntries() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  }

  std::string binary_;
  std::string last_stderr_;
};

TEST_F(DataToolsTest, ConvertMnistWritesTheRecordsCaffeWrites) {
  CONDENSE_REQUIRE_SHARED(images_path, "mnist/t10k-a-images-idx3-ubyte.gz");
  CONDENSE_REQUIRE_SHARED(labels_path, "mnist/t10k-a-labels-idx1-ubyte.gz");
  const std::string db = dir_ + "/mnist_lmdb";
  ASSERT_EQ(Condense("convert_mnist '" + images_path + "' '" + labels_path + "' '" + db + "'"), 0)
      << last_stderr_;
  EXPECT_EQ(DirectoryEntries(), std::vector<std::string>{"mnist_lmdb"});  // no temporary left

  const IdxImages images = ReadIdxImages(images_path);
  const std::vector<uint8_t> labels = ReadIdxLabels(labels_path);
  LmdbCursor cursor(db);
  ASSERT_EQ(cursor.entries(), 5000);
  // Caffe's record 0 byte for byte: channels 1, height 28, width 28, 784 data bytes, label.
  const std::string header("\x08\x01\x10\x1c\x18\x1c\x22\x90\x06", 9);
  const std::string value0(cursor.value());
  EXPECT_EQ(value0.substr(0, 9), header);
  EXPECT_EQ(value0.substr(9, 784), std::string(reinterpret_cast<const char*>(images.image(0)), 784));
  EXPECT_EQ(value0.substr(793), std::string("\x28\x07", 2));  // label 7
  for (int index = 0; index < 5000; ++index, cursor.Next()) {
    ASSERT_TRUE(cursor.valid());
    char key[16];
    std::snprintf(key, sizeof(key), "%08d", index);
    ASSERT_EQ(cursor.key(), key);
    Datum datum;
    ASSERT_TRUE(datum.ParseFromArray(cursor.value().data(), static_cast<int>(cursor.value().size())));
    ASSERT_EQ(datum.channels(), 1);
    ASSERT_EQ(datum.height(), 28);
    ASSERT_EQ(datum.width(), 28);
    ASSERT_EQ(datum.label(), labels[index]);
    ASSERT_FALSE(datum.encoded());
    ASSERT_EQ(datum.data(), std::string(reinterpret_cast<const char*>(images.image(index)), 784));
  }
  EXPECT_FALSE(cursor.valid());

  // Like Caffe, an existing database is never overwritten.
  EXPECT_EQ(Condense("convert_mnist '" + images_path + "' '" + labels_path + "' '" + db + "'"), 1);
  EXPECT_NE(last_stderr_.find("already exists"), std::string::npos) << last_stderr_;
}

TEST_F(DataToolsTest, ConvertMnistRefusesBadInputsAndLeavesNothing) {
  CONDENSE_REQUIRE_SHARED(images_path, "mnist/t10k-a-images-idx3-ubyte.gz");
  CONDENSE_REQUIRE_SHARED(labels_path, "mnist/t10k-labels-idx1-ubyte.gz");  // 10000 labels, 5000 images
  const std::string db = dir_ + "/db";
  EXPECT_EQ(Condense("convert_mnist '" + images_path + "' '" + labels_path + "' '" + db + "'"), 1);
  EXPECT_NE(last_stderr_.find("10000 labels"), std::string::npos) << last_stderr_;
  EXPECT_EQ(Condense("convert_mnist '" + labels_path + "' '" + labels_path + "' '" + db + "'"), 1);
  EXPECT_NE(last_stderr_.find("magic"), std::string::npos) << last_stderr_;
  EXPECT_EQ(Condense("convert_mnist --backend=leveldb '" + images_path + "' '" + labels_path + "' '" +
                     db + "'"),
            1);
  EXPECT_NE(last_stderr_.find("LevelDB"), std::string::npos) << last_stderr_;
  EXPECT_TRUE(DirectoryEntries().empty());
}

TEST_F(DataToolsTest, ConvertMnistIntoAPathWithATrailingSlash) {
  const std::string files = std::string(CONDENSE_SOURCE_DIR) + "/tests/bad_inputs/files";
  const std::string inputs = "'" + files + "/images_2x3x3.idx' '" + files + "/labels_2.idx' ";
  // "db/" once staged the database inside db/ and then failed, leaving an empty db/ behind.
  ASSERT_EQ(Condense("convert_mnist " + inputs + "'" + dir_ + "/db/'"), 0) << last_stderr_;
  EXPECT_EQ(DirectoryEntries(), std::vector<std::string>{"db"});
  EXPECT_EQ(LmdbCursor(dir_ + "/db").entries(), 2);
  EXPECT_EQ(Condense("convert_mnist " + inputs + "'" + dir_ + "/db/'"), 1);
  EXPECT_NE(last_stderr_.find("already exists"), std::string::npos) << last_stderr_;
}

TEST_F(DataToolsTest, ConvertImagesetRefusesEncodingsOpenCvCannotWrite) {
  const std::string images = dir_ + "/images";
  MakeDirectories(images);
  // A PNG under an extension OpenCV has no encoder for: reading works (by content), re-encoding not.
  ASSERT_TRUE(cv::imwrite(images + "/a.png", cv::Mat(4, 4, CV_8UC3, cv::Scalar(10, 20, 30))));
  std::filesystem::rename(images + "/a.png", images + "/a.xyz");
  const std::string list = images + "/list.txt";
  std::ofstream(list) << "a.xyz 1\n";
  const std::string db = dir_ + "/db";
  for (const std::string type : {"xyz", "png;"}) {
    EXPECT_EQ(Condense("convert_imageset --encode_type='" + type + "' '" + images + "/' '" + list +
                       "' '" + db + "'"),
              1)
        << type;
    EXPECT_NE(last_stderr_.find("--encode_type='" + type + "': OpenCV has no encoder"),
              std::string::npos)
        << last_stderr_;
  }
  // The encoding guessed from the extension, needed because the image is resized: an error naming it.
  EXPECT_EQ(Condense("convert_imageset --encoded --resize_width=2 --resize_height=2 '" + images +
                     "/' '" + list + "' '" + db + "'"),
            1);
  EXPECT_NE(last_stderr_.find("a.xyz: cannot re-encode the image as 'xyz'"), std::string::npos)
      << last_stderr_;
  EXPECT_EQ(last_stderr_.find("cv::Exception"), std::string::npos) << last_stderr_;
  // A leading dot is the same format; the database is written.
  ASSERT_EQ(Condense("convert_imageset --encode_type=.PNG '" + images + "/' '" + list + "' '" + db + "'"),
            0)
      << last_stderr_;
  LmdbCursor cursor(db);
  Datum datum;
  datum.ParseFromArray(cursor.value().data(), static_cast<int>(cursor.value().size()));
  EXPECT_TRUE(datum.encoded());
  EXPECT_EQ(datum.data().substr(1, 3), "PNG");
}

TEST_F(DataToolsTest, ComputeImageMeanOfTheCaffeLmdb) {
  CONDENSE_REQUIRE_SHARED(lmdb_path, "trafficsign_lmdb_h5/lmdb/cifar10_test_lmdb");
  const std::string mean_path = dir_ + "/mean.binaryproto";
  ASSERT_EQ(Condense("compute_image_mean '" + lmdb_path + "' '" + mean_path + "'"), 0) << last_stderr_;
  EXPECT_NE(last_stderr_.find("mean_value channel [2]"), std::string::npos) << last_stderr_;
  BlobProto mean;
  ReadBinaryProtoFile(mean_path, &mean);
  EXPECT_EQ(mean.num(), 1);
  EXPECT_EQ(mean.channels(), 3);
  EXPECT_EQ(mean.height(), 32);
  EXPECT_EQ(mean.width(), 32);
  ASSERT_EQ(mean.data_size(), 3072);
  std::vector<double> sums(3072, 0.0);
  int records = 0;
  for (LmdbCursor cursor(lmdb_path); cursor.valid(); cursor.Next(), ++records) {
    Datum datum;
    datum.ParseFromArray(cursor.value().data(), static_cast<int>(cursor.value().size()));
    for (int i = 0; i < 3072; ++i) sums[i] += static_cast<uint8_t>(datum.data()[i]);
  }
  for (int i = 0; i < 3072; ++i) ASSERT_EQ(mean.data(i), static_cast<float>(sums[i] / records));

  EXPECT_EQ(Condense("compute_image_mean '" + dir_ + "/no_such_lmdb'"), 1);
  EXPECT_NE(last_stderr_.find("missing LMDB"), std::string::npos) << last_stderr_;
}

TEST_F(DataToolsTest, ConvertImagesetWithCaffesKeysAndFlags) {
  const std::string images = testing::SharedDataPath("squeezenet/images");
  if (images.empty()) GTEST_SKIP() << "../shared/data/squeezenet/images is absent";
  const std::string list = dir_ + "/list.txt";
  std::ofstream(list) << "cat.jpg 281\nfish-bike.jpg 5\nnot_there.jpg 1\ncat_gray.jpg 282\n";

  const std::string raw = dir_ + "/raw_lmdb";
  ASSERT_EQ(Condense("convert_imageset --resize_width=16 --resize_height=12 --check_size '" + images +
                     "/' '" + list + "' '" + raw + "'"),
            0)
      << last_stderr_;
  EXPECT_NE(last_stderr_.find("not_there.jpg"), std::string::npos) << last_stderr_;
  std::vector<std::string> keys;
  for (LmdbCursor cursor(raw); cursor.valid(); cursor.Next()) {
    keys.emplace_back(cursor.key());
    Datum datum;
    datum.ParseFromArray(cursor.value().data(), static_cast<int>(cursor.value().size()));
    EXPECT_EQ(datum.channels(), 3);
    EXPECT_EQ(datum.height(), 12);
    EXPECT_EQ(datum.width(), 16);
    EXPECT_EQ(datum.data().size(), 3u * 12 * 16);
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"00000000_cat.jpg", "00000001_fish-bike.jpg",
                                            "00000003_cat_gray.jpg"}));

  const std::string gray = dir_ + "/gray_lmdb";
  ASSERT_EQ(Condense("convert_imageset --gray '" + images + "/' '" + list + "' '" + gray + "'"), 0)
      << last_stderr_;
  {
    LmdbCursor cursor(gray);
    Datum datum;
    datum.ParseFromArray(cursor.value().data(), static_cast<int>(cursor.value().size()));
    EXPECT_EQ(datum.channels(), 1);
    EXPECT_EQ(datum.height(), 360);
    EXPECT_EQ(datum.width(), 480);
    EXPECT_EQ(datum.label(), 281);
  }

  // Encoded, no resize, same format: the file's own bytes are stored.
  const std::string encoded = dir_ + "/encoded_lmdb";
  ASSERT_EQ(Condense("convert_imageset --encoded '" + images + "/' '" + list + "' '" + encoded + "'"),
            0)
      << last_stderr_;
  {
    LmdbCursor cursor(encoded);
    Datum datum;
    datum.ParseFromArray(cursor.value().data(), static_cast<int>(cursor.value().size()));
    EXPECT_TRUE(datum.encoded());
    EXPECT_EQ(datum.data(), ReadFileToString(images + "/cat.jpg"));
  }
  EXPECT_EQ(Condense("convert_imageset '" + images + "/' '" + list + "' '" + encoded + "'"), 1);
  EXPECT_NE(last_stderr_.find("already exists"), std::string::npos) << last_stderr_;
}

}  // namespace
}  // namespace condense
