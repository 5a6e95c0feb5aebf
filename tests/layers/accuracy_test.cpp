// Accuracy and ArgMax: top-k counting with Caffe's tie rule (a tie with the true class counts as
// wrong), ignore_label, the per-class top, other axes; ArgMax's layouts and tie order.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "condense/core/error.hpp"
#include "condense/core/proto_io.hpp"
#include "condense/layers/accuracy.hpp"
#include "condense/net/net.hpp"
#include "layer_test_helpers.hpp"

namespace condense::testing {
namespace {

class AccuracyTest : public ::testing::Test {
 protected:
  AccuracyTest() : scores_({100, 10}), labels_({100}) {
    FillGaussianBlob(&scores_);
    for (int i = 0; i < 100; ++i) labels_.mutable_data()[i] = static_cast<float>((i * 7) % 10);
  }

  // Fraction of rows whose label is among the k best, ties broken against the label.
  float Reference(int k, int ignored = -1) {
    int correct = 0, count = 0;
    for (int i = 0; i < 100; ++i) {
      const int label = static_cast<int>(labels_.data()[i]);
      if (label == ignored) continue;
      const float* row = scores_.data() + i * 10;
      int others_at_least = 0;
      for (int c = 0; c < 10; ++c) others_at_least += c != label && row[c] >= row[label];
      correct += others_at_least < k;
      ++count;
    }
    return static_cast<float>(correct) / count;
  }

  float Accuracy(const std::string& text, Blob* per_class = nullptr) {
    auto layer = MakeLayer(text, TEST);
    std::vector<Blob*> bottoms = {&scores_, &labels_}, tops = {&accuracy_};
    if (per_class) tops.push_back(per_class);
    layer->SetUp(bottoms, tops);
    EXPECT_EQ(accuracy_.num_axes(), 0);
    EXPECT_EQ(layer->loss(0), 0.0f);
    layer->Forward(bottoms, tops);
    return accuracy_.data()[0];
  }

  Blob scores_;
  Blob labels_;
  Blob accuracy_;
};

TEST_F(AccuracyTest, TopOne) { EXPECT_FLOAT_EQ(Accuracy("type: 'Accuracy'"), Reference(1)); }

TEST_F(AccuracyTest, TopK) {
  EXPECT_FLOAT_EQ(Accuracy("type: 'Accuracy' accuracy_param { top_k: 3 }"), Reference(3));
  EXPECT_FLOAT_EQ(Accuracy("type: 'Accuracy' accuracy_param { top_k: 10 }"), 1.0f);
}

TEST_F(AccuracyTest, CollapsedScoresScoreZero) {
  scores_.SetData(0.5f);
  EXPECT_EQ(Accuracy("type: 'Accuracy'"), 0.0f);
  // Ten equal scores tie the label with nine others: even top 9 misses it.
  EXPECT_EQ(Accuracy("type: 'Accuracy' accuracy_param { top_k: 9 }"), 0.0f);
  EXPECT_EQ(Accuracy("type: 'Accuracy' accuracy_param { top_k: 10 }"), 1.0f);
}

TEST_F(AccuracyTest, TieWithTheTrueClassIsWrong) {
  scores_.SetData(0.0f);
  float* row = scores_.mutable_data();
  labels_.mutable_data()[0] = 2;
  row[2] = 1.0f;  // a clear win
  labels_.mutable_data()[1] = 4;
  row[10 + 4] = 1.0f;
  row[10 + 7] = 1.0f;  // a tie
  auto layer = MakeLayer("type: 'Accuracy'", TEST);
  Blob first_two({2, 10}), labels({2});
  std::copy(row, row + 20, first_two.mutable_data());
  std::copy(labels_.data(), labels_.data() + 2, labels.mutable_data());
  std::vector<Blob*> bottoms = {&first_two, &labels}, tops = {&accuracy_};
  layer->SetUp(bottoms, tops);
  layer->Forward(bottoms, tops);
  EXPECT_FLOAT_EQ(accuracy_.data()[0], 0.5f);
}

// Caffe's >= comparison would count a NaN true score as right: a diverged net would score 1.
TEST_F(AccuracyTest, NaNScoresCountAgainstTheLabel) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  scores_.SetData(nan);
  EXPECT_EQ(Accuracy("type: 'Accuracy'"), 0.0f);
  EXPECT_EQ(Accuracy("type: 'Accuracy' accuracy_param { top_k: 10 }"), 0.0f);
  // A finite true score beaten only by a NaN: the NaN outranks it at top 1, not at top 2.
  scores_.SetData(0.0f);
  for (int i = 0; i < 100; ++i) {
    const int label = static_cast<int>(labels_.data()[i]);
    scores_.mutable_data()[i * 10 + label] = 1.0f;
    scores_.mutable_data()[i * 10 + (label + 1) % 10] = nan;
  }
  EXPECT_EQ(Accuracy("type: 'Accuracy'"), 0.0f);
  EXPECT_EQ(Accuracy("type: 'Accuracy' accuracy_param { top_k: 2 }"), 1.0f);
}

// The tally behind `condense test`'s tie table: of the rows, which were right, and which were wrong
// only because the label tied another class (right had the tie gone its way).
TEST(AccuracyTallyTest, CountsWhatTheTieRuleAloneCostTopOneAndTopTwo) {
  // Label 0 in every row; scores of classes 0..3.
  const float rows[5][4] = {
      {3, 1, 1, 0},  // right
      {3, 3, 1, 0},  // a tie for first: lost to the tie at top 1, right at top 2
      {1, 3, 0, 0},  // beaten: wrong at top 1 whatever the rule; right at top 2
      {1, 3, 1, 1},  // beaten and tied: lost to the ties at top 2
      {1, 3, 2, 0},  // beaten twice: wrong at top 1 and top 2
  };
  Blob scores({5, 4}), labels({5}), accuracy;
  std::copy(&rows[0][0], &rows[0][0] + 20, scores.mutable_data());
  labels.SetData(0.0f);
  std::vector<Blob*> bottoms = {&scores, &labels}, tops = {&accuracy};
  struct Expected {
    int top_k, correct, lost_to_ties;
  };
  for (const Expected& expected : {Expected{1, 1, 1}, Expected{2, 3, 1}}) {
    auto layer = MakeLayer("type: 'Accuracy' accuracy_param { top_k: " +
                               std::to_string(expected.top_k) + " }",
                           TEST);
    layer->SetUp(bottoms, tops);
    layer->Forward(bottoms, tops);
    const auto& tally = dynamic_cast<const AccuracyLayer&>(*layer).last_tally();
    EXPECT_EQ(5, tally.scored) << expected.top_k;
    EXPECT_EQ(expected.correct, tally.correct) << expected.top_k;
    EXPECT_EQ(expected.lost_to_ties, tally.lost_to_ties) << expected.top_k;
    EXPECT_FLOAT_EQ(expected.correct / 5.0f, accuracy.data()[0]);
  }
}

// AccuracyTallies finds each Accuracy layer of a net by name and sums its tallies over the passes.
TEST(AccuracyTalliesTest, SumsEveryAccuracyLayerOverThePasses) {
  NetParameter param;
  ParseTextProto(R"(
    name: "ties"
    layer { name: "data" type: "DummyData" top: "scores" top: "label"
            dummy_data_param { shape { dim: 4 dim: 3 } shape { dim: 4 }
                               data_filler { type: "constant" value: 1 }
                               data_filler { type: "constant" value: 2 } } }
    layer { name: "top1" type: "Accuracy" bottom: "scores" bottom: "label" top: "a1" }
    layer { name: "top3" type: "Accuracy" bottom: "scores" bottom: "label" top: "a3"
            accuracy_param { top_k: 3 } })",
                 "ties test net", &param);
  param.mutable_state()->set_phase(TEST);
  Net net(param, "ties test net");
  AccuracyTallies tallies(net);
  for (int pass = 0; pass < 2; ++pass) {
    net.Forward();
    tallies.Add();
  }
  ASSERT_EQ(2u, tallies.entries().size());
  // All three classes score alike: at top 1 every prediction is lost to the ties, at top 3 none is.
  EXPECT_EQ("top1", tallies.entries()[0].layer);
  EXPECT_EQ(8, tallies.entries()[0].sum.scored);
  EXPECT_EQ(0, tallies.entries()[0].sum.correct);
  EXPECT_EQ(8, tallies.entries()[0].sum.lost_to_ties);
  EXPECT_EQ("top3", tallies.entries()[1].layer);
  EXPECT_EQ(8, tallies.entries()[1].sum.correct);
  EXPECT_EQ(0, tallies.entries()[1].sum.lost_to_ties);
}

TEST_F(AccuracyTest, IgnoreLabel) {
  EXPECT_FLOAT_EQ(Accuracy("type: 'Accuracy' accuracy_param { ignore_label: 3 }"), Reference(1, 3));
}

TEST_F(AccuracyTest, PerClassTop) {
  Blob per_class;
  Accuracy("type: 'Accuracy'", &per_class);
  ASSERT_EQ(per_class.shape(), std::vector<int64_t>({10}));
  for (int c = 0; c < 10; ++c) {
    int seen = 0, right = 0;
    for (int i = 0; i < 100; ++i) {
      if (static_cast<int>(labels_.data()[i]) != c) continue;
      ++seen;
      const float* row = scores_.data() + i * 10;
      right += std::max_element(row, row + 10) - row == c;
    }
    EXPECT_FLOAT_EQ(per_class.data()[c], seen ? static_cast<float>(right) / seen : 0.0f) << c;
  }
}

TEST(AccuracyAxisTest, SpatialPositionsAlongAxisOne) {
  Blob scores({2, 3, 2}), labels({2, 2}), accuracy;
  // Position (n, h): class scores scores[n][c][h].
  const float values[12] = {1, 0, 0, 5, 2, 0,   // n = 0: h=0 best class 2, h=1 best class 1
                            0, 1, 3, 0, 0, 2};  // n = 1: h=0 best class 1, h=1 best class 2
  std::copy(values, values + 12, scores.mutable_data());
  const float truth[4] = {2, 1, 1, 0};
  std::copy(truth, truth + 4, labels.mutable_data());
  std::vector<Blob*> bottoms = {&scores, &labels}, tops = {&accuracy};
  auto layer = MakeLayer("type: 'Accuracy'", TEST);
  layer->SetUp(bottoms, tops);
  layer->Forward(bottoms, tops);
  EXPECT_FLOAT_EQ(accuracy.data()[0], 0.75f);
}

TEST(AccuracyAxisTest, Errors) {
  Blob scores({4, 3}), labels({4}), wrong_labels({5}), accuracy;
  std::vector<Blob*> tops = {&accuracy};
  std::vector<Blob*> bottoms = {&scores, &labels};
  EXPECT_THROW(MakeLayer("type: 'Accuracy' accuracy_param { top_k: 4 }")->SetUp(bottoms, tops),
               Error);
  bottoms = {&scores, &wrong_labels};
  EXPECT_THROW(MakeLayer("type: 'Accuracy'")->SetUp(bottoms, tops), Error);
  bottoms = {&scores, &labels};
  EXPECT_THROW(MakeLayer("type: 'Accuracy' accuracy_param { top_k: 0 }")->SetUp(bottoms, tops),
               Error);
  for (const float bad_label : {3.0f, -1.0f, std::numeric_limits<float>::quiet_NaN(), 1e30f}) {
    labels.mutable_data()[2] = bad_label;
    auto layer = MakeLayer("type: 'Accuracy'");
    layer->SetUp(bottoms, tops);
    EXPECT_THROW(layer->Forward(bottoms, tops), Error) << bad_label;
  }
}

class ArgMaxTest : public ::testing::Test {
 protected:
  ArgMaxTest() : bottom_({2, 3, 2, 2}) { FillGaussianBlob(&bottom_); }
  void Run(const std::string& text) {
    auto layer = MakeLayer(text, TEST);
    std::vector<Blob*> bottoms = {&bottom_}, tops = {&top_};
    layer->SetUp(bottoms, tops);
    layer->Forward(bottoms, tops);
  }
  Blob bottom_;
  Blob top_;
};

TEST_F(ArgMaxTest, FlattenedPerItem) {
  Run("type: 'ArgMax'");
  ASSERT_EQ(top_.shape(), std::vector<int64_t>({2, 1, 1, 1}));
  for (int n = 0; n < 2; ++n) {
    const float* item = bottom_.data() + n * 12;
    EXPECT_EQ(top_.data()[n], std::max_element(item, item + 12) - item);
  }
}

TEST_F(ArgMaxTest, TopKWithValues) {
  Run("type: 'ArgMax' argmax_param { out_max_val: true top_k: 3 }");
  ASSERT_EQ(top_.shape(), std::vector<int64_t>({2, 2, 3, 1}));
  for (int n = 0; n < 2; ++n) {
    std::vector<float> item(bottom_.data() + n * 12, bottom_.data() + n * 12 + 12);
    std::vector<float> sorted = item;
    std::sort(sorted.rbegin(), sorted.rend());
    for (int j = 0; j < 3; ++j) {
      const int index = static_cast<int>(top_.data()[n * 6 + j]);
      EXPECT_EQ(item[index], sorted[j]);
      EXPECT_EQ(top_.data()[n * 6 + 3 + j], sorted[j]);
    }
  }
}

TEST_F(ArgMaxTest, AlongAxis) {
  Run("type: 'ArgMax' argmax_param { axis: 1 top_k: 2 }");
  ASSERT_EQ(top_.shape(), std::vector<int64_t>({2, 2, 2, 2}));
  for (int n = 0; n < 2; ++n) {
    for (int s = 0; s < 4; ++s) {
      float best = -1e30f;
      int best_index = -1;
      for (int c = 0; c < 3; ++c) {
        const float v = bottom_.data()[(n * 3 + c) * 4 + s];
        if (v > best) best = v, best_index = c;
      }
      EXPECT_EQ(top_.data()[(n * 2 + 0) * 4 + s], best_index);
    }
  }
  Run("type: 'ArgMax' argmax_param { axis: -1 out_max_val: true }");
  ASSERT_EQ(top_.shape(), std::vector<int64_t>({2, 3, 2, 1}));
  for (int64_t row = 0; row < 12; ++row) {
    EXPECT_EQ(top_.data()[row], std::max(bottom_.data()[2 * row], bottom_.data()[2 * row + 1]));
  }
}

TEST_F(ArgMaxTest, TiesRankTheHigherIndexFirst) {
  bottom_.SetData(1.0f);
  Run("type: 'ArgMax' argmax_param { top_k: 2 }");
  EXPECT_EQ(top_.data()[0], 11.0f);
  EXPECT_EQ(top_.data()[1], 10.0f);
}

TEST(ArgMaxShapeTest, PadsToThreeAxes) {
  Blob bottom({5, 4}), top;
  std::vector<Blob*> bottoms = {&bottom}, tops = {&top};
  MakeLayer("type: 'ArgMax' argmax_param { top_k: 2 }")->SetUp(bottoms, tops);
  EXPECT_EQ(top.shape(), std::vector<int64_t>({5, 1, 2}));
}

TEST_F(ArgMaxTest, TopKLargerThanAxisIsRefused) {
  std::vector<Blob*> bottoms = {&bottom_}, tops = {&top_};
  EXPECT_THROW(MakeLayer("type: 'ArgMax' argmax_param { axis: 1 top_k: 4 }")->SetUp(bottoms, tops),
               Error);
  EXPECT_THROW(MakeLayer("type: 'ArgMax' argmax_param { top_k: 13 }")->SetUp(bottoms, tops), Error);
}

}  // namespace
}  // namespace condense::testing
