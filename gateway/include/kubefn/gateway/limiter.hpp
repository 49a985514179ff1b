// Per-function concurrency limit with a bounded FIFO queue of waiters.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

namespace kubefn::gateway {

// Counts calls in flight for one function against a limit that may change between calls
// (concurrency x ready replicas). A call that finds the limit reached waits in a FIFO queue
// of at most `queue_limit` entries; release() hands the freed slot to the oldest waiter.
// Grant callbacks run on the releasing thread after the lock is dropped: they should only
// post work elsewhere.
class ConcurrencyLimiter {
 public:
  enum class Admit { kGranted, kQueued, kRejected };
  using Grant = std::function<void()>;

  // limit <= 0: unlimited. On kQueued, *ticket identifies the waiter for cancel().
  Admit acquire(int limit, std::size_t queue_limit, Grant on_grant, std::uint64_t* ticket);
  // Frees one slot held by a granted call; may grant waiters up to `limit`.
  void release(int limit);
  // Grants waiters while there is room under `limit` (call when the limit grew).
  void pump(int limit);
  // Removes a waiter (its queue time ran out); false when it was already granted.
  bool cancel(std::uint64_t ticket);

  int inflight() const;
  std::size_t queued() const;

 private:
  struct Waiter {
    std::uint64_t ticket;
    Grant grant;
  };
  // Pops the waiters that fit under `limit`; called with mu_ held.
  void collect(int limit, std::vector<Grant>& out);

  mutable std::mutex mu_;
  int inflight_ = 0;
  std::deque<Waiter> queue_;
  std::uint64_t next_ticket_ = 1;
};

}  // namespace kubefn::gateway
