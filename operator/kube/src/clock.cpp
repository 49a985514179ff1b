#include "kubefn/kube/clock.hpp"

#include "kubefn/kube/fake_clock.hpp"

namespace kubefn::kube {

void Clock::sleep_for(Duration duration) {
  std::mutex mutex;
  std::condition_variable cv;
  std::unique_lock lock(mutex);
  const TimePoint deadline = now() + duration;
  while (now() < deadline)
    wait_until(lock, cv, deadline);
}

FakeClock::FakeClock()
    : now_(TimePoint() + std::chrono::hours(1)),
      wall_now_(WallTime() + std::chrono::hours(24 * 365 * 56)) {}

Clock::TimePoint FakeClock::now() const {
  std::lock_guard guard(mutex_);
  return now_;
}

Clock::WallTime FakeClock::wall_now() const {
  std::lock_guard guard(mutex_);
  return wall_now_;
}

void FakeClock::wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                           TimePoint deadline) {
  {
    std::lock_guard guard(mutex_);
    if (now_ >= deadline) return;
    waiting_.emplace(&cv, deadline);
  }
  // advance() notifies registered waiters. The bounded real-time wait closes the window between
  // registering and blocking, where a notification could otherwise be missed.
  cv.wait_for(lock, std::chrono::milliseconds(2));
  std::lock_guard guard(mutex_);
  for (auto [it, end] = waiting_.equal_range(&cv); it != end; ++it) {
    if (it->second == deadline) {
      waiting_.erase(it);
      break;
    }
  }
}

void FakeClock::advance(Duration duration) {
  std::lock_guard guard(mutex_);
  now_ += duration;
  wall_now_ += std::chrono::duration_cast<WallTime::duration>(duration);
  for (auto& [cv, deadline] : waiting_)
    cv->notify_all();
}

std::size_t FakeClock::waiters() const {
  std::lock_guard guard(mutex_);
  std::size_t n = 0;
  for (const auto& [cv, deadline] : waiting_)
    n += deadline > now_ ? 1 : 0;
  return n;
}

}  // namespace kubefn::kube
