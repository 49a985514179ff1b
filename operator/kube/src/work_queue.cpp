#include "kubefn/kube/work_queue.hpp"

namespace kubefn::kube {

WorkQueue::WorkQueue(Clock& clock, std::unique_ptr<RateLimiter> rate_limiter)
    : clock_(clock), rate_limiter_(std::move(rate_limiter)) {}

WorkQueue::~WorkQueue() {
  shut_down();
}

void WorkQueue::add(const std::string& key) {
  {
    std::lock_guard guard(mutex_);
    add_locked(key);
  }
  changed_.notify_one();
}

void WorkQueue::add_locked(const std::string& key) {
  if (shutting_down_) return;
  if (!dirty_.insert(key).second) return;
  if (processing_.count(key) != 0) return;  // queued again by done()
  queue_.push_back(key);
}

void WorkQueue::add_after(const std::string& key, Clock::Duration delay) {
  if (delay <= Clock::Duration::zero()) {
    add(key);
    return;
  }
  {
    std::lock_guard guard(mutex_);
    if (shutting_down_) return;
    const auto deadline = clock_.now() + delay;
    if (auto found = waiting_by_key_.find(key); found != waiting_by_key_.end()) {
      if (found->second->first <= deadline) return;
      waiting_.erase(found->second);
      waiting_by_key_.erase(found);
    }
    waiting_by_key_.emplace(key, waiting_.emplace(deadline, key));
  }
  // Every blocked get() recomputes how long to sleep.
  changed_.notify_all();
}

void WorkQueue::add_rate_limited(const std::string& key) {
  add_after(key, rate_limiter_->when(key));
}

void WorkQueue::forget(const std::string& key) {
  rate_limiter_->forget(key);
}

int WorkQueue::num_requeues(const std::string& key) const {
  return rate_limiter_->retries(key);
}

void WorkQueue::promote_due_locked() {
  const auto now = clock_.now();
  while (!waiting_.empty() && waiting_.begin()->first <= now) {
    const std::string key = waiting_.begin()->second;
    waiting_by_key_.erase(key);
    waiting_.erase(waiting_.begin());
    add_locked(key);
  }
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(mutex_);
  while (true) {
    if (shutting_down_) return std::nullopt;
    promote_due_locked();
    if (!queue_.empty()) {
      std::string key = std::move(queue_.front());
      queue_.pop_front();
      dirty_.erase(key);
      processing_.insert(key);
      return key;
    }
    if (waiting_.empty()) {
      changed_.wait(lock);
    } else {
      clock_.wait_until(lock, changed_, waiting_.begin()->first);
    }
  }
}

void WorkQueue::done(const std::string& key) {
  {
    std::lock_guard guard(mutex_);
    processing_.erase(key);
    if (dirty_.count(key) == 0 || shutting_down_) return;
    queue_.push_back(key);
  }
  changed_.notify_one();
}

void WorkQueue::shut_down() {
  {
    std::lock_guard guard(mutex_);
    shutting_down_ = true;
  }
  changed_.notify_all();
}

bool WorkQueue::shutting_down() const {
  std::lock_guard guard(mutex_);
  return shutting_down_;
}

std::size_t WorkQueue::ready() const {
  std::lock_guard guard(mutex_);
  const auto now = clock_.now();
  std::size_t due = 0;
  for (const auto& [deadline, key] : waiting_) {
    if (deadline > now) break;
    if (dirty_.count(key) == 0) ++due;
  }
  return queue_.size() + due;
}

std::size_t WorkQueue::delayed() const {
  std::lock_guard guard(mutex_);
  return waiting_.size();
}

}  // namespace kubefn::kube
