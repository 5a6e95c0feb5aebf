// `condense convert_imageset ROOTFOLDER/ LISTFILE DB_NAME`: image files named in a "path label" list to an
// LMDB of Datum records, with Caffe's flags and Caffe's record keys ("%08d_<path>", the index in the
// (shuffled) list). Images are stored raw (C x H x W, BGR) or, with --encoded, as JPEG/PNG bytes. As in
// Caffe, an image that cannot be read is skipped with a warning; the summary counts them. The database
// is built beside DB_NAME and renamed into place at the end; an existing DB_NAME is refused.
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iostream>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "condense/core/blob.hpp"
#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"
#include "condense/core/random.hpp"
#include "condense/data/datum.hpp"
#include "condense/data/image_file.hpp"
#include "condense/data/image_list.hpp"
#include "condense/data/lmdb_database.hpp"
#include "condense/proto/condense.pb.h"
#include "console_table.hpp"
#include "verb.hpp"

DECLARE_string(backend);  // defined in convert_mnist.cpp
DEFINE_bool(gray, false, "convert_imageset: read the images as 1-channel gray instead of BGR.");
DEFINE_bool(shuffle, false, "convert_imageset: shuffle the list (from the seeded generator) first.");
DEFINE_int32(resize_width, 0, "convert_imageset: resize images to this width (with --resize_height).");
DEFINE_int32(resize_height, 0, "convert_imageset: resize images to this height (with --resize_width).");
DEFINE_bool(check_size, false, "convert_imageset: require every image to have the same size.");
DEFINE_bool(encoded, false, "convert_imageset: store the encoded image bytes instead of raw pixels.");
DEFINE_string(encode_type, "",
              "convert_imageset: encode as this format (png, jpg, ...); implies --encoded.");

namespace condense::tools {

namespace {

std::string Lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string ExtensionOf(const std::string& path) {
  const size_t dot = path.find_last_of('.');
  const size_t slash = path.find_last_of('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  return Lowercase(path.substr(dot + 1));
}

// Whether OpenCV can write `encoding` ("png", "jpg", ...): a plain word its imencode knows.
bool HasImageWriter(const std::string& encoding) {
  if (encoding.empty()) return false;
  for (char c : encoding) {
    if (!std::isalnum(static_cast<unsigned char>(c))) return false;
  }
  return cv::haveImageWriter("." + encoding);
}

// --encode_type, lowercased and without a leading dot (".png" is "png"); refuses a format OpenCV
// cannot write before any work is done.
std::string EncodeTypeFromFlag() {
  std::string type = Lowercase(FLAGS_encode_type);
  if (!type.empty() && type[0] == '.') type.erase(0, 1);
  CONDENSE_CHECK(FLAGS_encode_type.empty() || HasImageWriter(type), "--encode_type='",
                 FLAGS_encode_type, "': OpenCV has no encoder for this format (try png or jpg)");
  return type;
}

bool SameEncoding(const std::string& extension, const std::string& encoding) {
  if (extension == encoding) return true;
  return (extension == "jpeg" && encoding == "jpg") || (extension == "jpg" && encoding == "jpeg");
}

// The Datum for one image: raw pixels, or encoded bytes. An image read as stored, in the wanted format,
// keeps its file's bytes; otherwise it is re-encoded.
Datum ImageToDatum(const std::string& path, const cv::Mat& image, int label, bool encoded,
                   const std::string& encoding, bool is_color, bool resized) {
  Datum datum;
  if (!encoded) {
    MatToDatum(image, &datum);
    datum.set_label(label);
    return datum;
  }
  const bool file_as_is =
      (image.channels() == 3) == is_color && !resized && SameEncoding(ExtensionOf(path), encoding);
  if (file_as_is) {
    datum.set_data(ReadFileToString(path));
  } else {
    // An encoding guessed from a file's extension may have no encoder; imencode would throw.
    CONDENSE_CHECK(HasImageWriter(encoding), path, ": cannot re-encode the image as '", encoding,
                   "': OpenCV has no encoder for it; give --encode_type=png or jpg");
    std::vector<uchar> buffer;
    try {
      CONDENSE_CHECK(cv::imencode("." + encoding, image, buffer), path,
                     ": OpenCV cannot encode the image as '", encoding, "'");
    } catch (const cv::Exception& error) {
      Fail(path, ": OpenCV cannot encode the image as '", encoding, "' (", error.err, ")");
    }
    datum.set_data(buffer.data(), buffer.size());
  }
  datum.set_label(label);
  datum.set_encoded(true);
  return datum;
}

int ConvertImagesetMain(const VerbArgs& args) {
  CONDENSE_CHECK(args.size() == 3,
                 "usage: condense convert_imageset [--gray] [--shuffle] [--resize_width=W "
                 "--resize_height=H] [--check_size] [--encoded] [--encode_type=png] ROOTFOLDER/ LISTFILE "
                 "DB_NAME (got ", args.size(), " arguments)");
  CONDENSE_CHECK(FLAGS_backend == "lmdb", "--backend=", FLAGS_backend,
                 ": only lmdb is supported (LevelDB is not; convert to LMDB)");
  CONDENSE_CHECK(FLAGS_resize_width >= 0 && FLAGS_resize_height >= 0,
                 "--resize_width and --resize_height must not be negative");
  CONDENSE_CHECK((FLAGS_resize_width == 0) == (FLAGS_resize_height == 0),
                 "--resize_width and --resize_height go together: set both or neither");
  const std::string& root_folder = args[0];
  const std::string& list_path = args[1];
  const std::string& db_path = args[2];
  const bool is_color = !FLAGS_gray;
  const bool resized = FLAGS_resize_width > 0;
  const std::string encode_type = EncodeTypeFromFlag();
  const bool encoded = FLAGS_encoded || !encode_type.empty();
  if (!FLAGS_encoded && encoded) LOG(INFO) << "--encode_type given: storing encoded images";
  if (encoded && FLAGS_check_size) LOG(WARNING) << "--check_size does not apply to encoded images";

  std::vector<ImageListEntry> entries = ReadImageList(list_path);
  if (FLAGS_shuffle) {
    LOG(INFO) << "Shuffling data";
    RandomEngine engine = ForkRandom();
    ShuffleImageList(&entries, &engine);
  }
  LOG(INFO) << "A total of " << entries.size() << " images.";

  LmdbWriter writer(db_path);
  std::vector<int64_t> first_shape;
  int64_t skipped = 0;
  char index_text[32];
  for (size_t index = 0; index < entries.size(); ++index) {
    const ImageListEntry& entry = entries[index];
    const std::string path = root_folder + entry.path;
    cv::Mat image;
    try {
      image = ReadImage(path, FLAGS_resize_height, FLAGS_resize_width, is_color);
    } catch (const Error& error) {
      LOG(WARNING) << error.what() << "; skipped";
      ++skipped;
      continue;
    }
    std::string encoding = encode_type;
    if (encoded && encoding.empty()) {
      encoding = ExtensionOf(entry.path);
      if (encoding.empty()) {
        LOG(WARNING) << path << ": no file extension to guess the encoding from; using png";
        encoding = "png";
      }
    }
    const Datum datum = ImageToDatum(path, image, entry.label, encoded, encoding, is_color, resized);
    if (FLAGS_check_size && !encoded) {
      const std::vector<int64_t> shape = CheckedDatumShape(datum, path);
      if (first_shape.empty()) first_shape = shape;
      CONDENSE_CHECK(shape == first_shape, path, ": ", ShapeString(shape),
                     " differs from the first image's ", ShapeString(first_shape), " (--check_size)");
    }
    std::snprintf(index_text, sizeof(index_text), "%08zu", index);
    writer.Put(std::string(index_text) + "_" + entry.path, datum.SerializeAsString());
    if (writer.count() % 1000 == 0) LOG(INFO) << "Processed " << writer.count() << " files.";
  }
  CONDENSE_CHECK(writer.count() > 0, list_path, ": none of the ", entries.size(),
                 " images could be read; nothing written");
  writer.Finish();
  LOG(INFO) << "Processed " << writer.count() << " files; wrote " << db_path;

  ConsoleTable table({"images", "count"});
  table.AddRow({"listed", std::to_string(entries.size())});
  table.AddRow({"written", std::to_string(writer.count())});
  table.AddRow({"skipped (unreadable)", std::to_string(skipped)});
  std::cout << "\n" << db_path << (encoded ? " (encoded " : " (raw ") << (is_color ? "BGR)" : "gray)")
            << "\n" << table.Render();
  return 0;
}

}  // namespace

CONDENSE_REGISTER_VERB("convert_imageset",
                       "images of a 'path label' list to an LMDB of Datum: ROOTFOLDER/ LISTFILE DB_NAME "
                       "[--gray] [--shuffle] [--resize_width --resize_height] [--encoded]",
                       ConvertImagesetMain);

}  // namespace condense::tools
