// The verbs of the `condense` program (train, test, time, convert_mnist, ...). Each verb lives in its
// own file and registers itself with CONDENSE_REGISTER_VERB; main() parses the gflags flags and runs the
// verb named by the first argument. A verb returns the process exit code and throws condense::Error on
// bad input; main() turns that into one line on stderr and exit code 1.
#pragma once

#include <string>
#include <vector>

namespace condense::tools {

// Positional arguments after the verb (flags already removed by gflags).
using VerbArgs = std::vector<std::string>;
using VerbFunction = int (*)(const VerbArgs& args);

struct Verb {
  const char* name;
  const char* usage;  // one line shown by `condense --help`
  VerbFunction run;
};

void RegisterVerb(const Verb& verb);
const std::vector<Verb>& Verbs();

struct VerbRegistration {
  explicit VerbRegistration(const Verb& verb) { RegisterVerb(verb); }
};

}  // namespace condense::tools

#define CONDENSE_REGISTER_VERB(name, usage, function) \
  static ::condense::tools::VerbRegistration condense_verb_registration_##function({name, usage, function})
