#include "kubefn/delivery/in_flight_gate.hpp"

namespace kubefn::delivery {

bool InFlightGate::acquire(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  const bool got = cv_.wait_for(lock, timeout, [&] { return closed_ || in_flight_ < capacity_; });
  if (!got || closed_) return false;
  ++in_flight_;
  return true;
}

void InFlightGate::release() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (in_flight_ > 0) --in_flight_;
  }
  cv_.notify_one();
}

void InFlightGate::resize(int capacity) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    capacity_ = capacity < 1 ? 1 : capacity;
  }
  cv_.notify_all();
}

void InFlightGate::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

int InFlightGate::in_flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_;
}

int InFlightGate::capacity() const {
  std::lock_guard<std::mutex> lock(mu_);
  return capacity_;
}

}  // namespace kubefn::delivery
