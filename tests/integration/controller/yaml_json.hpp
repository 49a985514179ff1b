#pragma once

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <string>

namespace kubefn::controller::testing {

// YAML to JSON for manifests: quoted scalars stay strings, plain ones become numbers and
// booleans where they read as such.
inline nlohmann::json yaml_to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json o = nlohmann::json::object();
      for (const auto& kv : n)
        o[kv.first.as<std::string>()] = yaml_to_json(kv.second);
      return o;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& v : n)
        a.push_back(yaml_to_json(v));
      return a;
    }
    case YAML::NodeType::Scalar: {
      const std::string s = n.as<std::string>();
      if (n.Tag() == "!") return s;
      if (s == "true" || s == "false") return s == "true";
      try {
        std::size_t used = 0;
        long long v = std::stoll(s, &used);
        if (used == s.size()) return v;
      } catch (...) {
      }
      return s;
    }
    default:
      return nullptr;
  }
}

inline nlohmann::json yaml_file_to_json(const std::string& path) {
  return yaml_to_json(YAML::LoadFile(path));
}

}  // namespace kubefn::controller::testing
