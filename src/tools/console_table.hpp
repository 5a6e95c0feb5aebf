// The summary tables long commands print at the end, and the progress figures they log on the way:
// plain text, columns padded to their widest cell, so that they read well in a terminal and a log file.
#pragma once

#include <string>
#include <vector>

namespace condense::tools {

class ConsoleTable {
 public:
  explicit ConsoleTable(std::vector<std::string> header) : header_(std::move(header)) {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string Render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// "12.3", with the given number of decimals.
std::string FormatFixed(double value, int decimals);
// "1m 05s", "12.4s": a duration for humans.
std::string FormatSeconds(double seconds);

}  // namespace condense::tools
