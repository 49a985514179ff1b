#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "kubefn/kube/clock.hpp"
#include "kubefn/kube/rate_limiter.hpp"

namespace kubefn::kube {

// A queue of keys to reconcile, with the guarantees controllers rely on:
// - a key waiting in the queue is held once however often it is added;
// - a key is handed to one worker at a time; added again while it is being processed, it is
//   queued again when that worker calls done();
// - delayed and rate-limited adds (per-key backoff and an overall token bucket);
// - shut_down() wakes every blocked get(), which then returns nullopt.
class WorkQueue {
 public:
  WorkQueue(Clock& clock, std::unique_ptr<RateLimiter> rate_limiter);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void add(const std::string& key);
  // Adds `key` once `delay` has passed on the clock; an earlier pending deadline wins.
  void add_after(const std::string& key, Clock::Duration delay);
  // Adds `key` after the delay its rate limiter decides.
  void add_rate_limited(const std::string& key);
  // The key was reconciled: clear its backoff history.
  void forget(const std::string& key);
  int num_requeues(const std::string& key) const;

  // Blocks until a key is ready; nullopt once shut down.
  std::optional<std::string> get();
  // The worker is finished with `key`.
  void done(const std::string& key);

  void shut_down();
  bool shutting_down() const;

  std::size_t ready() const;    // keys that get() would return now
  std::size_t delayed() const;  // keys waiting for their time

 private:
  void add_locked(const std::string& key);
  void promote_due_locked();

  Clock& clock_;
  std::unique_ptr<RateLimiter> rate_limiter_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::string> queue_;
  std::unordered_set<std::string> dirty_;
  std::unordered_set<std::string> processing_;
  std::multimap<Clock::TimePoint, std::string> waiting_;
  std::unordered_map<std::string, std::multimap<Clock::TimePoint, std::string>::iterator>
      waiting_by_key_;
  bool shutting_down_ = false;
};

}  // namespace kubefn::kube
