// InnerProduct (fully connected): top = bottom * W^T + b, with each input vector folded from the axes
// from `axis` on. Weights are (num_output, K), or (K, num_output) with `transpose`, as in Caffe. The
// matrix products run in OpenBLAS, each thread on its own slice of the outputs. With accumulator_bits
// in its quantization_param the forward runs on integer codes instead (integer_accumulator.hpp),
// summing over the input vector in order, each thread on its own slice of the input vectors.
#include <atomic>
#include <functional>

#include "condense/core/error.hpp"
#include "condense/core/math.hpp"
#include "condense/core/parallel.hpp"
#include "condense/net/filler.hpp"
#include "condense/net/layer_registry.hpp"
#include "condense/quant/integer_accumulator.hpp"
#include "condense/quant/layer_quantization.hpp"

namespace condense {

namespace {

// Products below this many multiply-adds run in one call: a thread hand-off would cost more.
constexpr int64_t kParallelWork = int64_t{1} << 20;

// Runs body over [0, n) in one slice per thread, or in one call for small products; BLAS runs on one
// thread either way. All threading stays with ParallelFor's threads: OpenBLAS's own pool, woken
// between two parallel regions, would compete with their still-spinning threads for the cores.
void ForEachSlice(int64_t n, int64_t work, const std::function<void(int64_t, int64_t)>& body) {
  if (work < kParallelWork) {
    body(0, n);
    return;
  }
  ParallelFor(n, [&](int64_t begin, int64_t end, int) { body(begin, end); });
}

class InnerProduct : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "InnerProduct"; }
  int ExactNumBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 1; }
  bool SupportsIntegerAccumulator() const override { return true; }
  // transpose stores the weights (K, N): the outputs run along axis 1.
  int WeightOutputAxis() const override { return transpose_ ? 1 : 0; }

  void LayerSetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const InnerProductParameter& param = layer_param_.inner_product_param();
    num_output_ = param.num_output();
    CONDENSE_CHECK(num_output_ > 0, Describe(), ": inner_product_param.num_output must be positive");
    bias_term_ = param.bias_term();
    transpose_ = param.transpose();
    const int axis = bottom[0]->CanonicalAxisIndex(param.axis());
    input_size_ = bottom[0]->count(axis);
    CONDENSE_CHECK(input_size_ > 0, Describe(), ": bottom shape ", bottom[0]->shape_string(),
                   " has no inputs from axis ", axis);

    blobs_.clear();
    const std::vector<int64_t> weight_shape =
        transpose_ ? std::vector<int64_t>{input_size_, num_output_}
                   : std::vector<int64_t>{num_output_, input_size_};
    blobs_.push_back(std::make_shared<Blob>(weight_shape));
    Fill(param.weight_filler(), blobs_[0].get());
    if (bias_term_) {
      blobs_.push_back(std::make_shared<Blob>(std::vector<int64_t>{num_output_}));
      Fill(param.bias_filler(), blobs_[1].get());
    }
    param_propagate_down_.assign(blobs_.size(), true);
  }

  void Reshape(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    const Blob& input = *bottom[0];
    const int axis = input.CanonicalAxisIndex(layer_param_.inner_product_param().axis());
    CONDENSE_CHECK(input.count(axis) == input_size_, Describe(), ": bottom shape ",
                   input.shape_string(), " gives ", input.count(axis),
                   " inputs per vector, the weights expect ", input_size_);
    batch_ = input.count(0, axis);
    std::vector<int64_t> top_shape(input.shape().begin(), input.shape().begin() + axis);
    top_shape.push_back(num_output_);
    top[0]->Reshape(top_shape);
    if (bias_term_) bias_multiplier_.assign(batch_, 1.0f);
  }

 protected:
  void ForwardCpu(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) override {
    if (const AccumulatorSpec* spec = quantization() ? quantization()->accumulator() : nullptr) {
      ForwardInteger(*spec, bottom[0]->data(), top[0]->mutable_data());
      return;
    }
    const float* input = bottom[0]->data();
    const float* weights = blobs_[0]->data();
    const float* bias = bias_term_ ? blobs_[1]->data() : nullptr;
    float* output = top[0]->mutable_data();
    const int64_t m = batch_;
    const int64_t n = num_output_;
    const int64_t k = input_size_;
    // Where the wrapper allows, the output format is applied in the bias pass, row slice by row slice.
    const TensorFormat* output_format =
        quantization() ? quantization()->FusibleOutputFormat() : nullptr;
    std::atomic<int64_t> saturated{0};
    if (m == 1) {
      // y = W x (W is N x K), or W^T x when W is stored (K x N).
      if (transpose_) {
        Gemv(Transpose::kYes, k, n, 1.0f, weights, input, 0.0f, output);
      } else {
        Gemv(Transpose::kNo, n, k, 1.0f, weights, input, 0.0f, output);
      }
      if (bias) Axpy(n, 1.0f, bias, output);
      if (output_format) {
        quantization()->OutputQuantized(0, output_format->Apply(output, output, n, 1, 0, nullptr));
      }
      return;
    }
    // Y[:, b:e] = X * W[b:e, :]^T (+ bias), one slice of outputs per thread.
    ForEachSlice(n, m * n * k, [&](int64_t begin, int64_t end) {
      if (transpose_) {
        Gemm(Transpose::kNo, Transpose::kNo, m, end - begin, k, 1.0f, input, k, weights + begin, n,
             0.0f, output + begin, n);
      } else {
        Gemm(Transpose::kNo, Transpose::kYes, m, end - begin, k, 1.0f, input, k,
             weights + begin * k, k, 0.0f, output + begin, n);
      }
      if (bias) {
        for (int64_t row = 0; row < m; ++row) {
          float* y = output + row * n;
          for (int64_t j = begin; j < end; ++j) y[j] += bias[j];
        }
      }
      if (!output_format) return;
      int64_t clipped = 0;
      if (begin == 0 && end == n) {
        clipped = output_format->Apply(output, output, m * n, 1, 0, nullptr);  // one call: one slice
      } else {
        for (int64_t row = 0; row < m; ++row) {
          float* y = output + row * n + begin;
          clipped += output_format->Apply(y, y, end - begin, 1, 0, nullptr);
        }
      }
      if (clipped > 0) saturated += clipped;
    });
    if (output_format) quantization()->OutputQuantized(0, saturated.load());
  }

  void BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                   const std::vector<Blob*>& bottom) override {
    const float* top_diff = top[0]->diff();
    const float* input = bottom[0]->data();
    const float* weights = blobs_[0]->data();
    const int64_t m = batch_;
    const int64_t n = num_output_;
    const int64_t k = input_size_;
    if (param_propagate_down(0)) {
      float* weight_diff = blobs_[0]->mutable_diff();
      if (transpose_) {
        // dW (K x N) += X^T * dY, a slice of W's rows per thread.
        ForEachSlice(k, m * n * k, [&](int64_t begin, int64_t end) {
          Gemm(Transpose::kYes, Transpose::kNo, end - begin, n, m, 1.0f, input + begin, k, top_diff,
               n, 1.0f, weight_diff + begin * n, n);
        });
      } else {
        // dW (N x K) += dY^T * X
        ForEachSlice(n, m * n * k, [&](int64_t begin, int64_t end) {
          Gemm(Transpose::kYes, Transpose::kNo, end - begin, k, m, 1.0f, top_diff + begin, n, input,
               k, 1.0f, weight_diff + begin * k, k);
        });
      }
    }
    if (bias_term_ && param_propagate_down(1)) {
      Gemv(Transpose::kYes, m, n, 1.0f, top_diff, bias_multiplier_.data(), 1.0f,
           blobs_[1]->mutable_diff());
    }
    if (propagate_down[0]) {
      // dX[:, b:e] = dY * W[:, b:e] (W is N x K), or dY * W[b:e, :]^T when W is stored (K x N).
      float* input_diff = bottom[0]->mutable_diff();
      ForEachSlice(k, m * n * k, [&](int64_t begin, int64_t end) {
        if (transpose_) {
          Gemm(Transpose::kNo, Transpose::kYes, m, end - begin, n, 1.0f, top_diff, n,
               weights + begin * n, n, 0.0f, input_diff + begin, k);
        } else {
          Gemm(Transpose::kNo, Transpose::kNo, m, end - begin, n, 1.0f, top_diff, n, weights + begin,
               k, 0.0f, input_diff + begin, k);
        }
      });
    }
  }

 private:
  void ForwardInteger(const AccumulatorSpec& spec, const float* input, float* output) {
    const int64_t n = num_output_;
    const int64_t k = input_size_;
    // The kernel reads each output's K weights side by side: (N, K), transposed back when stored (K, N).
    std::vector<float> weights(blobs_[0]->data(), blobs_[0]->data() + n * k);
    if (transpose_) {
      for (int64_t o = 0; o < n; ++o) {
        for (int64_t i = 0; i < k; ++i) weights[o * k + i] = blobs_[0]->data()[i * n + o];
      }
    }
    const std::string where = Describe() + ": accumulator_bits: ";
    const ParameterCodes codes =
        ToParameterCodes(spec, weights.data(), n * k, bias_term_ ? blobs_[1]->data() : nullptr, n, where);
    QuantizeStats* stats = quantization()->accumulator_stats();
    std::vector<QuantizeStats> thread_stats(ThreadCount());
    const SaturatingDotProducts dot_products(spec, codes.weights.data(), n, k,
                                             codes.bias.empty() ? nullptr : codes.bias.data());
    ParallelFor(batch_, batch_ * n * k, [&](int64_t begin, int64_t end, int thread) {
      const int64_t rows = end - begin;
      std::vector<int32_t> input_codes(rows * k);
      ToIntegerCodes(input + begin * k, rows * k, spec.input, input_codes.data(), where + "input 0");
      IntegerDotProducts products;
      products.inputs = input_codes.data();
      products.rows = rows;
      products.out = output + begin * n;
      products.out_row_stride = n;
      products.out_output_stride = 1;
      dot_products.Compute(products, stats ? &thread_stats[thread] : nullptr);
    });
    if (!stats) return;
    for (const QuantizeStats& part : thread_stats) stats->Merge(part);
  }

  int64_t num_output_ = 0;
  bool bias_term_ = true;
  bool transpose_ = false;
  int64_t input_size_ = 0;  // K: the length of one input vector
  int64_t batch_ = 0;       // M: the number of input vectors
  std::vector<float> bias_multiplier_;
};

}  // namespace

CONDENSE_REGISTER_LAYER("InnerProduct", InnerProduct);

}  // namespace condense
