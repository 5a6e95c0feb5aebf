#include "support/gradient_checker.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "condense/core/random.hpp"

namespace condense::testing {

namespace {
// Caffe weights a single-element objective by 2 so that its gradient is not a plain 1.
constexpr float kSingleElementWeight = 2.0f;
}  // namespace

float GradientChecker::Objective(const std::vector<Blob*>& top, int top_id, int64_t top_data_id) {
  float loss = 0.0f;
  if (top_id < 0) {
    for (Blob* blob : top) {
      const float* data = blob->data();
      float* diff = blob->mutable_diff();
      for (int64_t i = 0; i < blob->count(); ++i) {
        loss += data[i] * data[i];
        diff[i] = data[i];
      }
    }
    return loss / 2.0f;
  }
  for (Blob* blob : top) blob->SetDiff(0.0f);
  loss = top[top_id]->data()[top_data_id] * kSingleElementWeight;
  top[top_id]->mutable_diff()[top_data_id] = kSingleElementWeight;
  return loss;
}

void GradientChecker::CheckGradientSingle(Layer* layer, const std::vector<Blob*>& bottom,
                                          const std::vector<Blob*>& top, int check_bottom,
                                          int top_id, int64_t top_data_id, bool element_wise) {
  if (element_wise) {
    ASSERT_EQ(0u, layer->blobs().size());
    ASSERT_GE(top_id, 0);
    for (Blob* blob : bottom) ASSERT_EQ(top[top_id]->count(), blob->count());
  }
  std::vector<Blob*> checked;
  std::vector<bool> propagate_down(bottom.size(), check_bottom < 0);
  for (auto& param : layer->blobs()) checked.push_back(param.get());
  for (size_t i = 0; i < bottom.size(); ++i) {
    if (check_bottom < 0 || static_cast<int>(i) == check_bottom) {
      checked.push_back(bottom[i]);
      propagate_down[i] = true;
    }
  }
  ASSERT_FALSE(checked.empty()) << "nothing to check";
  for (Blob* blob : checked) blob->SetDiff(0.0f);
  SeedRandom(seed_);
  layer->Forward(bottom, top);
  Objective(top, top_id, top_data_id);
  layer->Backward(top, propagate_down, bottom);
  std::vector<std::vector<float>> computed;
  for (Blob* blob : checked) computed.emplace_back(blob->diff(), blob->diff() + blob->count());

  for (size_t b = 0; b < checked.size(); ++b) {
    Blob* blob = checked[b];
    for (int64_t i = 0; i < blob->count(); ++i) {
      if (element_wise && i != top_data_id) continue;
      // Every write goes through mutable_data(), so that caches of derived values (quantized
      // weights) see the change.
      const float original = blob->data()[i];
      blob->mutable_data()[i] = original + step_;
      SeedRandom(seed_);
      layer->Forward(bottom, top);
      const float positive = Objective(top, top_id, top_data_id);
      blob->mutable_data()[i] = original - step_;
      SeedRandom(seed_);
      layer->Forward(bottom, top);
      const float negative = Objective(top, top_id, top_data_id);
      blob->mutable_data()[i] = original;
      const float estimated = (positive - negative) / (2.0f * step_);
      if (kink_range_ >= 0.0f && std::fabs(original - kink_) < kink_range_) continue;
      const float analytic = computed[b][i];
      const float scale = std::max({std::fabs(analytic), std::fabs(estimated), 1.0f});
      EXPECT_NEAR(analytic, estimated, threshold_ * scale)
          << "layer " << layer->name() << " (" << layer->type() << "): checked blob " << b
          << " element " << i << "; objective top " << top_id << " element " << top_data_id;
    }
  }
}

void GradientChecker::CheckGradient(Layer* layer, const std::vector<Blob*>& bottom,
                                    const std::vector<Blob*>& top, int check_bottom) {
  layer->SetUp(bottom, top);
  CheckGradientSingle(layer, bottom, top, check_bottom, -1, -1);
}

void GradientChecker::CheckGradientExhaustive(Layer* layer, const std::vector<Blob*>& bottom,
                                              const std::vector<Blob*>& top, int check_bottom) {
  layer->SetUp(bottom, top);
  ASSERT_GT(top.size(), 0u) << "exhaustive mode needs at least one top";
  for (size_t t = 0; t < top.size(); ++t) {
    for (int64_t i = 0; i < top[t]->count(); ++i) {
      CheckGradientSingle(layer, bottom, top, check_bottom, static_cast<int>(t), i);
    }
  }
}

void GradientChecker::CheckGradientEltwise(Layer* layer, const std::vector<Blob*>& bottom,
                                           const std::vector<Blob*>& top) {
  layer->SetUp(bottom, top);
  ASSERT_GT(top.size(), 0u) << "element-wise mode needs at least one top";
  for (size_t t = 0; t < top.size(); ++t) {
    for (int64_t i = 0; i < top[t]->count(); ++i) {
      CheckGradientSingle(layer, bottom, top, -1, static_cast<int>(t), i, true);
    }
  }
}

}  // namespace condense::testing
