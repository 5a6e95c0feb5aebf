#include "condense/net/layer.hpp"

#include "condense/core/error.hpp"
#include "condense/core/math.hpp"
#include "condense/quant/layer_quantization.hpp"

namespace condense {

Layer::Layer(const LayerParameter& param) : layer_param_(param), phase_(param.phase()) {
  // Weights come in through Net::CopyTrainedLayersFrom, after set-up, never through the definition.
  layer_param_.clear_blobs();
}

Layer::~Layer() = default;

std::string Layer::Describe() const {
  return StrCat("layer '", layer_param_.name(), "' (", layer_param_.type(), ")");
}

void Layer::CheckBlobCounts(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) const {
  const int bottoms = static_cast<int>(bottom.size());
  const int tops = static_cast<int>(top.size());
  if (ExactNumBottomBlobs() >= 0) {
    CONDENSE_CHECK(bottoms == ExactNumBottomBlobs(), Describe(), " takes ", ExactNumBottomBlobs(),
                   " bottom blob(s), not ", bottoms);
  }
  if (MinBottomBlobs() >= 0) {
    CONDENSE_CHECK(bottoms >= MinBottomBlobs(), Describe(), " takes at least ", MinBottomBlobs(),
                   " bottom blob(s), not ", bottoms);
  }
  if (MaxBottomBlobs() >= 0) {
    CONDENSE_CHECK(bottoms <= MaxBottomBlobs(), Describe(), " takes at most ", MaxBottomBlobs(),
                   " bottom blob(s), not ", bottoms);
  }
  if (ExactNumTopBlobs() >= 0) {
    CONDENSE_CHECK(tops == ExactNumTopBlobs(), Describe(), " produces ", ExactNumTopBlobs(),
                   " top blob(s), not ", tops);
  }
  if (MinTopBlobs() >= 0) {
    CONDENSE_CHECK(tops >= MinTopBlobs(), Describe(), " produces at least ", MinTopBlobs(),
                   " top blob(s), not ", tops);
  }
  if (MaxTopBlobs() >= 0) {
    CONDENSE_CHECK(tops <= MaxTopBlobs(), Describe(), " produces at most ", MaxTopBlobs(),
                   " top blob(s), not ", tops);
  }
  if (EqualNumBottomTopBlobs()) {
    CONDENSE_CHECK(bottoms == tops, Describe(), " needs as many tops as bottoms (", bottoms, " vs ",
                   tops, ")");
  }
}

void Layer::SetUp(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) {
  CheckBlobCounts(bottom, top);
  try {
    LayerSetUp(bottom, top);
    if (quantization_) {
      QuantizableParts parts;
      for (size_t i = 0; i < bottom.size(); ++i) parts.inputs.push_back(QuantizableInput(static_cast<int>(i)));
      for (size_t i = 0; i < top.size(); ++i) parts.outputs.push_back(QuantizableOutput(static_cast<int>(i)));
      parts.parameters = QuantizableParameters();
      parts.weight_output_axis = WeightOutputAxis();
      parts.integer_accumulator = SupportsIntegerAccumulator();
      quantization_->SetUp(bottom, top, blobs_, parts);
    }
    ReshapeAll(bottom, top);
    if (quantization_) CheckNoOutputSharesAnInput(bottom, top);
  } catch (const Error& error) {
    const std::string message = error.what();
    // Keep one prefix: messages raised by the layer itself usually name it already.
    if (message.find("'" + name() + "'") != std::string::npos) throw;
    Fail(Describe(), ": ", message);
  }
  SetLossWeights(top);
}

void Layer::CheckNoOutputSharesAnInput(const std::vector<Blob*>& bottom,
                                       const std::vector<Blob*>& top) const {
  // Flatten, Reshape and a one-input Concat or Slice hand on their input's memory: quantizing their
  // output in place would change a blob that other layers read. (A layer computed in place, top and
  // bottom one blob, changes it by design, as in Caffe.)
  for (const Blob* out : top) {
    for (const Blob* in : bottom) {
      CONDENSE_CHECK(out == in || !out->SharesDataWith(*in), Describe(),
                     ": quantization_param on a layer whose output is its input's memory would change "
                     "a blob other layers read; put it on the layer that produces or reads that blob");
    }
  }
}

void Layer::SetLossWeights(const std::vector<Blob*>& top) {
  const int given = layer_param_.loss_weight_size();
  CONDENSE_CHECK(given == 0 || given == static_cast<int>(top.size()), Describe(), " has ", given,
                 " loss_weight values for ", top.size(), " tops");
  for (int top_id = 0; top_id < static_cast<int>(top.size()); ++top_id) {
    const float weight = given > 0 ? layer_param_.loss_weight(top_id) : DefaultLossWeight(top_id);
    if (weight == 0.0f) continue;
    set_loss(top_id, weight);
    // The loss's gradient w.r.t. a top is its weight: Backward starts from there.
    top[top_id]->SetDiff(weight);
  }
}

void Layer::set_loss(int top_index, float value) {
  if (top_index >= static_cast<int>(loss_.size())) loss_.resize(top_index + 1, 0.0f);
  loss_[top_index] = value;
}

void Layer::set_param_propagate_down(int param_index, bool value) {
  if (param_index >= static_cast<int>(param_propagate_down_.size())) {
    param_propagate_down_.resize(param_index + 1, true);
  }
  param_propagate_down_[param_index] = value;
}

void Layer::set_quantization(std::unique_ptr<LayerQuantization> quantization) {
  quantization_ = std::move(quantization);
}

void Layer::ReshapeAll(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) {
  Reshape(bottom, top);
  if (quantization_) quantization_->Reshape(bottom, top);
}

namespace {

// Quantized copies of a layer's parameters in place of the float shadow weights for one pass, put back
// however the pass ends: one that throws (NaN on the integer path) must not leave quantized values
// where the solver and snapshots read the weights.
class QuantizedParametersInPlace {
 public:
  QuantizedParametersInPlace(LayerQuantization& quantization,
                             std::vector<std::shared_ptr<Blob>>& parameters, bool refresh)
      : quantization_(quantization), parameters_(parameters) {
    quantization_.SwapInQuantizedParameters(parameters_, refresh);
  }
  ~QuantizedParametersInPlace() { quantization_.RestoreParameters(parameters_); }
  QuantizedParametersInPlace(const QuantizedParametersInPlace&) = delete;
  QuantizedParametersInPlace& operator=(const QuantizedParametersInPlace&) = delete;

 private:
  LayerQuantization& quantization_;
  std::vector<std::shared_ptr<Blob>>& parameters_;
};

}  // namespace

float Layer::Forward(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) {
  ReshapeAll(bottom, top);
  if (quantization_) {
    const std::vector<Blob*>& inputs = quantization_->QuantizeInputs(bottom);
    {
      QuantizedParametersInPlace quantized(*quantization_, blobs_, /*refresh=*/true);
      ForwardCpu(inputs, top);
    }
    quantization_->QuantizeOutputs(top);
  } else {
    ForwardCpu(bottom, top);
  }
  float loss = 0.0f;
  for (int top_id = 0; top_id < static_cast<int>(top.size()); ++top_id) {
    if (this->loss(top_id) == 0.0f) continue;
    loss += Dot(top[top_id]->count(), top[top_id]->data(), top[top_id]->diff());
  }
  return loss;
}

void Layer::Backward(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                     const std::vector<Blob*>& bottom) {
  if (quantization_) {
    // The gradient flows through the quantizers unchanged; the weights seen are the quantized ones.
    const std::vector<Blob*>& inputs = quantization_->QuantizedInputs(bottom);
    quantization_->MaskClippedOutputGradients(top);
    {
      QuantizedParametersInPlace quantized(*quantization_, blobs_, /*refresh=*/false);
      BackwardCpu(top, propagate_down, inputs);
    }
    quantization_->MaskClippedGradients(bottom, propagate_down, blobs_);
  } else {
    BackwardCpu(top, propagate_down, bottom);
  }
}

void Layer::BackwardCpu(const std::vector<Blob*>& top, const std::vector<bool>& propagate_down,
                        const std::vector<Blob*>& bottom) {
  for (bool wanted : propagate_down) {
    CONDENSE_CHECK(!wanted, Describe(), " cannot compute a gradient for its inputs");
  }
}

}  // namespace condense
