// Where tests find the real Caffe artifacts (../shared/data beside the checkout) and the built program.
// Tests that need an artifact call SharedDataPath and skip, with a clear message, when it is empty.
#pragma once

#include <string>

namespace condense::testing {

// Absolute path of `relative` under the shared data folder, or "" when that file is not there.
// CONDENSE_SHARED_DATA overrides the folder.
std::string SharedDataPath(const std::string& relative);
// The built `condense` program (CONDENSE_BINARY from ctest, else the build folder's).
std::string CondenseBinary();
// A fresh empty directory under the system's temporary folder, removed by the caller.
std::string MakeTempDir(const std::string& prefix);

// A fresh temporary directory that removes itself, so a failing assertion leaves nothing behind.
class ScopedTempDir {
 public:
  explicit ScopedTempDir(const std::string& prefix);
  ~ScopedTempDir();
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace condense::testing

// Skips the current test when a shared artifact is missing.
#define CONDENSE_REQUIRE_SHARED(path_variable, relative)                                  \
  const std::string path_variable = ::condense::testing::SharedDataPath(relative);        \
  if (path_variable.empty()) GTEST_SKIP() << "../shared/data/" << relative                \
                                          << " is absent: skipping a test of real files"
