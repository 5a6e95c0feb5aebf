// Reading and writing whole files. Every write goes to a temporary name in the same directory, is
// flushed to disk (fsync) and then renamed over the target, so an interrupted run leaves either the
// old file or the new one, never half of one.
#pragma once

#include <cstdint>
#include <string>

namespace condense {

// Reads a whole file; throws naming the path when it is missing or unreadable. Refuses files larger
// than max_bytes.
std::string ReadFileToString(const std::string& path, int64_t max_bytes = int64_t{4} << 30);
void WriteFileAtomically(const std::string& path, const std::string& contents);
bool FileExists(const std::string& path);
bool IsDirectory(const std::string& path);
// Creates a directory and its parents; throws when it cannot.
void MakeDirectories(const std::string& path);
// Reads a gzip file (or a plain one: gzip's reader passes plain files through).
std::string ReadMaybeGzipped(const std::string& path, int64_t max_bytes = int64_t{1} << 32);

}  // namespace condense
