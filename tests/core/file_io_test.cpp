#include "condense/core/file_io.hpp"

#include <dirent.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <fstream>

#include "condense/core/error.hpp"
#include "support/shared_data.hpp"

namespace condense {
namespace {

int CountEntries(const std::string& dir) {
  int entries = 0;
  DIR* handle = opendir(dir.c_str());
  while (dirent* entry = readdir(handle)) {
    if (std::string(entry->d_name) != "." && std::string(entry->d_name) != "..") ++entries;
  }
  closedir(handle);
  return entries;
}

TEST(FileIoTest, AtomicWriteReplacesAndLeavesNoTemporaryFiles) {
  const std::string dir = testing::MakeTempDir("condense_io_");
  const std::string path = dir + "/model.bin";
  WriteFileAtomically(path, "first");
  WriteFileAtomically(path, "second version");
  EXPECT_EQ("second version", ReadFileToString(path));
  EXPECT_EQ(1, CountEntries(dir));
  std::system(("rm -rf " + dir).c_str());
}

TEST(FileIoTest, ErrorsNameThePath) {
  try {
    ReadFileToString("/nonexistent/condense/file.prototxt");
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("/nonexistent/condense/file.prototxt"), std::string::npos);
  }
  EXPECT_THROW(WriteFileAtomically("/nonexistent/dir/out.bin", "x"), Error);
}

TEST(FileIoTest, ReadsGzipAndPlainFilesAndRefusesTruncatedGzip) {
  const std::string dir = testing::MakeTempDir("condense_gz_");
  const std::string plain = dir + "/plain.bin";
  WriteFileAtomically(plain, "plain bytes");
  EXPECT_EQ("plain bytes", ReadMaybeGzipped(plain));

  const std::string zipped = dir + "/data.gz";
  std::string payload(100000, 'a');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7919 % 251);
  gzFile out = gzopen(zipped.c_str(), "wb");
  gzwrite(out, payload.data(), static_cast<unsigned>(payload.size()));
  gzclose(out);
  EXPECT_EQ(payload, ReadMaybeGzipped(zipped));

  const std::string whole = ReadFileToString(zipped);
  const std::string cut = dir + "/cut.gz";
  WriteFileAtomically(cut, whole.substr(0, whole.size() / 2));
  EXPECT_THROW(ReadMaybeGzipped(cut), Error);
  std::system(("rm -rf " + dir).c_str());
}

TEST(FileIoTest, MakeDirectoriesCreatesParents) {
  const std::string dir = testing::MakeTempDir("condense_dirs_");
  MakeDirectories(dir + "/a/b/c");
  EXPECT_TRUE(IsDirectory(dir + "/a/b/c"));
  std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace condense
