// Reshape: gives the bottom's values a new shape without copying them. reshape_param.shape replaces
// the bottom axes [axis, axis + num_axes) (default: all); in it 0 copies the bottom's dimension at
// that position and one -1 is inferred from the element count.
#include "condense/core/error.hpp"
#include "condense/net/layer_registry.hpp"

namespace condense {

class ReshapeLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Reshape"; }
  int ExactNumBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 1; }

  void LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    CONDENSE_CHECK(top[0] != bottom[0], Describe(), " cannot run in place (top == bottom)");
    const BlobShape& shape = layer_param_.reshape_param().shape();
    for (int i = 0; i < shape.dim_size(); ++i) {
      const int64_t dim = shape.dim(i);
      if (dim == 0) {
        copy_axes_.push_back(i);
      } else if (dim == -1) {
        CONDENSE_CHECK(inferred_axis_ == -1, Describe(),
                       ": reshape_param.shape may contain only one -1");
        inferred_axis_ = i;
      } else {
        CONDENSE_CHECK(dim > 0, Describe(), ": reshape_param.shape dimension ", dim,
                       " is invalid (use a positive size, 0 to copy or -1 to infer)");
        constant_count_ *= dim;
      }
    }
  }

  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const ReshapeParameter& param = layer_param_.reshape_param();
    const Blob& in = *bottom[0];
    const int bottom_axes = in.num_axes();
    // A negative axis counts from the end, -1 being the position after the last axis.
    const int start = param.axis() >= 0 ? param.axis() : bottom_axes + param.axis() + 1;
    CONDENSE_CHECK(start >= 0 && start <= bottom_axes, Describe(), ": reshape_param.axis ",
                   param.axis(), " is out of range for bottom ", in.shape_string());
    CONDENSE_CHECK(param.num_axes() >= -1, Describe(),
                   ": reshape_param.num_axes must be >= -1, not ", param.num_axes());
    const int end = param.num_axes() == -1 ? bottom_axes : start + param.num_axes();
    CONDENSE_CHECK(end <= bottom_axes, Describe(), ": reshape_param axis ", start, " + num_axes ",
                   param.num_axes(), " runs past the ", bottom_axes, " axes of bottom ",
                   in.shape_string());

    const BlobShape& new_dims = param.shape();
    std::vector<int64_t> top_shape(in.shape().begin(), in.shape().begin() + start);
    top_shape.insert(top_shape.end(), new_dims.dim().begin(), new_dims.dim().end());
    top_shape.insert(top_shape.end(), in.shape().begin() + end, in.shape().end());
    for (int copy_axis : copy_axes_) {
      CONDENSE_CHECK(start + copy_axis < bottom_axes, Describe(),
                     ": reshape_param.shape has a 0 at ", copy_axis, " but bottom ",
                     in.shape_string(), " has no axis there to copy");
      top_shape[start + copy_axis] = in.shape(start + copy_axis);
    }
    if (inferred_axis_ >= 0) {
      int64_t explicit_count = constant_count_ * in.count(0, start) * in.count(end);
      for (int copy_axis : copy_axes_) explicit_count *= in.shape(start + copy_axis);
      CONDENSE_CHECK(explicit_count != 0 && in.count() % explicit_count == 0, Describe(),
                     ": cannot infer the -1 dimension: bottom ", in.shape_string(), " has ",
                     in.count(), " values, not a multiple of ", explicit_count);
      top_shape[start + inferred_axis_] = in.count() / explicit_count;
    }
    CONDENSE_CHECK(CheckedCount(top_shape, Describe()) == in.count(), Describe(), ": new shape ",
                   ShapeString(top_shape), " holds a different number of values than bottom ",
                   in.shape_string());
    top[0]->Reshape(top_shape);
    top[0]->ShareData(in);
    top[0]->ShareDiff(in);
  }

 protected:
  // The top shares the bottom's value and gradient memory: nothing to move.
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {}
  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {}

 private:
  std::vector<int> copy_axes_;
  int inferred_axis_ = -1;
  int64_t constant_count_ = 1;
};

CONDENSE_REGISTER_LAYER("Reshape", ReshapeLayer);

}  // namespace condense
