// Runs `condense` on every case in tests/bad_inputs/*.case and checks that each bad input gives one
// readable error line that names the problem, exit code 1, no abort or stack trace, and leaves no
// half-written file behind. A case file holds:
//   # what the case is about
//   args: <arguments; @ stands for tests/bad_inputs, $OUT for a fresh scratch folder>
//   expect: <text the error line must contain>
//   cwd: <optional folder to run in, default the scratch folder>
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/shared_data.hpp"

namespace condense {
namespace {

const std::string kCasesDir = std::string(CONDENSE_SOURCE_DIR) + "/tests/bad_inputs";

struct BadInputCase {
  std::string name;
  std::string args;
  std::string expect;
  std::string cwd;
};

std::vector<std::string> CaseNames() {
  std::vector<std::string> names;
  if (DIR* dir = opendir(kCasesDir.c_str())) {
    while (dirent* entry = readdir(dir)) {
      const std::string file = entry->d_name;
      if (file.size() > 5 && file.substr(file.size() - 5) == ".case") {
        names.push_back(file.substr(0, file.size() - 5));
      }
    }
    closedir(dir);
  }
  std::sort(names.begin(), names.end());
  return names;
}

BadInputCase ReadCase(const std::string& name) {
  BadInputCase result{name, "", "", ""};
  std::ifstream in(kCasesDir + "/" + name + ".case");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("args:", 0) == 0) result.args = line.substr(5);
    if (line.rfind("expect:", 0) == 0) result.expect = line.substr(7);
    if (line.rfind("cwd:", 0) == 0) result.cwd = line.substr(4);
  }
  auto trim = [](std::string& text) {
    text.erase(0, text.find_first_not_of(' '));
    text.erase(text.find_last_not_of(' ') + 1);
  };
  trim(result.args);
  trim(result.expect);
  trim(result.cwd);
  return result;
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

std::vector<std::string> FilesUnder(const std::string& dir) {
  std::vector<std::string> files;
  if (DIR* handle = opendir(dir.c_str())) {
    while (dirent* entry = readdir(handle)) {
      const std::string file = entry->d_name;
      if (file != "." && file != "..") files.push_back(file);
    }
    closedir(handle);
  }
  return files;
}

class BadInputTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BadInputTest, OneClearErrorAndExitCodeOne) {
  const BadInputCase bad = ReadCase(GetParam());
  ASSERT_FALSE(bad.args.empty()) << "case " << bad.name << " has no args: line";
  ASSERT_FALSE(bad.expect.empty()) << "case " << bad.name << " has no expect: line";
  const std::string scratch = testing::MakeTempDir("condense_bad_");
  const std::string args = Replace(Replace(bad.args, "@", kCasesDir), "$OUT", scratch);
  const std::string cwd = bad.cwd.empty() ? scratch : Replace(bad.cwd, "@", kCasesDir);
  const std::string command =
      "cd " + cwd + " && " + testing::CondenseBinary() + " " + args + " 2>&1 >/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(nullptr, pipe);
  std::string stderr_text;
  char buffer[4096];
  while (size_t got = fread(buffer, 1, sizeof(buffer), pipe)) stderr_text.append(buffer, got);
  const int status = pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status)) << "condense died on a signal for case " << bad.name << ":\n"
                                 << stderr_text;
  EXPECT_EQ(1, WEXITSTATUS(status)) << stderr_text;

  // Progress lines (glog, "I1123 ...") may come first; the error is the one line starting "condense:".
  std::istringstream lines(stderr_text);
  std::string line;
  std::vector<std::string> errors;
  while (std::getline(lines, line)) {
    if (line.rfind("condense: error:", 0) == 0 || line.rfind("ERROR:", 0) == 0) errors.push_back(line);
  }
  ASSERT_EQ(1u, errors.size()) << "expected one error line for case " << bad.name << ":\n" << stderr_text;
  EXPECT_NE(std::string::npos, errors[0].find(bad.expect))
      << "case " << bad.name << ": the error should mention '" << bad.expect << "':\n" << errors[0];
  for (const char* crash_sign : {"Check failed", "*** ", "Aborted", "terminate called", "Segmentation"}) {
    EXPECT_EQ(std::string::npos, stderr_text.find(crash_sign)) << stderr_text;
  }
  // Nothing half-written: no temporary files left in the scratch folder the command ran in.
  for (const std::string& file : FilesUnder(scratch)) {
    EXPECT_EQ(std::string::npos, file.find(".tmp")) << "left behind: " << file;
  }
  std::system(("rm -rf " + scratch).c_str());
}

INSTANTIATE_TEST_SUITE_P(Cases, BadInputTest, ::testing::ValuesIn(CaseNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

TEST(BadInputCasesTest, AtLeastTwentyCases) { EXPECT_GE(CaseNames().size(), 20u); }

}  // namespace
}  // namespace condense
