// Caffe's HDF5 weight files (.caffemodel.h5, written when a solver has snapshot_format: HDF5). The file
// holds a group "data" with one subgroup per layer, named after the layer, whose datasets "0", "1", ...
// are the layer's parameter blobs in order (float or double); an optional group "diff" mirrors it with
// gradients. Caffe writes only the parameters a layer owns, so a layer that shares a parameter with an
// earlier layer (param { name: ... }) lacks that dataset: "1" without "0". The reader returns the same
// NetParameter a binary .caffemodel would give: one `layer` per subgroup with its name and blobs (the
// file records no layer types), with an absent blob (IsAbsentBlob) where a dataset index is skipped;
// Net::CopyTrainedLayersFrom accepts those only for parameters the net shares. Every size is checked
// before memory is allocated, and errors name the file, the layer and the dataset.
#pragma once

#include <string>

#include "condense/proto/condense.pb.h"

namespace condense {

// Layers come out in the file's order of names (HDF5 lists group members alphabetically); consumers
// match weights to layers by name, as Caffe does. With read_diff, blobs also get their "diff" data.
NetParameter ReadHdf5Weights(const std::string& path, bool read_diff = false);

// Whether `blob` is the reader's placeholder for a skipped dataset index: no shape, no values.
bool IsAbsentBlob(const BlobProto& blob);

// Writes the blobs of every layer of `param` (its data, and diffs when write_diff) in the layout above.
// The file is written under a temporary name and renamed into place.
void WriteHdf5Weights(const std::string& path, const NetParameter& param, bool write_diff = false);

}  // namespace condense
