// status.triggers of a Function: each trigger's entry (a list keyed by name), which the
// dispatcher alone writes. Schedules record their runs there, with the resourceVersion as the
// precondition, so two dispatchers (a leader change, a restart) never both claim one run.
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "kubefn/kube/kube_client.hpp"
#include "kubefn/kube/result.hpp"

namespace kubefn::dispatch {

using Instant = std::chrono::sys_seconds;

std::optional<Instant> parse_time(const std::string& rfc3339);
std::string format_time(Instant t);

struct TriggerState {
  std::optional<Instant> last_schedule;   // the last run claimed
  std::optional<Instant> last_completed;  // the last claimed run that is done
};

TriggerState trigger_state(const nlohmann::json& function, const std::string& trigger);

// PUTs the Function's status with `change` applied to the trigger's entry (created when
// missing), conditional on the resourceVersion `function` was read at: Conflict when someone
// wrote it since. Returns the Function as written.
kube::Result<nlohmann::json> write_trigger_state(
    kube::KubeClient& client, nlohmann::json function, const std::string& trigger,
    const std::function<void(nlohmann::json& entry)>& change, const std::string& field_manager);

}  // namespace kubefn::dispatch
