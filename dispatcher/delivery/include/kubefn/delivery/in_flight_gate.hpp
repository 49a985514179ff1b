// The most calls a function may have in flight from its triggers (its concurrency times its
// maximum replicas): a source takes a slot before it sends and gives it back with the answer,
// so a queue's backlog waits in the broker, not in the gateway.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace kubefn::delivery {

class InFlightGate {
 public:
  explicit InFlightGate(int capacity) : capacity_(capacity < 1 ? 1 : capacity) {}

  // Waits up to `timeout` for a slot; false if none came (or the gate was closed).
  bool acquire(std::chrono::milliseconds timeout);
  void release();
  // A new capacity applies to the next acquire (calls in flight are not cut off).
  void resize(int capacity);
  // Wakes every waiter with false, for shutdown.
  void close();

  int in_flight() const;
  int capacity() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int capacity_;
  int in_flight_ = 0;
  bool closed_ = false;
};

}  // namespace kubefn::delivery
