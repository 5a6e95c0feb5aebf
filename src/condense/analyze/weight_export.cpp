#include "condense/analyze/weight_export.hpp"

#include <glog/logging.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "condense/core/blob.hpp"
#include "condense/core/error.hpp"
#include "condense/core/file_io.hpp"
#include "condense/core/overloaded.hpp"
#include "condense/quant/layer_quantizer.hpp"

namespace condense {

namespace {

// ---- names -----------------------------------------------------------------------------------------

// Letters and digits kept, anything else '_'.
std::string CIdentifierPart(const std::string& name, const char* if_empty) {
  std::string part;
  for (const char c : name) {
    part += std::isalnum(static_cast<unsigned char>(c)) && static_cast<unsigned char>(c) < 128 ? c : '_';
  }
  return part.empty() ? if_empty : part;
}

// The same, starting with a letter (a leading digit is not allowed, a leading '_' is reserved).
std::string CIdentifier(const std::string& name, const char* if_empty) {
  const std::string identifier = CIdentifierPart(name, if_empty);
  return std::isalpha(static_cast<unsigned char>(identifier[0])) ? identifier : "n" + identifier;
}

// A file name that stays inside its folder: no '/', no leading '.', nothing a shell would trip on.
std::string FileSafeName(const std::string& name, const char* if_empty) {
  std::string file;
  for (const char c : name) {
    const bool plain = (std::isalnum(static_cast<unsigned char>(c)) && static_cast<unsigned char>(c) < 128) ||
                       c == '_' || c == '-' || c == '.';
    file += plain ? c : '_';
  }
  if (file.empty()) file = if_empty;
  if (file[0] == '.' || file[0] == '-') file = "_" + file;
  return file;
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string Upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// `stem`, or stem_2, stem_3, ... when a name equal up to case is taken (macros are upper-cased, and
// some file systems ignore case).
std::string Unique(const std::string& stem, const std::string& suffix, std::set<std::string>* taken) {
  std::string name = stem + suffix;
  for (int n = 2; taken->count(Lower(name)) > 0; ++n) name = StrCat(stem, "_", n, suffix);
  taken->insert(Lower(name));
  return name;
}

std::string BlobRole(int index) {
  return index == 0 ? "weights" : index == 1 ? "bias" : StrCat("param", index);
}

// ---- codes -----------------------------------------------------------------------------------------

CodeType SmallestSigned(int64_t low, int64_t high) {
  if (low >= INT8_MIN && high <= INT8_MAX) return CodeType::kInt8;
  if (low >= 0 && high <= UINT8_MAX) return CodeType::kUint8;
  if (low >= INT16_MIN && high <= INT16_MAX) return CodeType::kInt16;
  if (low >= 0 && high <= UINT16_MAX) return CodeType::kUint16;
  return CodeType::kInt32;
}

CodeType SmallestUnsigned(int bits) {
  return bits <= 8 ? CodeType::kUint8 : bits <= 16 ? CodeType::kUint16 : CodeType::kUint32;
}

[[noreturn]] void OffGrid(const std::string& where, int64_t i, float value) {
  Fail(where, ": value ", i, " (", value,
       ") is not on the format's grid after quantizing (a bug in "
       "condense: please report it)");
}

void FixedPointCodes(const DynamicFixedPoint& format, const std::vector<float>& values,
                     const std::string& where, ExportedParameter* out) {
  const double k_min = -std::ldexp(1.0, format.bit_width - 1);
  const double k_max = std::ldexp(1.0, format.bit_width - 1) - 1.0;
  out->code_type = SmallestSigned(static_cast<int64_t>(k_min), static_cast<int64_t>(k_max));
  out->codes.resize(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const double k = std::ldexp(static_cast<double>(values[i]), format.fractional_bits);  // exact
    if (k != std::floor(k)) OffGrid(where, static_cast<int64_t>(i), values[i]);
    // Only for words wider than float's 24-bit mantissa can the top value have rounded up to 2^(bw-1).
    out->codes[i] = static_cast<int64_t>(std::min(std::max(k, k_min), k_max));
  }
}

void MinifloatCodes(const Minifloat& format, const std::vector<float>& values, const std::string& where,
                    ExportedParameter* out) {
  const int m = format.mantissa_bits;
  const int e = format.exponent_bits;
  out->code_type = SmallestUnsigned(1 + e + m);
  out->codes.resize(values.size());
  const double min_normal = format.MinNormal();
  const double step = format.MinSubnormal();
  for (size_t i = 0; i < values.size(); ++i) {
    const double magnitude = std::fabs(static_cast<double>(values[i]));
    double exponent_field = 0.0;
    double mantissa_field = magnitude / step;  // zero and subnormals: multiples of the smallest step
    if (magnitude >= min_normal) {
      const int exponent = std::ilogb(magnitude);
      exponent_field = exponent + format.ExponentBias();
      mantissa_field = (std::ldexp(magnitude, -exponent) - 1.0) * std::ldexp(1.0, m);
    }
    const bool valid = mantissa_field == std::floor(mantissa_field) && mantissa_field < std::ldexp(1.0, m) &&
                       exponent_field <= std::ldexp(1.0, e) - 2.0;
    if (!valid) OffGrid(where, static_cast<int64_t>(i), values[i]);
    const int64_t sign = std::signbit(values[i]) ? 1 : 0;
    out->codes[i] = (sign << (e + m)) | (static_cast<int64_t>(exponent_field) << m) |
                    static_cast<int64_t>(mantissa_field);
  }
}

void PowerOfTwoCodes(const PowerOfTwo& format, const std::vector<float>& values, const std::string& where,
                     ExportedParameter* out) {
  const int64_t largest = int64_t{format.max_exponent} - format.min_exponent + 1;
  out->code_type = SmallestSigned(-largest, largest);
  out->codes.resize(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const float value = values[i];
    if (value == 0.0f) {
      out->codes[i] = 0;
      continue;
    }
    const int exponent = std::ilogb(value);
    if (std::fabs(value) != std::ldexp(1.0f, exponent) || exponent < format.min_exponent ||
        exponent > format.max_exponent) {
      OffGrid(where, static_cast<int64_t>(i), value);
    }
    const int64_t code = int64_t{exponent} - format.min_exponent + 1;
    out->codes[i] = value < 0.0f ? -code : code;
  }
}

// The quantizers AffineFromData chooses for these values, exactly as TensorFormat::Apply does.
std::vector<AffineQuantizer> ChooseFromData(const AffineFromData& format, const float* values, int64_t n,
                                            int64_t channels) {
  if (!format.per_channel || channels <= 1) {
    float low = 0.0f;
    float high = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
      low = std::min(low, values[i]);
      high = std::max(high, values[i]);
    }
    return {ChooseAffineQuantizer(format.scheme, low, high)};
  }
  return ChoosePerChannelQuantizers(format.scheme, values, channels, n / channels);
}

void AffineCodes(const std::vector<float>& values, const std::string& where, ExportedParameter* out) {
  const AffineQuantizer& first = out->affine.front();
  out->code_type = SmallestSigned(first.q_min, first.q_max);
  out->codes.resize(values.size());
  const int64_t group_size = static_cast<int64_t>(values.size() / out->affine.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const AffineQuantizer& quantizer = out->affine[i / group_size];
    const double steps = std::round(static_cast<double>(values[i]) / quantizer.scale);
    const int64_t code = static_cast<int64_t>(steps) + quantizer.zero_point;
    // The kernel's value of this code, computed as it computes it.
    const float back = static_cast<float>(static_cast<double>(code - quantizer.zero_point) * quantizer.scale);
    if (code < quantizer.q_min || code > quantizer.q_max || back != values[i]) {
      OffGrid(where, static_cast<int64_t>(i), values[i]);
    }
    out->codes[i] = code;
  }
}

float StepUlps(float value, int ulps) {
  for (int k = 0; k < std::abs(ulps); ++k) value = std::nextafter(value, ulps > 0 ? INFINITY : -INFINITY);
  return value;
}

// Where the range of one group's quantized values re-derives another scale or zero point than
// `target`, moves the group's lowest and highest values (every copy of them) by at most kMaxUlps
// ulps each, to the closest pair whose range re-derives `target` exactly. Returns the number of values
// moved (0 when the range already re-derives `target`, or when no pair within reach does).
int64_t NudgeRangeEnds(const AffineScheme& scheme, const AffineQuantizer& target, float* values, int64_t n) {
  float low = 0.0f;
  float high = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    low = std::min(low, values[i]);
    high = std::max(high, values[i]);
  }
  const auto rederives_target = [&](float range_low, float range_high) {
    const AffineQuantizer chosen = ChooseAffineQuantizer(scheme, range_low, range_high);
    return chosen.scale == target.scale && chosen.zero_point == target.zero_point;
  };
  if (rederives_target(low, high)) return 0;
  constexpr int kMaxUlps = 8;  // a scale one ulp off needs about two ulps at either end
  for (int distance = 1; distance <= 2 * kMaxUlps; ++distance) {
    for (int low_ulps = -kMaxUlps; low_ulps <= kMaxUlps; ++low_ulps) {
      const int rest = distance - std::abs(low_ulps);
      if (rest < 0 || rest > kMaxUlps) continue;
      for (const int high_ulps : {rest, -rest}) {
        // Zero is exact in every affine format and holds the range's other end: leave it.
        if ((low_ulps != 0 && low == 0.0f) || (high_ulps != 0 && high == 0.0f)) continue;
        const float new_low = StepUlps(low, low_ulps);
        const float new_high = StepUlps(high, high_ulps);
        if (!rederives_target(new_low, new_high)) continue;
        int64_t moved = 0;
        for (int64_t i = 0; i < n; ++i) {
          if (low_ulps != 0 && values[i] == low) {
            values[i] = new_low;
            ++moved;
          } else if (high_ulps != 0 && values[i] == high) {
            values[i] = new_high;
            ++moved;
          }
        }
        return moved;
      }
    }
  }
  return 0;
}

bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// What the net computes on: the blob quantized as LayerQuantizer quantizes it (channels = axis 0).
std::vector<float> Quantized(const TensorFormat& format, const std::vector<float>& values, int64_t channels) {
  std::vector<float> out(values.size());
  format.Apply(values.data(), out.data(), static_cast<int64_t>(values.size()), channels, 0, nullptr);
  return out;
}

// Makes `out->values` a set of floats that quantizes to `quantized` again (see the header).
void MakeRequantizationExact(const std::vector<float>& quantized, int64_t channels, const std::string& where,
                             ExportedParameter* out) {
  out->values = quantized;
  if (SameBits(Quantized(out->format, out->values, channels), quantized)) return;
  const AffineFromData* from_data = std::get_if<AffineFromData>(&out->format.format());
  if (from_data != nullptr) {
    const int64_t group_size = static_cast<int64_t>(quantized.size() / out->affine.size());
    for (size_t group = 0; group < out->affine.size(); ++group) {
      out->nudged += NudgeRangeEnds(from_data->scheme, out->affine[group],
                                    out->values.data() + group * group_size, group_size);
    }
    if (SameBits(Quantized(out->format, out->values, channels), quantized)) {
      LOG(INFO) << where << ": moved " << out->nudged << " range end value(s) by a few ulps so that "
                << "re-deriving the scale from the exported values gives the same scale and codes";
      return;
    }
  }
  out->values = quantized;
  out->nudged = 0;
  out->requantizes_exactly = false;
  LOG(WARNING) << where << ": quantizing the exported values again does not reproduce them bit for bit; "
               << "the codes are exact, but scoring the exported caffemodel may differ in the last bits";
}

ExportedParameter ExportBlob(const LayerParameter& layer, int index, const TensorFormat& requested,
                             const std::string& where_layer) {
  ExportedParameter out;
  out.layer = layer.name();
  out.layer_type = layer.type();
  out.index = index;
  out.blob = BlobRole(index);
  const std::string where = StrCat(where_layer, " ", out.blob);
  Blob blob;
  try {
    blob.FromProto(layer.blobs(index), true);
  } catch (const Error& error) {
    Fail(where, ": ", error.what());
  }
  out.shape = blob.shape();
  const std::vector<float> original(blob.data(), blob.data() + blob.count());
  // Nearest rounding: a stochastic draw would be one sample, not the weights.
  out.stochastic_in_prototxt = requested.rounding() == Rounding::kStochastic;
  out.format = TensorFormat(requested.format(), Rounding::kNearest);
  if (out.format.is_float()) {
    out.values = original;
    return out;
  }
  for (size_t i = 0; i < original.size(); ++i) {
    CONDENSE_CHECK(std::isfinite(original[i]), where, ": value ", i, " is ", original[i],
                   ": a quantized blob must hold finite numbers");
  }
  const int64_t channels = blob.num_axes() > 0 ? blob.shape(0) : 1;
  if (const auto* from_data = std::get_if<AffineFromData>(&out.format.format())) {
    CONDENSE_CHECK(!from_data->per_channel || blob.num_axes() >= 2, where,
                   ": quantization_param: per_channel needs weights with an output-channel axis");
    out.affine = ChooseFromData(*from_data, original.data(), blob.count(), channels);
  } else if (const auto* fixed = std::get_if<AffineQuantizer>(&out.format.format())) {
    out.affine = {*fixed};
  }
  const std::vector<float> quantized = Quantized(out.format, original, channels);
  std::visit(Overloaded{[](const std::monostate&) {},
                        [&](const DynamicFixedPoint& f) { FixedPointCodes(f, quantized, where, &out); },
                        [&](const Minifloat& f) { MinifloatCodes(f, quantized, where, &out); },
                        [&](const PowerOfTwo& f) { PowerOfTwoCodes(f, quantized, where, &out); },
                        [&](const auto&) { AffineCodes(quantized, where, &out); }},
             out.format.format());
  MakeRequantizationExact(quantized, channels, where, &out);
  return out;
}

// ---- rendering -------------------------------------------------------------------------------------

// Text safe inside a C block comment and on one line.
std::string CommentSafe(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  for (size_t at = text.find("*/"); at != std::string::npos; at = text.find("*/", at))
    text.replace(at, 2, "* /");
  return text;
}

// A float literal that reads back as the same float ("%.9g" is enough digits for float32).
std::string CFloatLiteral(float value) {
  if (std::isnan(value)) return "NAN";
  if (std::isinf(value)) return value > 0 ? "INFINITY" : "(-INFINITY)";
  char text[32];
  std::snprintf(text, sizeof(text), "%.9g", value);
  std::string literal = text;
  if (literal.find_first_of(".eE") == std::string::npos) literal += ".0";
  return literal + "f";
}

std::string CIntegerLiteral(int64_t value, CodeType type) {
  if (type == CodeType::kUint32) return std::to_string(value) + "u";
  if (value == INT32_MIN) return "(-2147483647 - 1)";  // 2147483648 alone would be a long
  return std::to_string(value);
}

std::string FormatComment(const ExportedParameter& p) {
  std::string text = p.format.Describe();
  if (p.stochastic_in_prototxt) text += " (the prototxt rounds STOCHASTIC; exported with NEAREST)";
  if (p.nudged > 0)
    text += StrCat("; ", p.nudged, " range end value(s) of the caffemodel a few ulps off the grid");
  return text;
}

void AppendArray(const std::string& c_type, const std::string& name, const std::string& unused,
                 const std::vector<std::string>& literals, int per_line, std::string* out) {
  // C99 has no empty arrays: an empty blob gets one unused element (its _COUNT says 0).
  const size_t size = std::max<size_t>(literals.size(), 1);
  *out += StrCat("static const ", c_type, " ", name, "[", size, "] ", unused, " = {");
  if (literals.empty()) *out += "0";
  for (size_t i = 0; i < literals.size(); ++i) {
    if (i % per_line == 0) *out += "\n ";
    *out += " " + literals[i] + (i + 1 < literals.size() ? "," : "");
  }
  *out += "\n};\n";
}

void AppendDefine(const std::string& name, const std::string& value, std::string* out) {
  *out += StrCat("#define ", name, " ", value, "\n");
}

std::string Parenthesized(int64_t value) { return value < 0 ? StrCat("(", value, ")") : StrCat(value); }

void AppendFormatDefines(const ExportedParameter& p, const std::string& macro, const std::string& array,
                         const std::string& unused, std::string* out) {
  std::visit(Overloaded{[](const std::monostate&) {},
                        [&](const DynamicFixedPoint& f) {
                          AppendDefine(macro + "_BW", StrCat(f.bit_width), out);
                          AppendDefine(macro + "_FL", Parenthesized(f.fractional_bits), out);
                        },
                        [&](const Minifloat& f) {
                          AppendDefine(macro + "_EXP_BITS", StrCat(f.exponent_bits), out);
                          AppendDefine(macro + "_MANT_BITS", StrCat(f.mantissa_bits), out);
                          AppendDefine(macro + "_EXP_BIAS", StrCat(f.ExponentBias()), out);
                        },
                        [&](const PowerOfTwo& f) {
                          AppendDefine(macro + "_EXP_MIN", Parenthesized(f.min_exponent), out);
                          AppendDefine(macro + "_EXP_MAX", Parenthesized(f.max_exponent), out);
                        },
                        [&](const auto&) {
                          const AffineQuantizer& first = p.affine.front();
                          AppendDefine(macro + "_QMIN", Parenthesized(first.q_min), out);
                          AppendDefine(macro + "_QMAX", Parenthesized(first.q_max), out);
                          if (p.affine.size() == 1) {
                            AppendDefine(macro + "_SCALE", CFloatLiteral(first.scale), out);
                            AppendDefine(macro + "_ZERO_POINT", Parenthesized(first.zero_point), out);
                            return;
                          }
                          AppendDefine(macro + "_CHANNELS", StrCat(p.affine.size()), out);
                          std::vector<std::string> scales, zero_points;
                          for (const AffineQuantizer& q : p.affine) {
                            scales.push_back(CFloatLiteral(q.scale));
                            zero_points.push_back(StrCat(q.zero_point));
                          }
                          AppendArray("float", array + "_scale", unused, scales, 6, out);
                          AppendArray("int32_t", array + "_zero_point", unused, zero_points, 16, out);
                        }},
             p.format.format());
}

nlohmann::ordered_json FormatJson(const ExportedParameter& p) {
  nlohmann::ordered_json format;
  std::visit(Overloaded{[&](const std::monostate&) { format["kind"] = "float"; },
                        [&](const DynamicFixedPoint& f) {
                          format["kind"] = "dynamic_fixed_point";
                          format["bw"] = f.bit_width;
                          format["fl"] = f.fractional_bits;
                          format["value"] = "code * 2^-fl";
                        },
                        [&](const Minifloat& f) {
                          format["kind"] = "minifloat";
                          format["exp_bits"] = f.exponent_bits;
                          format["mant_bits"] = f.mantissa_bits;
                          format["exp_bias"] = f.ExponentBias();
                          format["value"] =
                              "bit pattern sign|exponent|mantissa (IEEE 754 layout, top exponent unused)";
                        },
                        [&](const PowerOfTwo& f) {
                          format["kind"] = "power_of_two";
                          format["exp_min"] = f.min_exponent;
                          format["exp_max"] = f.max_exponent;
                          format["value"] = "0 if code == 0, else sign(code) * 2^(|code| - 1 + exp_min)";
                        },
                        [&](const auto&) {
                          const AffineQuantizer& first = p.affine.front();
                          format["kind"] = "integer_affine";
                          format["q_min"] = first.q_min;
                          format["q_max"] = first.q_max;
                          format["per_channel"] = p.affine.size() > 1;
                          if (p.affine.size() == 1) {
                            format["scale"] = first.scale;
                            format["zero_point"] = first.zero_point;
                          } else {
                            std::vector<float> scales;
                            std::vector<int32_t> zero_points;
                            for (const AffineQuantizer& q : p.affine) {
                              scales.push_back(q.scale);
                              zero_points.push_back(q.zero_point);
                            }
                            format["scale"] = scales;
                            format["zero_point"] = zero_points;
                          }
                          format["value"] = "scale * (code - zero_point)";
                        }},
             p.format.format());
  format["description"] = p.format.Describe();
  return format;
}

// The low `bytes` bytes of `bits`, lowest first, whatever the host's byte order. A code's two's
// complement truncated to its type's width is that type's encoding of it.
void AppendLittleEndian(uint64_t bits, int bytes, std::string* out) {
  for (int byte = 0; byte < bytes; ++byte) out->push_back(static_cast<char>((bits >> (8 * byte)) & 0xFF));
}

}  // namespace

namespace {
struct CodeTypeInfo {
  const char* name;
  const char* c_name;
  int bytes;
};

// In the order of the enum.
const CodeTypeInfo& InfoOf(CodeType type) {
  static const CodeTypeInfo kInfo[] = {
      {"float32", "float", 4},   {"int8", "int8_t", 1},   {"uint8", "uint8_t", 1},  {"int16", "int16_t", 2},
      {"uint16", "uint16_t", 2}, {"int32", "int32_t", 4}, {"uint32", "uint32_t", 4}};
  return kInfo[static_cast<int>(type)];
}
}  // namespace

const char* CodeTypeName(CodeType type) { return InfoOf(type).name; }
const char* CodeTypeCName(CodeType type) { return InfoOf(type).c_name; }
int CodeTypeBytes(CodeType type) { return InfoOf(type).bytes; }

NetParameter AttachWeightsByName(const NetParameter& model, const std::vector<NetParameter>& weights) {
  std::map<std::string, const LayerParameter*> trained;
  for (const NetParameter& file : weights) {
    for (const LayerParameter& layer : file.layer()) {
      if (layer.blobs_size() > 0) trained[layer.name()] = &layer;  // later files win
    }
  }
  NetParameter net = model;
  for (LayerParameter& layer : *net.mutable_layer()) {
    layer.clear_blobs();
    const auto found = trained.find(layer.name());
    if (found != trained.end()) *layer.mutable_blobs() = found->second->blobs();
  }
  return net;
}

WeightExport ExportWeights(const NetParameter& net, const std::string& source) {
  WeightExport exported;
  exported.net_name = net.name();
  exported.caffemodel = net;
  const std::string prefix = source.empty() ? std::string() : source + ": ";
  const std::string net_stem = CIdentifier(net.name(), "net");
  std::set<std::string> c_names, raw_files;
  for (LayerParameter& layer : *exported.caffemodel.mutable_layer()) {
    const std::string where = StrCat(prefix, "layer '", layer.name(), "'");
    LayerFormats formats;  // float everywhere unless the layer has a quantization_param
    const bool quantized = layer.has_quantization_param();
    if (quantized) {
      formats = ReadLayerFormats(layer.quantization_param(), where);
      ++exported.quantized_layers;
    }
    for (int index = 0; index < layer.blobs_size(); ++index) {
      // As LayerQuantizer: blob 0 takes the weights format, every later blob the bias format.
      ExportedParameter parameter =
          ExportBlob(layer, index, index == 0 ? formats.weights : formats.bias, where);
      parameter.c_name = Unique(
          StrCat(net_stem, "_", CIdentifierPart(layer.name(), "layer"), "_", parameter.blob), "", &c_names);
      parameter.raw_file =
          Unique(StrCat(FileSafeName(layer.name(), "layer"), ".", parameter.blob), ".bin", &raw_files);
      LOG(INFO) << "Exporting " << layer.name() << " " << parameter.blob << " "
                << ShapeString(parameter.shape) << ": " << parameter.format.Describe() << " -> "
                << CodeTypeName(parameter.code_type) << (parameter.format.is_float() ? " values" : " codes");
      if (!parameter.format.is_float()) {
        Blob values(parameter.shape);
        std::copy(parameter.values.begin(), parameter.values.end(), values.mutable_data());
        values.ToProto(layer.mutable_blobs(index));
      }
      exported.parameters.push_back(std::move(parameter));
    }
  }
  return exported;
}

std::string ExportFileStem(const WeightExport& exported) { return FileSafeName(exported.net_name, "net"); }

std::string RenderCHeader(const WeightExport& exported) {
  const std::string net_stem = CIdentifier(exported.net_name, "net");
  const std::string guard = Upper(net_stem) + "_WEIGHTS_H";
  const std::string unused = Upper(net_stem) + "_UNUSED";
  bool needs_math = false;
  for (const ExportedParameter& p : exported.parameters) {
    if (!p.format.is_float()) continue;
    for (const float value : p.values) needs_math = needs_math || !std::isfinite(value);
  }
  std::string out;
  out += StrCat("/* ", CommentSafe(exported.net_name), ": weights exported by `condense export`.\n");
  if (!exported.model_path.empty()) out += StrCat(" *   model:   ", CommentSafe(exported.model_path), "\n");
  if (!exported.weights_path.empty())
    out += StrCat(" *   weights: ", CommentSafe(exported.weights_path), "\n");
  out +=
      " *\n"
      " * Per parameter blob: its shape (_NDIM, _DIM0.., _COUNT), its format and an array of its numbers,\n"
      " * the integer codes of a layer's format or float32 values where the layer has none. Value of a "
      "code:\n"
      " *   dynamic fixed point  code * 2^-FL, a BW-bit two's complement integer (FL may be negative).\n"
      " *   integer affine       SCALE * (code - ZERO_POINT), code in [QMIN, QMAX]; per channel, the arrays\n"
      " *                        _scale[c] and _zero_point[c] hold output channel c's (axis 0).\n"
      " *   power of two         code 0 is zero; otherwise sign(code) * 2^(|code| - 1 + EXP_MIN), that is\n"
      " *                        code = sign * (exponent - EXP_MIN + 1), |code| <= EXP_MAX - EXP_MIN + 1.\n"
      " *   minifloat            the raw pattern sign | exponent (EXP_BITS) | mantissa (MANT_BITS), IEEE "
      "754's\n"
      " *                        layout: exponent 0 gives sign * mantissa * 2^(1 - EXP_BIAS - MANT_BITS),\n"
      " *                        others sign * (1 + mantissa * 2^-MANT_BITS) * 2^(exponent - EXP_BIAS); the\n"
      " *                        top exponent is never used (no infinity, no NaN).\n"
      " */\n";
  out += StrCat("#ifndef ", guard, "\n#define ", guard, "\n\n#include <stdint.h>\n");
  if (needs_math) out += "#include <math.h> /* INFINITY, NAN */\n";
  out += StrCat("\n#if defined(__GNUC__) || defined(__clang__)\n#define ", unused,
                " __attribute__((unused))\n#else\n#define ", unused, "\n#endif\n");
  for (const ExportedParameter& p : exported.parameters) {
    const std::string macro = Upper(p.c_name);
    const std::string array = Lower(p.c_name);
    out += StrCat("\n/* ", CommentSafe(p.layer), " (", CommentSafe(p.layer_type), ") ", p.blob, ": ",
                  CommentSafe(FormatComment(p)), " */\n");
    AppendDefine(macro + "_NDIM", StrCat(p.shape.size()), &out);
    for (size_t axis = 0; axis < p.shape.size(); ++axis) {
      AppendDefine(StrCat(macro, "_DIM", axis), StrCat(p.shape[axis]), &out);
    }
    AppendDefine(macro + "_COUNT", StrCat(p.values.size()), &out);
    AppendFormatDefines(p, macro, array, unused, &out);
    std::vector<std::string> literals;
    literals.reserve(p.values.size());
    if (p.format.is_float()) {
      for (const float value : p.values) literals.push_back(CFloatLiteral(value));
      AppendArray("float", array, unused, literals, 6, &out);
    } else {
      for (const int64_t code : p.codes) literals.push_back(CIntegerLiteral(code, p.code_type));
      AppendArray(CodeTypeCName(p.code_type), array, unused, literals, 16, &out);
    }
  }
  out += StrCat("\n#endif /* ", guard, " */\n");
  return out;
}

std::string RenderRawFile(const ExportedParameter& p) {
  const int bytes = CodeTypeBytes(p.code_type);
  std::string out;
  out.reserve(p.values.size() * static_cast<size_t>(bytes));
  if (p.format.is_float()) {
    for (const float value : p.values) {
      uint32_t bits;
      std::memcpy(&bits, &value, sizeof(bits));
      AppendLittleEndian(bits, bytes, &out);
    }
    return out;
  }
  for (const int64_t code : p.codes) AppendLittleEndian(static_cast<uint64_t>(code), bytes, &out);
  return out;
}

std::string RenderRawIndex(const WeightExport& exported) {
  nlohmann::ordered_json index;
  index["net"] = exported.net_name;
  index["model"] = exported.model_path;
  index["weights"] = exported.weights_path;
  index["byte_order"] = "little-endian";
  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  for (const ExportedParameter& p : exported.parameters) {
    nlohmann::ordered_json file;
    file["file"] = p.raw_file;
    file["layer"] = p.layer;
    file["layer_type"] = p.layer_type;
    file["blob"] = p.blob;
    file["shape"] = p.shape;
    file["count"] = p.values.size();
    file["dtype"] = CodeTypeName(p.code_type);
    file["bytes"] = p.values.size() * static_cast<size_t>(CodeTypeBytes(p.code_type));
    file["format"] = FormatJson(p);
    if (p.stochastic_in_prototxt) file["prototxt_rounding"] = "STOCHASTIC (exported with NEAREST)";
    if (p.nudged > 0) file["caffemodel_values_nudged"] = p.nudged;
    if (!p.requantizes_exactly) file["requantizes_exactly"] = false;
    files.push_back(std::move(file));
  }
  index["files"] = std::move(files);
  return index.dump(2) + "\n";
}

std::vector<std::string> WriteWeightExport(const WeightExport& exported, const std::string& output_dir) {
  CONDENSE_CHECK(!output_dir.empty(), "the output folder of the export is empty");
  const std::string raw_dir = output_dir + "/raw";
  CONDENSE_CHECK(!FileExists(output_dir) || IsDirectory(output_dir), output_dir,
                 ": exists and is not a directory");
  MakeDirectories(raw_dir);
  std::vector<std::string> written;
  const auto write = [&](const std::string& path, const std::string& contents) {
    WriteFileAtomically(path, contents);
    written.push_back(path);
  };
  for (const ExportedParameter& p : exported.parameters) write(raw_dir + "/" + p.raw_file, RenderRawFile(p));
  write(raw_dir + "/index.json", RenderRawIndex(exported));
  const std::string stem = output_dir + "/" + ExportFileStem(exported);
  write(stem + ".h", RenderCHeader(exported));
  std::string caffemodel;
  CONDENSE_CHECK(exported.caffemodel.SerializeToString(&caffemodel), stem,
                 ".caffemodel: the net does not serialize (over 2 GiB?)");
  write(stem + ".caffemodel", caffemodel);
  return written;
}

}  // namespace condense
