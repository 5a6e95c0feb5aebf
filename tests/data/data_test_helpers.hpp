// Helpers the data tests share: the message of the Error an action throws, and a fixture that gives each
// test a fresh temporary directory and removes it afterwards.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>

#include "condense/core/error.hpp"
#include "support/shared_data.hpp"

namespace condense::testing {

// The message of the condense::Error that `action` throws, or "" when it throws none.
inline std::string ErrorOf(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir("condense_data_test_"); }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::string dir_;
};

}  // namespace condense::testing
