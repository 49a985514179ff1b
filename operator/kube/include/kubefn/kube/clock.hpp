#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace kubefn::kube {

// The only source of time for the kube module, so that queues, backoff, resync and leader
// election can be driven by a fake clock in tests.
class Clock {
 public:
  using Duration = std::chrono::steady_clock::duration;
  using TimePoint = std::chrono::steady_clock::time_point;
  using WallTime = std::chrono::system_clock::time_point;

  virtual ~Clock() = default;

  // Monotonic time, for deadlines and intervals.
  virtual TimePoint now() const = 0;
  // Calendar time, for timestamps written to the API (lease renewTime).
  virtual WallTime wall_now() const = 0;

  // Blocks until `deadline` has passed or `cv` is notified; may return early, like
  // condition_variable::wait_until, so callers re-check their own condition in a loop.
  virtual void wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                          TimePoint deadline) = 0;

  // Blocks until `duration` has elapsed on this clock. Not interruptible: use wait_until with
  // a stop flag for waits that must end early on shutdown.
  void sleep_for(Duration duration);
};

class RealClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  WallTime wall_now() const override { return std::chrono::system_clock::now(); }
  void wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                  TimePoint deadline) override {
    cv.wait_until(lock, deadline);
  }
};

}  // namespace kubefn::kube
