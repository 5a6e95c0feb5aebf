// Determinism of training: two `condense train` runs with the same random_seed and the same thread
// count (2) end with bit-identical weights, with the Data layer prefetching batches on its own thread
// and drawing random crops and mirrors, and a Dropout layer drawing masks. The data is an LMDB that
// convert_mnist makes from ../shared/data/mnist (skipped when absent). A run with another seed must
// differ, so the comparison is not trivially true.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"
#include "support/shared_data.hpp"

namespace condense {
namespace {

constexpr int kMaxIter = 100;

std::string NetText(const std::string& lmdb) {
  return StrCat(R"(name: "determinism"
layer { name: "mnist" type: "Data" top: "data" top: "label"
  transform_param { scale: 0.00390625 crop_size: 24 mirror: true }
  data_param { source: ")", lmdb, R"(" batch_size: 32 backend: LMDB prefetch: 4 } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 8 kernel_size: 5 weight_filler { type: "xavier" } } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "fc1" type: "InnerProduct" bottom: "pool" top: "fc1"
  inner_product_param { num_output: 32 weight_filler { type: "xavier" } } }
layer { name: "drop" type: "Dropout" bottom: "fc1" top: "fc1" dropout_param { dropout_ratio: 0.3 } }
layer { name: "fc2" type: "InnerProduct" bottom: "fc1" top: "fc2"
  inner_product_param { num_output: 10 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc2" bottom: "label" top: "loss" }
)");
}

class DeterminismTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string images = testing::SharedDataPath("mnist/t10k-images-idx3-ubyte.gz");
    const std::string labels = testing::SharedDataPath("mnist/t10k-labels-idx1-ubyte.gz");
    if (images.empty() || labels.empty()) return;
    root_ = testing::MakeTempDir("condense_determinism_");
    lmdb_ = root_ + "/mnist_lmdb";
    const std::string command = "'" + testing::CondenseBinary() + "' convert_mnist '" + images +
                                "' '" + labels + "' '" + lmdb_ + "' > '" + root_ +
                                "/convert.log' 2>&1";
    if (std::system(command.c_str()) != 0) lmdb_.clear();
  }
  static void TearDownTestSuite() {
    if (!root_.empty()) std::filesystem::remove_all(root_);
    root_.clear();
  }

  void SetUp() override {
    if (root_.empty()) {
      GTEST_SKIP() << "../shared/data/mnist is absent: skipping the training determinism test";
    }
    ASSERT_FALSE(lmdb_.empty()) << "convert_mnist failed: " << ReadFileToString(root_ + "/convert.log");
  }

  // Trains in a fresh folder `name` and returns the final weights file's bytes.
  std::string Train(const std::string& name, int seed, int threads) const {
    const std::string dir = root_ + "/" + name;
    MakeDirectories(dir);
    std::ofstream(dir + "/net.prototxt") << NetText(lmdb_);
    std::ofstream(dir + "/solver.prototxt")
        << "net: \"net.prototxt\"\nbase_lr: 0.01\nmomentum: 0.9\nweight_decay: 0.0005\n"
        << "lr_policy: \"inv\"\ngamma: 0.0001\npower: 0.75\nmax_iter: " << kMaxIter << "\n"
        << "snapshot_prefix: \"snap\"\ndisplay: 0\nrandom_seed: " << seed << "\n";
    const std::string command = "cd '" + dir + "' && '" + testing::CondenseBinary() +
                                "' train --solver=solver.prototxt --threads=" +
                                std::to_string(threads) + " > train.log 2>&1";
    const int status = std::system(command.c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadFileToString(dir + "/train.log");
    const std::string weights = StrCat(dir, "/snap_iter_", kMaxIter, ".caffemodel");
    return FileExists(weights) ? ReadFileToString(weights) : "";
  }

  static std::string root_;
  static std::string lmdb_;
};

std::string DeterminismTest::root_;
std::string DeterminismTest::lmdb_;

TEST_F(DeterminismTest, SameSeedAndThreadCountGiveBitIdenticalWeights) {
  const std::string first = Train("first", 5, 2);
  const std::string second = Train("second", 5, 2);
  ASSERT_FALSE(first.empty());
  EXPECT_TRUE(first == second)
      << "two runs with random_seed 5 and 2 threads ended with different weights";
  const std::string other_seed = Train("other_seed", 6, 2);
  EXPECT_FALSE(first == other_seed)
      << "another seed gave the same weights: the comparison proves nothing";
}

}  // namespace
}  // namespace condense
