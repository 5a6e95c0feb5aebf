// WeightExport: the weights of a quantized net as a deployment needs them. Every parameter blob of a
// layer with a quantization_param is replaced by its quantized value (nearest rounding), so that the
// floats lie on the layer's grid, and is also described by its integer codes: dynamic fixed point
// k (value = k * 2^-fl), integer affine q (value = scale * (q - zero_point), per channel where the
// format says so), power of two as a signed exponent code, minifloat as its raw sign|exponent|mantissa
// pattern. Blobs of layers without a format stay float. From one export come three sets of files: a
// caffemodel that scores exactly as the original weights do under the quantized prototxt, a C99
// header with the codes as the smallest fitting integer arrays, and one little-endian raw file per
// blob with a JSON index.
//
// Re-quantizing an on-grid value is the identity for every format whose grid is fixed by the
// prototxt. Integer affine formats that take their range from the tensor itself are the exception:
// the range of the quantized values re-derives a scale that may differ from the first one in its last
// bit (the grid points at the ends are rounded floats), so the same codes would come back a few ulps
// off. The export then moves the one or two extreme values of each range group by a few ulps, to the
// nearest floats whose range re-derives exactly the first scale and zero point: the codes are
// unchanged and scoring the exported caffemodel reproduces the quantized weights bit for bit (see
// ExportedParameter::nudged). Should no such floats exist, the blob is exported on the grid and
// flagged (requantizes_exactly = false), and the export logs a warning.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "condense/proto/condense.pb.h"
#include "condense/quant/tensor_format.hpp"

namespace condense {

// How an exported blob's numbers are stored: float32 values, integer codes or minifloat patterns.
enum class CodeType { kFloat32, kInt8, kUint8, kInt16, kUint16, kInt32, kUint32 };

const char* CodeTypeName(CodeType type);   // "float32", "int8", ... (index.json's dtype)
const char* CodeTypeCName(CodeType type);  // "float", "int8_t", ...
int CodeTypeBytes(CodeType type);

// One parameter blob of one layer, as exported.
struct ExportedParameter {
  std::string layer;
  std::string layer_type;
  int index = 0;     // position among the layer's blobs: 0 the weights, 1 the bias, ...
  std::string blob;  // "weights", "bias", "param2", ...
  std::vector<int64_t> shape;
  TensorFormat format;  // float where the layer has no format for this blob; rounding is nearest
  // What the exported caffemodel holds: the quantized values (on the grid, up to `nudged` values a
  // few ulps off it), or the original floats for a float blob.
  std::vector<float> values;
  // The integer codes (or minifloat bit patterns) of the quantized values; empty for a float blob.
  std::vector<int64_t> codes;
  CodeType code_type = CodeType::kFloat32;
  // Integer affine only: the quantizer of the whole tensor, or one per output channel (axis 0).
  std::vector<AffineQuantizer> affine;
  int64_t nudged = 0;                   // values moved off the grid so that re-quantizing is exact
  bool requantizes_exactly = true;      // quantizing `values` again gives the quantized values
  bool stochastic_in_prototxt = false;  // the prototxt asked for stochastic rounding
  // Names in the exported files, unique within the export: a C identifier stem (net_layer_blob) and
  // the raw file's name under raw/.
  std::string c_name;
  std::string raw_file;
};

struct WeightExport {
  std::string net_name;
  std::string model_path;  // for the files' provenance lines
  std::string weights_path;
  NetParameter caffemodel;  // the input net with the quantized blobs swapped in
  std::vector<ExportedParameter> parameters;
  int quantized_layers = 0;  // layers with a quantization_param
};

// The model's layers, each carrying the blobs of the same-named layer of the weights files (later
// files override earlier ones, as Caffe copies them); layers absent from the weights get none. No layer
// is set up, so nothing here reads data or checks shapes: that is Net::CopyTrainedLayersFrom's job.
NetParameter AttachWeightsByName(const NetParameter& model, const std::vector<NetParameter>& weights);

// Quantizes and encodes every parameter blob of `net` (a NetParameter whose layers carry their blobs,
// as Net::ToProto writes it). `source` (the prototxt) prefixes errors, which name the layer and blob:
// a bad quantization_param, a non-finite value in a quantized blob, per_channel on a blob without an
// output-channel axis.
WeightExport ExportWeights(const NetParameter& net, const std::string& source);

// The C99 header: include guard, <stdint.h>, per blob its shape and format as #defines and its codes
// (or floats) as a static const array.
std::string RenderCHeader(const WeightExport& exported);
// raw/index.json: per raw file its layer, blob, shape, dtype and format fields.
std::string RenderRawIndex(const WeightExport& exported);
// The bytes of one blob's raw file: its codes (or float32 values), little-endian.
std::string RenderRawFile(const ExportedParameter& parameter);
// The file names WriteWeightExport writes under its output folder: "<net>.caffemodel", "<net>.h".
std::string ExportFileStem(const WeightExport& exported);

// Writes DIR/<net>.caffemodel, DIR/<net>.h, DIR/raw/<blob files> and DIR/raw/index.json, creating
// the folders; each file goes to a temporary name first and is renamed into place. Returns the paths
// written, in order.
std::vector<std::string> WriteWeightExport(const WeightExport& exported, const std::string& output_dir);

}  // namespace condense
