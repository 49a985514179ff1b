// The stream against the operator's real stats server on 127.0.0.1: a missing server is
// retried with backoff, a full queue drops rather than grows, and the gateway's samples arrive.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include "kubefn/autoscaler/stats_server.hpp"
#include "kubefn/stats/stream.hpp"
#include "kubefn/testing/wait.hpp"
#include "src/stats_reporter.hpp"  // the gateway's

namespace kubefn::stats {
namespace {

using namespace std::chrono_literals;
using kubefn::testing::wait_until;

class RecordingSink : public autoscaler::StatsSink {
 public:
  void on_replica(const autoscaler::ReplicaReport& r) override {
    std::lock_guard<std::mutex> lock(mu_);
    replicas_.push_back(r);
  }
  void on_gateway(const autoscaler::GatewayReport& g) override {
    std::lock_guard<std::mutex> lock(mu_);
    gateways_.push_back(g);
  }
  std::vector<autoscaler::ReplicaReport> replicas() const {
    std::lock_guard<std::mutex> lock(mu_);
    return replicas_;
  }
  std::vector<autoscaler::GatewayReport> gateways() const {
    std::lock_guard<std::mutex> lock(mu_);
    return gateways_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<autoscaler::ReplicaReport> replicas_;
  std::vector<autoscaler::GatewayReport> gateways_;
};

TEST(StatsStream, ReconnectsWhenTheServerComesBack) {
  RecordingSink sink;
  std::uint16_t port = 0;
  {
    autoscaler::StatsServer probe(sink, "127.0.0.1", 0);
    ASSERT_TRUE(probe.start().ok());
    port = probe.port();
  }
  StatsStreamOptions so;
  so.address = "127.0.0.1:" + std::to_string(port);
  so.min_backoff = 20ms;
  so.max_backoff = 100ms;
  StatsStream stream(so);
  kubefn::v1::StatsSample sample;
  sample.mutable_replica()->set_namespace_("team");
  sample.mutable_replica()->set_function("resize");
  sample.mutable_replica()->set_replica("r1");
  sample.mutable_replica()->set_requests(4);
  stream.offer(sample);
  // Nobody listens: the stream keeps the sample and retries.
  ASSERT_TRUE(wait_until([&] { return stream.failures() >= 2; }, 10s));
  EXPECT_EQ(stream.sent(), 0u);
  autoscaler::StatsServer server(sink, "127.0.0.1", port);
  ASSERT_TRUE(server.start().ok()) << "port " << port << " was taken in between";
  ASSERT_TRUE(wait_until([&] { return !sink.replicas().empty(); }, 20s));
  EXPECT_EQ(sink.replicas().front().requests, 4);
  EXPECT_GE(stream.connects(), 1u);
}

TEST(StatsStream, DropsTheOldestWhenNobodyListens) {
  // A port nothing listens on: bound, never listened to, kept for the test.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  StatsStreamOptions so;
  so.address = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  so.max_pending = 3;
  so.min_backoff = 50ms;
  StatsStream stream(so);
  for (int i = 0; i < 20; ++i) {
    kubefn::v1::StatsSample s;
    s.mutable_replica()->set_requests(static_cast<std::uint64_t>(i));
    stream.offer(s);
  }
  // At most max_pending queued plus one being tried: the rest were dropped, not kept.
  EXPECT_GE(stream.dropped(), 16u);
  EXPECT_EQ(stream.sent(), 0u);
  stream.stop();
  ::close(fd);
}

TEST(GatewayStatsReporter, AWaitingCallIsReportedAtOnceAndOncePerPeriod) {
  RecordingSink sink;
  autoscaler::StatsServer server(sink, "127.0.0.1", 0);
  ASSERT_TRUE(server.start().ok());
  gateway::RouteTable routes;
  gateway::KeyRing keys;
  gateway::Gateway gw(routes, keys, gateway::GatewayOptions{});
  StatsStreamOptions so;
  so.address = "127.0.0.1:" + std::to_string(server.port());
  // A period far longer than the test: anything that arrives was sent early.
  gateway::GatewayStatsReporter reporter(gw, so, "gw-0", std::chrono::hours(1));
  reporter.demand("team", "resize");
  reporter.demand("team", "resize");  // the same function again: no second report
  ASSERT_TRUE(wait_until([&] { return !sink.gateways().empty(); }, 10s));
  const auto first = sink.gateways().front();
  EXPECT_EQ(first.gateway, "gw-0");
  EXPECT_EQ(first.ns, "team");
  EXPECT_EQ(first.function, "resize");
  EXPECT_EQ(first.queued, 1);
  reporter.demand("team", "other");
  ASSERT_TRUE(wait_until([&] { return sink.gateways().size() >= 2; }, 10s));
  reporter.stop();
  const auto all = sink.gateways();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].function, "other");
}

}  // namespace
}  // namespace kubefn::stats
