#include "kubefn/schedule/concurrency.hpp"

#include <string>

namespace kubefn::schedule {

Result<ConcurrencyPolicy> parse_concurrency_policy(std::string_view text) {
  if (text == "Allow") return ConcurrencyPolicy::kAllow;
  if (text == "Forbid") return ConcurrencyPolicy::kForbid;
  if (text == "Replace") return ConcurrencyPolicy::kReplace;
  return Error{"concurrencyPolicy \"" + std::string(text) +
               "\": must be one of Allow, Forbid, Replace (spelt exactly so)"};
}

std::string_view to_string(ConcurrencyPolicy policy) {
  switch (policy) {
    case ConcurrencyPolicy::kAllow:
      return "Allow";
    case ConcurrencyPolicy::kForbid:
      return "Forbid";
    case ConcurrencyPolicy::kReplace:
      return "Replace";
  }
  return "Allow";
}

RunAction decide_run(ConcurrencyPolicy policy, bool previous_in_flight) {
  if (!previous_in_flight) return RunAction::kStart;
  switch (policy) {
    case ConcurrencyPolicy::kAllow:
      return RunAction::kStart;
    case ConcurrencyPolicy::kForbid:
      return RunAction::kSkip;
    case ConcurrencyPolicy::kReplace:
      return RunAction::kReplace;
  }
  return RunAction::kStart;
}

std::string_view to_string(RunAction action) {
  switch (action) {
    case RunAction::kStart:
      return "start";
    case RunAction::kSkip:
      return "skip";
    case RunAction::kReplace:
      return "replace";
  }
  return "start";
}

}  // namespace kubefn::schedule
