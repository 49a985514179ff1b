#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <unordered_set>

#include "kubefn/kube/clock.hpp"

namespace kubefn::kube {

// A clock that only moves when told to. Threads blocked in wait_until are woken by advance().
class FakeClock final : public Clock {
 public:
  FakeClock();

  TimePoint now() const override;
  WallTime wall_now() const override;
  void wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                  TimePoint deadline) override;

  void advance(Duration duration);

  // How many threads are currently blocked in wait_until; lets a test wait until a worker has
  // parked on the clock before advancing it.
  std::size_t waiters() const;

 private:
  mutable std::mutex mutex_;
  TimePoint now_;
  WallTime wall_now_;
  std::unordered_multiset<std::condition_variable*> waiting_;
};

}  // namespace kubefn::kube
