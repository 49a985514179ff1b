// Replica metering on a cluster (operator/platform/kubernetes/replica_meter.hpp): pods'
// lifetimes split into starting, busy and idle, usage as max(request, used), and the checkpoint
// that keeps two meters (a leader, then the next) from counting any second twice or losing one.
// Against the in-memory API with a fake clock; one pass at a time.
#include "kubefn/platform/kubernetes/replica_meter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>

#include "kubefn/kube/fake_clock.hpp"
#include "kubefn/testing/fakes/fake_kube_client.hpp"
#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::platform::kubernetes {
namespace {

using kubefn::testing::FakeKubeClient;
using kubefn::testing::wait_until;
using nlohmann::json;
using namespace std::chrono_literals;

const kube::GroupVersionResource kPods = kube::resources::pods();
const kube::GroupVersionResource kConfigMaps = kube::resources::config_maps();
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kEps = 1e-9;

std::string rfc3339_ms(std::int64_t ms) {
  const std::time_t s = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&s, &utc);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

// A KubeClient in front of the fake that can be cut off (a meter that crashed, or lost its
// network) or made to lose the answer of its next update after the update took place.
class CuttableClient final : public kube::KubeClient {
 public:
  explicit CuttableClient(FakeKubeClient& api) : api_(api) {}
  std::atomic<bool> cut{false};
  std::atomic<bool> lose_next_update_answer{false};

  kube::Result<json> get(const kube::ObjectRef& ref) override {
    if (cut) return down();
    return api_.get(ref);
  }
  kube::Result<kube::ObjectList> list(const kube::GroupVersionResource& r, const std::string& ns,
                                      const kube::ListOptions& o) override {
    if (cut) return down();
    return api_.list(r, ns, o);
  }
  kube::Result<json> create(const kube::GroupVersionResource& r, const json& object,
                            const kube::WriteOptions& o) override {
    if (cut) return down();
    return api_.create(r, object, o);
  }
  kube::Result<json> update(const kube::GroupVersionResource& r, const json& object,
                            const kube::WriteOptions& o) override {
    if (cut) return down();
    auto result = api_.update(r, object, o);
    if (result.ok() && lose_next_update_answer.exchange(false)) {
      return kube::Status(kube::StatusCode::kTimeout, "the answer was lost");
    }
    return result;
  }
  kube::Result<json> update_status(const kube::GroupVersionResource& r, const json& object,
                                   const kube::WriteOptions& o) override {
    if (cut) return down();
    return api_.update_status(r, object, o);
  }
  kube::Result<json> patch(const kube::ObjectRef& ref, kube::PatchType t, const json& p,
                           const kube::PatchOptions& o) override {
    if (cut) return down();
    return api_.patch(ref, t, p, o);
  }
  kube::Result<json> remove(const kube::ObjectRef& ref, const kube::DeleteOptions& o) override {
    if (cut) return down();
    return api_.remove(ref, o);
  }
  kube::Result<json> get_scale(const kube::ObjectRef& ref) override { return api_.get_scale(ref); }
  kube::Result<json> update_scale(const kube::ObjectRef& ref, const json& s) override {
    return api_.update_scale(ref, s);
  }
  kube::Result<std::unique_ptr<kube::WatchStream>> watch(const kube::GroupVersionResource& r,
                                                         const std::string& ns,
                                                         const kube::ListOptions& o) override {
    if (cut) return down();
    return api_.watch(r, ns, o);
  }

 private:
  static kube::Status down() { return kube::Status(kube::StatusCode::kNetworkError, "cut off"); }
  FakeKubeClient& api_;
};

// A replica of `function` in namespace "team", created (and first ready) at the times given.
json pod(const std::string& name, std::int64_t created_ms,
         std::optional<std::int64_t> ready_ms = std::nullopt, const std::string& cpu_request = "",
         const std::string& memory_request = "", bool build = false) {
  json labels = {{"kubefn.dev/function", "resize"}};
  if (build) labels["kubefn.dev/build"] = name;
  json requests = json::object();
  if (!cpu_request.empty()) requests["cpu"] = cpu_request;
  if (!memory_request.empty()) requests["memory"] = memory_request;
  json p = {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata",
             {{"name", name},
              {"namespace", "team"},
              {"uid", "uid-" + name},
              {"creationTimestamp", rfc3339_ms(created_ms)},
              {"labels", labels}}},
            {"spec",
             {{"containers", json::array({{{"name", "function"},
                                           {"image", "r/fn:1"},
                                           {"resources", {{"requests", requests}}}}})}}},
            {"status", {{"phase", "Running"}}}};
  json ready = {{"type", "Ready"}, {"status", ready_ms ? "True" : "False"}};
  if (ready_ms) ready["lastTransitionTime"] = rfc3339_ms(*ready_ms);
  p["status"]["conditions"] = json::array({ready});
  return p;
}

metering::ReplicaUsage totals_of(const metering::Meter& meter, const std::string& fn = "resize") {
  for (const auto& t : meter.totals()) {
    if (t.ns == "team" && t.name == fn) return t.replicas;
  }
  return {};
}

int meter_replicas(const metering::Meter& meter) {
  for (const auto& t : meter.totals()) {
    if (t.ns == "team" && t.name == "resize") return t.replicas_starting + t.replicas_ready;
  }
  return 0;
}

double lifetime_of(const metering::ReplicaUsage& u) {
  return u.starting_seconds + u.busy_seconds + u.idle_seconds;
}

class ReplicaMeterTest : public ::testing::Test {
 protected:
  ReplicaMeterTest() { t0 = now_ms(); }

  std::int64_t now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               clock.wall_now().time_since_epoch())
        .count();
  }
  // Moves the fake clock to t0 + `seconds`.
  void at(double seconds) {
    const auto target = t0 + static_cast<std::int64_t>(std::llround(seconds * 1000));
    ASSERT_GE(target, now_ms());
    clock.advance(std::chrono::milliseconds(target - now_ms()));
  }
  std::int64_t ms(double seconds) const {
    return t0 + static_cast<std::int64_t>(std::llround(seconds * 1000));
  }
  ReplicaMeterOptions options(const std::string& identity) const {
    ReplicaMeterOptions o;
    o.identity = identity;
    return o;
  }
  // Starts `m`'s informer and waits for its first list.
  void watch(ReplicaMeter& m) {
    m.watch();
    ASSERT_TRUE(m.wait_for_sync(10s));
    settle();
  }
  // Every watch open has handed its readers everything written so far.
  void settle(std::size_t watches = 1) {
    ASSERT_TRUE(wait_until([&] { return api.settled(watches); }, 10s));
  }
  template <typename... Args>
  void put(const Args&... args) {
    api.put_object(kPods, pod(args...));
  }
  void erase(const std::string& name) { api.erase_object({kPods, "team", name}); }
  ReplicaSecond second(const std::string& replica, double busy, double cpu = 0, double rss = 0) {
    ReplicaSecond r;
    r.ns = "team";
    r.function = "resize";
    r.replica = replica;
    r.second_start_unix_ms = now_ms() - 1000;
    r.busy_seconds = busy;
    r.cpu_seconds = cpu;
    r.rss_bytes = rss;
    return r;
  }
  std::optional<MeteringCheckpoint> stored_checkpoint() const {
    auto cm = api.peek({kConfigMaps, "kubefn-system", "kubefn-metering"});
    if (!cm) return std::nullopt;
    return read_checkpoint(*cm, 0);
  }

  FakeKubeClient api;
  kube::FakeClock clock;
  std::int64_t t0 = 0;
};

TEST(ReplicaMeterRules, TimesAreReadAsTheApiWritesThem) {
  struct Row {
    const char* text;
    std::optional<std::int64_t> want;
  };
  const std::vector<Row> rows = {
      {"1970-01-01T00:00:00Z", 0},
      {"2026-01-02T03:04:05Z", 1767323045000},
      {"2026-01-02T03:04:05.25Z", 1767323045250},
      {"2026-01-02T03:04:05.123456Z", 1767323045123},
      {"2026-01-02T05:04:05+02:00", 1767323045000},
      {"2026-01-02T03:04:05", std::nullopt},
      {"", std::nullopt},
      {"yesterday", std::nullopt},
      {"2026-13-02T03:04:05Z", std::nullopt},
  };
  for (const Row& r : rows)
    EXPECT_EQ(parse_time_ms(r.text), r.want) << r.text;
}

TEST(ReplicaMeterRules, ACheckpointThatCannotBeReadStartsOverFromNow) {
  const json edited = {{"metadata", {{"name", "kubefn-metering"}, {"resourceVersion", "7"}}},
                       {"data", {{"format", "1"}, {"since", "12"}, {"pods", "not json"}}}};
  MeteringCheckpoint c = read_checkpoint(edited, 5000);
  EXPECT_EQ(c.since_ms, 5000);
  EXPECT_TRUE(c.pods.empty());
  EXPECT_EQ(c.resource_version(), "7");  // written over it, with its version
  MeteringCheckpoint round = c;
  round.pods["u1"] = 6000;
  round.gone["u2"] = 5500;
  round.writer = "a#3";
  MeteringCheckpoint back =
      read_checkpoint(checkpoint_config_map(round, "kubefn-system", "kubefn-metering"), 0);
  EXPECT_EQ(back.since_ms, 5000);
  EXPECT_EQ(back.pods, round.pods);
  EXPECT_EQ(back.gone, round.gone);
  EXPECT_EQ(back.writer, "a#3");
}

// Each scenario: what happens to one pod (created at 0 s), second by second, and what its
// lifetime must split into. The meter passes every few seconds in between.
TEST_F(ReplicaMeterTest, APodsLifetimeSplitsExactlyIntoStartingBusyAndIdle) {
  struct Event {
    double at;
    enum Kind { kPass, kReady, kStats, kDelete } kind;
    double busy = 0;
  };
  struct Scenario {
    const char* what;
    std::vector<Event> events;
    double starting, busy, idle;
  };
  const std::vector<Scenario> scenarios = {
      {"ready at 3 s, idle, deleted at 20 s",
       {{1, Event::kPass},
        {3, Event::kReady},
        {5, Event::kPass},
        {10, Event::kPass},
        {20, Event::kDelete},
        {25, Event::kPass}},
       3,
       0,
       17},
      {"busy seconds reported while ready",
       {{2, Event::kReady},
        {4, Event::kStats, 0.5},
        {5, Event::kStats, 1.0},
        {5, Event::kPass},
        {7, Event::kStats, 0.25},
        {9, Event::kPass},
        {12, Event::kDelete},
        {15, Event::kPass}},
       2,
       1.75,
       8.25},
      {"never ready: all starting",
       {{5, Event::kPass}, {8, Event::kDelete}, {10, Event::kPass}},
       8,
       0,
       0},
      {"a stats report arriving after a pass counts in the next",
       {{1, Event::kReady},
        {4, Event::kPass},
        {4.5, Event::kStats, 1.0},  // the second 3..4, late
        {6, Event::kDelete},
        {6, Event::kPass}},
       1,
       1,
       4},
  };
  for (const Scenario& sc : scenarios) {
    SCOPED_TRACE(sc.what);
    const std::string name = "p" + std::to_string(&sc - scenarios.data());
    metering::Meter meter;
    ReplicaMeter m(api, clock, meter, options("a"));
    t0 = now_ms();
    put(name, ms(0));
    watch(m);
    for (const Event& e : sc.events) {
      at(e.at);
      switch (e.kind) {
        case Event::kPass:
          EXPECT_TRUE(m.account().ok());
          break;
        case Event::kReady:
          put(name, ms(0), ms(e.at));
          settle();
          break;
        case Event::kStats:
          m.on_stats(second(name, e.busy));
          break;
        case Event::kDelete:
          erase(name);
          settle();
          break;
      }
    }
    const metering::ReplicaUsage u = totals_of(meter);
    EXPECT_NEAR(u.starting_seconds, sc.starting, kEps);
    EXPECT_NEAR(u.busy_seconds, sc.busy, kEps);
    EXPECT_NEAR(u.idle_seconds, sc.idle, kEps);
    EXPECT_EQ(m.tracked_pods(), 0u);  // gone, and its last stretch credited
    m.stop();
  }
}

TEST_F(ReplicaMeterTest, APodDeletedMidIntervalCountsUpToItsDeletionAndLeavesTheCheckpoint) {
  metering::Meter meter;
  ReplicaMeter m(api, clock, meter, options("a"));
  put("p", ms(0), std::nullopt, "250m", "128Mi");
  watch(m);
  at(1);
  put("p", ms(0), ms(1), "250m", "128Mi");  // ready
  settle();
  at(5);
  ASSERT_TRUE(m.account().ok());
  EXPECT_EQ(stored_checkpoint()->pods.at("uid-p"), ms(5));
  at(7.5);
  erase("p");
  settle();
  at(10);
  ASSERT_TRUE(m.account().ok());
  const metering::ReplicaUsage u = totals_of(meter);
  EXPECT_NEAR(lifetime_of(u), 7.5, kEps);
  EXPECT_NEAR(u.starting_seconds, 1, kEps);
  EXPECT_NEAR(u.idle_seconds, 6.5, kEps);
  // No stats: usage is the requests, over its lifetime.
  EXPECT_NEAR(u.cpu_core_seconds, 0.25 * 7.5, kEps);
  EXPECT_NEAR(u.memory_gb_seconds, (128.0 / 1024) * 7.5, kEps);
  const auto c = stored_checkpoint();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->pods.count("uid-p"), 0u);
  EXPECT_EQ(c->gone.count("uid-p"), 1u);
  // Later passes add nothing; after gone_ttl the tombstone goes too.
  at(20);
  ASSERT_TRUE(m.account().ok());
  EXPECT_NEAR(lifetime_of(totals_of(meter)), 7.5, kEps);
  at(10 + 601);
  ASSERT_TRUE(m.account().ok());
  EXPECT_TRUE(stored_checkpoint()->gone.empty());
}

TEST_F(ReplicaMeterTest, UsageAboveTheRequestsCountsAndTheGaugesFollowThePods) {
  metering::Meter meter;
  ReplicaMeter m(api, clock, meter, options("a"));
  put("a", ms(0), ms(0), "500m", "256Mi");
  put("b", ms(0), std::nullopt, "500m", "256Mi");
  put("build", ms(0), ms(0), "4", "4Gi", true);  // a build Job's pod: not a replica
  watch(m);
  at(1);
  m.on_stats(second("a", 1.0, 3.0, 512.0 * 1024 * 1024));  // 3 cores, 512 MiB
  at(2);
  ASSERT_TRUE(m.account().ok());
  metering::ReplicaUsage u = totals_of(meter);
  EXPECT_NEAR(u.busy_seconds, 1, kEps);
  EXPECT_NEAR(u.idle_seconds, 1, kEps);                        // a's other second
  EXPECT_NEAR(u.starting_seconds, 2, kEps);                    // b
  EXPECT_NEAR(u.cpu_core_seconds, 3 + 1, kEps);                // a: used 3 > 1; b: requested 1
  EXPECT_NEAR(u.memory_gb_seconds, 0.5 * 2 + 0.25 * 2, kEps);  // a: resident; b: requested
  auto totals = meter.totals();
  ASSERT_EQ(totals.size(), 1u);
  EXPECT_EQ(totals[0].replicas_starting, 1);
  EXPECT_EQ(totals[0].replicas_ready, 1);
  EXPECT_EQ(m.tracked_pods(), 2u);
  erase("a");
  erase("b");
  settle();
  at(3);
  ASSERT_TRUE(m.account().ok());
  totals = meter.totals();
  EXPECT_EQ(totals[0].replicas_starting, 0);
  EXPECT_EQ(totals[0].replicas_ready, 0);
  EXPECT_GT(totals[0].cost_idle, 0);
  EXPECT_GT(totals[0].cost_cpu, 0);
}

// Leader A meters, then dies (crashed: its last stretch never committed) or steps down
// (stopped: it commits up to then); leader B takes over later. Together they count the pod's
// lifetime exactly once: no second twice, none lost in between.
TEST_F(ReplicaMeterTest, TwoLeadersInTurnCountEachPodsLifetimeExactlyOnce) {
  for (const bool crash : {true, false}) {
    SCOPED_TRACE(crash ? "A crashes" : "A steps down");
    FakeKubeClient fresh;
    CuttableClient a_api(fresh), b_api(fresh);
    kube::FakeClock c;
    auto wall = [&] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(c.wall_now().time_since_epoch())
          .count();
    };
    const std::int64_t start = wall();
    auto to = [&](double s) {
      c.advance(std::chrono::milliseconds(start + std::llround(s * 1000) - wall()));
    };
    auto settled = [&](std::size_t n) { return wait_until([&] { return fresh.settled(n); }, 10s); };
    fresh.put_object(kPods, pod("p", start));
    metering::Meter a_meter, b_meter;
    auto a = std::make_unique<ReplicaMeter>(a_api, c, a_meter, options("a"));
    a->watch();
    ASSERT_TRUE(a->wait_for_sync(10s));
    to(2);
    fresh.put_object(kPods, pod("p", start, start + 2000));  // ready
    ASSERT_TRUE(settled(1));
    to(5);
    ASSERT_TRUE(a->account().ok());
    to(10);
    ASSERT_TRUE(a->account().ok());
    to(12);
    if (crash) a_api.cut = true;  // whatever it had not committed is lost with it
    a->stop();
    a.reset();
    to(20);  // no leader from 12 s to 20 s
    ReplicaMeter b(b_api, c, b_meter, options("b"));
    b.watch();
    ASSERT_TRUE(b.wait_for_sync(10s));
    ASSERT_TRUE(settled(1));
    to(25);
    ASSERT_TRUE(b.account().ok());
    to(27);
    fresh.erase_object({kPods, "team", "p"});
    ASSERT_TRUE(settled(1));
    to(30);
    ASSERT_TRUE(b.account().ok());
    const metering::ReplicaUsage ua = totals_of(a_meter), ub = totals_of(b_meter);
    EXPECT_NEAR(lifetime_of(ua) + lifetime_of(ub), 27, kEps);
    EXPECT_NEAR(ua.starting_seconds + ub.starting_seconds, 2, kEps);
    EXPECT_NEAR(lifetime_of(ua), crash ? 10 : 12, kEps);
    b.stop();
  }
}

// Without leader election two meters may run at once: each stretch still goes to one of them.
TEST_F(ReplicaMeterTest, TwoMetersAtOnceShareThePodsTimeWithoutOverlap) {
  metering::Meter a_meter, b_meter;
  ReplicaMeter a(api, clock, a_meter, options("a"));
  ReplicaMeter b(api, clock, b_meter, options("b"));
  put("p", ms(0), ms(0));
  a.watch();
  b.watch();
  ASSERT_TRUE(a.wait_for_sync(10s));
  ASSERT_TRUE(b.wait_for_sync(10s));
  settle(2);
  int conflicts = 0;
  auto pass = [&](ReplicaMeter& m) { conflicts += m.account().is_conflict() ? 1 : 0; };
  for (int s = 1; s <= 20; ++s) {
    at(s);
    pass(a);
    at(s + 0.5);
    if (s % 3 != 0) pass(b);  // conflicts now and then, reads again, carries on
  }
  at(21);
  erase("p");
  settle(2);
  for (double s = 21.5; s <= 24; s += 0.5)
    pass(s == std::floor(s) ? a : b);
  EXPECT_NEAR(lifetime_of(totals_of(a_meter)) + lifetime_of(totals_of(b_meter)), 21, kEps);
  EXPECT_GT(conflicts, 0);
  EXPECT_GT(lifetime_of(totals_of(b_meter)), 0);
  EXPECT_GT(lifetime_of(totals_of(a_meter)), 0);
}

TEST_F(ReplicaMeterTest, AFailedCheckpointWriteCreditsNothingUntilRetried) {
  metering::Meter meter;
  ReplicaMeter m(api, clock, meter, options("a"));
  put("p", ms(0), ms(0));
  watch(m);
  at(5);
  ASSERT_TRUE(m.account().ok());
  EXPECT_NEAR(lifetime_of(totals_of(meter)), 5, kEps);

  // Someone else wrote the ConfigMap: the write conflicts, nothing is credited.
  api.fail_next("update", kube::Status(kube::StatusCode::kConflict, "modified"));
  at(10);
  kube::Status st = m.account();
  EXPECT_TRUE(st.is_conflict()) << st.to_string();
  EXPECT_NEAR(lifetime_of(totals_of(meter)), 5, kEps);
  EXPECT_EQ(stored_checkpoint()->pods.at("uid-p"), ms(5));
  // The next pass reads it again and covers the whole stretch since.
  at(12);
  ASSERT_TRUE(m.account().ok());
  EXPECT_NEAR(lifetime_of(totals_of(meter)), 12, kEps);

  // Reading fails: nothing either, until it works.
  api.fail_next("update", kube::Status(kube::StatusCode::kServiceUnavailable, "etcd"));
  api.fail_next("get", kube::Status(kube::StatusCode::kServiceUnavailable, "etcd"));
  at(15);
  EXPECT_FALSE(m.account().ok());
  EXPECT_NEAR(lifetime_of(totals_of(meter)), 12, kEps);
  at(16);
  ASSERT_TRUE(m.account().ok());
  EXPECT_NEAR(lifetime_of(totals_of(meter)), 16, kEps);
  EXPECT_EQ(m.failed_writes(), 2u);
}

TEST_F(ReplicaMeterTest, AWriteWhoseAnswerWasLostIsCreditedOnceWhenTheCheckpointShowsIt) {
  CuttableClient flaky(api);
  metering::Meter meter;
  ReplicaMeter m(flaky, clock, meter, options("a"));
  put("p", ms(0), ms(0));
  watch(m);
  at(5);
  ASSERT_TRUE(m.account().ok());
  flaky.lose_next_update_answer = true;
  at(9);
  EXPECT_TRUE(m.account().ok());  // the checkpoint it reads back is the one it wrote
  EXPECT_NEAR(lifetime_of(totals_of(meter)), 9, kEps);
  at(11);
  ASSERT_TRUE(m.account().ok());
  EXPECT_NEAR(lifetime_of(totals_of(meter)), 11, kEps);
}

TEST_F(ReplicaMeterTest, APodUnknownToTheCheckpointStartsAtItsCreationOrWhenMeteringBegan) {
  // Metering begins (the checkpoint is created) at 10 s: a pod created before starts then;
  // one created after starts at its creation even if no meter saw it until later.
  at(10);
  metering::Meter meter;
  {
    ReplicaMeter first(api, clock, meter, options("a"));
    put("old", ms(0), ms(0));
    watch(first);
    ASSERT_TRUE(first.account().ok());
    EXPECT_EQ(stored_checkpoint()->since_ms, ms(10));
    EXPECT_EQ(stored_checkpoint()->pods.at("uid-old"), ms(10));
    first.stop();
  }
  EXPECT_NEAR(lifetime_of(totals_of(meter)), 0, kEps);
  at(12);
  put("new", ms(12), ms(13));  // while no meter runs
  at(20);
  metering::Meter later;
  ReplicaMeter second(api, clock, later, options("b"));
  watch(second);
  ASSERT_TRUE(second.account().ok());
  EXPECT_NEAR(lifetime_of(totals_of(later)), (20 - 10) + (20 - 12), kEps);
  EXPECT_NEAR(totals_of(later).starting_seconds, 1, kEps);
}

TEST_F(ReplicaMeterTest, APriceChangeAppliesFromThenOn) {
  kubefn::testing::TempDir dir;
  const std::string file = dir.file("prices.yaml");
  auto write = [&](const std::string& text, int tick) {
    std::ofstream(file) << text;
    std::filesystem::last_write_time(
        file, std::filesystem::file_time_type::clock::now() + std::chrono::seconds(tick));
  };
  write("cpuCoreHour: 3.6\nmemoryGBHour: 0\n", 0);
  metering::Meter meter;
  PriceFileWatcher prices(meter, clock, file);
  ASSERT_TRUE(prices.check());
  EXPECT_DOUBLE_EQ(meter.prices().cpu_core_hour, 3.6);
  ReplicaMeter m(api, clock, meter, options("a"));
  put("p", ms(0), ms(0), "1");  // one core requested: 0.001 per second at 3.6 an hour
  watch(m);
  at(10);
  ASSERT_TRUE(m.account().ok());
  EXPECT_NEAR(meter.totals()[0].cost_idle, 0.01, 1e-12);
  write("cpuCoreHour: 36\nmemoryGBHour: 0\n", 1);
  ASSERT_TRUE(prices.check());
  EXPECT_FALSE(prices.check());  // unchanged since
  at(20);
  ASSERT_TRUE(m.account().ok());
  EXPECT_NEAR(meter.totals()[0].cost_idle, 0.01 + 0.1, 1e-12);  // the past keeps its price
  // A bad edit changes nothing.
  write("cpuCoreHour: lots\n", 2);
  EXPECT_FALSE(prices.check());
  EXPECT_DOUBLE_EQ(meter.prices().cpu_core_hour, 36);
}

TEST_F(ReplicaMeterTest, StatsOfSecondsBeforeAPodExistedAreNotItsOwn) {
  metering::Meter meter;
  ReplicaMeter m(api, clock, meter, options("a"));
  watch(m);
  m.on_stats(second("web-0", 1.0, 1.0));  // an earlier pod of the same name
  at(30);
  m.on_stats(second("web-1", 1.0));  // arrives before its pod is seen
  put("web-0", ms(30), ms(30));
  put("web-1", ms(29), ms(29));
  settle();
  at(32);
  ASSERT_TRUE(m.account().ok());
  EXPECT_NEAR(totals_of(meter).busy_seconds, 1, kEps);  // web-1's
  EXPECT_NEAR(totals_of(meter).idle_seconds, 2 + 3 - 1, kEps);
}

TEST_F(ReplicaMeterTest, ATerminatedPodEndsWhenItsContainersFinished) {
  auto terminated = [&](const std::string& name, std::optional<std::int64_t> finished) {
    json p = pod(name, ms(0), ms(0));
    p["status"]["phase"] = "Failed";
    p["status"]["conditions"][0]["status"] = "False";
    json state = {{"terminated", {{"exitCode", 137}}}};
    if (finished) state["terminated"]["finishedAt"] = rfc3339_ms(*finished);
    p["status"]["containerStatuses"] = json::array({{{"name", "function"}, {"state", state}}});
    return p;
  };
  metering::Meter first, second;
  {
    ReplicaMeter a(api, clock, first, options("a"));
    put("evicted", ms(0), ms(0));
    put("lost", ms(0), ms(0));
    watch(a);
    at(5);
    ASSERT_TRUE(a.account().ok());
    at(8);  // evicted at 6.5 s, seen at 8 s
    api.put_object(kPods, terminated("evicted", ms(6.5)));
    settle();
    at(10);
    ASSERT_TRUE(a.account().ok());
    EXPECT_EQ(stored_checkpoint()->pods.at("uid-evicted"), ms(6.5));
    a.stop();
  }
  // While no meter runs, "lost" ends with no finish time the API keeps: the next meter
  // cannot know when, and adds nothing past the checkpoint rather than guess.
  at(12);
  api.put_object(kPods, terminated("lost", std::nullopt));
  at(15);
  ReplicaMeter b(api, clock, second, options("b"));
  watch(b);
  ASSERT_TRUE(b.account().ok());
  EXPECT_NEAR(lifetime_of(totals_of(first)), 6.5 + 10, kEps);
  EXPECT_NEAR(lifetime_of(totals_of(second)), 0, kEps);
  EXPECT_EQ(meter_replicas(second), 0);
}

TEST_F(ReplicaMeterTest, StartedItPassesEveryIntervalOnItsClock) {
  metering::Meter meter;
  ReplicaMeterOptions o = options("a");
  o.interval = 5s;
  ReplicaMeter m(api, clock, meter, o);
  put("p", ms(0), ms(0));
  m.start();
  ASSERT_TRUE(m.wait_for_sync(10s));
  settle();
  at(5);
  ASSERT_TRUE(wait_until([&] { return m.commits() >= 1; }, 10s));
  EXPECT_NEAR(lifetime_of(totals_of(meter)), 5, kEps);
  at(7);
  m.stop();  // a last pass: the next leader resumes from here
  EXPECT_NEAR(lifetime_of(totals_of(meter)), 7, kEps);
  EXPECT_EQ(stored_checkpoint()->pods.at("uid-p"), ms(7));
}

TEST(ReplicaMeterRules, TheOperatorExportsTheReplicaSideAndThePrices) {
  metering::Meter meter;
  meter.function("team", "resize").add_replica_usage({1, 2, 3, 4, 5});
  std::set<std::string> names;
  for (const auto& f : replica_families(meter.Collect()))
    names.insert(f.name);
  EXPECT_TRUE(names.count("kubefn_function_replica_seconds_total"));
  EXPECT_TRUE(names.count("kubefn_function_cpu_core_seconds_total"));
  EXPECT_TRUE(names.count("kubefn_function_memory_gb_seconds_total"));
  EXPECT_TRUE(names.count("kubefn_function_cost_total"));
  EXPECT_TRUE(names.count("kubefn_function_replicas"));
  EXPECT_TRUE(names.count("kubefn_price_cpu_core_hour"));
  EXPECT_FALSE(names.count("kubefn_function_invocations_total"));  // the gateway's
  EXPECT_FALSE(names.count("kubefn_function_latency_seconds"));
}

TEST_F(ReplicaMeterTest, NothingIsAccountedBeforeThePodsAreListed) {
  metering::Meter meter;
  ReplicaMeter m(api, clock, meter, options("a"));
  EXPECT_FALSE(m.account().ok());
  EXPECT_FALSE(api.peek({kConfigMaps, "kubefn-system", "kubefn-metering"}));
}

}  // namespace
}  // namespace kubefn::platform::kubernetes
