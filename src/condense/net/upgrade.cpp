#include "condense/net/upgrade.hpp"

#include <glog/logging.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <string>
#include <vector>

#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"
#include "condense/core/proto_io.hpp"
#include "condense/net/weights_file.hpp"

namespace condense {
namespace {

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "layer 'conv1'", or the layer's position when it has no name (index < 0: position unknown).
std::string LayerLabel(int index, const std::string& name) {
  if (!name.empty()) return StrCat("layer '", name, "'");
  return index >= 0 ? StrCat("layer #", index) : std::string("an unnamed layer");
}

// --- V0 ------------------------------------------------------------------------------------------

bool NetHasV0Layers(const NetParameter& param) {
  for (const V1LayerParameter& layer : param.layers()) {
    if (layer.has_layer()) return true;
  }
  return false;
}

void RefuseV0(const std::string& source, const NetParameter& param) {
  for (int i = 0; i < param.layers_size(); ++i) {
    const V1LayerParameter& layer = param.layers(i);
    if (!layer.has_layer()) continue;
    const std::string name = layer.has_name() ? layer.name() : layer.layer().name();
    Fail(source, ": ", LayerLabel(i, name),
         " is in the V0 layer format of 2013 (layers { layer { ... } }), which condense does not "
         "read; convert the file with Caffe's upgrade_net_proto_text or upgrade_net_proto_binary");
  }
}

// --- Deprecated transformation fields inside V1 data layers ----------------------------------------

// Data, ImageData and WindowData parameters once carried their own scale/mean_file/crop_size/mirror;
// Caffe moved them to transform_param. The three messages share those field names, so one template
// serves them all.
template <typename DataLayerParam>
bool HasDeprecatedTransform(const DataLayerParam& data) {
  return data.has_scale() || data.has_mean_file() || data.has_crop_size() || data.has_mirror();
}

template <typename DataLayerParam>
void MoveDeprecatedTransform(DataLayerParam* data, TransformationParameter* transform) {
  if (data->has_scale()) transform->set_scale(data->scale());
  if (data->has_mean_file()) transform->set_mean_file(data->mean_file());
  if (data->has_crop_size()) transform->set_crop_size(data->crop_size());
  if (data->has_mirror()) transform->set_mirror(data->mirror());
  data->clear_scale();
  data->clear_mean_file();
  data->clear_crop_size();
  data->clear_mirror();
}

bool V1LayerNeedsDataUpgrade(const V1LayerParameter& layer) {
  switch (layer.type()) {
    case V1LayerParameter::DATA:
      return HasDeprecatedTransform(layer.data_param());
    case V1LayerParameter::IMAGE_DATA:
      return HasDeprecatedTransform(layer.image_data_param());
    case V1LayerParameter::WINDOW_DATA:
      return HasDeprecatedTransform(layer.window_data_param());
    default:
      return false;
  }
}

bool NetNeedsDataUpgrade(const NetParameter& param) {
  for (const V1LayerParameter& layer : param.layers()) {
    if (V1LayerNeedsDataUpgrade(layer)) return true;
  }
  return false;
}

void UpgradeDataTransformation(NetParameter* param) {
  for (V1LayerParameter& layer : *param->mutable_layers()) {
    if (!V1LayerNeedsDataUpgrade(layer)) continue;
    TransformationParameter* transform = layer.mutable_transform_param();
    switch (layer.type()) {
      case V1LayerParameter::DATA:
        MoveDeprecatedTransform(layer.mutable_data_param(), transform);
        break;
      case V1LayerParameter::IMAGE_DATA:
        MoveDeprecatedTransform(layer.mutable_image_data_param(), transform);
        break;
      case V1LayerParameter::WINDOW_DATA:
        MoveDeprecatedTransform(layer.mutable_window_data_param(), transform);
        break;
      default:
        break;
    }
  }
}

// --- V1 -> V2 ------------------------------------------------------------------------------------

// Copies every `*_param` message of a V1 layer into the same-named field of the V2 layer. Reflection
// keeps this complete by construction: a parameter message added to V1 cannot be forgotten here.
void CopyLayerParamMessages(const V1LayerParameter& from, LayerParameter* to) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Reflection* from_reflection = from.GetReflection();
  const google::protobuf::Reflection* to_reflection = to->GetReflection();
  const google::protobuf::Descriptor* to_descriptor = to->GetDescriptor();
  std::vector<const FieldDescriptor*> set_fields;
  from_reflection->ListFields(from, &set_fields);
  for (const FieldDescriptor* field : set_fields) {
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || field->is_repeated()) continue;
    if (!EndsWith(field->name(), "_param")) continue;
    const FieldDescriptor* target = to_descriptor->FindFieldByName(field->name());
    CONDENSE_CHECK(target != nullptr && target->message_type() == field->message_type(),
                   "internal: V1 field ", field->name(), " has no counterpart in LayerParameter");
    to_reflection->MutableMessage(to, target)->CopyFrom(from_reflection->GetMessage(from, field));
  }
}

// The ParamSpec for blob `index`, creating empty ones up to it (V1 lists may differ in length).
ParamSpec* ParamSpecAt(LayerParameter* layer, int index) {
  while (layer->param_size() <= index) layer->add_param();
  return layer->mutable_param(index);
}

bool NetNeedsV1ToV2Upgrade(const NetParameter& param) { return param.layers_size() > 0; }

void UpgradeV1Net(const std::string& source, NetParameter* param) {
  CONDENSE_CHECK(param->layer_size() == 0, source, ": the net mixes deprecated V1 'layers' entries (",
                 param->layers_size(), ") with 'layer' entries (", param->layer_size(),
                 "); use one form only");
  NetParameter upgraded(*param);
  upgraded.clear_layers();
  for (const V1LayerParameter& v1_layer : param->layers()) {
    *upgraded.add_layer() = UpgradeV1Layer(v1_layer, source);
  }
  param->Swap(&upgraded);
}

// --- Net inputs ----------------------------------------------------------------------------------

bool NetNeedsInputUpgrade(const NetParameter& param) {
  return param.input_size() > 0 || param.input_shape_size() > 0 || param.input_dim_size() > 0;
}

void UpgradeNetInput(const std::string& source, NetParameter* param) {
  const int inputs = param->input_size();
  const bool has_shape = param->input_shape_size() > 0;
  const bool has_dim = param->input_dim_size() > 0;
  CONDENSE_CHECK(!(has_shape && has_dim), source,
                 ": the net gives both input_shape and input_dim; give one of them");
  CONDENSE_CHECK(!has_shape || param->input_shape_size() == inputs, source, ": the net has ",
                 inputs, " input(s) but ", param->input_shape_size(),
                 " input_shape entries; give one per input");
  CONDENSE_CHECK(!has_dim || param->input_dim_size() == 4 * inputs, source, ": the net has ",
                 inputs, " input(s) but ", param->input_dim_size(),
                 " input_dim values; give four (num, channels, height, width) per input");
  // Inputs without shapes occur in caffemodels, where they carry no information: just drop them.
  if (has_shape || has_dim) {
    LayerParameter input_layer;
    input_layer.set_name("input");
    input_layer.set_type("Input");
    InputParameter* input_param = input_layer.mutable_input_param();
    for (int i = 0; i < inputs; ++i) {
      input_layer.add_top(param->input(i));
      BlobShape* shape = input_param->add_shape();
      if (has_shape) {
        *shape = param->input_shape(i);
      } else {
        for (int axis = 0; axis < 4; ++axis) shape->add_dim(param->input_dim(4 * i + axis));
      }
    }
    // The Input layer must come first, since later layers read its tops.
    google::protobuf::RepeatedPtrField<LayerParameter> layers;
    *layers.Add() = std::move(input_layer);
    for (LayerParameter& layer : *param->mutable_layer()) *layers.Add() = std::move(layer);
    param->mutable_layer()->Swap(&layers);
  }
  param->clear_input();
  param->clear_input_shape();
  param->clear_input_dim();
}

// --- BatchNorm -----------------------------------------------------------------------------------

// Old BatchNorm definitions declared three ParamSpecs (mean, variance, scale factor) to stop the solver
// from touching the running statistics. Caffe now handles that inside the layer and, on upgrade, keeps
// the specs (their names still matter for sharing) but zeroes their multipliers.
// Unlike Caffe's test (three specs, whatever their values), an already upgraded layer does not count,
// so that NetNeedsUpgrade is false after UpgradeNetAsNeeded.
bool IsOldStyleBatchNorm(const LayerParameter& layer) {
  if (layer.type() != "BatchNorm" || layer.param_size() != 3) return false;
  for (const ParamSpec& spec : layer.param()) {
    if (spec.lr_mult() != 0.0f || spec.decay_mult() != 0.0f) return true;
  }
  return false;
}

bool NetNeedsBatchNormUpgrade(const NetParameter& param) {
  for (const LayerParameter& layer : param.layer()) {
    if (IsOldStyleBatchNorm(layer)) return true;
  }
  return false;
}

void UpgradeNetBatchNorm(NetParameter* param) {
  for (LayerParameter& layer : *param->mutable_layer()) {
    if (!IsOldStyleBatchNorm(layer)) continue;
    for (ParamSpec& spec : *layer.mutable_param()) {
      spec.set_lr_mult(0.0f);
      spec.set_decay_mult(0.0f);
    }
  }
}

// --- Solver --------------------------------------------------------------------------------------

std::string SolverTypeName(SolverParameter::SolverType type) {
  switch (type) {
    case SolverParameter::SGD:
      return "SGD";
    case SolverParameter::NESTEROV:
      return "Nesterov";
    case SolverParameter::ADAGRAD:
      return "AdaGrad";
    case SolverParameter::RMSPROP:
      return "RMSProp";
    case SolverParameter::ADADELTA:
      return "AdaDelta";
    case SolverParameter::ADAM:
      return "Adam";
  }
  return "";
}

std::string WithoutExtension(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const size_t dot = path.find_last_of('.');
  const size_t name_start = slash == std::string::npos ? 0 : slash + 1;
  if (dot == std::string::npos || dot <= name_start) return path;
  return path.substr(0, dot);
}

std::string FileStem(const std::string& path) {
  const std::string stripped = WithoutExtension(path);
  const size_t slash = stripped.find_last_of('/');
  return slash == std::string::npos ? stripped : stripped.substr(slash + 1);
}

// Caffe derives the snapshot prefix from the solver file's name when none is given, and appends that
// name when the prefix names a directory.
void UpgradeSnapshotPrefix(const std::string& solver_path, SolverParameter* param) {
  if (!param->has_snapshot_prefix()) {
    param->set_snapshot_prefix(WithoutExtension(solver_path));
    LOG(INFO) << solver_path << ": snapshot_prefix not given, using " << param->snapshot_prefix();
  } else if (!param->snapshot_prefix().empty() && IsDirectory(param->snapshot_prefix())) {
    std::string prefix = param->snapshot_prefix();
    if (prefix.back() != '/') prefix += '/';
    param->set_snapshot_prefix(prefix + FileStem(solver_path));
    LOG(INFO) << solver_path << ": snapshot_prefix is a directory, using "
              << param->snapshot_prefix();
  }
}

}  // namespace

std::string V1LayerTypeName(V1LayerParameter::LayerType type) {
  switch (type) {
    case V1LayerParameter::NONE: return "";
    case V1LayerParameter::ABSVAL: return "AbsVal";
    case V1LayerParameter::ACCURACY: return "Accuracy";
    case V1LayerParameter::ARGMAX: return "ArgMax";
    case V1LayerParameter::BNLL: return "BNLL";
    case V1LayerParameter::CONCAT: return "Concat";
    case V1LayerParameter::CONTRASTIVE_LOSS: return "ContrastiveLoss";
    case V1LayerParameter::CONVOLUTION: return "Convolution";
    case V1LayerParameter::DATA: return "Data";
    case V1LayerParameter::DECONVOLUTION: return "Deconvolution";
    case V1LayerParameter::DROPOUT: return "Dropout";
    case V1LayerParameter::DUMMY_DATA: return "DummyData";
    case V1LayerParameter::EUCLIDEAN_LOSS: return "EuclideanLoss";
    case V1LayerParameter::ELTWISE: return "Eltwise";
    case V1LayerParameter::EXP: return "Exp";
    case V1LayerParameter::FLATTEN: return "Flatten";
    case V1LayerParameter::HDF5_DATA: return "HDF5Data";
    case V1LayerParameter::HDF5_OUTPUT: return "HDF5Output";
    case V1LayerParameter::HINGE_LOSS: return "HingeLoss";
    case V1LayerParameter::IM2COL: return "Im2col";
    case V1LayerParameter::IMAGE_DATA: return "ImageData";
    case V1LayerParameter::INFOGAIN_LOSS: return "InfogainLoss";
    case V1LayerParameter::INNER_PRODUCT: return "InnerProduct";
    case V1LayerParameter::LRN: return "LRN";
    case V1LayerParameter::MEMORY_DATA: return "MemoryData";
    case V1LayerParameter::MULTINOMIAL_LOGISTIC_LOSS: return "MultinomialLogisticLoss";
    case V1LayerParameter::MVN: return "MVN";
    case V1LayerParameter::POOLING: return "Pooling";
    case V1LayerParameter::POWER: return "Power";
    case V1LayerParameter::RELU: return "ReLU";
    case V1LayerParameter::SIGMOID: return "Sigmoid";
    case V1LayerParameter::SIGMOID_CROSS_ENTROPY_LOSS: return "SigmoidCrossEntropyLoss";
    case V1LayerParameter::SILENCE: return "Silence";
    case V1LayerParameter::SOFTMAX: return "Softmax";
    case V1LayerParameter::SOFTMAX_LOSS: return "SoftmaxWithLoss";
    case V1LayerParameter::SPLIT: return "Split";
    case V1LayerParameter::SLICE: return "Slice";
    case V1LayerParameter::TANH: return "TanH";
    case V1LayerParameter::WINDOW_DATA: return "WindowData";
    case V1LayerParameter::THRESHOLD: return "Threshold";
  }
  Fail("unknown V1 layer type number ", static_cast<int>(type));
}

LayerParameter UpgradeV1Layer(const V1LayerParameter& v1_layer, const std::string& source) {
  CONDENSE_CHECK(!v1_layer.has_layer(), source, ": ", LayerLabel(-1, v1_layer.name()),
                 " nests a V0 layer, which condense does not read");
  LayerParameter layer;
  if (v1_layer.has_name()) layer.set_name(v1_layer.name());
  if (v1_layer.has_type()) layer.set_type(V1LayerTypeName(v1_layer.type()));
  *layer.mutable_bottom() = v1_layer.bottom();
  *layer.mutable_top() = v1_layer.top();
  *layer.mutable_include() = v1_layer.include();
  *layer.mutable_exclude() = v1_layer.exclude();
  *layer.mutable_blobs() = v1_layer.blobs();
  *layer.mutable_loss_weight() = v1_layer.loss_weight();

  // V1 kept per-blob settings in four parallel lists; V2 keeps one ParamSpec per blob.
  for (int i = 0; i < v1_layer.param_size(); ++i) ParamSpecAt(&layer, i)->set_name(v1_layer.param(i));
  for (int i = 0; i < v1_layer.blob_share_mode_size(); ++i) {
    ParamSpecAt(&layer, i)->set_share_mode(v1_layer.blob_share_mode(i) == V1LayerParameter::PERMISSIVE
                                               ? ParamSpec::PERMISSIVE
                                               : ParamSpec::STRICT);
  }
  for (int i = 0; i < v1_layer.blobs_lr_size(); ++i) {
    ParamSpecAt(&layer, i)->set_lr_mult(v1_layer.blobs_lr(i));
  }
  for (int i = 0; i < v1_layer.weight_decay_size(); ++i) {
    ParamSpecAt(&layer, i)->set_decay_mult(v1_layer.weight_decay(i));
  }
  CopyLayerParamMessages(v1_layer, &layer);
  return layer;
}

bool NetNeedsUpgrade(const NetParameter& param) {
  return NetHasV0Layers(param) || NetNeedsDataUpgrade(param) || NetNeedsV1ToV2Upgrade(param) ||
         NetNeedsInputUpgrade(param) || NetNeedsBatchNormUpgrade(param);
}

bool UpgradeNetAsNeeded(const std::string& source, NetParameter* param) {
  if (NetHasV0Layers(*param)) RefuseV0(source, *param);
  bool changed = false;
  if (NetNeedsDataUpgrade(*param)) {
    LOG(INFO) << source << ": moving deprecated data-layer transformation fields to transform_param";
    UpgradeDataTransformation(param);
    changed = true;
  }
  if (NetNeedsV1ToV2Upgrade(*param)) {
    LOG(INFO) << source << ": upgrading deprecated V1 'layers' to 'layer'";
    UpgradeV1Net(source, param);
    changed = true;
  }
  if (NetNeedsInputUpgrade(*param)) {
    LOG(INFO) << source << ": turning deprecated net inputs into an Input layer";
    UpgradeNetInput(source, param);
    changed = true;
  }
  if (NetNeedsBatchNormUpgrade(*param)) {
    LOG(INFO) << source << ": zeroing the learning rates of old-style BatchNorm statistics";
    UpgradeNetBatchNorm(param);
    changed = true;
  }
  return changed;
}

bool SolverNeedsUpgrade(const SolverParameter& param) { return param.has_solver_type(); }

bool UpgradeSolverAsNeeded(const std::string& source, SolverParameter* param) {
  if (!SolverNeedsUpgrade(*param)) return false;
  CONDENSE_CHECK(!param->has_type(), source,
                 ": gives both the deprecated solver_type and type; give only type");
  param->set_type(SolverTypeName(param->solver_type()));
  param->clear_solver_type();
  return true;
}

NetParameter ReadNetParameterFile(const std::string& path) {
  NetParameter param;
  ReadTextProtoFile(path, &param);
  UpgradeNetAsNeeded(path, &param);
  return param;
}

NetParameter ReadWeightsFile(const std::string& path) {
  NetParameter param;
  if (EndsWith(path, ".h5")) {
    param = ReadHdf5Weights(path);
  } else {
    ReadBinaryProtoFile(path, &param);
  }
  // An empty file is a valid empty message, but never a useful weights file.
  CONDENSE_CHECK(param.layer_size() > 0 || param.layers_size() > 0, path,
                 ": holds no layers; not a weights file");
  UpgradeNetAsNeeded(path, &param);
  return param;
}

SolverParameter ReadSolverParameterFile(const std::string& path) {
  SolverParameter param;
  ReadTextProtoFile(path, &param);
  UpgradeSolverAsNeeded(path, &param);
  UpgradeSnapshotPrefix(path, &param);
  return param;
}

}  // namespace condense
