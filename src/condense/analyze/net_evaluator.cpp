#include "condense/analyze/net_evaluator.hpp"

#include <glog/logging.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <utility>

#include "condense/core/error.hpp"
#include "condense/net/upgrade.hpp"
#include "condense/quant/layer_quantization.hpp"

namespace condense {
namespace {

constexpr int64_t kCutBudgetBytes = int64_t{512} << 20;

bool IsQuantizableType(const std::string& type) {
  return type == "Convolution" || type == "Deconvolution" || type == "InnerProduct";
}

// The layers a data set comes from: those that read no blobs (Data, ImageData, Input, DummyData...).
bool IsSourceLayer(const LayerParameter& layer) { return layer.bottom_size() == 0; }

NetParameter WithoutQuantization(NetParameter param) {
  for (LayerParameter& layer : *param.mutable_layer()) layer.clear_quantization_param();
  return param;
}

// The same net with its source layers replaced by Input layers of the shapes the float pass saw, so a
// trial replays cached batches instead of reading (and decoding) the data source again.
NetParameter ReplayVersion(const NetParameter& param,
                           const std::map<std::string, std::vector<int64_t>>& shapes) {
  NetParameter replay = param;
  for (LayerParameter& layer : *replay.mutable_layer()) {
    if (!IsSourceLayer(layer)) continue;
    LayerParameter input;
    input.set_name(layer.name());
    input.set_type("Input");
    for (const std::string& top : layer.top()) {
      input.add_top(top);
      BlobShape* shape = input.mutable_input_param()->add_shape();
      for (int64_t dim : shapes.at(top)) shape->add_dim(dim);
    }
    layer = input;
  }
  return replay;
}

int64_t MacsPerImage(const Layer& layer, const Blob& top) {
  if (layer.blobs().empty()) return 0;
  const Blob& weights = *layer.blobs()[0];
  const int64_t num = std::max<int64_t>(top.num_axes() > 0 ? top.shape(0) : 1, 1);
  if (std::string(layer.type()) == "InnerProduct") return weights.count();
  // Every weight is used once per output position: for convolution the top's spatial size; for
  // deconvolution the bottom's, which is the top's count over the weights' output channels.
  const int64_t positions = top.count() / num / std::max<int64_t>(top.shape(1), 1);
  return weights.count() * positions;
}

}  // namespace

struct NetEvaluator::CachedCut {
  std::vector<int> blobs;                          // blob indices live across the cut
  std::vector<std::vector<std::vector<float>>> values;  // [batch][blob]
};

NetEvaluator::NetEvaluator(const std::string& model, const std::string& weights, int iterations)
    : NetEvaluator(ReadNetParameterFile(model), ReadWeightsFile(weights), iterations, model, weights) {}

NetEvaluator::NetEvaluator(NetParameter param, NetParameter weights, int iterations, std::string source,
                           std::string weights_source)
    : source_(std::move(source)) {
  const std::string& model = source_;
  CONDENSE_CHECK(iterations > 0, "--iterations must be positive, got ", iterations);
  param.mutable_state()->set_phase(TEST);
  test_net_ = FilterNet(param);
  test_net_.mutable_state()->set_phase(TEST);
  weights_ = std::move(weights);

  Net float_net(WithoutQuantization(test_net_), model);
  float_net.CopyTrainedLayersFrom(weights_, weights_source.empty() ? model : weights_source);
  const auto& layers = float_net.layers();
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string type = layers[i]->type();
    if (type == "Accuracy") {
      accuracy_layer_ = static_cast<int>(i);
      break;
    }
  }
  CONDENSE_CHECK(accuracy_layer_ >= 0, model,
                 ": the TEST phase has no Accuracy layer, so there is nothing to score the trials by");
  for (size_t i = 0; i < layers.size(); ++i) {
    const Layer& layer = *layers[i];
    if (!IsQuantizableType(layer.type())) continue;
    QuantizableLayer q;
    q.name = float_net.layer_names()[i];
    q.type = layer.type();
    q.index = static_cast<int>(i);
    for (const auto& blob : layer.blobs()) q.params += blob->count();
    if (!layer.blobs().empty()) {
      q.weights = layer.blobs()[0]->count();
      const int axis = layer.WeightOutputAxis();
      q.channels_lead_weights = axis == 0;
      q.channels = layer.blobs()[0]->num_axes() > axis ? layer.blobs()[0]->shape(axis) : 1;
    }
    q.macs = MacsPerImage(layer, *float_net.top_vecs()[i][0]);
    quantizable_.push_back(q);
    LayerRanges& ranges = ranges_[q.name];
    if (!layer.blobs().empty()) ranges.weights.Add(layer.blobs()[0]->data(), layer.blobs()[0]->count());
    if (layer.blobs().size() > 1) ranges.bias.Add(layer.blobs()[1]->data(), layer.blobs()[1]->count());
  }
  CONDENSE_CHECK(!quantizable_.empty(), model,
                 ": no convolution, deconvolution or inner product layer to quantize");

  // The float pass, a layer at a time so that each layer's output is seen before an in-place layer
  // (ReLU) changes it.
  std::vector<int> source_layers;
  for (size_t i = 0; i < layers.size(); ++i) {
    if (float_net.bottom_vecs()[i].empty()) source_layers.push_back(static_cast<int>(i));
  }
  std::map<std::string, std::vector<int64_t>> shapes;
  double correct = 0;
  for (int batch = 0; batch < iterations; ++batch) {
    std::vector<std::vector<float>> cached;
    for (size_t i = 0; i < layers.size(); ++i) {
      float_net.ForwardFromTo(static_cast<int>(i), static_cast<int>(i));
      if (std::find(source_layers.begin(), source_layers.end(), static_cast<int>(i)) !=
          source_layers.end()) {
        for (size_t t = 0; t < float_net.top_vecs()[i].size(); ++t) {
          const Blob& top = *float_net.top_vecs()[i][t];
          CONDENSE_CHECK(top.count() > 0, model, ": layer '", float_net.layer_names()[i],
                         "' gave an empty batch: the data set is empty");
          if (batch == 0) {
            data_tops_.push_back(float_net.blob_names()[float_net.top_ids(i)[t]]);
            shapes[data_tops_.back()] = top.shape();
          }
          cached.emplace_back(top.data(), top.data() + top.count());
        }
      }
      if (IsQuantizableType(layers[i]->type())) {
        LayerRanges& ranges = ranges_[float_net.layer_names()[i]];
        const Blob& bottom = *float_net.bottom_vecs()[i][0];
        const Blob& top = *float_net.top_vecs()[i][0];
        ranges.input.Add(bottom.data(), bottom.count());
        ranges.output.Add(top.data(), top.count());
      }
    }
    const int64_t batch_images = float_net.bottom_vecs()[accuracy_layer_][0]->shape(0);
    correct += float_net.top_vecs()[accuracy_layer_][0]->data()[0] * batch_images;
    images_ += batch_images;
    batches_.push_back(std::move(cached));
  }
  float_accuracy_ = correct / images_;
  replay_net_ = ReplayVersion(WithoutQuantization(test_net_), shapes);
  LOG(INFO) << "Float pass: " << images_ << " images in " << iterations << " batches, accuracy "
            << float_accuracy_;
}

NetEvaluator::~NetEvaluator() = default;

const NetEvaluator::CachedCut* NetEvaluator::CutBefore(int layer, const Net& layout) {
  auto found = cuts_.find(layer);
  if (found != cuts_.end()) return found->second.get();
  // Blobs made before the cut and read after it.
  std::set<int> made_before;
  for (int i = 0; i < layer; ++i) {
    for (int id : layout.top_ids(i)) made_before.insert(id);
  }
  std::set<int> live;
  const int layer_count = static_cast<int>(layout.layers().size());
  for (int i = layer; i < layer_count; ++i) {
    for (int id : layout.bottom_ids(i)) {
      if (made_before.count(id)) live.insert(id);
    }
  }
  int64_t bytes = 0;
  for (int id : live) bytes += layout.blobs()[id]->count() * int64_t{sizeof(float)};
  bytes *= static_cast<int64_t>(batches_.size());
  if (bytes > kCutBudgetBytes) {
    cuts_[layer] = nullptr;
    return nullptr;
  }
  Net net(replay_net_, source_);
  net.CopyTrainedLayersFrom(weights_);
  auto cut = std::make_unique<CachedCut>();
  cut->blobs.assign(live.begin(), live.end());
  for (const auto& batch : batches_) {
    for (size_t t = 0; t < data_tops_.size(); ++t) {
      Blob* blob = net.blob_by_name(data_tops_[t]);
      std::memcpy(blob->mutable_data(), batch[t].data(), batch[t].size() * sizeof(float));
    }
    net.ForwardFromTo(0, layer - 1);
    std::vector<std::vector<float>> values;
    for (int id : cut->blobs) {
      const Blob& blob = *net.blobs()[id];
      values.emplace_back(blob.data(), blob.data() + blob.count());
    }
    cut->values.push_back(std::move(values));
  }
  cuts_[layer] = std::move(cut);
  return cuts_[layer].get();
}

double NetEvaluator::Score(const NetParameter& trial, double stop_below,
                           std::map<std::string, LayerQuality>* layer_reports) {
  ++scorings_;
  // The replay definition with the trial's quantization_params copied in, layer by layer.
  NetParameter replay = replay_net_;
  CONDENSE_CHECK(trial.layer_size() == replay.layer_size(),
                 "a trial must keep the net's layers (", trial.layer_size(), " vs ",
                 replay.layer_size(), ")");
  for (int i = 0; i < trial.layer_size(); ++i) {
    if (trial.layer(i).has_quantization_param() && !IsSourceLayer(replay.layer(i))) {
      *replay.mutable_layer(i)->mutable_quantization_param() = trial.layer(i).quantization_param();
    }
  }
  Net net(replay, source_);
  net.CopyTrainedLayersFrom(weights_);
  const int layer_count = static_cast<int>(net.layers().size());
  int first_quantized = layer_count;
  for (int i = 0; i < layer_count; ++i) {
    if (net.layers()[i]->quantization()) {
      first_quantized = i;
      break;
    }
  }
  if (layer_reports) {
    for (const auto& layer : net.layers()) {
      if (layer->quantization()) layer->quantization()->set_collect_stats(true);
    }
  }
  const CachedCut* cut = first_quantized > 0 && first_quantized < layer_count
                             ? CutBefore(first_quantized, net)
                             : nullptr;
  const int start = cut ? first_quantized : 0;
  double correct = 0;
  int64_t seen = 0;
  for (size_t b = 0; b < batches_.size(); ++b) {
    if (cut) {
      for (size_t k = 0; k < cut->blobs.size(); ++k) {
        Blob* blob = net.blobs()[cut->blobs[k]].get();
        std::memcpy(blob->mutable_data(), cut->values[b][k].data(),
                    cut->values[b][k].size() * sizeof(float));
      }
    } else {
      for (size_t t = 0; t < data_tops_.size(); ++t) {
        Blob* blob = net.blob_by_name(data_tops_[t]);
        std::memcpy(blob->mutable_data(), batches_[b][t].data(), batches_[b][t].size() * sizeof(float));
      }
    }
    net.ForwardFromTo(start, layer_count - 1);
    const int64_t batch_images = net.bottom_vecs()[accuracy_layer_][0]->shape(0);
    correct += net.top_vecs()[accuracy_layer_][0]->data()[0] * batch_images;
    seen += batch_images;
    if (!layer_reports && (correct + (images_ - seen)) / images_ < stop_below) {
      return (correct + (images_ - seen)) / images_;  // cannot reach stop_below any more
    }
  }
  if (layer_reports) {
    for (int i = 0; i < layer_count; ++i) {
      LayerQuantization* quantization = net.layers()[i]->quantization();
      if (!quantization) continue;
      QuantizeStats total;
      for (const TensorQuantizationReport& report : quantization->Reports()) total.Merge(report.stats);
      (*layer_reports)[net.layer_names()[i]] = {total.SaturatedShare(), total.SqnrDb()};
    }
  }
  return correct / images_;
}

}  // namespace condense
