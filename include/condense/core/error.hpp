// The one exception type condense throws on bad input or a broken invariant, and the helpers that build
// its message. The command-line program catches it, prints the message as one line and exits 1, so a
// message must stand on its own: name the file, the layer and the field it is about.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace condense {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Concatenates its arguments with operator<< into one string.
template <typename... Parts>
std::string StrCat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

template <typename... Parts>
[[noreturn]] void Fail(const Parts&... parts) {
  throw Error(StrCat(parts...));
}

}  // namespace condense

// Throws condense::Error with the concatenated message when the condition does not hold.
#define CONDENSE_CHECK(condition, ...)             \
  do {                                             \
    if (!(condition)) ::condense::Fail(__VA_ARGS__); \
  } while (0)
