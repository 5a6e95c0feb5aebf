// Flatten: merges axes flatten_param.axis .. end_axis (default 1 .. -1) into one. The top shares
// the bottom's memory: no values are copied.
#include "condense/core/error.hpp"
#include "condense/net/layer_registry.hpp"

namespace condense {

class FlattenLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Flatten"; }
  int ExactNumBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 1; }

  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    CONDENSE_CHECK(top[0] != bottom[0], Describe(), " cannot run in place (top == bottom)");
    const FlattenParameter& param = layer_param_.flatten_param();
    const int start = bottom[0]->CanonicalAxisIndex(param.axis());
    const int end = bottom[0]->CanonicalAxisIndex(param.end_axis());
    // start == end + 1 is allowed, as in Caffe: it inserts an axis of size 1.
    CONDENSE_CHECK(start <= end + 1, Describe(), ": flatten_param.axis (", param.axis(),
                   ") comes after end_axis (", param.end_axis(), ") for bottom ",
                   bottom[0]->shape_string());
    const std::vector<int64_t>& shape = bottom[0]->shape();
    std::vector<int64_t> top_shape(shape.begin(), shape.begin() + start);
    top_shape.push_back(bottom[0]->count(start, end + 1));
    top_shape.insert(top_shape.end(), shape.begin() + end + 1, shape.end());
    top[0]->Reshape(top_shape);
    top[0]->ShareData(*bottom[0]);
    top[0]->ShareDiff(*bottom[0]);
  }

 protected:
  // The top shares the bottom's value and gradient memory since Reshape: nothing to move.
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {}
  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {}
};

CONDENSE_REGISTER_LAYER("Flatten", FlattenLayer);

}  // namespace condense
