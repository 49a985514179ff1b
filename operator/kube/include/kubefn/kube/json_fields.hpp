// Reading fields of object JSON that may be absent or of another type, without exceptions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace kubefn::kube {

// The field `key` of `j`; null when `j` is not an object or has no such field.
inline const nlohmann::json& field(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

// The string field `key` of `j`; empty when it is absent or not a string.
inline std::string string_field(const nlohmann::json& j, const char* key) {
  const nlohmann::json& v = field(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

}  // namespace kubefn::kube
