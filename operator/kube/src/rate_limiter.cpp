#include "kubefn/kube/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace kubefn::kube {

Clock::Duration ItemExponentialRateLimiter::when(const std::string& item) {
  std::lock_guard guard(mutex_);
  const int failures = failures_[item]++;
  Clock::Duration delay = base_;
  for (int i = 0; i < failures && delay < max_; ++i)
    delay *= 2;
  return std::min(delay, max_);
}

void ItemExponentialRateLimiter::forget(const std::string& item) {
  std::lock_guard guard(mutex_);
  failures_.erase(item);
}

int ItemExponentialRateLimiter::retries(const std::string& item) const {
  std::lock_guard guard(mutex_);
  const auto found = failures_.find(item);
  return found == failures_.end() ? 0 : found->second;
}

TokenBucketRateLimiter::TokenBucketRateLimiter(Clock& clock, double per_second, int burst)
    : clock_(clock),
      per_second_(per_second),
      burst_(static_cast<double>(std::max(burst, 1))),
      tokens_(burst_),
      last_(clock.now()) {}

Clock::Duration TokenBucketRateLimiter::when(const std::string&) {
  std::lock_guard guard(mutex_);
  const auto now = clock_.now();
  const double elapsed = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  tokens_ = std::min(burst_, tokens_ + elapsed * per_second_);
  // Reserve a token even when it is not there yet: the debt is what the caller waits for.
  tokens_ -= 1.0;
  if (tokens_ >= 0.0) return Clock::Duration::zero();
  const double wait_seconds = -tokens_ / per_second_;
  return std::chrono::duration_cast<Clock::Duration>(std::chrono::duration<double>(wait_seconds));
}

Clock::Duration MaxOfRateLimiter::when(const std::string& item) {
  Clock::Duration longest = Clock::Duration::zero();
  for (auto& limiter : limiters_)
    longest = std::max(longest, limiter->when(item));
  return longest;
}

void MaxOfRateLimiter::forget(const std::string& item) {
  for (auto& limiter : limiters_)
    limiter->forget(item);
}

int MaxOfRateLimiter::retries(const std::string& item) const {
  int most = 0;
  for (const auto& limiter : limiters_)
    most = std::max(most, limiter->retries(item));
  return most;
}

std::unique_ptr<RateLimiter> make_default_controller_rate_limiter(Clock& clock) {
  std::vector<std::unique_ptr<RateLimiter>> limiters;
  limiters.push_back(std::make_unique<ItemExponentialRateLimiter>(std::chrono::milliseconds(5),
                                                                  std::chrono::seconds(1000)));
  limiters.push_back(std::make_unique<TokenBucketRateLimiter>(clock, 10.0, 100));
  return std::make_unique<MaxOfRateLimiter>(std::move(limiters));
}

}  // namespace kubefn::kube
