#include "kubefn/platform/kubernetes/json_subset.hpp"

namespace kubefn::platform::kubernetes {

using nlohmann::json;

bool is_subset(const json& desired, const json& live) {
  if (desired.is_object()) {
    if (!live.is_object()) return false;
    for (auto it = desired.begin(); it != desired.end(); ++it) {
      auto l = live.find(it.key());
      if (l == live.end() || !is_subset(it.value(), *l)) return false;
    }
    return true;
  }
  if (desired.is_array()) {
    if (!live.is_array() || live.size() != desired.size()) return false;
    for (std::size_t i = 0; i < desired.size(); ++i) {
      if (!is_subset(desired[i], live[i])) return false;
    }
    return true;
  }
  if (desired.is_number() && live.is_number()) return desired.get<double>() == live.get<double>();
  return desired == live;
}

}  // namespace kubefn::platform::kubernetes
