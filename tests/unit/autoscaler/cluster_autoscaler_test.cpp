// The operator's autoscaler loop, one tick at a time on a fake clock, against an in-memory API.
#include "kubefn/autoscaler/cluster_autoscaler.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kubefn/api/function.hpp"
#include "kubefn/kube/fake_clock.hpp"
#include "kubefn/testing/fakes/fake_kube_client.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::autoscaler {
namespace {

using kubefn::testing::FakeKubeClient;
using kubefn::testing::wait_until;
using nlohmann::json;
using namespace std::chrono_literals;

// One informer each for Functions, Deployments and Pods (all namespaces).
constexpr std::size_t kWatches = 3;

const kube::GroupVersionResource kFunctions = api::functions();
const kube::GroupVersionResource kDeployments = kube::resources::deployments();
const kube::GroupVersionResource kPods = kube::resources::pods();

class Events final : public controller::EventRecorder {
 public:
  void record(const json& object, const std::string& type, const std::string& reason,
              const std::string& message) override {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_EQ(type, "Normal");
    got.push_back({kube::object_name(object), reason, message});
  }
  struct Event {
    std::string object, reason, message;
  };
  std::vector<Event> all() {
    std::lock_guard<std::mutex> lock(mu_);
    return got;
  }

 private:
  std::mutex mu_;
  std::vector<Event> got;
};

json function(const std::string& name, json scaling, std::optional<int> replicas = std::nullopt) {
  json spec = {{"handler", "fn.run"}, {"image", "r/" + name + ":1"}, {"scaling", scaling}};
  if (replicas) spec["replicas"] = *replicas;
  return {{"apiVersion", "kubefn.dev/v1alpha1"},
          {"kind", "Function"},
          {"metadata", {{"name", name}, {"namespace", "team"}, {"uid", "u-" + name}}},
          {"spec", spec}};
}

json deployment(const std::string& name, int replicas) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata",
           {{"name", name}, {"namespace", "team"}, {"labels", {{"kubefn.dev/function", name}}}}},
          {"spec", {{"replicas", replicas}}}};
}

json pod(const std::string& function, const std::string& name, bool ready = true) {
  json p = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", name}, {"namespace", "team"}, {"labels", {{"kubefn.dev/function", function}}}}}};
  json condition = {{"type", "Ready"}, {"status", ready ? "True" : "False"}};
  p["status"]["conditions"] = json::array({condition});
  return p;
}

class ClusterAutoscalerTest : public ::testing::Test {
 protected:
  ClusterAutoscalerTest() {
    options.stable_window = 6s;
    // The autoscaler writes merge patches only: of a Deployment's scale, and of a Function's
    // status.scaling.
    api.on("patch", [](const FakeKubeClient::Call& call) -> std::optional<kube::Status> {
      EXPECT_EQ(call.patch_type, kube::PatchType::kMerge);
      if (call.subresource == "status") {
        EXPECT_EQ(call.resource.resource, "functions");
      } else {
        EXPECT_EQ(call.subresource, "scale");
      }
      return std::nullopt;
    });
  }
  // Starts the informers and waits for their first lists.
  void watch(ClusterAutoscaler& scaler) {
    scaler.watch();
    ASSERT_TRUE(scaler.wait_for_sync(10s));
    settle();
  }
  // Waits until the autoscaler has seen every change made to the API so far.
  void settle() {
    ASSERT_TRUE(wait_until([&] { return api.settled(kWatches); }, 10s));
  }
  std::int64_t unix_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               clock.wall_now().time_since_epoch())
        .count();
  }
  // One second passes: every named replica reports `inflight` calls in flight throughout it.
  void second(ClusterAutoscaler& scaler, const std::string& fn,
              const std::vector<std::string>& replicas, double inflight) {
    clock.advance(1s);
    for (const auto& r : replicas) {
      ReplicaReport rep;
      rep.ns = "team";
      rep.function = fn;
      rep.replica = r;
      rep.second_start_unix_ms = unix_ms() - 1000;
      rep.inflight_average = inflight;
      rep.inflight_peak = inflight;
      rep.requests = inflight * 10;
      scaler.on_replica(rep);
    }
    settle();
    scaler.tick();
  }
  int replicas(const std::string& ns, const std::string& name) const {
    const auto deployment = api.peek({kDeployments, ns, name});
    return deployment ? deployment->at("spec").value("replicas", -1) : -1;
  }
  // The patches of `subresource` sent so far, as {"name": ..., "patch": ...}.
  std::vector<json> patches_of(const std::string& subresource) const {
    std::vector<json> out;
    for (const auto& call : api.call_log()) {
      if (call.verb == "patch" && call.subresource == subresource) {
        out.push_back(json{{"name", call.name}, {"patch", call.body}});
      }
    }
    return out;
  }
  std::vector<json> patches() const { return patches_of("scale"); }
  std::vector<json> status_patches() const { return patches_of("status"); }
  double gauge(const std::string& name, const std::string& fn) {
    for (const auto& family : registry.Collect()) {
      if (family.name != name) continue;
      for (const auto& m : family.metric) {
        for (const auto& l : m.label) {
          if (l.name == "function" && l.value == fn) return m.gauge.value;
        }
      }
    }
    return -1;
  }

  FakeKubeClient api;
  kube::FakeClock clock;
  Events events;
  prometheus::Registry registry;
  ClusterAutoscalerOptions options;
};

TEST(FunctionScaling, SpecScalingBecomesTheDecisionCodesSpec) {
  controller::FunctionSpec fn;
  fn.concurrency = 10;
  fn.min_replicas = 0;
  fn.max_replicas = 4;
  ScalingSpec s = scaling_of(fn);
  EXPECT_DOUBLE_EQ(s.target, 7.0);  // 70% of the concurrency
  EXPECT_EQ(s.stable_window, std::chrono::seconds(60));
  EXPECT_EQ(s.panic_window(), std::chrono::seconds(6));
  fn.stable_window_seconds = 20;
  fn.target = 2.5;
  fn.learned_keep_alive = false;
  s = scaling_of(fn);
  EXPECT_DOUBLE_EQ(s.target, 2.5);
  EXPECT_EQ(s.stable_window, std::chrono::seconds(20));
  EXPECT_EQ(s.panic_window(), std::chrono::seconds(2));
  EXPECT_EQ(s.keep_alive.mode, KeepAliveMode::kFixed);
  EXPECT_EQ(s.max_replicas, 4);
  // spec.scaling.coldStartCost: the keep-alive's price of a cold start, else the default.
  EXPECT_DOUBLE_EQ(s.keep_alive.cold_start_cost, kDefaultColdStartCost);
  fn.cold_start_cost = 120;
  EXPECT_DOUBLE_EQ(scaling_of(fn).keep_alive.cold_start_cost, 120);
  fn.cold_start_cost = 0;
  EXPECT_DOUBLE_EQ(scaling_of(fn).keep_alive.cold_start_cost, 0);
}

TEST(ScalingSpec, NormalizedPricesAColdStartWithinRange) {
  ScalingSpec s;
  EXPECT_DOUBLE_EQ(s.keep_alive.cold_start_cost, kDefaultColdStartCost);
  s.keep_alive.cold_start_cost = std::nan("");
  EXPECT_DOUBLE_EQ(s.normalized().keep_alive.cold_start_cost, kDefaultColdStartCost);
  s.keep_alive.cold_start_cost = -5;
  EXPECT_DOUBLE_EQ(s.normalized().keep_alive.cold_start_cost, 0);
  s.keep_alive.cold_start_cost = std::numeric_limits<double>::infinity();
  EXPECT_DOUBLE_EQ(s.normalized().keep_alive.cold_start_cost, kMaxColdStartCost);
  s.keep_alive.cold_start_cost = 12.5;
  EXPECT_DOUBLE_EQ(s.normalized().keep_alive.cold_start_cost, 12.5);
}

TEST_F(ClusterAutoscalerTest, ScalesUpOnLoadThenDownWhenItStops) {
  api.put_object(kFunctions,
                 function("resize", {{"minReplicas", 1}, {"maxReplicas", 5}, {"target", 1}}));
  api.put_object(kDeployments, deployment("resize", 1));
  api.put_object(kPods, pod("resize", "resize-a"));
  ClusterAutoscaler scaler(api, clock, events, registry, options);
  watch(scaler);
  scaler.tick();  // learns the function
  EXPECT_TRUE(patches().empty());

  // Four calls in flight on one replica, target one per replica: four replicas.
  second(scaler, "resize", {"resize-a"}, 4);
  ASSERT_EQ(replicas("team", "resize"), 4);
  ASSERT_EQ(patches().size(), 1u);
  EXPECT_EQ(patches()[0]["patch"], json::parse(R"({"spec":{"replicas":4}})"));
  ASSERT_EQ(events.all().size(), 1u);
  EXPECT_EQ(events.all()[0].object, "resize");
  EXPECT_EQ(events.all()[0].reason, "ScaledUp");
  // The Function's status.scaling says the same as the Event.
  ASSERT_EQ(status_patches().size(), 1u);
  const json scaling = status_patches()[0]["patch"]["status"]["scaling"];
  EXPECT_EQ(scaling["desiredReplicas"], 4);
  EXPECT_NE(scaling["reason"].get<std::string>().find("panic"), std::string::npos) << scaling;
  EXPECT_NE(events.all()[0].message.find("scaled 1 -> 4: "), std::string::npos)
      << events.all()[0].message;
  EXPECT_EQ(gauge("kubefn_autoscaler_desired_replicas", "resize"), 4);
  EXPECT_EQ(gauge("kubefn_autoscaler_panic", "resize"), 1);
  EXPECT_GT(gauge("kubefn_autoscaler_observed_load", "resize"), 0);

  // The same load spread over the four: no write while the decision holds.
  const std::vector<std::string> four = {"resize-a", "resize-b", "resize-c", "resize-d"};
  for (const auto& p : four)
    api.put_object(kPods, pod("resize", p));
  for (int i = 0; i < 3; ++i)
    second(scaler, "resize", four, 1);
  EXPECT_EQ(patches().size(), 1u);

  // Calls stop: after panic and the stable window the replicas go back to the minimum, at
  // most halving per tick.
  int last = 4;
  for (int i = 0; i < 40 && replicas("team", "resize") > 1; ++i) {
    std::vector<std::string> live(four.begin(), four.begin() + replicas("team", "resize"));
    second(scaler, "resize", live, 0);
    const int now = replicas("team", "resize");
    EXPECT_GE(now, last / 2);
    last = now;
  }
  EXPECT_EQ(replicas("team", "resize"), 1);
  EXPECT_EQ(events.all().back().reason, "ScaledDown");
  EXPECT_EQ(gauge("kubefn_autoscaler_panic", "resize"), 0);
}

TEST_F(ClusterAutoscalerTest, ReplicasThatStopReportingHoldTheCountUntilTheirPodsAreGone) {
  api.put_object(kFunctions,
                 function("thumb", {{"minReplicas", 1}, {"maxReplicas", 4}, {"target", 1}}));
  api.put_object(kDeployments, deployment("thumb", 2));
  api.put_object(kPods, pod("thumb", "thumb-a"));
  api.put_object(kPods, pod("thumb", "thumb-b", false));  // still starting
  ClusterAutoscaler scaler(api, clock, events, registry, options);
  watch(scaler);
  scaler.tick();
  EXPECT_EQ(gauge("kubefn_autoscaler_actual_replicas", "thumb"), 1);  // Ready pods only
  api.put_object(kPods, pod("thumb", "thumb-b"));
  settle();
  for (int i = 0; i < 3; ++i)
    second(scaler, "thumb", {"thumb-a", "thumb-b"}, 1);
  EXPECT_EQ(replicas("team", "thumb"), 2);
  EXPECT_EQ(gauge("kubefn_autoscaler_actual_replicas", "thumb"), 2);
  // thumb-b goes silent (not idle): thumb-a alone reports nothing in flight. Past the 3 s
  // after which a replica is unknown, but within the stable window that would drop it.
  for (int i = 0; i < 4; ++i)
    second(scaler, "thumb", {"thumb-a"}, 0);
  auto d = scaler.last_decision("team", "thumb");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->unknown_replicas, 1) << d->reason;
  EXPECT_EQ(replicas("team", "thumb"), 2) << d->reason;
  // Its pod is deleted and replaced by thumb-c: thumb-b is forgotten at once, and the idle
  // function goes down to its minimum.
  api.erase_object({kPods, "team", "thumb-b"});
  api.put_object(kPods, pod("thumb", "thumb-c"));
  settle();
  EXPECT_EQ(scaler.replicas_forgotten(), 1u);  // before any tick
  second(scaler, "thumb", {"thumb-a", "thumb-c"}, 0);
  EXPECT_EQ(scaler.last_decision("team", "thumb")->unknown_replicas, 0)
      << scaler.last_decision("team", "thumb")->reason;
  for (int i = 0; i < 12 && replicas("team", "thumb") > 1; ++i)
    second(scaler, "thumb", {"thumb-a", "thumb-c"}, 0);
  EXPECT_EQ(replicas("team", "thumb"), 1);
}

TEST_F(ClusterAutoscalerTest, PinnedReplicasAndMissingDeploymentsAreLeftAlone) {
  api.put_object(kFunctions, function("pinned", {{"target", 1}}, 3));
  api.put_object(kDeployments, deployment("pinned", 3));
  api.put_object(kFunctions, function("new", {{"target", 1}}));  // no Deployment yet
  ClusterAutoscaler scaler(api, clock, events, registry, options);
  watch(scaler);
  scaler.tick();
  for (int i = 0; i < 5; ++i) {
    second(scaler, "pinned", {"pinned-a"}, 30);
    second(scaler, "new", {"new-a"}, 30);
  }
  EXPECT_TRUE(patches().empty());
  EXPECT_EQ(replicas("team", "pinned"), 3);
  EXPECT_FALSE(scaler.last_decision("team", "pinned"));
  EXPECT_FALSE(scaler.last_decision("team", "new"));
}

TEST_F(ClusterAutoscalerTest, AQueuedCallAtZeroScalesFromZeroAtOnce) {
  api.put_object(kFunctions, function("cold", {{"minReplicas", 0}, {"target", 1}}));
  api.put_object(kDeployments, deployment("cold", 0));
  ClusterAutoscaler scaler(api, clock, events, registry, options);
  watch(scaler);
  scaler.tick();
  EXPECT_EQ(replicas("team", "cold"), 0);
  GatewayReport g;
  g.gateway = "gw";
  g.ns = "team";
  g.function = "cold";
  g.second_start_unix_ms = unix_ms();
  g.queued = 1;
  g.requests = 1;
  scaler.on_gateway(g);
  scaler.poke_queued();  // what the loop does when the gateway reports a queue
  EXPECT_EQ(replicas("team", "cold"), 1);
  ASSERT_FALSE(events.all().empty());
  EXPECT_EQ(events.all().back().reason, "ScaledFromZero");
}

TEST_F(ClusterAutoscalerTest, AFunctionCreatedAfterTheStartIsScaledAtItsFirstLoadedTick) {
  ClusterAutoscaler scaler(api, clock, events, registry, options);
  watch(scaler);
  scaler.tick();
  api.put_object(kFunctions,
                 function("late", {{"minReplicas", 1}, {"maxReplicas", 5}, {"target", 1}}));
  api.put_object(kDeployments, deployment("late", 1));
  settle();
  EXPECT_TRUE(scaler.tracks("team", "late"));
  EXPECT_EQ(scaler.current_replicas("team", "late"), 1);
  second(scaler, "late", {"late-a"}, 3);
  EXPECT_EQ(replicas("team", "late"), 3);
  ASSERT_EQ(patches().size(), 1u);
}

TEST_F(ClusterAutoscalerTest, AScaleWrittenBySomeoneElseIsSeenAtTheNextTick) {
  api.put_object(kFunctions,
                 function("ext", {{"minReplicas", 1}, {"maxReplicas", 6}, {"target", 1}}));
  api.put_object(kDeployments, deployment("ext", 1));
  ClusterAutoscaler scaler(api, clock, events, registry, options);
  watch(scaler);
  for (int i = 0; i < 3; ++i)
    second(scaler, "ext", {"ext-a"}, 1);
  ASSERT_TRUE(patches().empty());
  // The load doubles and, before the autoscaler's next tick, someone else scales to two: the
  // tick sees two, decides two, and writes nothing back.
  api.put_object(kDeployments, deployment("ext", 2));
  second(scaler, "ext", {"ext-a", "ext-b"}, 1);
  EXPECT_EQ(scaler.current_replicas("team", "ext"), 2);
  ASSERT_TRUE(scaler.last_decision("team", "ext"));
  EXPECT_EQ(scaler.last_decision("team", "ext")->desired, 2)
      << scaler.last_decision("team", "ext")->reason;
  EXPECT_TRUE(patches().empty());
  EXPECT_EQ(replicas("team", "ext"), 2);
}

TEST_F(ClusterAutoscalerTest, ASteadyStateTickMakesNoRequests) {
  api.put_object(kFunctions,
                 function("calm", {{"minReplicas", 1}, {"maxReplicas", 4}, {"target", 1}}));
  api.put_object(kDeployments, deployment("calm", 2));
  api.put_object(kPods, pod("calm", "calm-a"));
  api.put_object(kPods, pod("calm", "calm-b"));
  ClusterAutoscaler scaler(api, clock, events, registry, options);
  watch(scaler);
  EXPECT_EQ(api.calls(), 6);  // a list and a watch per informer
  for (int i = 0; i < 20; ++i)
    second(scaler, "calm", {"calm-a", "calm-b"}, 1);
  EXPECT_EQ(api.calls(), 6);
  EXPECT_TRUE(patches().empty());
  ASSERT_TRUE(scaler.last_decision("team", "calm"));
  EXPECT_EQ(scaler.last_decision("team", "calm")->desired, 2);
}

TEST_F(ClusterAutoscalerTest, DeletedOrPinnedFunctionsAreDroppedWithTheirSeries) {
  api.put_object(kFunctions, function("gone", {{"minReplicas", 1}, {"target", 1}}));
  api.put_object(kDeployments, deployment("gone", 1));
  api.put_object(kFunctions,
                 function("pin", {{"minReplicas", 1}, {"maxReplicas", 5}, {"target", 1}}));
  api.put_object(kDeployments, deployment("pin", 1));
  ClusterAutoscaler scaler(api, clock, events, registry, options);
  watch(scaler);
  second(scaler, "gone", {"gone-a"}, 0);
  EXPECT_EQ(gauge("kubefn_autoscaler_desired_replicas", "gone"), 1);
  EXPECT_EQ(gauge("kubefn_autoscaler_desired_replicas", "pin"), 1);
  api.erase_object({kFunctions, "team", "gone"});
  api.put_object(kFunctions, function("pin", {{"minReplicas", 1}, {"target", 1}}, 2));
  settle();
  EXPECT_FALSE(scaler.tracks("team", "gone"));
  EXPECT_FALSE(scaler.tracks("team", "pin"));
  EXPECT_EQ(gauge("kubefn_autoscaler_desired_replicas", "gone"), -1);
  EXPECT_EQ(gauge("kubefn_autoscaler_desired_replicas", "pin"), -1);
  second(scaler, "pin", {"pin-a"}, 5);
  EXPECT_TRUE(patches().empty());
  // Unpinned again: scaled again.
  api.put_object(kFunctions,
                 function("pin", {{"minReplicas", 1}, {"maxReplicas", 5}, {"target", 1}}));
  settle();  // samples from before a Function is known are not its
  second(scaler, "pin", {"pin-a"}, 3);
  EXPECT_EQ(replicas("team", "pin"), 3)
      << (scaler.last_decision("team", "pin") ? scaler.last_decision("team", "pin")->reason
                                              : "no decision");
}

TEST_F(ClusterAutoscalerTest, BacklogsAreSummedOverTriggersTakenLatestPerTriggerAndGoWhenStale) {
  api.put_object(kFunctions,
                 function("orders", {{"minReplicas", 1}, {"maxReplicas", 10}, {"target", 1}}));
  api.put_object(kDeployments, deployment("orders", 1));
  ClusterAutoscaler scaler(api, clock, events, registry, options);
  watch(scaler);
  scaler.tick();
  auto report = [&](const std::string& dispatcher,
                    const std::vector<std::pair<std::string, double>>& triggers) {
    DispatcherReport r;
    r.dispatcher = dispatcher;
    r.second_start_unix_ms = unix_ms();
    for (const auto& [trigger, pending] : triggers)
      r.triggers.push_back({"team", "orders", trigger, pending});
    scaler.on_dispatcher(r);
  };
  auto backlog = [&] {
    const auto d = scaler.last_decision("team", "orders");
    return d ? d->backlog : -1;
  };
  // Two triggers of one function: added up.
  report("dispatcher-0", {{"created", 3}, {"paid", 2}});
  second(scaler, "orders", {"orders-a"}, 0);
  EXPECT_DOUBLE_EQ(backlog(), 5);
  EXPECT_EQ(replicas("team", "orders"), 5) << scaler.last_decision("team", "orders")->reason;
  // A second dispatcher sharing the consumer reports the same backlog: the latest, not a sum.
  report("dispatcher-1", {{"created", 3}});
  second(scaler, "orders", {"orders-a"}, 0);
  EXPECT_DOUBLE_EQ(backlog(), 5);
  // dispatcher-0 no longer runs `created`; dispatcher-1's report of it stays.
  report("dispatcher-0", {{"paid", 2}});
  second(scaler, "orders", {"orders-a"}, 0);
  EXPECT_DOUBLE_EQ(backlog(), 5);
  // Nor does dispatcher-1 now: gone.
  report("dispatcher-1", {});
  second(scaler, "orders", {"orders-a"}, 0);
  EXPECT_DOUBLE_EQ(backlog(), 2);
  // dispatcher-0 stops reporting: its figure holds for 30 s, then counts as nothing.
  for (int i = 0; i < 27; ++i)
    second(scaler, "orders", {"orders-a"}, 0);
  EXPECT_DOUBLE_EQ(backlog(), 2);
  for (int i = 0; i < 3; ++i)
    second(scaler, "orders", {"orders-a"}, 0);
  EXPECT_DOUBLE_EQ(backlog(), 0);
}

}  // namespace
}  // namespace kubefn::autoscaler
