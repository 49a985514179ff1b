#include "thread_pool.hpp"

#include <algorithm>
#include <chrono>

namespace kubefn::runtime {
namespace {

constexpr std::int64_t kBusyThresholdNs = 2 * 1000000;  // a handler this long is "blocking"
constexpr auto kIdleExit = std::chrono::seconds(10);

}  // namespace

void ThreadPool::start(const std::shared_ptr<void>& owner) {
  std::lock_guard<std::mutex> lock(mu_);
  owner_ = owner;
  for (unsigned i = 0; i < min_threads_; ++i)
    spawn(owner);
}

void ThreadPool::spawn(std::shared_ptr<void> owner) {
  auto slot = std::make_unique<Slot>();
  Slot* raw = slot.get();
  ++alive_;
  slots_.push_back(std::move(slot));
  raw->thread = std::thread([this, owner = std::move(owner), raw] { thread_main(raw); });
}

bool ThreadPool::try_retire() {
  std::lock_guard<std::mutex> lock(mu_);
  if (alive_ <= min_threads_) return false;
  // Never the thread that leaves I/O a thread while handlers hold the others.
  if (alive_ - 1 <= in_handlers_.load()) return false;
  --alive_;
  return true;
}

void ThreadPool::thread_main(Slot* slot) {
  tl_slot_ = slot;
  while (!io_.stopped()) {
    std::size_t ran = io_.run_for(kIdleExit);
    if (io_.stopped()) break;
    if (ran == 0 && try_retire()) break;
  }
  slot->alive.store(false);
}

void ThreadPool::manage(std::int64_t now) {
  std::lock_guard<std::mutex> lock(mu_);
  unsigned live = 0;
  unsigned busy = 0;
  for (auto it = slots_.begin(); it != slots_.end();) {
    Slot& w = **it;
    if (!w.alive.load()) {
      if (w.thread.joinable()) w.thread.join();
      it = slots_.erase(it);
      continue;
    }
    ++live;
    std::int64_t since = w.handler_since.load(std::memory_order_relaxed);
    if (since != 0 && now - since > kBusyThresholdNs) ++busy;
    ++it;
  }
  // One thread more than handler slots: with every slot taken, one still serves I/O.
  const unsigned cap = max_threads_ + 1;
  if (live > 0 && busy >= live && alive_ < cap) {
    auto owner = owner_.lock();
    unsigned add = std::min(alive_, cap - alive_);
    for (unsigned i = 0; i < add; ++i)
      spawn(owner);
  }
}

void ThreadPool::join(bool forced) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& w : slots_) {
    if (forced && w->handler_since.load() != 0) {
      w->thread.detach();  // stuck in a handler past the drain timeout; the process exits
    } else if (w->thread.joinable()) {
      w->thread.join();
    }
  }
}

}  // namespace kubefn::runtime
