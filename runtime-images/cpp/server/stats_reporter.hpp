// The runtime's load reporter, the plugin's whole content (stats_plugin_abi.h): a thread reads
// the runtime's counters a few times a second, turns the readings into per-second samples
// (kubefn::stats::StatsSampler) and streams them to the operator (kubefn::stats::StatsStream).
// Nothing here runs on the request path.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "kubefn/stats/sampler.hpp"
#include "kubefn/stats/stream.hpp"

namespace kubefn::runtime {

struct StatsReporterOptions {
  stats::StatsIdentity id;
  stats::StatsStreamOptions stream;
  // How often the counters are read: the in-flight average and peak come from these readings.
  std::chrono::milliseconds poll{100};
  // Test seams: the counters and the wall clock (unix ms).
  std::function<stats::StatsCounters()> read;
  std::function<std::int64_t()> unix_ms;
};

class StatsReporter {
 public:
  explicit StatsReporter(StatsReporterOptions options);
  ~StatsReporter();  // stops
  void stop();
  const stats::StatsStream& stream() const { return stream_; }

 private:
  void run();

  StatsReporterOptions options_;
  stats::StatsSampler sampler_;
  stats::StatsStream stream_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace kubefn::runtime
