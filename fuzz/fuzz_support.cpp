#include "fuzz_support.hpp"

#include <errno.h>
#include <sanitizer/allocator_interface.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include <glog/logging.h>

#include "condense/core/parallel.hpp"

namespace condense::fuzz {

void InitTarget() {
  FLAGS_minloglevel = google::GLOG_ERROR;
  FLAGS_logtostderr = true;
  SetThreadCount(1);
}

InMemoryFile& InputFile() {
  static InMemoryFile file;
  return file;
}

InMemoryFile::InMemoryFile() {
  fd_ = ::memfd_create("condense-fuzz-input", MFD_CLOEXEC);
  if (fd_ < 0) throw std::runtime_error("memfd_create failed");
  path_ = "/proc/self/fd/" + std::to_string(fd_);
}

InMemoryFile::~InMemoryFile() {
  if (fd_ >= 0) ::close(fd_);
}

const std::string& InMemoryFile::Write(const uint8_t* data, size_t size) {
  if (::ftruncate(fd_, 0) != 0) throw std::runtime_error("ftruncate failed");
  size_t done = 0;
  while (done < size) {
    const ssize_t written = ::pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
    if (written <= 0) throw std::runtime_error("pwrite failed");
    done += static_cast<size_t>(written);
  }
  return path_;
}

}  // namespace condense::fuzz

// Blob memory comes from aligned_alloc (core/blob.cpp). This definition replaces the sanitizer
// runtime's one for the whole process, shared library included, and forwards to posix_memalign, which
// the sanitizer still tracks.
extern "C" void* aligned_alloc(size_t alignment, size_t size) {
  using condense::fuzz::kMaxBlobAllocationBytes;
  using condense::fuzz::kMaxHeldBytes;
  if (size > kMaxBlobAllocationBytes ||
      __sanitizer_get_current_allocated_bytes() + size > kMaxHeldBytes) {
    errno = ENOMEM;
    return nullptr;
  }
  void* memory = nullptr;
  if (::posix_memalign(&memory, std::max(alignment, sizeof(void*)), size) != 0) return nullptr;
  return memory;
}
