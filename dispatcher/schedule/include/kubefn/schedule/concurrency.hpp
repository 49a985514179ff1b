// A schedule trigger's concurrencyPolicy (CronJob's) and what it says when a run is due.
#pragma once

#include <string_view>

#include "kubefn/schedule/result.hpp"

namespace kubefn::schedule {

enum class ConcurrencyPolicy {
  kAllow,    // runs may overlap (the default when the field is absent)
  kForbid,   // a due run is skipped while the previous one is in flight
  kReplace,  // a due run replaces the one in flight
};

// Exactly "Allow", "Forbid" or "Replace", as CronJob spells them.
Result<ConcurrencyPolicy> parse_concurrency_policy(std::string_view text);
std::string_view to_string(ConcurrencyPolicy policy);

enum class RunAction {
  kStart,    // start the due run
  kSkip,     // do not start it (it counts as skipped)
  kReplace,  // stop the run in flight, then start the due one
};

RunAction decide_run(ConcurrencyPolicy policy, bool previous_in_flight);
std::string_view to_string(RunAction action);

}  // namespace kubefn::schedule
