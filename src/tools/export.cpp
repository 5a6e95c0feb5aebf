// `condense export`: writes the on-grid weights of a quantized net for deployment — a caffemodel that
// scores exactly as the original weights under the quantized prototxt, a C header with the integer
// codes and one raw file per blob with a JSON index (see analyze/weight_export.hpp) — and ends with a
// table of what each layer became and how many bytes its codes take.
#include <glog/logging.h>

#include <iostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "condense/analyze/weight_export.hpp"
#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"
#include "condense/net/net.hpp"
#include "condense/net/upgrade.hpp"
#include "console_table.hpp"
#include "flags.hpp"
#include "verb.hpp"

DEFINE_string(output_dir, "", "condense export: the folder to write the exported weights into.");

namespace condense::tools {

namespace {

// The first file the model's data layers would read that is not there ("layer 'mnist':
// data_param.source 'x'"), or "" when every one is present.
std::string AbsentDataSource(const NetParameter& model) {
  for (const LayerParameter& layer : model.layer()) {
    std::vector<std::pair<std::string, std::string>> files;  // field, path
    if (layer.type() == "Data") files.push_back({"data_param.source", layer.data_param().source()});
    if (layer.type() == "ImageData") {
      files.push_back({"image_data_param.source", layer.image_data_param().source()});
    }
    if (layer.transform_param().has_mean_file()) {
      files.push_back({"transform_param.mean_file", layer.transform_param().mean_file()});
    }
    for (const auto& [field, path] : files) {
      if (!FileExists(path)) return StrCat("layer '", layer.name(), "': ", field, " '", path, "'");
    }
  }
  return "";
}

// The net the model builds with the weights loaded as `condense test` loads them (so that their shapes
// are checked against it), as Net::ToProto writes it; layers the weights files leave at their fillers
// lose their blobs, with a warning, rather than export random numbers.
NetParameter TrainedNet(const NetParameter& model, const std::vector<NetParameter>& weights,
                        const std::vector<std::string>& weight_paths) {
  Net net(model, FLAGS_model);
  std::set<std::string> trained;
  for (size_t i = 0; i < weights.size(); ++i) {
    net.CopyTrainedLayersFrom(weights[i], weight_paths[i]);
    for (const LayerParameter& layer : weights[i].layer()) {
      if (layer.blobs_size() > 0) trained.insert(layer.name());
    }
  }
  NetParameter param;
  net.ToProto(&param);
  for (LayerParameter& layer : *param.mutable_layer()) {
    if (layer.blobs_size() == 0 || trained.count(layer.name()) > 0) continue;
    LOG(WARNING) << "Layer " << layer.name() << " has no weights in " << FLAGS_weights
                 << ": it is not exported (the net would run it with its filler values)";
    layer.clear_blobs();
  }
  return param;
}

void PrintSummary(const WeightExport& exported) {
  ConsoleTable table({"layer", "blob", "format", "dtype", "values", "bytes"});
  int64_t bytes = 0;
  int64_t float_bytes = 0;
  for (const ExportedParameter& p : exported.parameters) {
    const int64_t count = static_cast<int64_t>(p.values.size());
    const int64_t blob_bytes = count * CodeTypeBytes(p.code_type);
    bytes += blob_bytes;
    float_bytes += count * 4;
    table.AddRow(
        {p.layer, p.blob, p.format.Describe(), CodeTypeName(p.code_type), StrCat(count), StrCat(blob_bytes)});
  }
  table.AddRow({"total", "", "", "", StrCat(float_bytes / 4), StrCat(bytes)});
  std::cout << "\n"
            << table.Render() << "codes: " << bytes << " bytes, "
            << (float_bytes > 0 ? FormatFixed(100.0 * bytes / float_bytes, 1) : "0") << "% of float32\n";
}

int ExportMain(const VerbArgs& args) {
  CONDENSE_CHECK(args.empty(), "condense export takes no positional arguments (got '", args[0], "')");
  RequireFlag(FLAGS_model, "model", "export");
  RequireFlag(FLAGS_weights, "weights", "export");
  RequireFlag(FLAGS_output_dir, "output_dir", "export");
  CONDENSE_CHECK(!FileExists(FLAGS_output_dir) || IsDirectory(FLAGS_output_dir), "--output_dir ",
                 FLAGS_output_dir, ": exists and is not a directory");

  NetParameter model = ReadNetParameterFile(FLAGS_model);
  model.mutable_state()->set_phase(PhaseFromFlag(TEST));
  model.mutable_state()->set_level(FLAGS_level);
  // --stage adds to the prototxt's own state { stage }, as in Caffe.
  for (const std::string& stage : StagesFromFlag()) model.mutable_state()->add_stage(stage);
  std::vector<NetParameter> weights;
  const std::vector<std::string> weight_paths = SplitCommas(FLAGS_weights);
  for (const std::string& path : weight_paths) {
    LOG(INFO) << "Reading weights from " << path;
    weights.push_back(ReadWeightsFile(path));
  }

  // The export needs the weights, not the data: a prototxt whose LMDB is elsewhere still exports,
  // only without the shape check that building the net gives.
  const NetParameter filtered = FilterNet(model);
  const std::string absent = AbsentDataSource(filtered);
  NetParameter with_weights;
  if (absent.empty()) {
    with_weights = TrainedNet(model, weights, weight_paths);
  } else {
    LOG(WARNING) << "Not building the net, " << absent << " is absent here: the weights are exported "
                 << "by layer name without checking their shapes against the net";
    with_weights = AttachWeightsByName(filtered, weights);
  }

  WeightExport exported = ExportWeights(with_weights, FLAGS_model);
  exported.model_path = FLAGS_model;
  exported.weights_path = FLAGS_weights;
  CONDENSE_CHECK(!exported.parameters.empty(), FLAGS_weights, ": holds weights for none of the layers of ",
                 FLAGS_model, " (do the layer names differ?)");
  if (exported.quantized_layers == 0) {
    LOG(WARNING) << FLAGS_model << " has no quantization_param in any layer: every parameter is "
                 << "exported as float32";
  }
  std::set<std::string> stochastic_layers;
  for (const ExportedParameter& p : exported.parameters) {
    if (p.stochastic_in_prototxt) stochastic_layers.insert(p.layer);
  }
  for (const std::string& layer : stochastic_layers) {
    LOG(INFO) << "Layer " << layer << " rounds STOCHASTIC in the prototxt: its weights are exported "
              << "with NEAREST rounding (one stochastic draw would be one sample, not the weights)";
  }

  for (const std::string& path : WriteWeightExport(exported, FLAGS_output_dir)) {
    LOG(INFO) << "Wrote " << path;
  }
  PrintSummary(exported);
  return 0;
}

}  // namespace

CONDENSE_REGISTER_VERB("export",
                       "on-grid weights of a quantized net: --model --weights --output_dir=DIR "
                       "(DIR/<net>.caffemodel, DIR/<net>.h, DIR/raw/)",
                       ExportMain);

}  // namespace condense::tools
