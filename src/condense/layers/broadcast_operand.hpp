// The shape rules Scale and Bias share, as Caffe defines them: an operand (the second bottom or a
// learned blob) covers the bottom's axes [axis, axis + num_axes) and is broadcast over the axes
// before (outer) and after (inner) it. A scalar operand fits any bottom, whatever the axis.
#pragma once

#include <string>
#include <vector>

#include "condense/core/blob.hpp"
#include "condense/core/error.hpp"

namespace condense {

// The shape of a learned operand: the bottom's axes [axis, axis + num_axes), num_axes -1 meaning
// to the end. `field` names the parameter message in errors ("layer 'x' (Scale): scale_param").
inline std::vector<int64_t> LearnedOperandShape(const Blob& bottom, int axis_param, int num_axes,
                                                const std::string& field) {
  const int axis = bottom.CanonicalAxisIndex(axis_param);
  CONDENSE_CHECK(num_axes >= -1, field, ".num_axes must be >= -1, not ", num_axes);
  CONDENSE_CHECK(num_axes == -1 || bottom.num_axes() >= axis + num_axes, field, ": axes [", axis,
                 ", ", axis + num_axes, ") run past bottom ", bottom.shape_string());
  const std::vector<int64_t>& shape = bottom.shape();
  const auto end = num_axes == -1 ? shape.end() : shape.begin() + axis + num_axes;
  return std::vector<int64_t>(shape.begin() + axis, end);
}

// The bottom seen as (outer, operand, inner) values.
struct BroadcastGeometry {
  int64_t outer = 0;
  int64_t dim = 0;
  int64_t inner = 0;
};

// Checks that `operand` matches the bottom's axes from axis_param on and splits the bottom around
// it.
inline BroadcastGeometry FitOperand(const Blob& bottom, const Blob& operand, int axis_param,
                                    const std::string& who) {
  // Axis 0 keeps a scalar in range for any bottom; where it sits makes no difference.
  const int axis = operand.num_axes() == 0 ? 0 : bottom.CanonicalAxisIndex(axis_param);
  bool fits = bottom.num_axes() >= axis + operand.num_axes();
  for (int i = 0; fits && i < operand.num_axes(); ++i) {
    fits = bottom.shape(axis + i) == operand.shape(i);
  }
  CONDENSE_CHECK(fits, who, ": operand ", operand.shape_string(), " does not match bottom ",
                 bottom.shape_string(), " from axis ", axis);
  return {bottom.count(0, axis), operand.count(), bottom.count(axis + operand.num_axes())};
}

}  // namespace condense
