#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <unordered_map>

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

  // How many threads are blocked in wait_until for a time still to come: lets a test wait until
  // a worker has parked on the clock before advancing it. A thread whose deadline an advance()
  // has passed no longer counts, even before it has woken, so a test that waits for it again
  // after advancing knows the worker has handled that time and parked anew.
  std::size_t waiters() const;

 private:
  mutable std::mutex mutex_;
  TimePoint now_;
  WallTime wall_now_;
  std::unordered_multimap<std::condition_variable*, TimePoint> waiting_;  // cv -> deadline
};

}  // namespace kubefn::kube
