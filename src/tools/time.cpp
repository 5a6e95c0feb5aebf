// `condense time`: times forward and backward, per layer and in total, as `caffe time` does (TRAIN phase
// by default), after one warm-up pass. Per-layer figures show where the time goes.
#include <glog/logging.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"
#include "condense/core/parallel.hpp"
#include "console_table.hpp"
#include "flags.hpp"
#include "net_setup.hpp"
#include "verb.hpp"

namespace condense::tools {

namespace {

using Clock = std::chrono::steady_clock;

double MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

int TimeMain(const VerbArgs& args) {
  CONDENSE_CHECK(args.empty(), "condense time takes no positional arguments (got '", args[0], "')");
  CONDENSE_CHECK(FLAGS_iterations > 0, "--iterations must be positive, not ", FLAGS_iterations);
  std::unique_ptr<Net> net = NetFromFlags("time", TRAIN);
  const auto& layers = net->layers();
  const size_t layer_count = layers.size();
  LOG(INFO) << "Warm-up forward-backward pass";
  net->ForwardBackward();

  std::vector<double> forward_ms(layer_count, 0.0);
  std::vector<double> backward_ms(layer_count, 0.0);
  double forward_total = 0.0;
  double backward_total = 0.0;
  const auto start = Clock::now();
  for (int iteration = 0; iteration < FLAGS_iterations; ++iteration) {
    const auto forward_start = Clock::now();
    for (size_t i = 0; i < layer_count; ++i) {
      const auto layer_start = Clock::now();
      layers[i]->Forward(net->bottom_vecs()[i], net->top_vecs()[i]);
      forward_ms[i] += MillisecondsSince(layer_start);
    }
    forward_total += MillisecondsSince(forward_start);
    const auto backward_start = Clock::now();
    for (size_t i = layer_count; i-- > 0;) {
      if (!net->layer_need_backward()[i]) continue;
      const auto layer_start = Clock::now();
      layers[i]->Backward(net->top_vecs()[i], net->bottom_need_backward()[i], net->bottom_vecs()[i]);
      backward_ms[i] += MillisecondsSince(layer_start);
    }
    backward_total += MillisecondsSince(backward_start);
  }
  const double wall_ms = MillisecondsSince(start);
  const double n = FLAGS_iterations;

  ConsoleTable table({"layer", "type", "forward ms", "backward ms"});
  nlohmann::ordered_json layer_json = nlohmann::ordered_json::array();
  for (size_t i = 0; i < layer_count; ++i) {
    table.AddRow({net->layer_names()[i], layers[i]->type(), FormatFixed(forward_ms[i] / n, 3),
                  FormatFixed(backward_ms[i] / n, 3)});
    layer_json.push_back({{"name", net->layer_names()[i]},
                          {"type", layers[i]->type()},
                          {"forward_ms", forward_ms[i] / n},
                          {"backward_ms", backward_ms[i] / n}});
  }
  const double phase_forward = forward_total / n;
  const double phase_backward = backward_total / n;
  std::cout << "\n" << table.Render() << "\n";
  LOG(INFO) << "Average Forward pass: " << phase_forward << " ms.";
  LOG(INFO) << "Average Backward pass: " << phase_backward << " ms.";
  LOG(INFO) << "Average Forward-Backward: " << wall_ms / n << " ms.";
  LOG(INFO) << "Total Time: " << wall_ms << " ms (" << FLAGS_iterations << " iterations, "
            << ThreadCount() << " threads, batch " << BatchSize(*net) << ").";
  if (!FLAGS_json.empty()) {
    nlohmann::ordered_json summary;
    summary["forward_ms"] = phase_forward;
    summary["backward_ms"] = phase_backward;
    summary["forward_backward_ms"] = wall_ms / n;
    summary["iterations"] = FLAGS_iterations;
    summary["threads"] = ThreadCount();
    summary["batch_size"] = BatchSize(*net);
    summary["phase"] = net->phase() == TRAIN ? "TRAIN" : "TEST";
    summary["model"] = FLAGS_model;
    summary["layers"] = layer_json;
    WriteFileAtomically(FLAGS_json, summary.dump(2) + "\n");
  }
  return 0;
}

}  // namespace

CONDENSE_REGISTER_VERB("time", "time forward/backward per layer: --model [--weights] [--iterations=50] "
                       "[--phase=TRAIN] [--json=FILE]", TimeMain);

}  // namespace condense::tools
