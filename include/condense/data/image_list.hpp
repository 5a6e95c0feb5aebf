// The list files of Caffe's ImageData layer and convert_imageset: one "path label" per line, the label
// after the last space (so paths may contain spaces). Shuffling draws from a given engine with a fixed
// algorithm, so a seed gives the same order on every platform.
#pragma once

#include <string>
#include <vector>

#include "condense/core/random.hpp"

namespace condense {

struct ImageListEntry {
  std::string path;
  int label = 0;
};

// Reads the list; blank lines are skipped, a line without an integer label is an Error naming file:line.
std::vector<ImageListEntry> ReadImageList(const std::string& list_path);

// Fisher-Yates shuffle with engine() % n draws.
void ShuffleImageList(std::vector<ImageListEntry>* entries, RandomEngine* engine);

}  // namespace condense
