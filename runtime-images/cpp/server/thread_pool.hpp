// The threads that serve the runtime's io_context, each running handlers inline (server.hpp).
// min_threads start with the server; when every live thread has been inside a handler for
// more than a couple of milliseconds the pool doubles, up to max_threads plus one, so the
// last thread always serves I/O. A thread idle for a while retires, down to min_threads and
// never while it would leave no thread for I/O beside the handlers running.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

namespace kubefn::runtime {

class ThreadPool {
 public:
  // `in_handlers`: the handler slots taken now (the server's).
  ThreadPool(boost::asio::io_context& io, unsigned min_threads, unsigned max_threads,
             const std::atomic<unsigned>& in_handlers)
      : io_(io), min_threads_(min_threads), max_threads_(max_threads), in_handlers_(in_handlers) {}

  // Starts min_threads threads; every thread keeps `owner` alive while it runs.
  void start(const std::shared_ptr<void>& owner);
  // One tick of the server's monitor (`now` in steady-clock ns): joins the threads that
  // retired, and adds threads when every live one is busy in a handler.
  void manage(std::int64_t now);
  // Once the io_context stopped: joins every thread; when `forced`, leaves those still inside
  // a handler running (detached): the process is about to exit.
  void join(bool forced);

  // The calling thread entered a handler at `since` (steady-clock ns), or left it (0). Nothing
  // on a thread that is not the pool's.
  static void mark_handler(std::int64_t since) {
    if (tl_slot_ != nullptr) tl_slot_->handler_since.store(since, std::memory_order_relaxed);
  }

 private:
  // Per pool thread: when it entered the handler (0 when not in one).
  struct Slot {
    std::atomic<std::int64_t> handler_since{0};
    std::atomic<bool> alive{true};
    std::thread thread;
  };

  void spawn(std::shared_ptr<void> owner);  // with mu_ held
  void thread_main(Slot* slot);
  bool try_retire();

  static inline thread_local Slot* tl_slot_ = nullptr;

  boost::asio::io_context& io_;
  const unsigned min_threads_;
  const unsigned max_threads_;
  const std::atomic<unsigned>& in_handlers_;
  std::weak_ptr<void> owner_;
  std::mutex mu_;
  std::list<std::unique_ptr<Slot>> slots_;
  unsigned alive_ = 0;
};

}  // namespace kubefn::runtime
