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
      std::vector<bool> quantizable(bottom.size());
      for (size_t i = 0; i < bottom.size(); ++i) quantizable[i] = AllowForceBackward(static_cast<int>(i));
      quantization_->SetUp(bottom, top, blobs_, quantizable, SupportsIntegerAccumulator());
    }
    ReshapeAll(bottom, top);
  } catch (const Error& error) {
    const std::string message = error.what();
    // Keep one prefix: messages raised by the layer itself usually name it already.
    if (message.find("'" + name() + "'") != std::string::npos) throw;
    Fail(Describe(), ": ", message);
  }
  SetLossWeights(top);
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

float Layer::Forward(const std::vector<Blob*>& bottom, const std::vector<Blob*>& top) {
  ReshapeAll(bottom, top);
  if (quantization_) {
    const std::vector<Blob*>& inputs = quantization_->QuantizeInputs(bottom);
    quantization_->SwapInQuantizedParameters(blobs_, /*refresh=*/true);
    ForwardCpu(inputs, top);
    quantization_->RestoreParameters(blobs_);
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
    quantization_->SwapInQuantizedParameters(blobs_, /*refresh=*/false);
    BackwardCpu(top, propagate_down, inputs);
    quantization_->RestoreParameters(blobs_);
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
