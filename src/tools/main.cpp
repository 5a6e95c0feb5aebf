// The `condense` program: Caffe's verbs (train, test, time, ...) plus condense's own, one binary.
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <algorithm>
#include <exception>
#include <iostream>

#include "condense/core/error.hpp"
#include "condense/core/parallel.hpp"
#include "flags.hpp"
#include "verb.hpp"

namespace condense::tools {

namespace {
std::vector<Verb>& VerbTable() {
  static std::vector<Verb> verbs;
  return verbs;
}

std::string UsageText() {
  std::vector<Verb> verbs = Verbs();
  std::sort(verbs.begin(), verbs.end(),
            [](const Verb& a, const Verb& b) { return std::string(a.name) < b.name; });
  std::string text =
      "condense: how few bits each layer of a CNN needs.\n"
      "usage: condense <verb> [--flags] [arguments]\n\nverbs:\n";
  for (const Verb& verb : verbs) text += StrCat("  ", verb.name, "\t", verb.usage, "\n");
  text += "\nRun `condense --help` for every flag, `condense --version` for the version.";
  return text;
}

int Run(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << UsageText() << "\n";
    return 1;
  }
  const std::string name = argv[1];
  CONDENSE_CHECK(FLAGS_gpu.empty(),
                 "--gpu: this build of condense is CPU-only; drop the flag to run on the CPU");
  SetThreadCount(FLAGS_threads);
  for (const Verb& verb : Verbs()) {
    if (name == verb.name) return verb.run(VerbArgs(argv + 2, argv + argc));
  }
  Fail("unknown verb '", name, "'\n", UsageText());
}
}  // namespace

void RegisterVerb(const Verb& verb) { VerbTable().push_back(verb); }
const std::vector<Verb>& Verbs() { return VerbTable(); }

}  // namespace condense::tools

int main(int argc, char** argv) {
  FLAGS_logtostderr = true;
  FLAGS_colorlogtostderr = false;
  gflags::SetVersionString(CONDENSE_VERSION);
  gflags::SetUsageMessage("condense <verb> [--flags] [arguments]; `condense` alone lists the verbs");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  google::InitGoogleLogging(argv[0]);
  try {
    return condense::tools::Run(argc, argv);
  } catch (const condense::Error& error) {
    std::cerr << "condense: error: " << error.what() << std::endl;
  } catch (const std::bad_alloc&) {
    std::cerr << "condense: error: out of memory" << std::endl;
  } catch (const std::exception& error) {
    std::cerr << "condense: error: " << error.what() << std::endl;
  }
  return 1;
}
