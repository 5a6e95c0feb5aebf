// Seed helper for the datum fuzzer (not a fuzz target): writes the first records of an LMDB as
// separate files in the datum fuzzer's input format, an option byte followed by the record's bytes.
// The option byte cycles so the seeds cover several transform_param settings.
//   fuzz_lmdb_records LMDB OUTPUT_DIR COUNT
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "condense/core/error.hpp"
#include "condense/data/lmdb_database.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: fuzz_lmdb_records LMDB OUTPUT_DIR COUNT\n";
    return 2;
  }
  const int count = std::atoi(argv[3]);
  try {
    condense::LmdbCursor cursor(argv[1]);
    for (int i = 0; i < count && cursor.valid(); ++i, cursor.Next()) {
      std::ofstream out(std::string(argv[2]) + "/record_" + std::to_string(i), std::ios::binary);
      const char options = static_cast<char>((i * 37) & 0x7f);
      out.put(options);
      out.write(cursor.value().data(), static_cast<std::streamsize>(cursor.value().size()));
    }
  } catch (const condense::Error& error) {
    std::cerr << "fuzz_lmdb_records: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
