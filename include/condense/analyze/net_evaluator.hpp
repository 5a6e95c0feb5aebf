// NetEvaluator: scores many variants of one net on the same batches, fast. It runs the float net once
// over the data set, keeping the data layers' batches in memory and every quantizable layer's range
// statistics (inputs, outputs, weights, biases); a trial — the same net with other quantization_params —
// then replays those batches through Input layers instead of reading the data source again, starts at
// the first layer the trial changes from cached float activations where they fit in memory, and stops
// as soon as it can no longer reach the accuracy the caller needs.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "condense/analyze/range_statistics.hpp"
#include "condense/net/net.hpp"
#include "condense/proto/condense.pb.h"

namespace condense {

// Range statistics of one layer's tensors under float computation.
struct LayerRanges {
  RangeStatistics input, output, weights, bias;
};

// A layer whose word widths the search chooses: convolution, deconvolution, inner product.
struct QuantizableLayer {
  std::string name;
  std::string type;
  int index = 0;         // in the TEST net
  int64_t params = 0;    // weights and biases
  int64_t weights = 0;   // of those, the weights (blob 0)
  int64_t channels = 0;  // the weights' output channels
  // Whether those lead the weights' axes, as per-channel formats need (not for Deconvolution or a
  // transposed InnerProduct, which --per_channel then gives one scale per tensor).
  bool channels_lead_weights = true;
  int64_t macs = 0;      // multiply-accumulates per image
};

class NetEvaluator {
 public:
  // `model` is the train_test prototxt (its TEST phase is scored), `weights` a caffemodel;
  // `iterations` batches make the data set. Runs the float pass.
  NetEvaluator(const std::string& model, const std::string& weights, int iterations);
  // The same for a definition and weights already in memory (a net rewritten before analysis, e.g.
  // with BatchNorm folded); `source` and `weights_source` name them in errors and logs.
  NetEvaluator(NetParameter model, NetParameter weights, int iterations, std::string source,
               std::string weights_source = "");
  ~NetEvaluator();

  // The TEST net's definition with every layer kept (no quantization_param removed or added), the
  // starting point for trial definitions.
  const NetParameter& test_net() const { return test_net_; }
  const std::string& net_name() const { return test_net_.name(); }
  double float_accuracy() const { return float_accuracy_; }
  int64_t images() const { return images_; }
  const std::vector<QuantizableLayer>& quantizable_layers() const { return quantizable_; }
  const LayerRanges& ranges(const std::string& layer) const { return ranges_.at(layer); }

  // Accuracy of a variant of test_net() (same layers and blobs, other quantization_params). Stops
  // early, returning a value below `stop_below`, once even all remaining images right would not reach
  // it. With `layer_reports`, fills each quantized layer's saturation and SQNR (no early stop then).
  struct LayerQuality {
    double saturation = 0;
    double sqnr_db = 0;
  };
  double Score(const NetParameter& trial, double stop_below = 0,
               std::map<std::string, LayerQuality>* layer_reports = nullptr);
  int scorings() const { return scorings_; }

 private:
  struct CachedCut;  // float activations live across one cut between layers
  const CachedCut* CutBefore(int layer, const Net& float_layout);

  std::string source_;
  NetParameter test_net_;     // filtered to TEST, splits not yet inserted
  NetParameter replay_net_;   // the same with data layers replaced by Input layers
  NetParameter weights_;
  int accuracy_layer_ = -1;   // index in the replayed net
  std::vector<std::string> data_tops_;
  std::vector<std::vector<std::vector<float>>> batches_;  // [batch][data top] values
  std::vector<std::vector<int64_t>> data_shapes_;
  double float_accuracy_ = 0;
  int64_t images_ = 0;
  std::vector<QuantizableLayer> quantizable_;
  std::map<std::string, LayerRanges> ranges_;
  std::map<int, std::unique_ptr<CachedCut>> cuts_;
  int scorings_ = 0;
};

}  // namespace condense
