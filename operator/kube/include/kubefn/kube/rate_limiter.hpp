#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "kubefn/kube/clock.hpp"

namespace kubefn::kube {

// Decides how long an item waits before it is retried.
class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // The delay for the next retry of `item`; records the retry.
  virtual Clock::Duration when(const std::string& item) = 0;
  // The item succeeded: reset its history.
  virtual void forget(const std::string& item) = 0;
  virtual int retries(const std::string& item) const = 0;
};

// Per item: base * 2^failures, capped.
class ItemExponentialRateLimiter final : public RateLimiter {
 public:
  ItemExponentialRateLimiter(Clock::Duration base, Clock::Duration max) : base_(base), max_(max) {}
  Clock::Duration when(const std::string& item) override;
  void forget(const std::string& item) override;
  int retries(const std::string& item) const override;

 private:
  const Clock::Duration base_;
  const Clock::Duration max_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, int> failures_;
};

// Overall: a bucket of `burst` tokens refilled at `per_second`; each retry takes one, and waits
// for it when the bucket is empty.
class TokenBucketRateLimiter final : public RateLimiter {
 public:
  TokenBucketRateLimiter(Clock& clock, double per_second, int burst);
  Clock::Duration when(const std::string& item) override;
  void forget(const std::string&) override {}
  int retries(const std::string&) const override { return 0; }

 private:
  Clock& clock_;
  const double per_second_;
  const double burst_;
  std::mutex mutex_;
  double tokens_;
  Clock::TimePoint last_;
};

// The longest delay any of its limiters asks for.
class MaxOfRateLimiter final : public RateLimiter {
 public:
  explicit MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters)
      : limiters_(std::move(limiters)) {}
  Clock::Duration when(const std::string& item) override;
  void forget(const std::string& item) override;
  int retries(const std::string& item) const override;

 private:
  std::vector<std::unique_ptr<RateLimiter>> limiters_;
};

// The controller default: 5 ms doubling to 1000 s per item, and 10 retries/s (burst 100) overall.
std::unique_ptr<RateLimiter> make_default_controller_rate_limiter(Clock& clock);

}  // namespace kubefn::kube
