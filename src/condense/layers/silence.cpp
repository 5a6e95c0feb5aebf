// Silence: consumes blobs that nothing else reads, so they are not reported as net outputs. Its
// gradient to them is zero.
#include "condense/core/math.hpp"
#include "condense/net/layer_registry.hpp"

namespace condense {

class SilenceLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Silence"; }
  int MinBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 0; }

  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {}

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {}
  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {
    for (size_t i = 0; i < bottom.size(); ++i) {
      if (propagate_down[i]) Set(bottom[i]->count(), 0.0f, bottom[i]->mutable_diff());
    }
  }
};

CONDENSE_REGISTER_LAYER("Silence", SilenceLayer);

}  // namespace condense
