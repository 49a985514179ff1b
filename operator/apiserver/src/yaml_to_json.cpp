#include "yaml_to_json.hpp"

#include <yaml-cpp/yaml.h>

namespace kubefn::emulator {
namespace {

nlohmann::json convert(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      auto out = nlohmann::json::object();
      for (const auto& kv : node)
        out[kv.first.as<std::string>()] = convert(kv.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      auto out = nlohmann::json::array();
      for (const auto& item : node)
        out.push_back(convert(item));
      return out;
    }
    case YAML::NodeType::Scalar: {
      const auto& s = node.Scalar();
      if (node.Tag() == "!") return s;  // quoted
      if (s == "true" || s == "false") return s == "true";
      if (s == "null" || s == "~") return nullptr;
      auto parsed = nlohmann::json::parse(s, nullptr, false);
      if (!parsed.is_discarded() && parsed.is_number()) return parsed;
      return s;
    }
    default:
      return nullptr;
  }
}

}  // namespace

std::optional<nlohmann::json> parse_json_or_yaml(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_discarded()) return j;
  try {
    return convert(YAML::Load(text));
  } catch (const YAML::Exception&) {
    return std::nullopt;
  }
}

}  // namespace kubefn::emulator
