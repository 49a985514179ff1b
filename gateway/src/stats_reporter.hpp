// Streams the gateway's per-function load (Gateway::take_load) to the operator's autoscaler
// once a second, over the same kubefn.v1.Stats stream the runtimes use.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kubefn/gateway/gateway.hpp"
#include "server/stats_reporter.hpp"  // the runtime's StatsStream

namespace kubefn::gateway {

// One second of the gateway's load; functions with no call, in flight or queued are left out.
kubefn::v1::StatsSample gateway_sample(const std::string& gateway,
                                       std::int64_t second_start_unix_ms,
                                       const std::vector<FunctionLoad>& loads);

class GatewayStatsReporter {
 public:
  GatewayStatsReporter(Gateway& gateway, runtime::StatsStreamOptions stream, std::string name,
                       std::chrono::milliseconds period = std::chrono::seconds(1));
  ~GatewayStatsReporter();  // stops
  void stop();
  const runtime::StatsStream& stream() const { return stream_; }

 private:
  void run();

  Gateway& gateway_;
  const std::string name_;
  const std::chrono::milliseconds period_;
  runtime::StatsStream stream_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace kubefn::gateway
