// Access to LMDB databases of serialized records, the format Caffe's Data layer and converters use.
// LmdbCursor walks a database read-only in key order without touching its lock file, so databases on
// read-only media (or shared ones) are read as they are. LmdbWriter builds a new database in a temporary
// directory beside the target, commits every `commit_every` records and renames the directory into place
// only when Finish() succeeds: an interrupted conversion never leaves a half-made database under the
// requested name.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace condense {

// Whether `path` is a directory holding an LMDB data file (data.mdb).
bool IsLmdb(const std::string& path);
// Throws a clear Error unless `path` is an LMDB directory ("missing LMDB", "not an LMDB", LevelDB hint).
void CheckIsLmdb(const std::string& path);

class LmdbCursor {
 public:
  // Opens the database read-only and positions the cursor on the first record.
  explicit LmdbCursor(const std::string& path);
  ~LmdbCursor();
  LmdbCursor(const LmdbCursor&) = delete;
  LmdbCursor& operator=(const LmdbCursor&) = delete;

  void SeekToFirst();
  // Moves to the next record in key order; past the last one valid() turns false.
  void Next();
  bool valid() const { return valid_; }
  // The current record; the views stay valid until the cursor moves or is destroyed.
  std::string_view key() const;
  std::string_view value() const;
  // Number of records in the database.
  int64_t entries() const;
  const std::string& path() const { return path_; }

 private:
  struct Handles;
  void Fetch(int operation);

  std::string path_;
  std::unique_ptr<Handles> handles_;
  bool valid_ = false;
};

class LmdbWriter {
 public:
  // Refuses a `path` that already exists, as Caffe's converters do; trailing slashes are ignored
  // ("out/db/" is "out/db"). A failure here leaves no staging directory behind.
  explicit LmdbWriter(const std::string& path, int64_t commit_every = 1000);
  // Without a successful Finish(), removes the temporary directory and everything in it.
  ~LmdbWriter();
  LmdbWriter(const LmdbWriter&) = delete;
  LmdbWriter& operator=(const LmdbWriter&) = delete;

  void Put(std::string key, std::string value);
  // Commits what is pending, closes the database and renames it to the requested path.
  void Finish();
  // Records put so far (committed or pending).
  int64_t count() const { return count_; }
  const std::string& path() const { return path_; }

 private:
  struct Handles;
  void Commit();

  std::string path_;
  std::string temporary_path_;
  int64_t commit_every_;
  int64_t count_ = 0;
  int64_t map_size_;
  std::vector<std::pair<std::string, std::string>> pending_;
  std::unique_ptr<Handles> handles_;
  bool finished_ = false;
};

}  // namespace condense
