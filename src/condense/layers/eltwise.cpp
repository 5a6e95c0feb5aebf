// Eltwise: combines same-shaped bottoms element by element: PROD, SUM (each bottom times its coeff,
// default 1) or MAX. MAX remembers which bottom won each element and routes the gradient there
// only; PROD's gradient is the product of the other bottoms (stable_prod_grad, the default) or
// y / x.
#include <vector>

#include "condense/core/error.hpp"
#include "condense/core/math.hpp"
#include "condense/net/layer_registry.hpp"

namespace condense {

class EltwiseLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Eltwise"; }
  int MinBottomBlobs() const override { return 2; }
  int ExactNumTopBlobs() const override { return 1; }

  void LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const EltwiseParameter& param = layer_param_.eltwise_param();
    operation_ = param.operation();
    CONDENSE_CHECK(param.coeff_size() == 0 || param.coeff_size() == static_cast<int>(bottom.size()),
                   Describe(), ": eltwise_param.coeff needs one value per bottom (", bottom.size(),
                   "), not ", param.coeff_size());
    CONDENSE_CHECK(param.coeff_size() == 0 || operation_ == EltwiseParameter::SUM, Describe(),
                   ": eltwise_param.coeff is only allowed with operation SUM");
    coeffs_.assign(bottom.size(), 1.0f);
    for (int i = 0; i < param.coeff_size(); ++i) coeffs_[i] = param.coeff(i);
    stable_prod_grad_ = param.stable_prod_grad();
  }

  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    for (size_t b = 1; b < bottom.size(); ++b) {
      CONDENSE_CHECK(bottom[b]->shape() == bottom[0]->shape(), Describe(), ": bottom ", b, " ",
                     bottom[b]->shape_string(), " differs in shape from bottom 0 ",
                     bottom[0]->shape_string());
    }
    top[0]->ReshapeLike(*bottom[0]);
    if (operation_ == EltwiseParameter::MAX) winner_.resize(bottom[0]->count());
  }

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const int64_t count = top[0]->count();
    float* y = top[0]->mutable_data();
    switch (operation_) {
      case EltwiseParameter::PROD:
        Mul(count, bottom[0]->data(), bottom[1]->data(), y);
        for (size_t b = 2; b < bottom.size(); ++b) Mul(count, y, bottom[b]->data(), y);
        break;
      case EltwiseParameter::SUM:
        Scale(count, coeffs_[0], bottom[0]->data(), y);
        for (size_t b = 1; b < bottom.size(); ++b) Axpy(count, coeffs_[b], bottom[b]->data(), y);
        break;
      case EltwiseParameter::MAX: {
        // Caffe's tie rule: between the first two bottoms the second wins a tie, later bottoms
        // must be strictly larger to win.
        const float* a = bottom[0]->data();
        const float* b = bottom[1]->data();
        int* winner = winner_.data();
        for (int64_t i = 0; i < count; ++i) {
          const bool first = a[i] > b[i];
          y[i] = first ? a[i] : b[i];
          winner[i] = first ? 0 : 1;
        }
        for (size_t index = 2; index < bottom.size(); ++index) {
          const float* x = bottom[index]->data();
          for (int64_t i = 0; i < count; ++i) {
            if (x[i] > y[i]) {
              y[i] = x[i];
              winner[i] = static_cast<int>(index);
            }
          }
        }
        break;
      }
    }
  }

  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {
    const int64_t count = top[0]->count();
    const float* y = top[0]->data();
    const float* dy = top[0]->diff();
    for (size_t index = 0; index < bottom.size(); ++index) {
      if (!propagate_down[index]) continue;
      const float* x = bottom[index]->data();
      float* dx = bottom[index]->mutable_diff();
      switch (operation_) {
        case EltwiseParameter::PROD:
          if (stable_prod_grad_) {
            bool started = false;
            for (size_t other = 0; other < bottom.size(); ++other) {
              if (other == index) continue;
              if (started) {
                Mul(count, bottom[other]->data(), dx, dx);
              } else {
                Copy(count, bottom[other]->data(), dx);
                started = true;
              }
            }
          } else {
            Div(count, y, x, dx);
          }
          Mul(count, dx, dy, dx);
          break;
        case EltwiseParameter::SUM:
          Scale(count, coeffs_[index], dy, dx);
          break;
        case EltwiseParameter::MAX: {
          const int* winner = winner_.data();
          const int target = static_cast<int>(index);
          for (int64_t i = 0; i < count; ++i) dx[i] = winner[i] == target ? dy[i] : 0.0f;
          break;
        }
      }
    }
  }

 private:
  EltwiseParameter::EltwiseOp operation_ = EltwiseParameter::SUM;
  std::vector<float> coeffs_;
  bool stable_prod_grad_ = true;
  std::vector<int> winner_;
};

CONDENSE_REGISTER_LAYER("Eltwise", EltwiseLayer);

}  // namespace condense
