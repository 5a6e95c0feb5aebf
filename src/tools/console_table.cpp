#include "console_table.hpp"

#include <algorithm>
#include <cstdio>

namespace condense::tools {

std::string ConsoleTable::Render() const {
  std::vector<size_t> widths(header_.size(), 0);
  auto widen = [&widths](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  };
  widen(header_);
  for (const auto& row : rows_) widen(row);
  auto line = [&widths](const std::vector<std::string>& row) {
    std::string text;
    for (size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      // The first column is a name: left-aligned; figures are right-aligned.
      const std::string pad(widths[i] - cell.size(), ' ');
      text += (i == 0 ? cell + pad : pad + cell) + (i + 1 < widths.size() ? "  " : "");
    }
    return text + "\n";
  };
  std::string rule;
  for (size_t i = 0; i < widths.size(); ++i) rule += std::string(widths[i], '-') + (i + 1 < widths.size() ? "  " : "");
  std::string text = line(header_) + rule + "\n";
  for (const auto& row : rows_) text += line(row);
  return text;
}

std::string FormatFixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
  return buffer;
}

std::string FormatSeconds(double seconds) {
  if (seconds < 60.0) return FormatFixed(seconds, 1) + "s";
  const int total = static_cast<int>(seconds + 0.5);
  char buffer[64];
  if (total < 3600) {
    std::snprintf(buffer, sizeof(buffer), "%dm %02ds", total / 60, total % 60);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%dh %02dm", total / 3600, (total / 60) % 60);
  }
  return buffer;
}

}  // namespace condense::tools
