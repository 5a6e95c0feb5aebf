#include "condense/data/lmdb_database.hpp"

#include <lmdb.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"

namespace condense {

namespace {

// The writer's first map size; it doubles whenever LMDB reports the map full.
constexpr int64_t kInitialMapSize = int64_t{64} << 20;

void CheckMdb(int code, const std::string& path, const char* action) {
  if (code != MDB_SUCCESS) Fail("LMDB '", path, "': ", action, " failed (", mdb_strerror(code), ")");
}

// "out/db/" and "out/db" name the same database: the staging directory goes beside it, not inside.
std::string WithoutTrailingSlashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

MDB_val AsValue(const std::string& bytes) {
  MDB_val value;
  value.mv_size = bytes.size();
  value.mv_data = const_cast<char*>(bytes.data());
  return value;
}

}  // namespace

bool IsLmdb(const std::string& path) {
  return IsDirectory(path) && FileExists(path + "/data.mdb");
}

void CheckIsLmdb(const std::string& path) {
  CONDENSE_CHECK(!path.empty(), "missing LMDB: no source path given");
  CONDENSE_CHECK(FileExists(path), "missing LMDB '", path, "': no such directory");
  CONDENSE_CHECK(IsDirectory(path), "'", path,
                 "' is not an LMDB: it is a file, not a directory holding data.mdb");
  if (FileExists(path + "/data.mdb")) return;
  if (FileExists(path + "/CURRENT")) {
    Fail("'", path, "' is a LevelDB database: LevelDB is not supported; convert it to LMDB");
  }
  Fail("'", path, "' is not an LMDB: the directory holds no data.mdb");
}

// ---------------------------------------------------------------------------------------------------

struct LmdbCursor::Handles {
  MDB_env* env = nullptr;
  MDB_txn* txn = nullptr;
  MDB_dbi dbi = 0;
  MDB_cursor* cursor = nullptr;
  MDB_val key{};
  MDB_val value{};

  ~Handles() {
    if (cursor) mdb_cursor_close(cursor);
    if (txn) mdb_txn_abort(txn);
    if (env) mdb_env_close(env);
  }
};

LmdbCursor::LmdbCursor(const std::string& path) : path_(path), handles_(new Handles) {
  CheckIsLmdb(path);
  CheckMdb(mdb_env_create(&handles_->env), path, "creating the environment");
  // NOLOCK: reading never writes the lock file, so databases on read-only media or shared with other
  // readers stay untouched. NOTLS: the read transaction may move to the prefetch thread.
  CheckMdb(mdb_env_open(handles_->env, path.c_str(), MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0664), path,
           "opening");
  CheckMdb(mdb_txn_begin(handles_->env, nullptr, MDB_RDONLY, &handles_->txn), path,
           "starting a read transaction");
  CheckMdb(mdb_dbi_open(handles_->txn, nullptr, 0, &handles_->dbi), path, "opening the database");
  CheckMdb(mdb_cursor_open(handles_->txn, handles_->dbi, &handles_->cursor), path,
           "opening a cursor");
  SeekToFirst();
}

LmdbCursor::~LmdbCursor() = default;

void LmdbCursor::Fetch(int operation) {
  const int code = mdb_cursor_get(handles_->cursor, &handles_->key, &handles_->value,
                                  static_cast<MDB_cursor_op>(operation));
  if (code == MDB_NOTFOUND) {
    valid_ = false;
    return;
  }
  CheckMdb(code, path_, "reading a record");
  valid_ = true;
}

void LmdbCursor::SeekToFirst() { Fetch(MDB_FIRST); }

void LmdbCursor::Next() {
  CONDENSE_CHECK(valid_, "LMDB '", path_, "': Next() past the last record");
  Fetch(MDB_NEXT);
}

std::string_view LmdbCursor::key() const {
  CONDENSE_CHECK(valid_, "LMDB '", path_, "': no current record");
  return {static_cast<const char*>(handles_->key.mv_data), handles_->key.mv_size};
}

std::string_view LmdbCursor::value() const {
  CONDENSE_CHECK(valid_, "LMDB '", path_, "': no current record");
  return {static_cast<const char*>(handles_->value.mv_data), handles_->value.mv_size};
}

int64_t LmdbCursor::entries() const {
  MDB_stat stat;
  CheckMdb(mdb_stat(handles_->txn, handles_->dbi, &stat), path_, "reading statistics");
  return static_cast<int64_t>(stat.ms_entries);
}

// ---------------------------------------------------------------------------------------------------

struct LmdbWriter::Handles {
  MDB_env* env = nullptr;
  ~Handles() {
    if (env) mdb_env_close(env);
  }
};

LmdbWriter::LmdbWriter(const std::string& path, int64_t commit_every)
    : path_(WithoutTrailingSlashes(path)),
      temporary_path_(path_ + ".partial-" + std::to_string(::getpid())),
      commit_every_(commit_every > 0 ? commit_every : 1),
      map_size_(kInitialMapSize),
      handles_(new Handles) {
  CONDENSE_CHECK(!path.empty(), "LMDB output: no path given");
  CONDENSE_CHECK(path_ != "/", "LMDB output: '", path, "' is the root directory");
  CONDENSE_CHECK(!FileExists(path_), "LMDB '", path_,
                 "' already exists; remove it or choose another name (it is never overwritten)");
  std::error_code ignored;
  std::filesystem::remove_all(temporary_path_, ignored);  // left by an earlier run with our pid
  MakeDirectories(temporary_path_);
  try {
    CheckMdb(mdb_env_create(&handles_->env), path_, "creating the environment");
    CheckMdb(mdb_env_set_mapsize(handles_->env, static_cast<size_t>(map_size_)), path_,
             "setting the map size");
    CheckMdb(mdb_env_open(handles_->env, temporary_path_.c_str(), 0, 0664), temporary_path_,
             "creating");
  } catch (...) {
    // The destructor does not run for a constructor that throws: remove the staging directory here.
    handles_.reset();
    std::filesystem::remove_all(temporary_path_, ignored);
    throw;
  }
}

LmdbWriter::~LmdbWriter() {
  if (finished_) return;
  handles_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(temporary_path_, ignored);
}

void LmdbWriter::Put(std::string key, std::string value) {
  CONDENSE_CHECK(!finished_, "LMDB '", path_, "': Put after Finish");
  pending_.emplace_back(std::move(key), std::move(value));
  ++count_;
  if (static_cast<int64_t>(pending_.size()) >= commit_every_) Commit();
}

void LmdbWriter::Commit() {
  if (pending_.empty()) return;
  // A full map aborts the whole transaction; grow the map and replay the batch, as often as needed.
  while (true) {
    MDB_txn* txn = nullptr;
    CheckMdb(mdb_txn_begin(handles_->env, nullptr, 0, &txn), path_, "starting a write transaction");
    MDB_dbi dbi = 0;
    int code = mdb_dbi_open(txn, nullptr, 0, &dbi);
    for (size_t i = 0; code == MDB_SUCCESS && i < pending_.size(); ++i) {
      MDB_val key = AsValue(pending_[i].first);
      MDB_val value = AsValue(pending_[i].second);
      code = mdb_put(txn, dbi, &key, &value, 0);
      if (code != MDB_SUCCESS && code != MDB_MAP_FULL) {
        mdb_txn_abort(txn);
        Fail("LMDB '", path_, "': writing record '", pending_[i].first, "' failed (",
             mdb_strerror(code), ")");
      }
    }
    if (code == MDB_SUCCESS) {
      code = mdb_txn_commit(txn);
    } else {
      mdb_txn_abort(txn);
    }
    if (code == MDB_MAP_FULL) {
      map_size_ *= 2;
      CheckMdb(mdb_env_set_mapsize(handles_->env, static_cast<size_t>(map_size_)), path_,
               "growing the map");
      continue;
    }
    CheckMdb(code, path_, "committing");
    break;
  }
  pending_.clear();
}

void LmdbWriter::Finish() {
  CONDENSE_CHECK(!finished_, "LMDB '", path_, "': Finish called twice");
  Commit();
  CheckMdb(mdb_env_sync(handles_->env, 1), path_, "flushing to disk");
  handles_.reset();
  CONDENSE_CHECK(!FileExists(path_), "LMDB '", path_,
                 "' appeared while it was being written; not replacing it");
  if (std::rename(temporary_path_.c_str(), path_.c_str()) != 0) {
    Fail("LMDB '", path_, "': cannot rename '", temporary_path_, "' into place (",
         std::strerror(errno), ")");
  }
  finished_ = true;
}

}  // namespace condense
