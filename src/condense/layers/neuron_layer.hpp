// NeuronLayer: the shared base of the element-wise layers (ReLU, Sigmoid, Power, Dropout, ...).
// They take one bottom, give one top of the same shape and may run in place (top == bottom), so
// only their arithmetic differs; the blob counts and the reshape live here once.
#pragma once

#include <vector>

#include "condense/core/blob.hpp"
#include "condense/net/layer.hpp"

namespace condense {

class NeuronLayer : public Layer {
 public:
  using Layer::Layer;

  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    top[0]->ReshapeLike(*bottom[0]);
  }
  int ExactNumBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 1; }
};

}  // namespace condense
