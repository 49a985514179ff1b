#include "kubefn/gateway/limiter.hpp"

#include <vector>

namespace kubefn::gateway {

ConcurrencyLimiter::Admit ConcurrencyLimiter::acquire(int limit, std::size_t queue_limit,
                                                      Grant on_grant, std::uint64_t* ticket) {
  std::lock_guard<std::mutex> lock(mu_);
  // FIFO: nobody overtakes a waiter, even when a slot is free at this instant.
  if (limit <= 0 || (inflight_ < limit && queue_.empty())) {
    ++inflight_;
    return Admit::kGranted;
  }
  if (queue_.size() >= queue_limit) return Admit::kRejected;
  const std::uint64_t t = next_ticket_++;
  queue_.push_back(Waiter{t, std::move(on_grant)});
  if (ticket != nullptr) *ticket = t;
  return Admit::kQueued;
}

void ConcurrencyLimiter::collect(int limit, std::vector<Grant>& out) {
  while (!queue_.empty() && (limit <= 0 || inflight_ < limit)) {
    ++inflight_;
    out.push_back(std::move(queue_.front().grant));
    queue_.pop_front();
  }
}

void ConcurrencyLimiter::release(int limit) {
  std::vector<Grant> grants;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (inflight_ > 0) --inflight_;
    collect(limit, grants);
  }
  for (auto& g : grants)
    g();
}

void ConcurrencyLimiter::pump(int limit) {
  std::vector<Grant> grants;
  {
    std::lock_guard<std::mutex> lock(mu_);
    collect(limit, grants);
  }
  for (auto& g : grants)
    g();
}

bool ConcurrencyLimiter::cancel(std::uint64_t ticket) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (it->ticket == ticket) {
      queue_.erase(it);
      return true;
    }
  }
  return false;
}

int ConcurrencyLimiter::inflight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return inflight_;
}

std::size_t ConcurrencyLimiter::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

}  // namespace kubefn::gateway
