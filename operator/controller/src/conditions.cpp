#include "kubefn/controller/conditions.hpp"

namespace kubefn::controller {

using nlohmann::json;

json find_condition(const json& status, const std::string& type) {
  if (!status.is_object() || !status.contains("conditions")) return nullptr;
  for (const auto& c : status["conditions"]) {
    if (c.is_object() && c.value("type", "") == type) return c;
  }
  return nullptr;
}

void set_condition(json& status, const Condition& c, const std::string& now,
                   std::int64_t generation) {
  if (!status.is_object()) status = json::object();
  json& list = status["conditions"];
  if (!list.is_array()) list = json::array();
  for (auto& existing : list) {
    if (existing.value("type", "") != c.type) continue;
    if (existing.value("status", "") != c.status) existing["lastTransitionTime"] = now;
    existing["status"] = c.status;
    existing["reason"] = c.reason;
    existing["message"] = c.message;
    existing["observedGeneration"] = generation;
    return;
  }
  list.push_back({{"type", c.type},
                  {"status", c.status},
                  {"reason", c.reason},
                  {"message", c.message},
                  {"lastTransitionTime", now},
                  {"observedGeneration", generation}});
}

}  // namespace kubefn::controller
