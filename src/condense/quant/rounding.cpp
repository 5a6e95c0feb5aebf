#include "condense/quant/rounding.hpp"

namespace condense {

const char* RoundingName(Rounding rounding) {
  return rounding == Rounding::kStochastic ? "stochastic" : "nearest";
}

}  // namespace condense
