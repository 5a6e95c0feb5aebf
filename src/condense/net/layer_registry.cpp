#include "condense/net/layer_registry.hpp"

#include <map>

#include "condense/core/error.hpp"

namespace condense {

namespace {
struct Tables {
  std::map<std::string, LayerFactory> factories;
  std::map<std::string, std::string> aliases;
};

// Function-local so that registrations from other translation units' static objects find it built.
Tables& GetTables() {
  static Tables tables;
  return tables;
}
}  // namespace

void LayerRegistry::Register(const std::string& type, LayerFactory factory) {
  auto& factories = GetTables().factories;
  CONDENSE_CHECK(factories.count(type) == 0, "layer type '", type, "' is registered twice");
  factories[type] = std::move(factory);
}

void LayerRegistry::RegisterAlias(const std::string& alias, const std::string& type) {
  GetTables().aliases[alias] = type;
}

std::string LayerRegistry::Resolve(const std::string& type) {
  const auto& aliases = GetTables().aliases;
  const auto alias = aliases.find(type);
  return alias == aliases.end() ? type : alias->second;
}

bool LayerRegistry::Has(const std::string& type) {
  return GetTables().factories.count(Resolve(type)) > 0;
}

std::vector<std::string> LayerRegistry::Types() {
  std::vector<std::string> types;
  for (const auto& [type, factory] : GetTables().factories) types.push_back(type);
  return types;
}

std::unique_ptr<Layer> LayerRegistry::Create(const LayerParameter& param) {
  const auto& factories = GetTables().factories;
  const auto factory = factories.find(Resolve(param.type()));
  if (factory == factories.end()) {
    std::string known;
    for (const auto& [type, unused] : factories) known += (known.empty() ? "" : ", ") + type;
    Fail("layer '", param.name(), "': unknown layer type '", param.type(), "' (known types: ", known,
         ")");
  }
  return factory->second(param);
}

}  // namespace condense
