// The real LeNet that Caffe trained (../shared/data/lenet_caffe), scored on the real MNIST test set that
// `condense convert_mnist` converts: outputs of the first 16 images must match what Caffe printed, and the
// accuracy over all 10 000 images must be Caffe's.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "condense/core/parallel.hpp"
#include "condense/net/net.hpp"
#include "condense/net/upgrade.hpp"
#include "support/shared_data.hpp"

namespace condense {
namespace {

struct ReferenceImage {
  int label = -1;
  std::vector<float> logits;
  std::vector<float> probabilities;
};

// Reads block A (two BLAS threads) of caffe_reference_outputs.txt.
std::vector<ReferenceImage> ReadReference(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::vector<ReferenceImage> images;
  bool in_block_a = false;
  while (std::getline(in, line)) {
    if (line.rfind("## BLOCK", 0) == 0) in_block_a = line.find("BLOCK A") != std::string::npos;
    if (!in_block_a) continue;
    std::istringstream words(line);
    std::string word;
    words >> word;
    if (word == "image") {
      images.emplace_back();
      std::string index, label_word;
      words >> index >> label_word >> images.back().label;
    } else if (word == "ip2" || word == "prob:") {
      if (word == "ip2") words >> word;  // the ':' after "ip2"
      std::vector<float>& target = line.find("ip2") != std::string::npos ? images.back().logits
                                                                         : images.back().probabilities;
      float value;
      while (words >> value) target.push_back(value);
    }
  }
  return images;
}

class LenetReferenceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string images = testing::SharedDataPath("mnist/t10k-images-idx3-ubyte.gz");
    const std::string labels = testing::SharedDataPath("mnist/t10k-labels-idx1-ubyte.gz");
    if (images.empty() || labels.empty()) return;
    scratch_ = testing::MakeTempDir("condense_lenet_");
    const std::string command = testing::CondenseBinary() + " convert_mnist " + images + " " + labels +
                                " " + scratch_ + "/mnist_test_lmdb > " + scratch_ + "/convert.log 2>&1";
    ASSERT_EQ(0, std::system(command.c_str())) << "convert_mnist failed; see " << scratch_;
  }
  static void TearDownTestSuite() {
    if (!scratch_.empty()) std::system(("rm -rf " + scratch_).c_str());
  }

  // LeNet's TEST net reading the converted LMDB in batches of `batch`, plus a Softmax on ip2.
  std::unique_ptr<Net> MakeNet(const std::string& prototxt, const std::string& weights, int batch) {
    NetParameter param = ReadNetParameterFile(prototxt);
    for (LayerParameter& layer : *param.mutable_layer()) {
      if (layer.type() != "Data") continue;
      layer.mutable_data_param()->set_source(scratch_ + "/mnist_test_lmdb");
      layer.mutable_data_param()->set_batch_size(batch);
    }
    LayerParameter* softmax = param.add_layer();
    softmax->set_name("prob");
    softmax->set_type("Softmax");
    softmax->add_bottom("ip2");
    softmax->add_top("prob");
    param.mutable_state()->set_phase(TEST);
    auto net = std::make_unique<Net>(param, prototxt);
    net->CopyTrainedLayersFromFile(weights);
    return net;
  }

  static std::string scratch_;
};

std::string LenetReferenceTest::scratch_;

TEST_F(LenetReferenceTest, FirstSixteenImagesMatchCaffe) {
  CONDENSE_REQUIRE_SHARED(prototxt, "lenet_caffe/lenet_train_test.prototxt");
  CONDENSE_REQUIRE_SHARED(weights, "lenet_caffe/lenet_iter_10000.caffemodel");
  CONDENSE_REQUIRE_SHARED(reference_path, "lenet_caffe/caffe_reference_outputs.txt");
  ASSERT_FALSE(scratch_.empty()) << "the MNIST test set is absent";
  const std::vector<ReferenceImage> reference = ReadReference(reference_path);
  ASSERT_EQ(16u, reference.size());
  SetThreadCount(2);
  auto net = MakeNet(prototxt, weights, 16);
  net->Forward();
  const Blob& label = *net->blob_by_name("label");
  const Blob& logits = *net->blob_by_name("ip2");
  const Blob& probabilities = *net->blob_by_name("prob");
  for (int image = 0; image < 16; ++image) {
    EXPECT_EQ(reference[image].label, static_cast<int>(label.data()[image])) << "image " << image;
    ASSERT_EQ(10u, reference[image].logits.size());
    ASSERT_EQ(10u, reference[image].probabilities.size());
    for (int k = 0; k < 10; ++k) {
      EXPECT_NEAR(reference[image].logits[k], logits.data()[image * 10 + k], 1e-5)
          << "ip2 of image " << image << " class " << k;
      EXPECT_NEAR(reference[image].probabilities[k], probabilities.data()[image * 10 + k], 1e-5)
          << "prob of image " << image << " class " << k;
    }
  }
}

TEST_F(LenetReferenceTest, AccuracyOnTheWholeTestSetIsCaffes) {
  CONDENSE_REQUIRE_SHARED(prototxt, "lenet_caffe/lenet_train_test.prototxt");
  CONDENSE_REQUIRE_SHARED(weights, "lenet_caffe/lenet_iter_10000.caffemodel");
  ASSERT_FALSE(scratch_.empty()) << "the MNIST test set is absent";
  auto net = MakeNet(prototxt, weights, 100);
  double accuracy = 0.0;
  for (int batch = 0; batch < 100; ++batch) {
    net->Forward();
    accuracy += net->blob_by_name("accuracy")->data()[0];
  }
  EXPECT_NEAR(0.9906, accuracy / 100.0, 0.0005 / 2);
}

}  // namespace
}  // namespace condense
