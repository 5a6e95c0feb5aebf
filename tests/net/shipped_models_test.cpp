// Every network prototxt the project ships under models/ loads, and runs a forward and backward pass in
// TRAIN and a forward pass in TEST on synthetic data, so an edit to one of them cannot go stale unseen.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "condense/net/net.hpp"
#include "condense/net/upgrade.hpp"

namespace condense {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> ShippedNets() {
  std::vector<std::string> nets;
  for (const auto& entry : fs::recursive_directory_iterator(fs::path(CONDENSE_SOURCE_DIR) / "models")) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() == ".prototxt" && name.find("solver") == std::string::npos) {
      nets.push_back(entry.path().string());
    }
  }
  return nets;
}

class ShippedModelTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ShippedModelTest, RunsOnSyntheticDataInBothPhases) {
  for (Phase phase : {TRAIN, TEST}) {
    NetParameter param = ReadNetParameterFile(GetParam());
    param.mutable_state()->set_phase(phase);
    param.mutable_state()->add_stage("synthetic");  // DummyData instead of the data sets' LMDBs
    Net net(param, GetParam());
    const float loss = net.Forward();
    EXPECT_TRUE(std::isfinite(loss)) << GetParam() << " phase " << phase;
    if (phase == TRAIN) net.Backward();
  }
}

INSTANTIATE_TEST_SUITE_P(Models, ShippedModelTest, ::testing::ValuesIn(ShippedNets()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = fs::path(info.param).stem().string();
                           for (char& c : name) if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

}  // namespace
}  // namespace condense
