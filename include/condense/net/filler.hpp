// Fillers: the initial values of parameter blobs, named by FillerParameter.type as in Caffe (constant,
// uniform, gaussian, xavier, msra, bilinear, positive_unitball). Draws come from the global generator in
// random.hpp, so the same seed gives the same weights.
#pragma once

#include "condense/core/blob.hpp"
#include "condense/proto/condense.pb.h"

namespace condense {

// Fills the blob; throws on an unknown filler type or parameters that make no sense for the shape.
void Fill(const FillerParameter& filler, Blob* blob);

}  // namespace condense
