// End-to-end runs of the `condense` program on tiny nets written by the test: --stage adds to the
// stages a prototxt's own `state { stage }` lists (as Caffe's tools do), and `analyze --fold_bn`
// writes its folded caffemodel before the quantized prototxt, so a failed write never leaves a new
// prototxt beside missing weights.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <string>

#include "condense/core/file_io.hpp"
#include "condense/core/proto_io.hpp"
#include "condense/core/random.hpp"
#include "condense/net/net.hpp"
#include "support/shared_data.hpp"

namespace condense {
namespace {

class VerbStateAndOutputsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!FileExists(testing::CondenseBinary())) {
      GTEST_SKIP() << "the condense program is not built at " << testing::CondenseBinary();
    }
  }

  // Runs `condense <arguments>` in the scratch folder; returns the exit code, keeps the output.
  int Condense(const std::string& arguments) {
    const std::string log = scratch_.File("log.txt");
    const std::string command = "cd '" + scratch_.path() + "' && '" + testing::CondenseBinary() +
                                "' " + arguments + " > '" + log + "' 2>&1";
    const int status = std::system(command.c_str());
    output_ = ReadFileToString(log);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // Writes the prototxt and weights from the net's fillers (seeded), the net built with `stage` added
  // to its own stages; returns the weights path.
  std::string WriteModel(const std::string& prototxt, const std::string& name,
                         const std::string& stage = "") {
    WriteFileAtomically(scratch_.File(name + ".prototxt"), prototxt);
    NetParameter param;
    ParseTextProto(prototxt, name, &param);
    param.mutable_state()->set_phase(TEST);
    if (!stage.empty()) param.mutable_state()->add_stage(stage);
    SeedRandom(11);
    Net net(param, name);
    for (const auto& layer : net.layers()) {
      if (std::string(layer->type()) != "BatchNorm") continue;
      layer->blobs()[1]->SetData(1.0f);  // variances of 1, a scale factor of 1
      layer->blobs()[2]->SetData(1.0f);
    }
    NetParameter weights;
    net.ToProto(&weights);
    WriteBinaryProtoFile(scratch_.File(name + ".caffemodel"), weights);
    return scratch_.File(name + ".caffemodel");
  }

  testing::ScopedTempDir scratch_{"verb_state_and_outputs_test"};
  std::string output_;
};

// A layer kept only when the stages include both the prototxt's own "deploy" and --stage's "int8".
constexpr char kStagedNet[] = R"(
  name: "staged"
  state { stage: "deploy" }
  layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }
  layer { name: "fc" type: "InnerProduct" bottom: "x" top: "y"
          include { stage: "deploy" stage: "int8" }
          inner_product_param { num_output: 2 weight_filler { type: "gaussian" std: 0.5 } } }
)";

TEST_F(VerbStateAndOutputsTest, ExportAddsStageToThePrototxtsStages) {
  const std::string weights = WriteModel(kStagedNet, "staged", "int8");
  ASSERT_EQ(0, Condense("export --model=staged.prototxt --weights='" + weights +
                        "' --stage=int8 --output_dir=out"))
      << output_;
  EXPECT_TRUE(FileExists(scratch_.File("out/staged.caffemodel"))) << output_;
}

TEST_F(VerbStateAndOutputsTest, TimeAddsStageToThePrototxtsStages) {
  // `time` (like `test` and `train`'s nets) builds through Net::FromFile.
  WriteFileAtomically(scratch_.File("staged.prototxt"), kStagedNet);
  ASSERT_EQ(0, Condense("time --model=staged.prototxt --stage=int8 --iterations=1")) << output_;
  EXPECT_NE(std::string::npos, output_.find("InnerProduct")) << output_;  // the fc row of the table
}

// Conv -> BatchNorm -> Scale -> InnerProduct -> Accuracy on DummyData: something for --fold_bn to fold.
constexpr char kFoldableNet[] = R"(
  name: "foldable"
  layer { name: "data" type: "DummyData" top: "data" top: "label"
          dummy_data_param { shape { dim: 4 dim: 2 dim: 5 dim: 5 } shape { dim: 4 }
                             data_filler { type: "gaussian" std: 1 } data_filler { type: "constant" } } }
  layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
          convolution_param { num_output: 2 kernel_size: 3 weight_filler { type: "gaussian" std: 0.3 } } }
  layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv" }
  layer { name: "scale" type: "Scale" bottom: "conv" top: "conv" scale_param { bias_term: true } }
  layer { name: "ip" type: "InnerProduct" bottom: "conv" top: "ip"
          inner_product_param { num_output: 2 weight_filler { type: "gaussian" std: 0.3 } } }
  layer { name: "accuracy" type: "Accuracy" bottom: "ip" bottom: "label" top: "accuracy" }
)";

TEST_F(VerbStateAndOutputsTest, AnalyzeFoldBnWritesTheWeightsBeforeThePrototxt) {
  const std::string weights = WriteModel(kFoldableNet, "foldable");
  const std::string analyze = "analyze --model=foldable.prototxt --weights='" + weights +
                              "' --iterations=1 --fold_bn --error_margin=50 --model_quantized=";
  // The folded caffemodel cannot be written (a directory holds its name): no prototxt either.
  MakeDirectories(scratch_.File("blocked.caffemodel"));
  EXPECT_EQ(1, Condense(analyze + "blocked.prototxt")) << output_;
  EXPECT_NE(std::string::npos, output_.find("blocked.caffemodel")) << output_;
  EXPECT_FALSE(FileExists(scratch_.File("blocked.prototxt"))) << output_;

  ASSERT_EQ(0, Condense(analyze + "folded.prototxt")) << output_;
  EXPECT_TRUE(FileExists(scratch_.File("folded.prototxt")));
  EXPECT_TRUE(FileExists(scratch_.File("folded.caffemodel")));
}

}  // namespace
}  // namespace condense
