#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace kubefn::kube::testing {

// Polls `condition` until it holds or `timeout` of real time passes; the result says which.
// For things another thread does: tests never sleep a fixed time and hope.
inline bool wait_for(const std::function<bool()>& condition,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace kubefn::kube::testing
