// Net: a directed graph of layers built from a NetParameter, as Caffe builds it. The constructor keeps
// the layers whose include/exclude rules match the net's state (phase, level, stages), inserts Split
// layers where one blob feeds several layers, wires in-place layers, sets up every layer in order,
// works out which layers need a backward pass, and collects the learnable parameters (shared by name
// across layers where ParamSpec.name says so) with their lr_mult and decay_mult.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "condense/core/blob.hpp"
#include "condense/net/layer.hpp"
#include "condense/proto/condense.pb.h"

namespace condense {

class Net {
 public:
  // `param.state()` selects the layers; `source` (a file name) prefixes error messages.
  explicit Net(const NetParameter& param, const std::string& source = "");
  // Reads and upgrades a prototxt, then builds it for the given phase and level, with `stages` added
  // to the stages its own `state { stage }` lists (as Caffe's Net constructor does).
  static std::unique_ptr<Net> FromFile(const std::string& path, Phase phase, int level = 0,
                                       const std::vector<std::string>& stages = {});

  // Runs every layer forward; returns the total weighted loss. Layer ranges are inclusive, as Caffe's.
  float Forward();
  float ForwardFromTo(int start, int end);
  void Backward();
  void BackwardFromTo(int start, int end);  // from layer `start` down to layer `end`
  float ForwardBackward() {
    float loss = Forward();
    Backward();
    return loss;
  }
  // Zeroes the gradients of all learnable parameters.
  void ClearParamDiffs();
  // Reshapes every layer after an input blob changed shape.
  void Reshape();

  // Copies weights into layers of the same name; layers absent from this net are ignored, a shape
  // mismatch is an error naming the layer and both shapes. A blob the weights lack (Caffe's HDF5
  // files hold only the parameters a layer owns) is skipped when this net shares that parameter
  // with another layer, and an error otherwise.
  void CopyTrainedLayersFrom(const NetParameter& weights, const std::string& source = "");
  // Reads a .caffemodel or .caffemodel.h5 file (upgraded as needed) and copies its weights.
  void CopyTrainedLayersFromFile(const std::string& path);
  // Makes this net's parameter blobs share memory with the same-named layers of another net
  // (the solver's test nets share the training net's weights).
  void ShareTrainedLayersWith(const Net& other);
  void ToProto(NetParameter* param, bool write_diff = false) const;

  const std::string& name() const { return name_; }
  Phase phase() const { return phase_; }
  const std::string& source() const { return source_; }
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
  const std::vector<std::string>& layer_names() const { return layer_names_; }
  const std::vector<std::shared_ptr<Blob>>& blobs() const { return blobs_; }
  const std::vector<std::string>& blob_names() const { return blob_names_; }
  const std::vector<std::vector<Blob*>>& bottom_vecs() const { return bottom_vecs_; }
  const std::vector<std::vector<Blob*>>& top_vecs() const { return top_vecs_; }
  const std::vector<int>& top_ids(int layer) const { return top_id_vecs_[layer]; }
  const std::vector<int>& bottom_ids(int layer) const { return bottom_id_vecs_[layer]; }
  const std::vector<std::vector<bool>>& bottom_need_backward() const { return bottom_need_backward_; }
  const std::vector<bool>& layer_need_backward() const { return layer_need_backward_; }
  const std::vector<Blob*>& input_blobs() const { return input_blobs_; }
  const std::vector<Blob*>& output_blobs() const { return output_blobs_; }
  const std::vector<int>& output_blob_indices() const { return output_blob_indices_; }
  bool has_blob(const std::string& name) const { return blob_index_.count(name) > 0; }
  Blob* blob_by_name(const std::string& name) const;  // throws when absent
  bool has_layer(const std::string& name) const { return layer_index_.count(name) > 0; }
  Layer* layer_by_name(const std::string& name) const;  // throws when absent
  // Weight of each output blob in the loss (0 for outputs that are not losses).
  float blob_loss_weight(int blob_index) const { return blob_loss_weights_[blob_index]; }

  // Learnable parameters, each once even when shared; and their multipliers.
  const std::vector<Blob*>& learnable_params() const { return learnable_params_; }
  const std::vector<float>& params_lr() const { return params_lr_; }
  const std::vector<float>& params_weight_decay() const { return params_weight_decay_; }
  // "conv1[0]"-style names of the learnable parameters, for logs.
  const std::vector<std::string>& param_display_names() const { return param_display_names_; }

 private:
  void Init(const NetParameter& param);
  void AppendTop(const NetParameter& param, int layer_id, int top_id,
                 std::map<std::string, int>* available_blobs);
  int AppendBottom(const NetParameter& param, int layer_id, int bottom_id,
                   std::map<std::string, int>* available_blobs);
  void AppendParam(const NetParameter& param, int layer_id, int param_id);
  void SetSharedMultiplier(int layer_id, const std::string& param_name, const char* field,
                           float value, float* multiplier, int* setter);

  std::string name_;
  std::string source_;
  Phase phase_ = TEST;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<std::string> layer_names_;
  std::map<std::string, int> layer_index_;
  std::vector<bool> layer_need_backward_;
  std::vector<std::shared_ptr<Blob>> blobs_;
  std::vector<std::string> blob_names_;
  std::map<std::string, int> blob_index_;
  std::vector<bool> blob_need_backward_;
  std::vector<float> blob_loss_weights_;
  std::vector<std::vector<Blob*>> bottom_vecs_;
  std::vector<std::vector<int>> bottom_id_vecs_;
  std::vector<std::vector<bool>> bottom_need_backward_;
  std::vector<std::vector<Blob*>> top_vecs_;
  std::vector<std::vector<int>> top_id_vecs_;
  std::vector<std::vector<int>> param_id_vecs_;
  std::vector<std::string> param_display_names_;
  std::vector<std::pair<int, int>> param_layer_indices_;
  std::map<std::string, int> param_names_index_;
  std::vector<int> param_owners_;
  std::vector<std::shared_ptr<Blob>> params_;
  std::vector<Blob*> learnable_params_;
  std::vector<int> learnable_param_ids_;
  std::vector<float> params_lr_;
  std::vector<float> params_weight_decay_;
  // Per learnable parameter: the layer whose param { } set lr_mult / decay_mult explicitly, or -1.
  std::vector<int> params_lr_setter_;
  std::vector<int> params_decay_setter_;
  std::vector<Blob*> input_blobs_;
  std::vector<int> input_blob_indices_;
  std::vector<Blob*> output_blobs_;
  std::vector<int> output_blob_indices_;
};

// Whether a layer's include/exclude rules admit it in the given state (Caffe's rules).
bool StateMeetsRule(const NetState& state, const NetStateRule& rule, const std::string& layer_name);
// The layers of `param` that the state selects, in order.
NetParameter FilterNet(const NetParameter& param);
// Adds Split layers so that every blob read by several layers has one reader per copy, as Caffe's
// InsertSplits does: a loss top (explicit loss_weight or a loss layer's default) counts as one more
// reader, its copy 0 carries the loss weight and the readers take copies 1, 2, ...
NetParameter InsertSplits(const NetParameter& param);

}  // namespace condense
