// Reading Function objects for display and for waiting on them.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kubefn/kube/resource.hpp"

namespace kubefn::cli {

// The condition of that type in status.conditions, or null.
nlohmann::json condition(const nlohmann::json& function, const std::string& type);

// Where a Function stands for `apply --wait`.
enum class Progress { kWaiting, kReady, kFailed };
struct Readiness {
  Progress progress = Progress::kWaiting;
  std::string reason;   // of the condition that decided
  std::string message;  // of the condition that decided
  std::string summary;  // "Built=True Ready=False (Deploying)"
};
// Ready=True (or ScaledToZero) for the current generation is ready; Ready=False with a reason
// that is not a step on the way (BuildPending, Building, Deploying, ...) or Built=False with
// BuildFailed is a failure; anything else, including status from an older generation, waits.
Readiness readiness(const nlohmann::json& function);

// One row of `kubefn list`: NAME READY REPLICAS IMAGE/URL AGE (NAMESPACE first when `all`).
std::vector<std::string> list_row(const nlohmann::json& function, bool all_namespaces,
                                  std::chrono::system_clock::time_point now);
std::vector<std::string> list_header(bool all_namespaces);

// The human text of `kubefn describe`.
std::string describe_text(const nlohmann::json& function, const std::vector<nlohmann::json>& events,
                          std::chrono::system_clock::time_point now);

}  // namespace kubefn::cli
