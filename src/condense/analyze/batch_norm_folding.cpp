#include "condense/analyze/batch_norm_folding.hpp"

#include <glog/logging.h>

#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

#include "condense/core/blob.hpp"
#include "condense/core/error.hpp"

namespace condense {
namespace {

bool IsFoldTarget(const std::string& type) {
  return type == "Convolution" || type == "Deconvolution" || type == "InnerProduct";
}

// The first layer after `after` that reads `blob`, or -1.
int NextReader(const NetParameter& model, int after, const std::string& blob) {
  for (int j = after + 1; j < model.layer_size(); ++j) {
    for (const std::string& bottom : model.layer(j).bottom()) {
      if (bottom == blob) return j;
    }
  }
  return -1;
}

// A layer after `after`, other than `except`, that reads `blob`, or -1.
int OtherReader(const NetParameter& model, int after, const std::string& blob, int except) {
  for (int j = after + 1; j < model.layer_size(); ++j) {
    if (j == except) continue;
    for (const std::string& bottom : model.layer(j).bottom()) {
      if (bottom == blob) return j;
    }
  }
  return -1;
}

// Layers that exist in different phases cannot be merged into one.
bool SamePhases(const LayerParameter& a, const LayerParameter& b) {
  if (a.include_size() != b.include_size() || a.exclude_size() != b.exclude_size()) return false;
  for (int i = 0; i < a.include_size(); ++i) {
    if (a.include(i).SerializeAsString() != b.include(i).SerializeAsString()) return false;
  }
  for (int i = 0; i < a.exclude_size(); ++i) {
    if (a.exclude(i).SerializeAsString() != b.exclude(i).SerializeAsString()) return false;
  }
  return true;
}

const LayerParameter* FindWeights(const NetParameter& weights, const std::string& name) {
  for (const LayerParameter& layer : weights.layer()) {
    if (layer.name() == name) return &layer;
  }
  return nullptr;
}

LayerParameter* FindMutableWeights(NetParameter* weights, const std::string& name) {
  for (LayerParameter& layer : *weights->mutable_layer()) {
    if (layer.name() == name) return &layer;
  }
  return nullptr;
}

std::vector<double> ValuesOf(const BlobProto& blob) {
  if (blob.double_data_size() > 0) return {blob.double_data().begin(), blob.double_data().end()};
  return {blob.data().begin(), blob.data().end()};
}

// Replaces the values, leaving the shape fields (legacy num/channels/... included) as they were, so
// the blob still matches the layer it loads into.
void SetValues(const std::vector<double>& values, BlobProto* blob) {
  blob->clear_data();
  blob->clear_double_data();
  for (double value : values) blob->add_data(static_cast<float>(value));
}

int64_t OutputChannels(const LayerParameter& layer) {
  return layer.type() == "InnerProduct" ? layer.inner_product_param().num_output()
                                        : layer.convolution_param().num_output();
}

bool HasBias(const LayerParameter& layer) {
  return layer.type() == "InnerProduct" ? layer.inner_product_param().bias_term()
                                        : layer.convolution_param().bias_term();
}

// The output channel each weight multiplies into, by the weight blob's layout: convolution
// [out, in/group, kernel...], inner product [out, in] ([in, out] transposed), deconvolution
// [in, out/group, kernel...].
std::vector<int64_t> ChannelOfWeights(const LayerParameter& layer, const BlobProto& blob,
                                      int64_t channels, const std::string& where) {
  const std::vector<int64_t> shape = ShapeOfProto(blob);
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  CONDENSE_CHECK(channels > 0 && count % channels == 0, where, ": the weights of layer '",
                 layer.name(), "' hold ", count, " values, not a multiple of num_output ", channels);
  std::vector<int64_t> channel(count);
  if (layer.type() == "Deconvolution") {
    const int64_t group = layer.convolution_param().group();
    CONDENSE_CHECK(shape.size() >= 2 && shape[1] * group == channels, where, ": the weights of layer '",
                   layer.name(), "' do not have num_output / group = ", channels / group, " as axis 1");
    const int64_t kernel = count / (shape[0] * shape[1]);
    const int64_t inputs_per_group = shape[0] / group;
    for (int64_t e = 0; e < count; ++e) {
      const int64_t input = e / (shape[1] * kernel);
      channel[e] = input / inputs_per_group * shape[1] + (e / kernel) % shape[1];
    }
  } else if (layer.type() == "InnerProduct" && layer.inner_product_param().transpose()) {
    for (int64_t e = 0; e < count; ++e) channel[e] = e % channels;
  } else {
    const int64_t per_channel = count / channels;
    for (int64_t e = 0; e < count; ++e) channel[e] = e / per_channel;
  }
  return channel;
}

// One fold found in the model: indices of the layers.
struct FoldPlan {
  int target = -1;
  int batch_norm = -1;
  int scale = -1;  // -1 when no Scale layer follows
};

// Why the BatchNorm `bn` cannot be folded into `target`, or "" when it can.
std::string WhyNotFoldable(const NetParameter& model, const NetParameter& weights, int target, int bn) {
  const LayerParameter& conv = model.layer(target);
  const LayerParameter& norm = model.layer(bn);
  const std::string& top = conv.top(0);
  const int first = NextReader(model, target, top);
  if (first != bn) return StrCat("its output '", top, "' also feeds '", model.layer(first).name(), "'");
  if (norm.top(0) != top) {
    const int other = OtherReader(model, target, top, bn);
    if (other >= 0) return StrCat("its output '", top, "' also feeds '", model.layer(other).name(), "'");
  }
  if (!SamePhases(conv, norm)) return "the two layers are included in different phases";
  if (norm.batch_norm_param().has_use_global_stats() && !norm.batch_norm_param().use_global_stats()) {
    return "the BatchNorm normalizes by batch statistics (use_global_stats: false)";
  }
  const int axis = conv.type() == "InnerProduct" ? conv.inner_product_param().axis()
                                                 : conv.convolution_param().axis();
  if (axis != 1) return StrCat("its channel axis is ", axis, ", not 1 as BatchNorm's");
  const int64_t channels = OutputChannels(conv);
  const LayerParameter* conv_weights = FindWeights(weights, conv.name());
  if (!conv_weights || conv_weights->blobs_size() != (HasBias(conv) ? 2 : 1)) {
    return StrCat("the weights hold no ", HasBias(conv) ? 2 : 1, " blobs for '", conv.name(), "'");
  }
  const LayerParameter* norm_weights = FindWeights(weights, norm.name());
  if (!norm_weights || norm_weights->blobs_size() != 3) {
    return StrCat("the weights hold no mean, variance and scale factor for '", norm.name(), "'");
  }
  if (norm_weights->blobs(0).data_size() + norm_weights->blobs(0).double_data_size() != channels ||
      norm_weights->blobs(1).data_size() + norm_weights->blobs(1).double_data_size() != channels) {
    return StrCat("the statistics of '", norm.name(), "' do not hold ", channels, " channels");
  }
  return "";
}

// Why the Scale `scale` cannot be folded after the BatchNorm `bn`, or "" when it can.
std::string WhyScaleNotFoldable(const NetParameter& model, const NetParameter& weights, int bn,
                                int scale, int64_t channels) {
  const LayerParameter& norm = model.layer(bn);
  const LayerParameter& layer = model.layer(scale);
  if (layer.bottom_size() != 1) return "its scale is a second bottom, not a learned blob";
  if (layer.scale_param().axis() != 1 || layer.scale_param().num_axes() != 1) {
    return "it does not scale per channel (axis 1, num_axes 1)";
  }
  if (!SamePhases(norm, layer)) return "it is included in other phases than the BatchNorm";
  if (layer.top(0) != norm.top(0)) {
    const int other = OtherReader(model, bn, norm.top(0), scale);
    if (other >= 0) {
      return StrCat("the BatchNorm's output '", norm.top(0), "' also feeds '", model.layer(other).name(), "'");
    }
  }
  const bool bias = layer.scale_param().bias_term();
  const LayerParameter* scale_weights = FindWeights(weights, layer.name());
  if (!scale_weights || scale_weights->blobs_size() != (bias ? 2 : 1)) {
    return StrCat("the weights hold no ", bias ? "gamma and beta" : "gamma", " for it");
  }
  for (const BlobProto& blob : scale_weights->blobs()) {
    if (blob.data_size() + blob.double_data_size() != channels) {
      return StrCat("its blobs do not hold ", channels, " channels");
    }
  }
  return "";
}

std::vector<FoldPlan> PlanFolds(const NetParameter& model, const NetParameter& weights,
                                const std::string& source) {
  std::vector<FoldPlan> plans;
  std::set<int> claimed;
  for (int i = 0; i < model.layer_size(); ++i) {
    const LayerParameter& layer = model.layer(i);
    if (!IsFoldTarget(layer.type()) || layer.top_size() != 1) continue;
    int bn = -1;
    for (int j = i + 1; j < model.layer_size() && bn < 0; ++j) {
      const LayerParameter& reader = model.layer(j);
      if (reader.type() == "BatchNorm" && reader.bottom_size() == 1 && reader.bottom(0) == layer.top(0)) {
        bn = j;
      }
    }
    if (bn < 0 || claimed.count(bn)) continue;
    const std::string why = WhyNotFoldable(model, weights, i, bn);
    if (!why.empty()) {
      LOG(INFO) << source << ": not folding BatchNorm '" << model.layer(bn).name() << "' into '"
                << layer.name() << "': " << why;
      continue;
    }
    FoldPlan plan{i, bn, -1};
    const int next = NextReader(model, bn, model.layer(bn).top(0));
    if (next >= 0 && model.layer(next).type() == "Scale") {
      const std::string scale_why = WhyScaleNotFoldable(model, weights, bn, next, OutputChannels(layer));
      if (scale_why.empty()) {
        plan.scale = next;
      } else {
        LOG(INFO) << source << ": folding BatchNorm '" << model.layer(bn).name() << "' but not Scale '"
                  << model.layer(next).name() << "': " << scale_why;
      }
    }
    claimed.insert(bn);
    if (plan.scale >= 0) claimed.insert(plan.scale);
    plans.push_back(plan);
  }
  return plans;
}

// Folds one plan's statistics into the target's weights entry.
void FoldWeights(const NetParameter& model, const FoldPlan& plan, const std::string& source,
                 NetParameter* weights) {
  const LayerParameter& conv = model.layer(plan.target);
  const int64_t channels = OutputChannels(conv);
  const LayerParameter& norm_weights = *FindWeights(*weights, model.layer(plan.batch_norm).name());
  const double factor_sum = ValuesOf(norm_weights.blobs(2)).at(0);
  // Caffe divides the stored sums by their weight, and treats a weight of 0 as "no statistics yet".
  const double factor = factor_sum == 0 ? 0 : 1 / factor_sum;
  const std::vector<double> mean = ValuesOf(norm_weights.blobs(0));
  const std::vector<double> variance = ValuesOf(norm_weights.blobs(1));
  const double eps = model.layer(plan.batch_norm).batch_norm_param().eps();
  std::vector<double> gamma(channels, 1.0), beta(channels, 0.0);
  if (plan.scale >= 0) {
    const LayerParameter& scale_weights = *FindWeights(*weights, model.layer(plan.scale).name());
    gamma = ValuesOf(scale_weights.blobs(0));
    if (scale_weights.blobs_size() > 1) beta = ValuesOf(scale_weights.blobs(1));
  }
  std::vector<double> multiplier(channels), offset(channels);
  for (int64_t c = 0; c < channels; ++c) {
    multiplier[c] = gamma[c] / std::sqrt(variance[c] * factor + eps);
    offset[c] = beta[c] - mean[c] * factor * multiplier[c];
  }

  LayerParameter& target = *FindMutableWeights(weights, conv.name());
  const std::vector<int64_t> channel_of =
      ChannelOfWeights(conv, target.blobs(0), channels, source);
  std::vector<double> w = ValuesOf(target.blobs(0));
  for (size_t e = 0; e < w.size(); ++e) w[e] *= multiplier[channel_of[e]];
  SetValues(w, target.mutable_blobs(0));
  std::vector<double> bias(channels, 0.0);
  if (target.blobs_size() > 1) {
    bias = ValuesOf(target.blobs(1));
    CONDENSE_CHECK(static_cast<int64_t>(bias.size()) == channels, source, ": the bias of layer '",
                   conv.name(), "' holds ", bias.size(), " values, not num_output ", channels);
  } else {
    target.add_blobs()->mutable_shape()->add_dim(channels);
  }
  for (int64_t c = 0; c < channels; ++c) bias[c] = bias[c] * multiplier[c] + offset[c];
  SetValues(bias, target.mutable_blobs(1));
}

}  // namespace

FoldedNet FoldBatchNorm(const NetParameter& model, const NetParameter& weights,
                        const std::string& source) {
  FoldedNet result;
  result.weights = weights;
  const std::vector<FoldPlan> plans = PlanFolds(model, weights, source);
  std::set<int> removed;
  std::set<std::string> removed_names;
  for (const FoldPlan& plan : plans) {
    FoldWeights(model, plan, source, &result.weights);
    removed.insert(plan.batch_norm);
    removed_names.insert(model.layer(plan.batch_norm).name());
    std::string line = model.layer(plan.batch_norm).name();
    if (plan.scale >= 0) {
      removed.insert(plan.scale);
      removed_names.insert(model.layer(plan.scale).name());
      line += " + " + model.layer(plan.scale).name();
    }
    result.folded.push_back(line + " into " + model.layer(plan.target).name());
  }

  // The definition: targets gain a bias, folded layers go, and readers of the last folded layer's
  // output (when it was not in place) read the target's output instead.
  result.model = model;
  for (const FoldPlan& plan : plans) {
    LayerParameter* target = result.model.mutable_layer(plan.target);
    if (target->type() == "InnerProduct") {
      target->mutable_inner_product_param()->set_bias_term(true);
    } else {
      target->mutable_convolution_param()->set_bias_term(true);
    }
    const int last = plan.scale >= 0 ? plan.scale : plan.batch_norm;
    const std::string& folded_top = model.layer(last).top(0);
    const std::string& target_top = model.layer(plan.target).top(0);
    if (folded_top == target_top) continue;
    for (int j = last + 1; j < result.model.layer_size(); ++j) {
      LayerParameter* layer = result.model.mutable_layer(j);
      for (std::string& bottom : *layer->mutable_bottom()) {
        if (bottom == folded_top) bottom = target_top;
      }
      for (std::string& top : *layer->mutable_top()) {
        if (top == folded_top) top = target_top;  // an in-place reader of the folded output
      }
    }
  }
  auto* layers = result.model.mutable_layer();
  for (int j = layers->size() - 1; j >= 0; --j) {
    if (removed.count(j)) layers->DeleteSubrange(j, 1);
  }
  auto* weight_layers = result.weights.mutable_layer();
  for (int j = weight_layers->size() - 1; j >= 0; --j) {
    if (removed_names.count(weight_layers->Get(j).name())) weight_layers->DeleteSubrange(j, 1);
  }
  return result;
}

}  // namespace condense
