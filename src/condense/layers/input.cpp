// Input: the net's entry points. Its tops are shaped by input_param.shape (once for all tops or
// once per top) and filled by the caller; Forward and Backward do nothing.
#include "condense/core/error.hpp"
#include "condense/net/layer_registry.hpp"

namespace condense {

class InputLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Input"; }
  int ExactNumBottomBlobs() const override { return 0; }
  int MinTopBlobs() const override { return 1; }

  void LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const InputParameter& param = layer_param_.input_param();
    const int shapes = param.shape_size();
    CONDENSE_CHECK(shapes == 0 || shapes == 1 || shapes == static_cast<int>(top.size()), Describe(),
                   ": give input_param.shape once, once per top (", top.size(),
                   ") or not at all, not ", shapes, " times");
    for (size_t i = 0; i < top.size() && shapes > 0; ++i) {
      top[i]->Reshape(param.shape(shapes == 1 ? 0 : static_cast<int>(i)));
    }
  }

  // The caller owns the tops' shapes after set-up (it may reshape them between batches).
  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {}

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {}
  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {}
};

CONDENSE_REGISTER_LAYER("Input", InputLayer);

}  // namespace condense
