#include "fault_switches.hpp"

namespace kubefn::emulator {
namespace {

std::string reason_for(int status) {
  switch (status) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 409:
      return "Conflict";
    case 410:
      return "Expired";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return "InternalError";
  }
}

}  // namespace

void FaultSwitches::inject_error(std::string verb, std::string resource, int http_status, int times,
                                 int retry_after_s) {
  std::lock_guard lock(mu_);
  injections_.push_back({std::move(verb), std::move(resource), http_status, times, retry_after_s});
}

void FaultSwitches::set_latency(std::string verb, std::chrono::milliseconds delay) {
  std::lock_guard lock(mu_);
  if (delay.count() <= 0) {
    latency_.erase(verb);
  } else {
    latency_[std::move(verb)] = delay;
  }
}

std::optional<ApiError> FaultSwitches::take_error(const std::string& verb,
                                                  const std::string& resource) {
  std::lock_guard lock(mu_);
  for (auto it = injections_.begin(); it != injections_.end(); ++it) {
    if ((it->verb != "*" && it->verb != verb) ||
        (it->resource != "*" && it->resource != resource)) {
      continue;
    }
    std::string message = "injected failure for ";
    message.append(verb).append(" ").append(resource);
    ApiError e{it->status, reason_for(it->status), message};
    if (it->status == 409) {
      e.message = "Operation cannot be fulfilled on " + resource +
                  ": the object has been modified; please apply your changes to the latest "
                  "version and try again";
    }
    e.retry_after_s = it->retry_after_s;
    if (e.retry_after_s > 0) e.details = {{"retryAfterSeconds", e.retry_after_s}};
    if (--it->remaining <= 0) injections_.erase(it);
    return e;
  }
  return std::nullopt;
}

std::chrono::milliseconds FaultSwitches::latency(const std::string& verb) const {
  std::lock_guard lock(mu_);
  auto it = latency_.find(verb);
  if (it != latency_.end()) return it->second;
  it = latency_.find("*");
  return it != latency_.end() ? it->second : std::chrono::milliseconds(0);
}

void FaultSwitches::clear() {
  std::lock_guard lock(mu_);
  injections_.clear();
  latency_.clear();
}

}  // namespace kubefn::emulator
