// `kubefn up`'s replica metering: the split of a replica's time from the supervisor's events
// and the gateway's busy clock, max(request, usage), the history a restart reads back, prices
// from a file and flags, and the JSON the console and `kubefn cost` read.
#include "local_meter.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::platform::local::detail {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr int kNoSuchPid = 999'999'999;  // /proc has nothing: usage comes from the events

ReplicaEvent event(ReplicaEvent::Kind kind, Clock::time_point at, const std::string& replica = "r1",
                   int run = 1) {
  ReplicaEvent e;
  e.kind = kind;
  e.key = {"default", "hello"};
  e.replica = replica;
  e.run = run;
  e.at = at;
  e.pid = kNoSuchPid;
  return e;
}

class LocalMeterTest : public ::testing::Test {
 protected:
  LocalMeterOptions options() {
    LocalMeterOptions o;
    o.dir = dir_.path() / "metering";
    return o;
  }
  metering::Totals hello(const metering::Meter& m) {
    for (const auto& t : m.totals()) {
      if (t.name == "hello") return t;
    }
    ADD_FAILURE() << "hello was not metered";
    return {};
  }
  testing::TempDir dir_;
  gateway::RouteTable routes_;
};

TEST_F(LocalMeterTest, ARunsTimeIsItsLifetimeSplitAtReadyExactly) {
  metering::Meter meter;
  LocalMeter m(meter, routes_, options());
  const auto t0 = Clock::now() - seconds(10);
  m.on_event(event(ReplicaEvent::Kind::kSpawned, t0));
  m.on_event(event(ReplicaEvent::Kind::kReady, t0 + milliseconds(1250)));
  auto exited = event(ReplicaEvent::Kind::kExited, t0 + milliseconds(4000));
  exited.cpu_seconds = 0.5;
  m.on_event(exited);
  // A second replica still running: accounted up to the tick.
  m.on_event(event(ReplicaEvent::Kind::kSpawned, t0 + seconds(9), "r2"));
  m.tick_now();
  const auto t = hello(meter);
  // r1: 1.25 s starting, 2.75 s idle; its CPU from the exit (no request: usage alone).
  EXPECT_NEAR(t.replicas.idle_seconds, 2.75, 1e-9);
  EXPECT_NEAR(t.replicas.busy_seconds, 0, 1e-12);
  EXPECT_NEAR(t.replicas.cpu_core_seconds, 0.5, 1e-9);
  // r2 has started and not become ready: all of its time so far is starting.
  EXPECT_GE(t.replicas.starting_seconds, 1.25 + 1.0 - 1e-9);
  EXPECT_EQ(t.replicas_starting, 1);
  EXPECT_EQ(t.replicas_ready, 0);
  m.stop();
}

TEST_F(LocalMeterTest, BusyTimeComesFromTheEndpointsClockAndTheStatesAddUpToTheLifetime) {
  gateway::FunctionRoute route;
  route.ns = "default";
  route.name = "hello";
  route.endpoints = {gateway::Endpoint{"r1", "127.0.0.1", 1, true}};
  routes_.upsert(route);
  auto load = routes_.find("default", "hello")->loads[0];
  metering::Meter meter;
  LocalMeter m(meter, routes_, options());
  const auto spawned = Clock::now() - milliseconds(500);
  m.on_event(event(ReplicaEvent::Kind::kSpawned, spawned));
  m.on_event(event(ReplicaEvent::Kind::kReady, spawned + milliseconds(100)));
  m.tick_now();
  load->call_began();
  const auto began = Clock::now();
  ASSERT_TRUE(
      testing::wait_until([&] { return Clock::now() - began >= milliseconds(50); }, seconds(5)));
  load->call_ended();
  const auto end = Clock::now();
  m.on_event(event(ReplicaEvent::Kind::kExited, end));
  m.tick_now();
  const auto t = hello(meter);
  const double lifetime = std::chrono::duration<double>(end - spawned).count();
  EXPECT_NEAR(t.replicas.starting_seconds, 0.1, 1e-9);
  EXPECT_GE(t.replicas.busy_seconds, 0.05);
  EXPECT_LT(t.replicas.busy_seconds, lifetime);
  EXPECT_NEAR(t.replicas.starting_seconds + t.replicas.busy_seconds + t.replicas.idle_seconds,
              lifetime, 1e-6);
  EXPECT_EQ(t.replicas_ready + t.replicas_starting, 0);
}

TEST_F(LocalMeterTest, SizesFromTheFunctionsResources) {
  auto o = options();
  o.list_functions = [] {
    return std::vector<nlohmann::json>{nlohmann::json::parse(R"({
      "metadata": {"namespace": "default", "name": "hello"},
      "spec": {"resources": {"requests": {"cpu": "500m"}, "limits": {"memory": "256Mi"}}}})")};
  };
  metering::Meter meter;
  LocalMeter m(meter, routes_, o);
  const auto t0 = Clock::now() - seconds(5);
  m.on_event(event(ReplicaEvent::Kind::kSpawned, t0));
  m.on_event(event(ReplicaEvent::Kind::kReady, t0));
  m.on_event(event(ReplicaEvent::Kind::kExited, t0 + seconds(4)));
  m.tick_now();
  const auto t = hello(meter);
  // 4 s at the requests (the memory request defaults to its limit).
  EXPECT_NEAR(t.replicas.cpu_core_seconds, 2.0, 1e-9);
  EXPECT_NEAR(t.replicas.memory_gb_seconds, 4 * 0.25, 1e-9);
  const auto p = metering::PriceSheet{};
  EXPECT_NEAR(t.cost_idle, 4 * p.replica_second(0.5, 0.25), 1e-15);
}

TEST_F(LocalMeterTest, TotalsSurviveARestartThroughTheHistory) {
  metering::Totals before;
  {
    metering::Meter meter;
    LocalMeter m(meter, routes_, options());
    const auto t0 = Clock::now() - seconds(3);
    m.on_event(event(ReplicaEvent::Kind::kSpawned, t0));
    m.on_event(event(ReplicaEvent::Kind::kReady, t0 + seconds(1)));
    m.on_event(event(ReplicaEvent::Kind::kExited, t0 + seconds(3)));
    metering::CallRecord call;
    call.execution_seconds = 0.0101;
    call.latency_seconds = 0.011;
    meter.function("default", "hello").record(call);
    m.stop();
    before = hello(meter);
  }
  metering::Meter meter;
  LocalMeter m(meter, routes_, options());
  const auto after = hello(meter);
  EXPECT_EQ(after.invocations, before.invocations);
  EXPECT_DOUBLE_EQ(after.billed_seconds, before.billed_seconds);
  EXPECT_DOUBLE_EQ(after.replicas.idle_seconds, before.replicas.idle_seconds);
  EXPECT_DOUBLE_EQ(after.cost_idle, before.cost_idle);
  EXPECT_NEAR(after.billed_seconds, 0.011, 1e-12);
  // The platform's own record of the run.
  std::ifstream events(dir_.path() / "metering" / "events.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(events, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["function"], "hello");
    ++lines;
  }
  EXPECT_EQ(lines, 3);
}

TEST_F(LocalMeterTest, PricesFromAFileAndFlagsOverIt) {
  const auto file = dir_.write("prices.yaml", "currency: EUR\ncpuCoreHour: 0.05\n");
  auto o = options();
  o.prices_file = file;
  o.price_flags = {"memoryGBHour=0.01", "lambda.gbSecond=0.00002"};
  metering::Meter meter;
  LocalMeter m(meter, routes_, o);
  const auto p = meter.prices();
  EXPECT_EQ(p.currency, "EUR");
  EXPECT_DOUBLE_EQ(p.cpu_core_hour, 0.05);
  EXPECT_DOUBLE_EQ(p.memory_gb_hour, 0.01);
  EXPECT_DOUBLE_EQ(p.lambda_gb_second, 0.00002);
  EXPECT_DOUBLE_EQ(p.lambda_requests_per_million, 0.20);
}

TEST_F(LocalMeterTest, BadPricesAreRefusedWithWhatToFix) {
  {
    auto o = options();
    o.price_flags = {"cpuCoreHour"};
    metering::Meter meter;
    try {
      LocalMeter m(meter, routes_, o);
      ADD_FAILURE() << "a flag without a value was taken";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("KEY=VALUE"), std::string::npos) << e.what();
    }
  }
  {
    auto o = options();
    o.price_flags = {"cpuCoreHour=-1"};
    metering::Meter meter;
    try {
      LocalMeter m(meter, routes_, o);
      ADD_FAILURE() << "a negative price was taken";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("cpuCoreHour"), std::string::npos) << e.what();
    }
  }
  {
    auto o = options();
    o.prices_file = dir_.path() / "missing.yaml";
    metering::Meter meter;
    try {
      LocalMeter m(meter, routes_, o);
      ADD_FAILURE() << "a missing price file was taken";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("missing.yaml"), std::string::npos) << e.what();
    }
  }
}

TEST_F(LocalMeterTest, CostAndHistoryJson) {
  metering::Meter meter;
  LocalMeter m(meter, routes_, options());
  metering::CallRecord call;
  call.execution_seconds = 0.002;
  call.latency_seconds = 0.003;
  meter.function("default", "hello").record(call);
  m.tick_now();
  const auto cost = nlohmann::json::parse(m.cost_json("since=15m"));
  EXPECT_EQ(cost["currency"], "USD");
  ASSERT_EQ(cost["functions"].size(), 1u);
  EXPECT_EQ(cost["functions"][0]["name"], "hello");
  EXPECT_EQ(cost["functions"][0]["invocations"]["total"], 1);
  const auto history = nlohmann::json::parse(m.history_json("since=3600"));
  ASSERT_GE(history["samples"].size(), 1u);
  EXPECT_EQ(history["samples"].back()["functions"][0]["name"], "hello");
  EXPECT_THROW(m.cost_json("since=soon"), std::invalid_argument);
  EXPECT_THROW(m.history_json("since=-5"), std::invalid_argument);
}

}  // namespace
}  // namespace kubefn::platform::local::detail
