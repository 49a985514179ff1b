// KEP-1623 conditions on a status object.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace kubefn::controller {

struct Condition {
  std::string type;
  std::string status;  // "True", "False", "Unknown"
  std::string reason;
  std::string message;
};

// Sets `c` in status["conditions"]. lastTransitionTime changes only when the status flips
// (`now` is RFC 3339); reason, message and observedGeneration follow `c` and `generation`.
void set_condition(nlohmann::json& status, const Condition& c, const std::string& now,
                   std::int64_t generation);

// A copy of the condition of that type, or a null json (a copy, so that it may be called on
// a temporary status without dangling).
nlohmann::json find_condition(const nlohmann::json& status, const std::string& type);

}  // namespace kubefn::controller
