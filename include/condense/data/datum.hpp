// Checking and converting Caffe's Datum record: one image (C x H x W, channel-major) stored either as raw
// uint8 `data`, as `float_data`, or as an encoded image file (JPEG/PNG bytes, `encoded` true). Sizes read
// from a record are checked against the bytes it holds before they are used, so a corrupt record is an
// Error naming where it came from, never an out-of-bounds read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "condense/proto/condense.pb.h"

namespace cv {
class Mat;
}

namespace condense {

// How an encoded image is decoded: as stored (gray stays gray), forced to 3-channel BGR, or to 1 channel.
enum class DecodeColor { kNative, kColor, kGray };

// Shape {C, H, W} of a raw (not encoded) Datum, after checking that C*H*W equals the size of its data or
// float_data. `where` (e.g. "LMDB 'x' record '00000001'") starts the error message.
std::vector<int64_t> CheckedDatumShape(const Datum& datum, const std::string& where);

// Decodes an encoded Datum into a raw uint8 one with the same label; returns a raw Datum unchanged.
Datum DecodeDatum(const Datum& datum, DecodeColor color, const std::string& where);

// Stores an 8-bit image (1 or 3 channels, OpenCV's H x W x C order) as a raw Datum in C x H x W order.
// Keeps the label; clears float_data and encoded.
void MatToDatum(const cv::Mat& image, Datum* datum);

}  // namespace condense
