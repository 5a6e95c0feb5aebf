#include "condense/net/weights_file.hpp"

#include <fcntl.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <vector>

#include "condense/core/blob.hpp"
#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"

namespace condense {
namespace {

// HDF5 prints its own error stack to stderr by default; condense reports errors itself.
void SilenceHdf5Errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

// Owns one HDF5 identifier and closes it with the matching H5?close function.
class Hdf5Handle {
 public:
  Hdf5Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Hdf5Handle() {
    if (id_ >= 0) close_(id_);
  }
  Hdf5Handle(const Hdf5Handle&) = delete;
  Hdf5Handle& operator=(const Hdf5Handle&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

constexpr size_t kMaxHdf5NameLength = 4096;

// The names of a group's direct members, in HDF5's name order.
std::vector<std::string> MemberNames(hid_t group, const std::string& what) {
  H5G_info_t info;
  CONDENSE_CHECK(H5Gget_info(group, &info) >= 0, what, ": cannot list its members");
  std::vector<std::string> names;
  names.reserve(static_cast<size_t>(std::min<hsize_t>(info.nlinks, 1u << 16)));
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t length = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0,
                                              H5P_DEFAULT);
    CONDENSE_CHECK(length >= 0 && static_cast<size_t>(length) <= kMaxHdf5NameLength, what,
                   ": cannot read the name of member #", i);
    std::string name(static_cast<size_t>(length) + 1, '\0');
    CONDENSE_CHECK(H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(),
                                      name.size(), H5P_DEFAULT) == length,
                   what, ": cannot read the name of member #", i);
    name.resize(static_cast<size_t>(length));
    names.push_back(name);
  }
  return names;
}

H5I_type_t MemberKind(hid_t group, const std::string& name) {
  Hdf5Handle object(H5Oopen(group, name.c_str(), H5P_DEFAULT), H5Oclose);
  if (!object.valid()) return H5I_BADID;
  return H5Iget_type(object.get());
}

// Parses a blob index ("0", "1", ...); -1 when the name is not a plain non-negative number.
int BlobIndexOf(const std::string& name) {
  if (name.empty() || name.size() > 6) return -1;
  int index = 0;
  for (char c : name) {
    if (c < '0' || c > '9') return -1;
    index = index * 10 + (c - '0');
  }
  if (name.size() > 1 && name[0] == '0') return -1;
  return index;
}

// Reads one dataset into `values` (float) or `double_values` (double), returning its shape. Checks
// rank, count and stored size before allocating anything.
std::vector<int64_t> ReadDataset(hid_t group, const std::string& name, const std::string& what,
                                 google::protobuf::RepeatedField<float>* values,
                                 google::protobuf::RepeatedField<double>* double_values) {
  Hdf5Handle dataset(H5Dopen2(group, name.c_str(), H5P_DEFAULT), H5Dclose);
  CONDENSE_CHECK(dataset.valid(), what, ": cannot open the dataset");
  Hdf5Handle space(H5Dget_space(dataset.get()), H5Sclose);
  CONDENSE_CHECK(space.valid(), what, ": cannot read the dataset's shape");
  const H5S_class_t space_class = H5Sget_simple_extent_type(space.get());
  CONDENSE_CHECK(space_class == H5S_SIMPLE || space_class == H5S_SCALAR, what,
                 ": the dataset has no shape (null dataspace)");
  const int rank = H5Sget_simple_extent_ndims(space.get());
  CONDENSE_CHECK(rank >= 0 && rank <= kMaxBlobAxes, what, ": the dataset has ", rank,
                 " axes; at most ", kMaxBlobAxes, " are accepted");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0) {
    CONDENSE_CHECK(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) == rank, what,
                   ": cannot read the dataset's dimensions");
  }
  std::vector<int64_t> shape;
  for (hsize_t dim : dims) {
    CONDENSE_CHECK(dim <= static_cast<hsize_t>(kMaxBlobCount), what, ": dimension ", dim,
                   " is too large");
    shape.push_back(static_cast<int64_t>(dim));
  }
  const int64_t count = CheckedCount(shape, what);
  CONDENSE_CHECK(count <= INT_MAX, what, ": ", count, " values do not fit one blob");

  Hdf5Handle type(H5Dget_type(dataset.get()), H5Tclose);
  CONDENSE_CHECK(type.valid(), what, ": cannot read the dataset's element type");
  CONDENSE_CHECK(H5Tget_class(type.get()) == H5T_FLOAT, what,
                 ": holds non-floating-point values; Caffe weights are float or double");
  const bool is_double = H5Tget_size(type.get()) > sizeof(float);

  // A dataset that declares elements but has no storage would read back as fill values; Caffe never
  // writes such a thing, and allowing it would let a tiny file demand gigabytes.
  if (count > 0) {
    CONDENSE_CHECK(H5Dget_storage_size(dataset.get()) > 0, what, ": declares ", count,
                   " values but stores none");
  }
  if (is_double) {
    double_values->Resize(static_cast<int>(count), 0.0);
    if (count > 0) {
      CONDENSE_CHECK(H5Dread(dataset.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                             double_values->mutable_data()) >= 0,
                     what, ": reading the values failed (truncated or corrupt file?)");
    }
  } else {
    values->Resize(static_cast<int>(count), 0.0f);
    if (count > 0) {
      CONDENSE_CHECK(H5Dread(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                             values->mutable_data()) >= 0,
                     what, ": reading the values failed (truncated or corrupt file?)");
    }
  }
  return shape;
}

// Caffe's ToHDF5 writes only the parameters a layer owns: a layer that shares its first parameter
// with another layer has dataset "1" but no "0". Indices may therefore have gaps, but none beyond this.
constexpr int kMaxBlobsPerLayer = 256;

// Dataset names of a layer group by blob index ("0", "1", ...; gaps allowed).
std::map<int, std::string> BlobDatasetNames(hid_t layer_group, const std::string& what) {
  const std::vector<std::string> names = MemberNames(layer_group, what);
  std::map<int, std::string> by_index;
  for (const std::string& name : names) {
    const std::string member_what = StrCat(what, ", dataset '", name, "'");
    CONDENSE_CHECK(MemberKind(layer_group, name) == H5I_DATASET, member_what,
                   ": is not a dataset; expected datasets named 0, 1, ... for the layer's blobs");
    const int index = BlobIndexOf(name);
    CONDENSE_CHECK(index >= 0 && index < kMaxBlobsPerLayer, member_what,
                   ": expected datasets named 0, 1, ... (below ", kMaxBlobsPerLayer,
                   ") for the layer's blobs");
    CONDENSE_CHECK(by_index.emplace(index, name).second, what, ": duplicate blob dataset names");
  }
  return by_index;
}

void SetShape(const std::vector<int64_t>& shape, BlobProto* blob) {
  BlobShape* proto_shape = blob->mutable_shape();
  proto_shape->clear_dim();
  for (int64_t dim : shape) proto_shape->add_dim(dim);
}

void ReadDiffs(hid_t file, const std::string& path, NetParameter* param) {
  if (H5Lexists(file, "diff", H5P_DEFAULT) <= 0) return;
  Hdf5Handle diff_group(H5Gopen2(file, "diff", H5P_DEFAULT), H5Gclose);
  CONDENSE_CHECK(diff_group.valid(), path, ": cannot open group 'diff'");
  for (LayerParameter& layer : *param->mutable_layer()) {
    const std::string layer_what = StrCat(path, ": diff of layer '", layer.name(), "'");
    if (H5Lexists(diff_group.get(), layer.name().c_str(), H5P_DEFAULT) <= 0) continue;
    Hdf5Handle layer_group(H5Gopen2(diff_group.get(), layer.name().c_str(), H5P_DEFAULT), H5Gclose);
    CONDENSE_CHECK(layer_group.valid(), layer_what, ": is not a group");
    const std::map<int, std::string> names = BlobDatasetNames(layer_group.get(), layer_what);
    for (int i = 0; i < layer.blobs_size(); ++i) {
      if (IsAbsentBlob(layer.blobs(i))) continue;
      CONDENSE_CHECK(names.count(i) > 0, layer_what, ": has no dataset '", i,
                     "' for the data's blob ", i);
    }
    for (const auto& [index, name] : names) {
      // Caffe writes the diffs of shared parameters too, whose data only the owner holds: skip them.
      if (index >= layer.blobs_size() || IsAbsentBlob(layer.blobs(index))) continue;
      BlobProto* blob = layer.mutable_blobs(index);
      const std::string what = StrCat(layer_what, ", dataset '", name, "'");
      const std::vector<int64_t> shape = ReadDataset(layer_group.get(), name, what,
                                                     blob->mutable_diff(),
                                                     blob->mutable_double_diff());
      CONDENSE_CHECK(shape == ShapeOfProto(*blob), what, ": shape ", ShapeString(shape),
                     " differs from the data's ", ShapeString(ShapeOfProto(*blob)));
    }
  }
}

// --- writing -------------------------------------------------------------------------------------

void WriteDataset(hid_t group, const std::string& name, const std::vector<int64_t>& shape,
                  bool is_double, const void* values, const std::string& what) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Hdf5Handle space(dims.empty() ? H5Screate(H5S_SCALAR)
                                : H5Screate_simple(static_cast<int>(dims.size()), dims.data(),
                                                   nullptr),
                   H5Sclose);
  CONDENSE_CHECK(space.valid(), what, ": cannot create the dataspace");
  const hid_t file_type = is_double ? H5T_IEEE_F64LE : H5T_IEEE_F32LE;
  const hid_t memory_type = is_double ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
  Hdf5Handle dataset(H5Dcreate2(group, name.c_str(), file_type, space.get(), H5P_DEFAULT,
                                H5P_DEFAULT, H5P_DEFAULT),
                     H5Dclose);
  CONDENSE_CHECK(dataset.valid(), what, ": cannot create the dataset");
  CONDENSE_CHECK(H5Dwrite(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) >= 0,
                 what, ": writing the values failed");
}

void WriteBlobValues(hid_t group, const std::string& name, const std::vector<int64_t>& shape,
                     const google::protobuf::RepeatedField<float>& values,
                     const google::protobuf::RepeatedField<double>& double_values,
                     const std::string& what) {
  const int64_t count = CheckedCount(shape, what);
  const bool is_double = double_values.size() > 0;
  const int64_t size = is_double ? double_values.size() : values.size();
  CONDENSE_CHECK(size == count, what, ": holds ", size, " values but its shape ", ShapeString(shape),
                 " needs ", count);
  static const float kNothing = 0.0f;
  const void* data = is_double ? static_cast<const void*>(double_values.data())
                               : static_cast<const void*>(values.data());
  WriteDataset(group, name, shape, is_double, count > 0 ? data : &kNothing, what);
}

void WriteLayers(hid_t file, const std::string& path, const NetParameter& param, bool diff) {
  const char* group_name = diff ? "diff" : "data";
  Hdf5Handle top(H5Gcreate2(file, group_name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  CONDENSE_CHECK(top.valid(), path, ": cannot create group '", group_name, "'");
  for (const LayerParameter& layer : param.layer()) {
    const std::string layer_what = StrCat(path, ": layer '", layer.name(), "'");
    CONDENSE_CHECK(!layer.name().empty() && layer.name().find('/') == std::string::npos &&
                       layer.name() != "." ,
                   layer_what, ": HDF5 weight files need layer names without '/'; use the binary "
                   "format (snapshot_format: BINARYPROTO) for this net");
    Hdf5Handle layer_group(
        H5Gcreate2(top.get(), layer.name().c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
        H5Gclose);
    CONDENSE_CHECK(layer_group.valid(), layer_what,
                   ": cannot create its group (is the name used twice?)");
    for (int i = 0; i < layer.blobs_size(); ++i) {
      const BlobProto& blob = layer.blobs(i);
      if (IsAbsentBlob(blob)) continue;  // a shared parameter read from such a file: keep the gap
      const std::string name = std::to_string(i);
      const std::string what = StrCat(layer_what, ", dataset '", name, "'");
      if (diff) {
        WriteBlobValues(layer_group.get(), name, ShapeOfProto(blob), blob.diff(), blob.double_diff(),
                        what);
      } else {
        WriteBlobValues(layer_group.get(), name, ShapeOfProto(blob), blob.data(), blob.double_data(),
                        what);
      }
    }
  }
}

}  // namespace

bool IsAbsentBlob(const BlobProto& blob) {
  return !blob.has_shape() && !blob.has_num() && !blob.has_channels() && !blob.has_height() &&
         !blob.has_width() && blob.data_size() == 0 && blob.double_data_size() == 0;
}

NetParameter ReadHdf5Weights(const std::string& path, bool read_diff) {
  SilenceHdf5Errors();
  CONDENSE_CHECK(FileExists(path), path, ": no such file");
  CONDENSE_CHECK(!IsDirectory(path), path, ": is a directory, not an HDF5 weights file");
  CONDENSE_CHECK(H5Fis_hdf5(path.c_str()) > 0, path, ": not an HDF5 file");
  Hdf5Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  CONDENSE_CHECK(file.valid(), path, ": cannot open as HDF5 (truncated or corrupt?)");
  CONDENSE_CHECK(H5Lexists(file.get(), "data", H5P_DEFAULT) > 0, path,
                 ": has no group 'data'; not a Caffe HDF5 weights file");
  Hdf5Handle data_group(H5Gopen2(file.get(), "data", H5P_DEFAULT), H5Gclose);
  CONDENSE_CHECK(data_group.valid(), path, ": 'data' is not a group; not a Caffe HDF5 weights file");

  NetParameter param;
  for (const std::string& layer_name : MemberNames(data_group.get(), StrCat(path, ": group 'data'"))) {
    const std::string layer_what = StrCat(path, ": layer '", layer_name, "'");
    CONDENSE_CHECK(MemberKind(data_group.get(), layer_name) == H5I_GROUP, layer_what,
                   ": is not a group; expected one group per layer under 'data'");
    Hdf5Handle layer_group(H5Gopen2(data_group.get(), layer_name.c_str(), H5P_DEFAULT), H5Gclose);
    CONDENSE_CHECK(layer_group.valid(), layer_what, ": cannot open its group");
    LayerParameter* layer = param.add_layer();
    layer->set_name(layer_name);
    for (const auto& [index, name] : BlobDatasetNames(layer_group.get(), layer_what)) {
      // A gap (a parameter this layer shares, not owns) stays an absent blob: see IsAbsentBlob.
      while (layer->blobs_size() < index) layer->add_blobs();
      const std::string what = StrCat(layer_what, ", dataset '", name, "'");
      BlobProto* blob = layer->add_blobs();
      SetShape(ReadDataset(layer_group.get(), name, what, blob->mutable_data(),
                           blob->mutable_double_data()),
               blob);
    }
  }
  if (read_diff) ReadDiffs(file.get(), path, &param);
  return param;
}

void WriteHdf5Weights(const std::string& path, const NetParameter& param, bool write_diff) {
  SilenceHdf5Errors();
  std::random_device entropy;
  const std::string temp_path = path + ".tmp." + std::to_string(::getpid()) + "." +
                                std::to_string(entropy() & 0xffffff);
  try {
    {
      Hdf5Handle file(H5Fcreate(temp_path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                      H5Fclose);
      CONDENSE_CHECK(file.valid(), path, ": cannot create the file");
      WriteLayers(file.get(), path, param, /*diff=*/false);
      if (write_diff) WriteLayers(file.get(), path, param, /*diff=*/true);
      CONDENSE_CHECK(H5Fflush(file.get(), H5F_SCOPE_GLOBAL) >= 0, path, ": flushing failed");
    }
    // Same durability as core/file_io's atomic writes: data on disk before the rename.
    const int fd = ::open(temp_path.c_str(), O_RDONLY | O_CLOEXEC);
    CONDENSE_CHECK(fd >= 0, path, ": cannot reopen the finished file (", std::strerror(errno), ")");
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    CONDENSE_CHECK(synced, path, ": flushing to disk failed (", std::strerror(errno), ")");
    CONDENSE_CHECK(std::rename(temp_path.c_str(), path.c_str()) == 0, path,
                   ": cannot rename the finished file into place (", std::strerror(errno), ")");
  } catch (...) {
    std::remove(temp_path.c_str());
    throw;
  }
}

}  // namespace condense
