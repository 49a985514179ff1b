// Streams the gateway's per-function load (Gateway::take_load) to the operator's autoscaler
// once a second, over the same kubefn.v1.Stats stream the runtimes use.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kubefn/gateway/gateway.hpp"
#include "kubefn/stats/stream.hpp"

namespace kubefn::gateway {

// One second of the gateway's load; functions with no call, in flight or queued are left out.
kubefn::v1::StatsSample gateway_sample(const std::string& gateway,
                                       std::int64_t second_start_unix_ms,
                                       const std::vector<FunctionLoad>& loads);

class GatewayStatsReporter {
 public:
  GatewayStatsReporter(Gateway& gateway, stats::StatsStreamOptions stream, std::string name,
                       std::chrono::milliseconds period = std::chrono::seconds(1));
  ~GatewayStatsReporter();  // stops
  void stop();
  // A call is waiting for ns/name (no replica, or none with room): report that at once rather
  // than at the end of the second, so the operator can start a replica without waiting for it.
  // Once per function per period; cheap, callable from any thread (the gateway's on_demand).
  void demand(const std::string& ns, const std::string& name);
  const stats::StatsStream& stream() const { return stream_; }

 private:
  void run();

  Gateway& gateway_;
  const std::string name_;
  const std::chrono::milliseconds period_;
  stats::StatsStream stream_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::set<std::pair<std::string, std::string>> demanded_;    // not yet sent early
  std::set<std::pair<std::string, std::string>> sent_early_;  // this period
  std::thread thread_;
};

}  // namespace kubefn::gateway
