// Split: hands one blob to several readers. The tops share the bottom's values; in Backward the
// bottom's gradient is the sum of the tops' gradients. The Net inserts these where a blob feeds
// more than one layer.
#include "condense/core/error.hpp"
#include "condense/core/math.hpp"
#include "condense/net/layer_registry.hpp"

namespace condense {

class SplitLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Split"; }
  int ExactNumBottomBlobs() const override { return 1; }
  int MinTopBlobs() const override { return 1; }

  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    for (Blob* blob : top) {
      // In place the summed gradient would overwrite the tops' own.
      CONDENSE_CHECK(blob != bottom[0], Describe(), " cannot run in place (top == bottom)");
      blob->ReshapeLike(*bottom[0]);
      blob->ShareData(*bottom[0]);
    }
  }

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    // The tops already share the bottom's values; re-share in case the bottom was reallocated.
    for (Blob* blob : top) blob->ShareData(*bottom[0]);
  }

  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {
    if (!propagate_down[0]) return;
    const int64_t count = bottom[0]->count();
    float* grad_in = bottom[0]->mutable_diff();
    if (top.size() == 1) {
      Copy(count, top[0]->diff(), grad_in);
      return;
    }
    Add(count, top[0]->diff(), top[1]->diff(), grad_in);
    for (size_t t = 2; t < top.size(); ++t) Axpy(count, 1.0f, top[t]->diff(), grad_in);
  }
};

CONDENSE_REGISTER_LAYER("Split", SplitLayer);

}  // namespace condense
