// Per-second load samples streamed to the operator's autoscaler over gRPC (kubefn.v1.Stats).
//
// StatsSampler turns readings of the runtime's counters into one sample per wall-clock second;
// it is pure (times are passed in). StatsStream owns one background thread that keeps a
// Report stream open, reconnecting with backoff, and sends what it is offered; offering never
// blocks, and samples are dropped (oldest first) rather than queued without bound.
// StatsReporter ties both to the runtime's metrics: a second thread reads them a few times a
// second. Nothing here runs on the request path.
#pragma once

#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "kubefn/v1/stats.pb.h"
#include "stats_reporter.h"

namespace grpc {
class ClientContext;
}

namespace kubefn::runtime {

using StatsCounters = kubefn_stats_counters;

struct StatsIdentity {
  std::string ns;
  std::string function;
  std::string replica;
};

class StatsSampler {
 public:
  explicit StatsSampler(StatsIdentity id) : id_(std::move(id)) {}

  // One reading at `unix_ms`. When it falls in a later second than the readings before it,
  // the sample of the second being filled is returned (counter deltas up to this reading,
  // in-flight average and peak over that second's readings) and a new second starts here.
  // Seconds without any reading produce no sample. The first sample counts from zero (the
  // counters started with the process). A counter that goes backwards restarts the baseline.
  std::optional<kubefn::v1::ReplicaStats> observe(std::int64_t unix_ms,
                                                  const StatsCounters& counters);

 private:
  StatsIdentity id_;
  bool started_ = false;
  std::int64_t second_ = 0;      // unix seconds being filled
  StatsCounters base_{0, 0, 0};  // counters at the start of the second being filled
  StatsCounters last_{0, 0, 0};  // the previous reading (a smaller one means a restart)
  double inflight_sum_ = 0;
  double inflight_peak_ = 0;
  int readings_ = 0;
};

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

struct StatsReporterOptions {
  StatsIdentity id;
  StatsStreamOptions stream;
  // How often the counters are read: the in-flight average and peak come from these readings.
  std::chrono::milliseconds poll{100};
  // Test seams: the counters and the wall clock (unix ms).
  std::function<StatsCounters()> read;
  std::function<std::int64_t()> unix_ms;
};

class StatsReporter {
 public:
  explicit StatsReporter(StatsReporterOptions options);
  ~StatsReporter();  // stops
  void stop();
  const StatsStream& stream() const { return stream_; }

 private:
  void run();

  StatsReporterOptions options_;
  StatsSampler sampler_;
  StatsStream stream_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

std::int64_t unix_ms_now();

}  // namespace kubefn::runtime
