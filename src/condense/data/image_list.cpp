#include "condense/data/image_list.hpp"

#include <cerrno>
#include <cstdlib>
#include <limits>
#include <utility>

#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"

namespace condense {

namespace {

std::string TrimRight(std::string text) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.pop_back();
  }
  return text;
}

// Parses "path label"; the label is the text after the last blank.
ImageListEntry ParseLine(const std::string& line, const std::string& where) {
  const size_t blank = line.find_last_of(" \t");
  CONDENSE_CHECK(blank != std::string::npos && blank > 0, where,
                 ": expected '<image path> <integer label>', got '", line, "'");
  const std::string label_text = line.substr(blank + 1);
  char* end = nullptr;
  errno = 0;
  const long label = std::strtol(label_text.c_str(), &end, 10);
  CONDENSE_CHECK(end != label_text.c_str() && *end == '\0' && errno == 0 &&
                     label >= std::numeric_limits<int>::min() &&
                     label <= std::numeric_limits<int>::max(),
                 where, ": label '", label_text, "' is not an integer");
  ImageListEntry entry;
  entry.path = TrimRight(line.substr(0, blank));
  entry.label = static_cast<int>(label);
  return entry;
}

}  // namespace

std::vector<ImageListEntry> ReadImageList(const std::string& list_path) {
  const std::string text = ReadFileToString(list_path);
  std::vector<ImageListEntry> entries;
  size_t start = 0;
  int line_number = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    ++line_number;
    const std::string line = TrimRight(text.substr(start, end - start));
    start = end + 1;
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    entries.push_back(ParseLine(line, list_path + ":" + std::to_string(line_number)));
  }
  return entries;
}

void ShuffleImageList(std::vector<ImageListEntry>* entries, RandomEngine* engine) {
  for (size_t i = entries->size(); i > 1; --i) {
    const size_t j = static_cast<size_t>((*engine)() % i);
    std::swap((*entries)[i - 1], (*entries)[j]);
  }
}

}  // namespace condense
