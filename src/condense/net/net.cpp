#include "condense/net/net.hpp"

#include <glog/logging.h>

#include <set>
#include <utility>

#include "condense/core/error.hpp"
#include "condense/net/layer_registry.hpp"
#include "condense/net/upgrade.hpp"
#include "condense/net/weights_file.hpp"
#include "condense/quant/layer_quantizer.hpp"

namespace condense {

// ---------------------------------------------------------------------------------------------------
// Selecting layers by state

bool StateMeetsRule(const NetState& state, const NetStateRule& rule, const std::string& layer_name) {
  if (rule.has_phase() && rule.phase() != state.phase()) return false;
  if (rule.has_min_level() && state.level() < rule.min_level()) return false;
  if (rule.has_max_level() && state.level() > rule.max_level()) return false;
  const std::set<std::string> stages(state.stage().begin(), state.stage().end());
  for (const std::string& stage : rule.stage()) {
    if (stages.count(stage) == 0) return false;
  }
  for (const std::string& stage : rule.not_stage()) {
    if (stages.count(stage) > 0) return false;
  }
  return true;
}

NetParameter FilterNet(const NetParameter& param) {
  NetParameter filtered(param);
  filtered.clear_layer();
  for (const LayerParameter& layer : param.layer()) {
    CONDENSE_CHECK(layer.include_size() == 0 || layer.exclude_size() == 0, "layer '", layer.name(),
                   "' has both include and exclude rules; give only one kind");
    // With include rules the layer is out unless one matches; with exclude rules it is in unless one does.
    bool keep = layer.include_size() == 0;
    for (const NetStateRule& rule : layer.exclude()) {
      if (StateMeetsRule(param.state(), rule, layer.name())) keep = false;
    }
    for (const NetStateRule& rule : layer.include()) {
      if (StateMeetsRule(param.state(), rule, layer.name())) keep = true;
    }
    if (keep) *filtered.add_layer() = layer;
  }
  return filtered;
}

// ---------------------------------------------------------------------------------------------------
// Split insertion

namespace {

std::string SplitLayerName(const std::string& layer, const std::string& blob, int top_index) {
  return StrCat(blob, "_", layer, "_", top_index, "_split");
}

std::string SplitBlobName(const std::string& layer, const std::string& blob, int top_index,
                          int copy) {
  return StrCat(blob, "_", layer, "_", top_index, "_split_", copy);
}

using TopIndex = std::pair<int, int>;  // (layer, top)

// The loss weight of each top of `layer`: the prototxt's loss_weight values, else the layer type's
// default (1 for a loss layer's first top). Unknown types weigh nothing here; building them fails later.
std::vector<float> TopLossWeights(const LayerParameter& layer) {
  std::vector<float> weights(static_cast<size_t>(layer.top_size()), 0.0f);
  if (layer.loss_weight_size() > 0) {
    for (int j = 0; j < layer.top_size() && j < layer.loss_weight_size(); ++j) {
      weights[j] = layer.loss_weight(j);
    }
    return weights;
  }
  if (!LayerRegistry::Has(layer.type())) return weights;
  const std::unique_ptr<Layer> instance = LayerRegistry::Create(layer);
  for (int j = 0; j < layer.top_size(); ++j) weights[j] = instance->DefaultLossWeight(j);
  return weights;
}

}  // namespace

NetParameter InsertSplits(const NetParameter& param) {
  std::map<std::string, TopIndex> last_producer;
  std::map<TopIndex, int> readers;
  std::map<std::pair<int, int>, TopIndex> bottom_source;
  for (int i = 0; i < param.layer_size(); ++i) {
    const LayerParameter& layer = param.layer(i);
    for (int j = 0; j < layer.bottom_size(); ++j) {
      const auto producer = last_producer.find(layer.bottom(j));
      CONDENSE_CHECK(producer != last_producer.end(), "layer '", layer.name(), "': bottom blob '",
                     layer.bottom(j), "' (bottom ", j, ") is produced by no earlier layer");
      bottom_source[{i, j}] = producer->second;
      ++readers[producer->second];
    }
    for (int j = 0; j < layer.top_size(); ++j) last_producer[layer.top(j)] = {i, j};
  }
  // A top that is a loss counts as one more reader (Caffe's rule), so a loss top read by another
  // layer gets a Split whose copy 0 carries the loss weight and whose copies 1, 2, ... feed the readers.
  std::map<TopIndex, float> loss_weights;
  for (int i = 0; i < param.layer_size(); ++i) {
    const LayerParameter& layer = param.layer(i);
    bool read = false;
    for (int j = 0; j < layer.top_size(); ++j) read |= readers.count({i, j}) > 0;
    if (!read) continue;  // a loss nobody else reads needs no split: skip building the layer
    const std::vector<float> weights = TopLossWeights(layer);
    for (int j = 0; j < layer.top_size(); ++j) {
      if (weights[j] == 0.0f) continue;
      loss_weights[{i, j}] = weights[j];
      ++readers[{i, j}];
    }
  }
  NetParameter result(param);
  result.clear_layer();
  std::map<TopIndex, int> next_copy;
  for (int i = 0; i < param.layer_size(); ++i) {
    LayerParameter* layer = result.add_layer();
    *layer = param.layer(i);
    for (int j = 0; j < layer->bottom_size(); ++j) {
      const TopIndex source = bottom_source[{i, j}];
      if (readers[source] > 1) {
        const std::string& producer = param.layer(source.first).name();
        layer->set_bottom(j, SplitBlobName(producer, layer->bottom(j), source.second,
                                           next_copy[source]++));
      }
    }
    std::vector<float> kept_loss_weights;  // the producer's own weights once split copies take some
    bool loss_moved = false;
    for (int j = 0; j < layer->top_size(); ++j) {
      const TopIndex top{i, j};
      const auto loss = loss_weights.find(top);
      const float loss_weight = loss != loss_weights.end() ? loss->second : 0.0f;
      kept_loss_weights.push_back(loss_weight);
      if (readers[top] <= 1) continue;
      LayerParameter* split = result.add_layer();
      split->set_name(SplitLayerName(layer->name(), layer->top(j), j));
      split->set_type("Split");
      split->add_bottom(layer->top(j));
      for (int k = 0; k < readers[top]; ++k) {
        split->add_top(SplitBlobName(layer->name(), layer->top(j), j, k));
        if (loss_weight != 0.0f) split->add_loss_weight(k == 0 ? loss_weight : 0.0f);
      }
      if (loss_weight != 0.0f) {
        // Copy 0 is the loss's; the readers take copies from 1 on. The loss moves to the split,
        // so it is counted once.
        next_copy[top] = 1;
        kept_loss_weights.back() = 0.0f;
        loss_moved = true;
      }
    }
    // Explicit zeros, not an empty list, so a loss layer does not fall back to its default weight;
    // tops whose loss was not split off keep theirs. A loss_weight list of the wrong length is left
    // as it is, for the layer's set-up to refuse.
    if (loss_moved &&
        (layer->loss_weight_size() == 0 || layer->loss_weight_size() == layer->top_size())) {
      layer->clear_loss_weight();
      for (float weight : kept_loss_weights) layer->add_loss_weight(weight);
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------
// Building the net

Net::Net(const NetParameter& param, const std::string& source) : source_(source) {
  try {
    Init(param);
  } catch (const Error& error) {
    if (source_.empty()) throw;
    Fail(source_, ": ", error.what());
  }
}

std::unique_ptr<Net> Net::FromFile(const std::string& path, Phase phase, int level,
                                   const std::vector<std::string>& stages) {
  NetParameter param = ReadNetParameterFile(path);
  param.mutable_state()->set_phase(phase);
  param.mutable_state()->set_level(level);
  // As Caffe: the given stages join those the prototxt's own `state { stage }` lists.
  for (const std::string& stage : stages) param.mutable_state()->add_stage(stage);
  return std::make_unique<Net>(param, path);
}

void Net::Init(const NetParameter& in_param) {
  phase_ = in_param.state().phase();
  const NetParameter param = InsertSplits(FilterNet(in_param));
  name_ = param.name();
  std::map<std::string, int> available_blobs;  // produced but not yet consumed
  const int layer_count = param.layer_size();
  bottom_vecs_.resize(layer_count);
  top_vecs_.resize(layer_count);
  bottom_id_vecs_.resize(layer_count);
  top_id_vecs_.resize(layer_count);
  param_id_vecs_.resize(layer_count);
  bottom_need_backward_.resize(layer_count);
  int64_t memory_floats = 0;
  for (int layer_id = 0; layer_id < layer_count; ++layer_id) {
    LayerParameter layer_param = param.layer(layer_id);
    if (!layer_param.has_phase()) layer_param.set_phase(phase_);
    CONDENSE_CHECK(layer_index_.count(layer_param.name()) == 0, "two layers are named '",
                   layer_param.name(), "'");
    CONDENSE_CHECK(layer_param.propagate_down_size() == 0 ||
                       layer_param.propagate_down_size() == layer_param.bottom_size(),
                   "layer '", layer_param.name(), "': propagate_down must be given once per bottom");
    layers_.push_back(LayerRegistry::Create(layer_param));
    Layer& layer = *layers_.back();
    layer.set_quantization(MakeLayerQuantization(layer_param, ""));
    layer_names_.push_back(layer_param.name());
    layer_index_[layer_param.name()] = layer_id;

    bool need_backward = false;
    for (int bottom_id = 0; bottom_id < layer_param.bottom_size(); ++bottom_id) {
      const int blob_id = AppendBottom(param, layer_id, bottom_id, &available_blobs);
      need_backward |= blob_need_backward_[blob_id];
    }
    for (int top_id = 0; top_id < layer_param.top_size(); ++top_id) {
      AppendTop(param, layer_id, top_id, &available_blobs);
      if (layer_param.type() == "Input") {
        const int blob_id = static_cast<int>(blobs_.size()) - 1;
        input_blob_indices_.push_back(blob_id);
        input_blobs_.push_back(blobs_[blob_id].get());
      }
    }
    if (layer.AutoTopBlobs()) {
      const int needed = std::max(layer.MinTopBlobs(), layer.ExactNumTopBlobs());
      for (int top_id = layer_param.top_size(); top_id < needed; ++top_id) {
        AppendTop(param, layer_id, top_id, nullptr);
      }
    }
    layer.SetUp(bottom_vecs_[layer_id], top_vecs_[layer_id]);
    for (size_t top_id = 0; top_id < top_vecs_[layer_id].size(); ++top_id) {
      const int blob_id = top_id_vecs_[layer_id][top_id];
      if (blob_loss_weights_.size() <= static_cast<size_t>(blob_id)) {
        blob_loss_weights_.resize(blob_id + 1, 0.0f);
      }
      blob_loss_weights_[blob_id] = layer.loss(static_cast<int>(top_id));
      memory_floats += top_vecs_[layer_id][top_id]->count();
      VLOG(1) << layer_param.name() << " (" << layer_param.type() << ") -> "
              << blob_names_[blob_id] << " " << top_vecs_[layer_id][top_id]->shape_string();
    }
    const int declared_params = layer_param.param_size();
    const int param_blobs = static_cast<int>(layer.blobs().size());
    CONDENSE_CHECK(declared_params <= param_blobs, "layer '", layer_param.name(), "' declares ",
                   declared_params, " param { } entries but has only ", param_blobs,
                   " parameter blob(s)");
    for (int param_id = 0; param_id < param_blobs; ++param_id) {
      const bool learns = param_id < declared_params ? layer_param.param(param_id).lr_mult() != 0.0f
                                                     : true;
      need_backward |= learns;
      layer.set_param_propagate_down(param_id, learns);
      AppendParam(param, layer_id, param_id);
    }
    layer_need_backward_.push_back(need_backward);
    if (need_backward) {
      for (int blob_id : top_id_vecs_[layer_id]) blob_need_backward_[blob_id] = true;
    }
  }

  // Walk back from the losses: a layer that feeds no loss, or whose inputs need no gradient, is skipped.
  std::set<std::string> blobs_under_loss;
  std::set<std::string> blobs_skip_backward;
  for (int layer_id = layer_count - 1; layer_id >= 0; --layer_id) {
    bool contributes_to_loss = false;
    bool skip_propagate_down = true;
    for (size_t top_id = 0; top_id < top_vecs_[layer_id].size(); ++top_id) {
      const std::string& blob_name = blob_names_[top_id_vecs_[layer_id][top_id]];
      if (layers_[layer_id]->loss(static_cast<int>(top_id)) != 0.0f ||
          blobs_under_loss.count(blob_name) > 0) {
        contributes_to_loss = true;
      }
      if (blobs_skip_backward.count(blob_name) == 0) skip_propagate_down = false;
      if (contributes_to_loss && !skip_propagate_down) break;
    }
    if (layer_need_backward_[layer_id] && skip_propagate_down) {
      layer_need_backward_[layer_id] = false;
      for (size_t b = 0; b < bottom_vecs_[layer_id].size(); ++b) bottom_need_backward_[layer_id][b] = false;
    }
    if (!contributes_to_loss) layer_need_backward_[layer_id] = false;
    for (size_t bottom_id = 0; bottom_id < bottom_vecs_[layer_id].size(); ++bottom_id) {
      const std::string& blob_name = blob_names_[bottom_id_vecs_[layer_id][bottom_id]];
      if (contributes_to_loss) {
        blobs_under_loss.insert(blob_name);
      } else {
        bottom_need_backward_[layer_id][bottom_id] = false;
      }
      if (!bottom_need_backward_[layer_id][bottom_id]) blobs_skip_backward.insert(blob_name);
    }
  }
  if (param.force_backward()) {
    for (int layer_id = 0; layer_id < layer_count; ++layer_id) {
      layer_need_backward_[layer_id] = true;
      for (size_t bottom_id = 0; bottom_id < bottom_vecs_[layer_id].size(); ++bottom_id) {
        const bool allowed = layers_[layer_id]->AllowForceBackward(static_cast<int>(bottom_id));
        bottom_need_backward_[layer_id][bottom_id] =
            bottom_need_backward_[layer_id][bottom_id] || allowed;
        const int blob_id = bottom_id_vecs_[layer_id][bottom_id];
        blob_need_backward_[blob_id] = blob_need_backward_[blob_id] || allowed;
      }
      for (size_t param_id = 0; param_id < layers_[layer_id]->blobs().size(); ++param_id) {
        layers_[layer_id]->set_param_propagate_down(static_cast<int>(param_id), true);
      }
    }
  }
  // What no layer consumed is the net's output.
  for (const auto& [blob_name, blob_id] : available_blobs) {
    output_blobs_.push_back(blobs_[blob_id].get());
    output_blob_indices_.push_back(blob_id);
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    if (param_owners_[i] < 0) continue;
    params_[i]->ShareData(*params_[param_owners_[i]]);
    params_[i]->ShareDiff(*params_[param_owners_[i]]);
  }
  int64_t parameter_count = 0;
  for (const Blob* blob : learnable_params_) parameter_count += blob->count();
  LOG(INFO) << "Net '" << name_ << "' (" << (phase_ == TRAIN ? "TRAIN" : "TEST") << "): "
            << layers_.size() << " layers, " << parameter_count << " parameters, "
            << (memory_floats * 4 + (1 << 19)) / (1 << 20) << " MB of activations";
}

void Net::AppendTop(const NetParameter& param, int layer_id, int top_id,
                    std::map<std::string, int>* available_blobs) {
  const LayerParameter& layer_param = param.layer(layer_id);
  const std::string blob_name =
      top_id < layer_param.top_size() ? layer_param.top(top_id) : "(automatic)";
  const bool in_place = available_blobs != nullptr && top_id < layer_param.bottom_size() &&
                        blob_name == layer_param.bottom(top_id);
  int blob_id;
  if (in_place) {
    // The layer writes its input: the top is the bottom's blob.
    blob_id = blob_index_.at(blob_name);
  } else {
    CONDENSE_CHECK(available_blobs == nullptr || blob_index_.count(blob_name) == 0, "layer '",
                   layer_param.name(), "': top blob '", blob_name,
                   "' is produced by more than one layer");
    blob_id = static_cast<int>(blobs_.size());
    blobs_.push_back(std::make_shared<Blob>());
    blob_names_.push_back(blob_name);
    blob_need_backward_.push_back(false);
    if (available_blobs != nullptr) blob_index_[blob_name] = blob_id;
  }
  top_id_vecs_[layer_id].push_back(blob_id);
  top_vecs_[layer_id].push_back(blobs_[blob_id].get());
  if (available_blobs != nullptr) (*available_blobs)[blob_name] = blob_id;
}

int Net::AppendBottom(const NetParameter& param, int layer_id, int bottom_id,
                      std::map<std::string, int>* available_blobs) {
  const LayerParameter& layer_param = param.layer(layer_id);
  const std::string& blob_name = layer_param.bottom(bottom_id);
  const auto found = available_blobs->find(blob_name);
  CONDENSE_CHECK(found != available_blobs->end(), "layer '", layer_param.name(), "': bottom blob '",
                 blob_name, "' is produced by no earlier layer");
  const int blob_id = found->second;
  bottom_vecs_[layer_id].push_back(blobs_[blob_id].get());
  bottom_id_vecs_[layer_id].push_back(blob_id);
  available_blobs->erase(found);
  const bool propagate_down =
      layer_param.propagate_down_size() == 0 || layer_param.propagate_down(bottom_id);
  bottom_need_backward_[layer_id].push_back(blob_need_backward_[blob_id] && propagate_down);
  return blob_id;
}

void Net::AppendParam(const NetParameter& param, int layer_id, int param_id) {
  const LayerParameter& layer_param = layers_[layer_id]->layer_param();
  const ParamSpec default_spec;
  const ParamSpec& spec = param_id < layer_param.param_size() ? layer_param.param(param_id) : default_spec;
  const std::string& param_name = spec.name();
  param_display_names_.push_back(param_name.empty() ? StrCat(layer_param.name(), "[", param_id, "]")
                                                    : param_name);
  const int net_param_id = static_cast<int>(params_.size());
  params_.push_back(layers_[layer_id]->blobs()[param_id]);
  param_id_vecs_[layer_id].push_back(net_param_id);
  param_layer_indices_.emplace_back(layer_id, param_id);
  const auto owner = param_names_index_.find(param_name);
  if (param_name.empty() || owner == param_names_index_.end()) {
    param_owners_.push_back(-1);
    if (!param_name.empty()) param_names_index_[param_name] = net_param_id;
    learnable_param_ids_.push_back(static_cast<int>(learnable_params_.size()));
    learnable_params_.push_back(params_[net_param_id].get());
    params_lr_.push_back(spec.lr_mult());
    params_weight_decay_.push_back(spec.decay_mult());
    params_lr_setter_.push_back(spec.has_lr_mult() ? layer_id : -1);
    params_decay_setter_.push_back(spec.has_decay_mult() ? layer_id : -1);
    return;
  }
  // A name seen before: this layer shares the first owner's blob.
  const int owner_id = owner->second;
  param_owners_.push_back(owner_id);
  const Blob& owner_blob = *params_[owner_id];
  const Blob& this_blob = *params_[net_param_id];
  if (spec.share_mode() == ParamSpec::PERMISSIVE) {
    CONDENSE_CHECK(owner_blob.count() == this_blob.count(), "layer '", layer_param.name(),
                   "': shared parameter '", param_name, "' has ", this_blob.count(),
                   " values here but ", owner_blob.count(), " in its owner");
  } else {
    CONDENSE_CHECK(owner_blob.shape() == this_blob.shape(), "layer '", layer_param.name(),
                   "': shared parameter '", param_name, "' has shape ", this_blob.shape_string(),
                   " here but ", owner_blob.shape_string(), " in its owner");
  }
  const int learnable_id = learnable_param_ids_[owner_id];
  learnable_param_ids_.push_back(learnable_id);
  if (spec.has_lr_mult()) {
    SetSharedMultiplier(layer_id, param_name, "lr_mult", spec.lr_mult(), &params_lr_[learnable_id],
                        &params_lr_setter_[learnable_id]);
  }
  if (spec.has_decay_mult()) {
    SetSharedMultiplier(layer_id, param_name, "decay_mult", spec.decay_mult(),
                        &params_weight_decay_[learnable_id], &params_decay_setter_[learnable_id]);
  }
}

// Caffe's rule for a shared parameter's lr_mult and decay_mult: the first layer that sets one
// explicitly (owner or sharer) fixes it; a later explicit value must agree; layers that leave it
// unset take what is there.
void Net::SetSharedMultiplier(int layer_id, const std::string& param_name, const char* field,
                              float value, float* multiplier, int* setter) {
  if (*setter < 0) {
    *multiplier = value;
    *setter = layer_id;
    return;
  }
  CONDENSE_CHECK(*multiplier == value, "shared parameter '", param_name, "' has mismatched ", field,
                 ": ", *multiplier, " in layer '", layer_names_[*setter], "' but ", value,
                 " in layer '", layer_names_[layer_id],
                 "'; give both the same value, or set it in one layer only");
}

// ---------------------------------------------------------------------------------------------------
// Running

float Net::ForwardFromTo(int start, int end) {
  CONDENSE_CHECK(start >= 0 && end < static_cast<int>(layers_.size()), "layer range out of bounds");
  float loss = 0.0f;
  for (int i = start; i <= end; ++i) loss += layers_[i]->Forward(bottom_vecs_[i], top_vecs_[i]);
  return loss;
}

float Net::Forward() {
  if (layers_.empty()) return 0.0f;
  return ForwardFromTo(0, static_cast<int>(layers_.size()) - 1);
}

void Net::BackwardFromTo(int start, int end) {
  CONDENSE_CHECK(end >= 0 && start < static_cast<int>(layers_.size()), "layer range out of bounds");
  for (int i = start; i >= end; --i) {
    if (layer_need_backward_[i]) {
      layers_[i]->Backward(top_vecs_[i], bottom_need_backward_[i], bottom_vecs_[i]);
    }
  }
}

void Net::Backward() {
  if (layers_.empty()) return;
  BackwardFromTo(static_cast<int>(layers_.size()) - 1, 0);
}

void Net::ClearParamDiffs() {
  for (Blob* blob : learnable_params_) blob->SetDiff(0.0f);
}

void Net::Reshape() {
  for (size_t i = 0; i < layers_.size(); ++i) layers_[i]->ReshapeAll(bottom_vecs_[i], top_vecs_[i]);
}

Blob* Net::blob_by_name(const std::string& name) const {
  const auto found = blob_index_.find(name);
  CONDENSE_CHECK(found != blob_index_.end(), "net '", name_, "' has no blob named '", name, "'");
  return blobs_[found->second].get();
}

Layer* Net::layer_by_name(const std::string& name) const {
  const auto found = layer_index_.find(name);
  CONDENSE_CHECK(found != layer_index_.end(), "net '", name_, "' has no layer named '", name, "'");
  return layers_[found->second].get();
}

// ---------------------------------------------------------------------------------------------------
// Weights

void Net::CopyTrainedLayersFrom(const NetParameter& weights, const std::string& source) {
  const std::string prefix = source.empty() ? std::string() : source + ": ";
  for (const LayerParameter& source_layer : weights.layer()) {
    const auto target = layer_index_.find(source_layer.name());
    if (target == layer_index_.end()) {
      VLOG(1) << "Ignoring source layer " << source_layer.name();
      continue;
    }
    // Old caffemodels also list layers that hold no weights (data, ReLU, ...): nothing to copy.
    if (source_layer.blobs_size() == 0) continue;
    const int layer_id = target->second;
    auto& target_blobs = layers_[layer_id]->blobs();
    const int target_count = static_cast<int>(target_blobs.size());
    const std::string count_mismatch =
        StrCat(prefix, "layer '", source_layer.name(), "' holds ", source_layer.blobs_size(),
               " parameter blob(s) in the weights file but ", target_count, " in the net");
    CONDENSE_CHECK(source_layer.blobs_size() <= target_count, count_mismatch);
    for (int j = 0; j < target_count; ++j) {
      // Caffe's HDF5 files hold only the parameters a layer owns: one this layer shares with an
      // earlier layer may be missing (past the end, or an absent blob where a dataset is skipped).
      if (j >= source_layer.blobs_size() || IsAbsentBlob(source_layer.blobs(j))) {
        const bool shared = param_owners_[param_id_vecs_[layer_id][j]] >= 0;
        if (shared) continue;
        CONDENSE_CHECK(j < source_layer.blobs_size(), count_mismatch);
        Fail(prefix, "layer '", source_layer.name(), "' parameter ", j,
             ": the weights file holds no values for it, and the net shares it with no other layer");
      }
      const BlobProto& proto = source_layer.blobs(j);
      CONDENSE_CHECK(target_blobs[j]->ShapeEquals(proto), prefix, "layer '", source_layer.name(),
                     "' parameter ", j, ": the weights file holds shape ",
                     ShapeString(ShapeOfProto(proto)), " but the net expects ",
                     target_blobs[j]->shape_string(),
                     " (rename the layer to learn it from scratch instead)");
      try {
        target_blobs[j]->FromProto(proto, false);
      } catch (const Error& error) {
        Fail(prefix, "layer '", source_layer.name(), "' parameter ", j, ": ", error.what());
      }
    }
  }
}

void Net::CopyTrainedLayersFromFile(const std::string& path) {
  CopyTrainedLayersFrom(ReadWeightsFile(path), path);
}

void Net::ShareTrainedLayersWith(const Net& other) {
  for (size_t i = 0; i < other.layers_.size(); ++i) {
    const auto target = layer_index_.find(other.layer_names_[i]);
    if (target == layer_index_.end()) continue;
    auto& target_blobs = layers_[target->second]->blobs();
    const auto& source_blobs = other.layers_[i]->blobs();
    CONDENSE_CHECK(target_blobs.size() == source_blobs.size(), "layer '", other.layer_names_[i],
                   "' has ", source_blobs.size(), " parameter blobs in one net and ",
                   target_blobs.size(), " in the other");
    for (size_t j = 0; j < source_blobs.size(); ++j) {
      CONDENSE_CHECK(target_blobs[j]->shape() == source_blobs[j]->shape(), "layer '",
                     other.layer_names_[i], "' parameter ", j, " has shape ",
                     source_blobs[j]->shape_string(), " in one net and ",
                     target_blobs[j]->shape_string(), " in the other");
      target_blobs[j]->ShareData(*source_blobs[j]);
    }
  }
}

void Net::ToProto(NetParameter* param, bool write_diff) const {
  param->Clear();
  param->set_name(name_);
  for (const auto& layer : layers_) {
    LayerParameter* layer_param = param->add_layer();
    *layer_param = layer->layer_param();
    layer_param->clear_blobs();
    for (const auto& blob : layer->blobs()) blob->ToProto(layer_param->add_blobs(), write_diff);
  }
}

}  // namespace condense
