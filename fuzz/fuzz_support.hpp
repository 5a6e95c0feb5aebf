// What every fuzz target shares: quiet logging, a bounded allocator for blob memory, and a way to hand
// the fuzzer's bytes to condense's file readers under a real path without touching the disk.
//
// The readers are fuzzed through the same path-taking functions the program uses, so the checks on
// file size, truncation and trailing bytes are fuzzed too. The bytes go into an anonymous in-memory
// file (memfd) that is reached as /proc/self/fd/N.
//
// Blob memory: a prototxt may legitimately ask for blobs of up to kMaxBlobCount floats (8 GiB), far
// beyond what a fuzzer process may hold. Blobs get their memory from aligned_alloc; the fuzz targets
// define it with a cap per allocation and on the total held, returning null (ENOMEM) past it, which
// condense must turn into an Error like any other out-of-memory. Any other allocation is left alone, so
// a reader that sizes a std::vector or string from untrusted bytes still shows up as an out-of-memory
// report.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace condense::fuzz {

// Largest single blob allocation, and the most blob and other heap memory held at once. Small enough
// that filling the allowed blobs (gaussian fillers under ASan) stays well inside the time limit per
// input; real nets' largest weights (LeNet's ip1: 1.6 MB) fit.
constexpr size_t kMaxBlobAllocationBytes = size_t{8} << 20;
constexpr size_t kMaxHeldBytes = size_t{256} << 20;

// Every target's LLVMFuzzerInitialize: silences glog's progress lines (they would dominate the run
// time) and computes on one thread, so an input replays the same way.
void InitTarget();

// An anonymous in-memory file whose contents are replaced with each input.
class InMemoryFile {
 public:
  InMemoryFile();
  ~InMemoryFile();
  InMemoryFile(const InMemoryFile&) = delete;
  InMemoryFile& operator=(const InMemoryFile&) = delete;

  // Replaces the contents; returns the path under which condense's readers find them.
  const std::string& Write(const uint8_t* data, size_t size);
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// The one in-memory file of the process, for targets that read their input from a path.
InMemoryFile& InputFile();

}  // namespace condense::fuzz
