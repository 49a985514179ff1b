// The runtime's load reporter (the plugin's content) against the operator's real stats server
// on 127.0.0.1: counters read on a moved clock arrive as per-second samples.
#include "stats_reporter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <vector>

#include "kubefn/autoscaler/stats_server.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::runtime {
namespace {

using namespace std::chrono_literals;
using kubefn::testing::wait_until;

class RecordingSink : public autoscaler::StatsSink {
 public:
  void on_replica(const autoscaler::ReplicaReport& r) override {
    std::lock_guard<std::mutex> lock(mu_);
    replicas_.push_back(r);
  }
  void on_gateway(const autoscaler::GatewayReport&) override {}
  std::vector<autoscaler::ReplicaReport> replicas() const {
    std::lock_guard<std::mutex> lock(mu_);
    return replicas_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<autoscaler::ReplicaReport> replicas_;
};

// Injected counters and wall clock the test moves.
struct Dials {
  std::atomic<std::uint64_t> requests{0};
  std::atomic<int> inflight{0};
  std::atomic<std::int64_t> unix_ms{1'700'000'000'000};
  std::atomic<int> reads{0};
  // Metering's: busy-union and CPU milliseconds so far, resident bytes now.
  std::atomic<int> busy_union_ms{0};
  std::atomic<int> cpu_ms{0};
  std::atomic<double> rss{0};
};

StatsReporterOptions options_for(Dials& d, std::uint16_t port) {
  StatsReporterOptions o;
  o.id = {"team", "resize", "resize-7f9c"};
  o.stream.address = "127.0.0.1:" + std::to_string(port);
  o.stream.min_backoff = 20ms;
  o.stream.max_backoff = 200ms;
  o.poll = 5ms;
  o.read = [&d] {
    ++d.reads;
    stats::StatsCounters c{d.requests.load(), static_cast<double>(d.inflight.load()), 0};
    c.busy_union_seconds = d.busy_union_ms.load() / 1000.0;
    c.cpu_seconds = d.cpu_ms.load() / 1000.0;
    c.rss_bytes = d.rss.load();
    return c;
  };
  o.unix_ms = [&d] { return d.unix_ms.load(); };
  return o;
}

TEST(StatsReporter, SamplesArriveAtTheServer) {
  RecordingSink sink;
  autoscaler::StatsServer server(sink, "127.0.0.1", 0);
  ASSERT_TRUE(server.start().ok());
  Dials d;
  StatsReporter reporter(options_for(d, server.port()));
  // Second 0: three calls, one in flight.
  ASSERT_TRUE(wait_until([&] { return d.reads > 0; }, 10s));
  d.inflight = 1;
  d.requests = 3;
  const int before = d.reads;
  ASSERT_TRUE(wait_until([&] { return d.reads > before + 1; }, 10s));  // a reading saw them
  d.unix_ms += 1000;  // the next reading closes second 0
  ASSERT_TRUE(wait_until([&] { return !sink.replicas().empty(); }, 10s));
  const auto first = sink.replicas().front();
  EXPECT_EQ(first.ns, "team");
  EXPECT_EQ(first.function, "resize");
  EXPECT_EQ(first.replica, "resize-7f9c");
  EXPECT_EQ(first.second_start_unix_ms, 1'700'000'000'000);
  EXPECT_EQ(first.requests, 3);
  EXPECT_EQ(first.inflight_peak, 1);
  EXPECT_GT(first.inflight_average, 0);
  EXPECT_LE(first.inflight_average, 1);
  d.requests = 10;
  d.unix_ms += 1000;
  ASSERT_TRUE(wait_until([&] { return sink.replicas().size() >= 2; }, 10s));
  EXPECT_EQ(sink.replicas()[1].requests, 7);
  EXPECT_EQ(sink.replicas()[1].inflight_peak, 1);
  EXPECT_EQ(server.streams(), 1u);
}

TEST(StatsReporter, MeteringFiguresArriveAtTheServer) {
  RecordingSink sink;
  autoscaler::StatsServer server(sink, "127.0.0.1", 0);
  ASSERT_TRUE(server.start().ok());
  Dials d;
  StatsReporter reporter(options_for(d, server.port()));
  ASSERT_TRUE(wait_until([&] { return d.reads > 0; }, 10s));
  d.busy_union_ms = 400;
  d.cpu_ms = 250;
  d.rss = 48e6;
  const int before = d.reads;
  ASSERT_TRUE(wait_until([&] { return d.reads > before + 1; }, 10s));
  d.unix_ms += 1000;
  ASSERT_TRUE(wait_until([&] { return !sink.replicas().empty(); }, 10s));
  const auto first = sink.replicas().front();
  EXPECT_DOUBLE_EQ(first.busy_union_seconds, 0.4);
  EXPECT_DOUBLE_EQ(first.cpu_seconds, 0.25);
  EXPECT_DOUBLE_EQ(first.rss_bytes, 48e6);
}

}  // namespace
}  // namespace kubefn::runtime
