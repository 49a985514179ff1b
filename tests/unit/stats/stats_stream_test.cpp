// The stream against the operator's real stats server on 127.0.0.1: a missing server is
// retried with backoff, a full queue drops rather than grows, the gateway's samples arrive, and
// a dispatcher's backlogs reach the cluster autoscaler and scale a function from zero.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include "kubefn/api/function.hpp"
#include "kubefn/autoscaler/cluster_autoscaler.hpp"
#include "kubefn/autoscaler/stats_server.hpp"
#include "kubefn/kube/fake_clock.hpp"
#include "kubefn/stats/stream.hpp"
#include "kubefn/testing/fakes/fake_kube_client.hpp"
#include "kubefn/testing/fakes/recording_events.hpp"
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
  void on_dispatcher(const autoscaler::DispatcherReport& d) override {
    std::lock_guard<std::mutex> lock(mu_);
    dispatchers_.push_back(d);
  }
  std::vector<autoscaler::DispatcherReport> dispatchers() const {
    std::lock_guard<std::mutex> lock(mu_);
    return dispatchers_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<autoscaler::ReplicaReport> replicas_;
  std::vector<autoscaler::GatewayReport> gateways_;
  std::vector<autoscaler::DispatcherReport> dispatchers_;
};

// A DispatcherStats sample: `dispatcher`'s triggers (function, trigger, pending) in team.
kubefn::v1::StatsSample dispatcher_sample(
    const std::string& dispatcher, std::int64_t unix_ms,
    const std::vector<std::tuple<std::string, std::string, double>>& triggers) {
  kubefn::v1::StatsSample sample;
  auto* d = sample.mutable_dispatcher();
  d->set_dispatcher(dispatcher);
  d->set_second_start_unix_ms(unix_ms);
  for (const auto& [function, trigger, pending] : triggers) {
    auto* t = d->add_triggers();
    t->set_namespace_("team");
    t->set_function(function);
    t->set_trigger(trigger);
    t->set_pending(pending);
  }
  return sample;
}

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

TEST(StatsStream, ADispatchersBacklogsReachTheSink) {
  RecordingSink sink;
  autoscaler::StatsServer server(sink, "127.0.0.1", 0);
  ASSERT_TRUE(server.start().ok());
  StatsStreamOptions so;
  so.address = "127.0.0.1:" + std::to_string(server.port());
  StatsStream stream(so);
  // A trigger without a name says nothing: left out.
  stream.offer(
      dispatcher_sample("dispatcher-0", 1234000,
                        {{"orders", "created", 42}, {"orders", "paid", 0}, {"orders", "", 7}}));
  ASSERT_TRUE(wait_until([&] { return !sink.dispatchers().empty(); }, 10s));
  const auto got = sink.dispatchers().front();
  EXPECT_EQ(got.dispatcher, "dispatcher-0");
  EXPECT_EQ(got.second_start_unix_ms, 1234000);
  ASSERT_EQ(got.triggers.size(), 2u);
  EXPECT_EQ(got.triggers[0].ns, "team");
  EXPECT_EQ(got.triggers[0].function, "orders");
  EXPECT_EQ(got.triggers[0].trigger, "created");
  EXPECT_DOUBLE_EQ(got.triggers[0].pending, 42);
  EXPECT_EQ(got.triggers[1].trigger, "paid");
  EXPECT_DOUBLE_EQ(got.triggers[1].pending, 0);
  // A dispatcher with no queue trigger still reports (what it ran before is gone).
  stream.offer(dispatcher_sample("dispatcher-0", 1235000, {}));
  ASSERT_TRUE(wait_until([&] { return sink.dispatchers().size() >= 2; }, 10s));
  EXPECT_TRUE(sink.dispatchers()[1].triggers.empty());
}

TEST(StatsStream, ADispatchersBacklogScalesAFunctionFromZeroThroughTheClusterAutoscaler) {
  using nlohmann::json;
  testing::FakeKubeClient api;
  kube::FakeClock clock;
  testing::RecordingEvents events;
  prometheus::Registry registry;
  api.put_object(api::functions(),
                 {{"apiVersion", "kubefn.dev/v1alpha1"},
                  {"kind", "Function"},
                  {"metadata", {{"name", "orders"}, {"namespace", "team"}, {"uid", "u-orders"}}},
                  {"spec",
                   {{"handler", "fn.run"},
                    {"image", "r/orders:1"},
                    {"scaling", {{"minReplicas", 0}, {"maxReplicas", 5}, {"target", 2}}}}}});
  api.put_object(kube::resources::deployments(),
                 {{"apiVersion", "apps/v1"},
                  {"kind", "Deployment"},
                  {"metadata",
                   {{"name", "orders"},
                    {"namespace", "team"},
                    {"labels", {{"kubefn.dev/function", "orders"}}}}},
                  {"spec", {{"replicas", 0}}}});
  autoscaler::ClusterAutoscaler scaler(api, clock, events, registry);
  scaler.watch();
  ASSERT_TRUE(scaler.wait_for_sync(10s));
  ASSERT_TRUE(wait_until([&] { return api.settled(3); }, 10s));  // Functions, Deployments, Pods
  scaler.tick();
  ASSERT_EQ(scaler.current_replicas("team", "orders"), 0);

  autoscaler::StatsServer server(scaler, "127.0.0.1", 0);
  ASSERT_TRUE(server.start().ok());
  StatsStreamOptions so;
  so.address = "127.0.0.1:" + std::to_string(server.port());
  StatsStream stream(so);
  const std::int64_t unix_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock.wall_now().time_since_epoch())
          .count();
  // Two dispatcher replicas share the consumer: the same backlog twice is 5, not 10.
  stream.offer(dispatcher_sample("dispatcher-0", unix_ms, {{"orders", "created", 5}}));
  stream.offer(dispatcher_sample("dispatcher-1", unix_ms, {{"orders", "created", 5}}));
  ASSERT_TRUE(wait_until([&] { return server.samples() >= 2; }, 10s));
  scaler.poke_queued();  // what the autoscaler's loop does when a function at zero has events
  const auto scale = api.peek({kube::resources::deployments(), "team", "orders"});
  ASSERT_TRUE(scale);
  EXPECT_EQ(scale->at("spec").value("replicas", -1), 3);  // ceil(5 / 2)
  ASSERT_TRUE(events.has("ScaledFromZero"));
  EXPECT_NE(events.events().back().message.find("backlog 5 pending in queue triggers: 3 replicas"),
            std::string::npos)
      << events.events().back().message;
  const auto d = scaler.last_decision("team", "orders");
  ASSERT_TRUE(d);
  EXPECT_DOUBLE_EQ(d->backlog, 5);
}

}  // namespace
}  // namespace kubefn::stats
