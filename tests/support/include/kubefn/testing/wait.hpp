#pragma once

#include <chrono>
#include <thread>

namespace kubefn::testing {

// Polls `done` until it holds or `timeout` passes; true when it held. For waiting on a
// condition a real process brings about, never for letting time pass.
template <typename Pred>
bool wait_until(Pred done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll = std::chrono::milliseconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);
  }
}

}  // namespace kubefn::testing
