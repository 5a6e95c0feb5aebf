// `condense quantize`: Ristretto's command with its flags — one width for conv weights, one for fc
// weights and one for activations, found by halving from 16 bits — written as a quantized prototxt.
// Statistics come from the one float pass, the data set is decoded once, and trials stop scoring as
// soon as they cannot meet the margin.
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <chrono>
#include <iostream>

#include "condense/analyze/bit_width_search.hpp"
#include "condense/analyze/net_evaluator.hpp"
#include "condense/core/error.hpp"
#include "condense/core/proto_io.hpp"
#include "condense/net/upgrade.hpp"
#include "console_table.hpp"
#include "flags.hpp"
#include "verb.hpp"

DEFINE_string(trimming_mode, "dynamic_fixed_point",
              "quantize: dynamic_fixed_point, minifloat or integer_power_of_2_weights.");

namespace condense::tools {
namespace {

std::string Describe(const QuantizationParameter& q) {
  switch (q.precision()) {
    case QuantizationParameter::MINIFLOAT:
      return StrCat("minifloat e", q.exp_bits(), "m", q.mant_bits());
    case QuantizationParameter::INTEGER_POWER_OF_2_WEIGHTS:
      return StrCat("2^[", q.exp_min(), ",", q.exp_max(), "], act fixed<", q.bw_layer_in(), ",",
                    q.fl_layer_in(), ">/<", q.bw_layer_out(), ",", q.fl_layer_out(), ">");
    default:
      break;
  }
  auto fixed = [](bool has, int bw, int fl) { return has ? StrCat("<", bw, ",", fl, ">") : "float"; };
  return StrCat("in ", fixed(q.has_bw_layer_in(), q.bw_layer_in(), q.fl_layer_in()), "  out ",
                fixed(q.has_bw_layer_out(), q.bw_layer_out(), q.fl_layer_out()), "  params ",
                fixed(q.has_bw_params(), q.bw_params(), q.fl_params()));
}

int QuantizeMain(const VerbArgs& args) {
  CONDENSE_CHECK(args.empty(), "condense quantize takes no positional arguments (got '", args[0], "')");
  CheckSearchFlags("quantize");
  const TrimmingMode mode = ParseTrimmingMode(FLAGS_trimming_mode);
  const RangeMethod method = RangeMethodFlag("max");
  const auto start = std::chrono::steady_clock::now();

  NetEvaluator evaluator(FLAGS_model, FLAGS_weights, FLAGS_iterations);
  const SearchResult result = RistrettoSearch(evaluator, mode, FLAGS_error_margin, method);
  const NetParameter quantized = ApplyFormats(ReadNetParameterFile(FLAGS_model), result.formats);
  WriteTextProtoFile(FLAGS_model_quantized, quantized);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  ConsoleTable table({"layer", "format"});
  for (const QuantizableLayer& layer : evaluator.quantizable_layers()) {
    auto found = result.formats.find(layer.name);
    table.AddRow({layer.name, found == result.formats.end() ? "float" : Describe(found->second)});
  }
  std::cout << table.Render();
  std::cout << "float accuracy " << FormatFixed(evaluator.float_accuracy(), 4) << ", quantized "
            << FormatFixed(result.accuracy, 4) << " (margin " << FLAGS_error_margin << " points), "
            << evaluator.scorings() << " scorings in " << FormatSeconds(seconds) << "\n"
            << "wrote " << FLAGS_model_quantized << "\n";
  return 0;
}

}  // namespace

CONDENSE_REGISTER_VERB("quantize",
                       "--model=M --weights=W --model_quantized=Q [--trimming_mode=dynamic_fixed_point|"
                       "minifloat|integer_power_of_2_weights] [--iterations=50] [--error_margin=2]",
                       QuantizeMain);

}  // namespace condense::tools
