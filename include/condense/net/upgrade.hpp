// Reading net, weight and solver files as Caffe wrote them over the years, and bringing them to the
// current schema, so the rest of condense only ever sees one form: a NetParameter whose layers are in
// `layer` (string types, ParamSpec multipliers, an Input layer instead of net-level inputs) and a
// SolverParameter whose update rule is the `type` string. The upgrades follow Caffe's own, step by step,
// so a file means here what it meant to Caffe. The oldest format (V0, 2013, layers nested as
// `layers { layer { ... } }`) is refused with an error that says so: no such files are in use today.
#pragma once

#include <string>

#include "condense/proto/condense.pb.h"

namespace condense {

// Reads a text prototxt and upgrades it. Errors name the file.
NetParameter ReadNetParameterFile(const std::string& path);
// Reads weights: binary .caffemodel, or HDF5 when the name ends in ".h5"; upgrades them.
NetParameter ReadWeightsFile(const std::string& path);
// Reads a text solver file and upgrades it (solver_type enum -> type string; a missing or directory
// snapshot_prefix is derived from the solver file name, as Caffe does).
SolverParameter ReadSolverParameterFile(const std::string& path);

// Whether any of the upgrades below would change `param`.
bool NetNeedsUpgrade(const NetParameter& param);
// Applies, in Caffe's order: deprecated data-layer transformation fields -> transform_param (V1 only),
// V1 `layers` -> `layer`, net-level inputs -> a leading Input layer, and zero learning rates for the
// statistics of old-style BatchNorm layers. Returns whether anything changed. Throws, naming `source`
// and the layer, on V0 nets and on nets that mix `layers` and `layer`.
bool UpgradeNetAsNeeded(const std::string& source, NetParameter* param);

// The V2 type string of a V1 layer type enum ("" for NONE).
std::string V1LayerTypeName(V1LayerParameter::LayerType type);
// Converts one V1 layer; `source` and the layer's index prefix errors.
LayerParameter UpgradeV1Layer(const V1LayerParameter& v1_layer, const std::string& source);

bool SolverNeedsUpgrade(const SolverParameter& param);
// Maps the deprecated solver_type enum to the type string; throws naming `source` when both are set.
bool UpgradeSolverAsNeeded(const std::string& source, SolverParameter* param);

}  // namespace condense
