// The client end of the kubefn.v1.Stats stream to the operator's autoscaler.
//
// StatsStream owns one background thread that keeps a Report stream open, reconnecting with
// backoff, and sends what it is offered; offering never blocks, and samples are dropped
// (oldest first) rather than queued without bound. Nothing here runs on a request path.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "kubefn/v1/stats.pb.h"

namespace grpc {
class ClientContext;
}

namespace kubefn::stats {

struct StatsStreamOptions {
  std::string address;  // host:port
  std::size_t max_pending = 30;
  std::chrono::milliseconds min_backoff{200};
  std::chrono::milliseconds max_backoff{10000};
  // Called from the stream's thread on connection changes (e.g. to log); may be empty.
  std::function<void(const std::string& message)> log;
};

class StatsStream {
 public:
  explicit StatsStream(StatsStreamOptions options);
  ~StatsStream();  // stops
  StatsStream(const StatsStream&) = delete;
  StatsStream& operator=(const StatsStream&) = delete;

  // Queues a sample for sending; never blocks. Drops the oldest queued sample when full.
  void offer(kubefn::v1::StatsSample sample);
  void stop();

  std::uint64_t sent() const { return sent_; }
  std::uint64_t dropped() const { return dropped_; }
  std::uint64_t connects() const { return connects_; }
  std::uint64_t failures() const { return failures_; }  // streams that failed or never opened

 private:
  void run();

  const StatsStreamOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<kubefn::v1::StatsSample> pending_;
  bool stop_ = false;
  grpc::ClientContext* active_ = nullptr;  // guarded by mu_, cancelled by stop()
  std::atomic<std::uint64_t> sent_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> connects_{0};
  std::atomic<std::uint64_t> failures_{0};
  std::thread thread_;
};

}  // namespace kubefn::stats
