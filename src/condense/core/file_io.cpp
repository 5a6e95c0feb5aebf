#include "condense/core/file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>

#include "condense/core/error.hpp"

namespace condense {

std::string ReadFileToString(const std::string& path, int64_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  CONDENSE_CHECK(in.good(), path, ": cannot open (", std::strerror(errno), ")");
  CONDENSE_CHECK(!IsDirectory(path), path, ": is a directory, not a file");
  in.seekg(0, std::ios::end);
  const int64_t size = static_cast<int64_t>(in.tellg());
  CONDENSE_CHECK(size >= 0, path, ": cannot determine its size");
  CONDENSE_CHECK(size <= max_bytes, path, ": is ", size, " bytes, more than the ", max_bytes,
                 " this reader accepts");
  in.seekg(0, std::ios::beg);
  std::string contents(static_cast<size_t>(size), '\0');
  in.read(contents.data(), size);
  CONDENSE_CHECK(in.good() || in.eof(), path, ": read failed");
  return contents;
}

namespace {
void WriteAll(int fd, const std::string& contents, const std::string& temp_path) {
  const char* cursor = contents.data();
  size_t left = contents.size();
  while (left > 0) {
    const ssize_t written = ::write(fd, cursor, left);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) {
      const std::string reason = std::strerror(errno);
      ::close(fd);
      ::unlink(temp_path.c_str());
      Fail(temp_path, ": write failed (", reason, ")");
    }
    cursor += written;
    left -= static_cast<size_t>(written);
  }
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}
}  // namespace

void WriteFileAtomically(const std::string& path, const std::string& contents) {
  std::random_device entropy;
  const std::string temp_path = path + ".tmp." + std::to_string(::getpid()) + "." +
                                std::to_string(entropy() & 0xffffff);
  const int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  CONDENSE_CHECK(fd >= 0, path, ": cannot write (", std::strerror(errno), ")");
  WriteAll(fd, contents, temp_path);
  // Close whatever fsync says, so a failing flush never leaks the descriptor.
  const bool synced = ::fsync(fd) == 0;
  const int sync_errno = errno;
  const bool closed = ::close(fd) == 0;
  if (!synced || !closed) {
    const std::string reason = std::strerror(synced ? errno : sync_errno);
    ::unlink(temp_path.c_str());
    Fail(path, ": flushing to disk failed (", reason, ")");
  }
  if (::rename(temp_path.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(temp_path.c_str());
    Fail(path, ": cannot rename the finished file into place (", reason, ")");
  }
  // The rename itself is only durable once the directory entry is on disk.
  const int dir_fd = ::open(DirectoryOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

bool FileExists(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0;
}

bool IsDirectory(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

void MakeDirectories(const std::string& path) {
  if (path.empty() || IsDirectory(path)) return;
  const size_t slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) MakeDirectories(path.substr(0, slash));
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    Fail(path, ": cannot create directory (", std::strerror(errno), ")");
  }
}

std::string ReadMaybeGzipped(const std::string& path, int64_t max_bytes) {
  CONDENSE_CHECK(FileExists(path), path, ": no such file");
  CONDENSE_CHECK(!IsDirectory(path), path, ": is a directory, not a file");
  gzFile file = gzopen(path.c_str(), "rb");
  CONDENSE_CHECK(file != nullptr, path, ": cannot open (", std::strerror(errno), ")");
  std::string contents;
  char buffer[1 << 16];
  while (true) {
    const int got = gzread(file, buffer, sizeof(buffer));
    if (got < 0) {
      int code = 0;
      const std::string reason = gzerror(file, &code);
      gzclose(file);
      Fail(path, ": corrupt gzip data (", reason, ")");
    }
    if (got == 0) break;
    contents.append(buffer, static_cast<size_t>(got));
    if (static_cast<int64_t>(contents.size()) > max_bytes) {
      gzclose(file);
      Fail(path, ": decompresses to more than ", max_bytes, " bytes; refusing it");
    }
  }
  // A gzip stream cut short reads as a clean end of data in zlib; check the trailer was seen.
  int code = 0;
  gzerror(file, &code);
  gzclose(file);
  CONDENSE_CHECK(code == Z_OK || code == Z_STREAM_END, path, ": truncated gzip data");
  return contents;
}

}  // namespace condense
