#include "yaml_to_json.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "go_format.hpp"

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

void find_duplicates(const YAML::Node& node, std::vector<std::string>& out) {
  if (node.IsMap()) {
    std::vector<std::string> seen;
    for (const auto& kv : node) {
      if (kv.first.IsScalar()) {
        const auto& key = kv.first.Scalar();
        if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
          out.push_back("line " + std::to_string(kv.first.Mark().line + 1) + ": key " +
                        go_quote(key) + " already set in map");
        } else {
          seen.push_back(key);
        }
      }
      find_duplicates(kv.second, out);
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node)
      find_duplicates(item, out);
  }
}

}  // namespace

std::optional<nlohmann::json> parse_yaml(const std::string& text, std::string* error) {
  try {
    return convert(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    if (error != nullptr) {
      *error = "yaml: ";
      if (!e.mark.is_null()) *error += "line " + std::to_string(e.mark.line + 1) + ": ";
      *error += e.msg;
    }
    return std::nullopt;
  }
}

std::vector<std::string> yaml_duplicate_keys(const std::string& text) {
  std::vector<std::string> out;
  try {
    find_duplicates(YAML::Load(text), out);
  } catch (const YAML::Exception&) {
    return {};
  }
  return out;
}

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
