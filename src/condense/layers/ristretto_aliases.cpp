// Ristretto's layer type names load as the plain layers: the quantization they stood for comes from the
// layer's quantization_param, which any layer may carry.
#include "condense/net/layer_registry.hpp"

namespace condense {
namespace {

struct RistrettoAliases {
  RistrettoAliases() {
    LayerRegistry::RegisterAlias("ConvolutionRistretto", "Convolution");
    LayerRegistry::RegisterAlias("DeconvolutionRistretto", "Deconvolution");
    LayerRegistry::RegisterAlias("FcRistretto", "InnerProduct");
    LayerRegistry::RegisterAlias("LRNRistretto", "LRN");
  }
};
const RistrettoAliases kRistrettoAliases;

}  // namespace
}  // namespace condense
