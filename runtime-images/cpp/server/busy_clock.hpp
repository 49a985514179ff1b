// The replica's busy clock: how long it has had at least one call in flight (the union of the
// calls' intervals, not their sum), what metering splits a replica's ready time into busy and
// idle by. Moved exactly where the in-flight count moves (RuntimeMetrics::inflight_add); a call
// that begins or ends while others run touches one relaxed atomic only, and only the 0 <-> 1
// transitions take a small lock and read the clock (the gateway's EndpointLoad does the same).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>

namespace kubefn::runtime {

class BusyClock {
 public:
  // Nanoseconds on a monotonic clock (a seam for tests).
  using NowNs = std::int64_t (*)();
  static std::int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  explicit BusyClock(NowNs now = &steady_ns) : now_(now) {}
  BusyClock(const BusyClock&) = delete;
  BusyClock& operator=(const BusyClock&) = delete;

  // `delta` calls began (> 0) or ended (< 0).
  void add(int delta) {
    const int before = inflight_.fetch_add(delta, std::memory_order_relaxed);
    if ((before > 0) != (before + delta > 0)) mark();
  }
  int inflight() const { return inflight_.load(std::memory_order_relaxed); }

  // Seconds with at least one call in flight so far, the running stretch included.
  double seconds() const {
    std::lock_guard lock(mu_);
    std::int64_t total = total_ns_;
    if (busy_) total += std::max<std::int64_t>(0, now_() - since_ns_);
    return static_cast<double>(total) / 1e9;
  }

 private:
  // Under the lock the count is read again, so two transitions racing (the last call ending as
  // a new one begins) leave the state the count says, whichever order they take the lock in.
  void mark() {
    std::lock_guard lock(mu_);
    const bool busy = inflight_.load(std::memory_order_relaxed) > 0;
    if (busy == busy_) return;
    const std::int64_t now = now_();
    if (busy) {
      since_ns_ = now;
    } else {
      total_ns_ += std::max<std::int64_t>(0, now - since_ns_);
    }
    busy_ = busy;
  }

  const NowNs now_;
  std::atomic<int> inflight_{0};
  mutable std::mutex mu_;
  bool busy_ = false;
  std::int64_t since_ns_ = 0;
  std::int64_t total_ns_ = 0;
};

}  // namespace kubefn::runtime
