// The gateway's buffer budget: bytes of request and response buffers held across every thread.
#pragma once

#include <prometheus/gauge.h>

#include <atomic>
#include <cstddef>

namespace kubefn::gateway {

// The size a connection's buffer starts at (a client's read buffer, a replica connection's):
// what an idle keep-alive connection keeps between requests.
constexpr std::size_t kInitialBuffer = std::size_t{16} * 1024;

// Bounds what the gateway buffers (max_buffered_bytes): a connection takes from it before it
// grows a buffer and gives back what it frees, so a request that would go over is refused
// (503) instead of allocated. Thread-safe: one relaxed atomic, shared by every worker; the
// gauge (kubefn_gateway_buffered_bytes) mirrors it, and may be null (tests).
class BufferBudget {
 public:
  BufferBudget(std::size_t max_bytes, prometheus::Gauge* gauge) : max_(max_bytes), gauge_(gauge) {}

  // Takes `bytes` more; false (and nothing taken) when that would go over the maximum, unless
  // `force` (memory already held, or being freed soon).
  bool take(std::size_t bytes, bool force) {
    const std::size_t before = held_.fetch_add(bytes, std::memory_order_relaxed);
    if (!force && before + bytes > max_) {
      held_.fetch_sub(bytes, std::memory_order_relaxed);
      return false;
    }
    if (gauge_ != nullptr) gauge_->Increment(static_cast<double>(bytes));
    return true;
  }
  void give(std::size_t bytes) {
    held_.fetch_sub(bytes, std::memory_order_relaxed);
    if (gauge_ != nullptr) gauge_->Decrement(static_cast<double>(bytes));
  }

  std::size_t held() const { return held_.load(std::memory_order_relaxed); }
  // Spent: no new request is taken, whatever it would need.
  bool spent() const { return held() >= max_; }

 private:
  const std::size_t max_;
  prometheus::Gauge* const gauge_;
  std::atomic<std::size_t> held_{0};
};

}  // namespace kubefn::gateway
