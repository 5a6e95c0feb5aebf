// The registry that maps a prototxt `type:` string to the code that builds the layer. Layers register
// themselves with CONDENSE_REGISTER_LAYER in their own source file; aliases (Ristretto's
// ConvolutionRistretto and friends) map an old name onto a registered type.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "condense/net/layer.hpp"

namespace condense {

using LayerFactory = std::function<std::unique_ptr<Layer>(const LayerParameter&)>;

class LayerRegistry {
 public:
  static void Register(const std::string& type, LayerFactory factory);
  static void RegisterAlias(const std::string& alias, const std::string& type);
  // Builds the layer; throws naming the layer and listing the known types when the type is unknown.
  static std::unique_ptr<Layer> Create(const LayerParameter& param);
  static bool Has(const std::string& type);
  // The registered type an alias stands for (the type itself when it is no alias).
  static std::string Resolve(const std::string& type);
  static std::vector<std::string> Types();
};

namespace internal {
struct LayerRegistration {
  LayerRegistration(const char* type, LayerFactory factory) {
    LayerRegistry::Register(type, std::move(factory));
  }
};
}  // namespace internal

}  // namespace condense

#define CONDENSE_REGISTER_LAYER(type_name, LayerClass)                                         \
  static ::condense::internal::LayerRegistration condense_layer_registration_##LayerClass( \
      type_name, [](const ::condense::LayerParameter& param) {                             \
        return std::unique_ptr<::condense::Layer>(new LayerClass(param));                    \
      })
