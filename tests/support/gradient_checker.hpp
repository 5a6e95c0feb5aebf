// Numerical gradient checking for layers, as Caffe's test suite does it: perturb each input and parameter
// value by ±step, measure the change of an objective over the tops by central differences, and compare
// with what the layer's Backward computed. The objective is either half the sum of squares of all tops
// or one top element at a time (exhaustive), so every path through the layer is exercised.
#pragma once

#include <cstdint>
#include <vector>

#include "condense/net/layer.hpp"

namespace condense::testing {

class GradientChecker {
 public:
  // kink/kink_range: skip points where an input lies within kink_range of a non-differentiable point
  // (ReLU at 0, for instance).
  GradientChecker(float step, float threshold, uint64_t seed = 1701, float kink = 0.0f,
                  float kink_range = -1.0f)
      : step_(step), threshold_(threshold), seed_(seed), kink_(kink), kink_range_(kink_range) {}

  // Objective: half the sum of squares of every top. check_bottom < 0 checks all bottoms (and params).
  void CheckGradient(Layer* layer, const std::vector<Blob*>& bottom, const std::vector<Blob*>& top,
                     int check_bottom = -1);
  // Objective: each element of each top in turn.
  void CheckGradientExhaustive(Layer* layer, const std::vector<Blob*>& bottom,
                               const std::vector<Blob*>& top, int check_bottom = -1);
  // For element-wise layers: top element i depends only on bottom element i.
  void CheckGradientEltwise(Layer* layer, const std::vector<Blob*>& bottom,
                            const std::vector<Blob*>& top);
  // One objective: top_id < 0 means half the sum of squares of all tops, else one top element.
  void CheckGradientSingle(Layer* layer, const std::vector<Blob*>& bottom,
                           const std::vector<Blob*>& top, int check_bottom, int top_id,
                           int64_t top_data_id, bool element_wise = false);

 private:
  float Objective(const std::vector<Blob*>& top, int top_id, int64_t top_data_id);

  float step_;
  float threshold_;
  uint64_t seed_;
  float kink_;
  float kink_range_;
};

}  // namespace condense::testing
