#include "support/shared_data.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace condense::testing {

namespace {
bool Exists(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0;
}
}  // namespace

std::string SharedDataPath(const std::string& relative) {
  std::vector<std::string> roots;
  if (const char* root = std::getenv("CONDENSE_SHARED_DATA")) roots.push_back(root);
  roots.push_back(std::string(CONDENSE_SOURCE_DIR) + "/../shared/data");
  for (const std::string& root : roots) {
    const std::string path = root + "/" + relative;
    if (Exists(path)) return path;
  }
  return "";
}

std::string CondenseBinary() {
  if (const char* binary = std::getenv("CONDENSE_BINARY")) return binary;
  return std::string(CONDENSE_BINARY_DIR) + "/condense";
}

std::string MakeTempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base ? base : "/tmp") + "/" + prefix + "XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

ScopedTempDir::ScopedTempDir(const std::string& prefix) : path_(MakeTempDir(prefix)) {}

ScopedTempDir::~ScopedTempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace condense::testing
