// The operator's autoscaler loop, one tick at a time on a fake clock, against an in-memory API.
#include "kubefn/autoscaler/cluster_autoscaler.hpp"

#include <gtest/gtest.h>

#include <map>

#include "kubefn/controller/kubernetes_platform.hpp"
#include "kubefn/kube/fake_clock.hpp"

namespace kubefn::autoscaler {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// Lists and patches over a map keyed by resource/ns/name; the rest is not used here.
class FakeApi final : public kube::KubeClient {
 public:
  void put(const std::string& resource, json object) {
    const std::string key =
        resource + "/" + kube::object_namespace(object) + "/" + kube::object_name(object);
    std::lock_guard<std::mutex> lock(mu_);
    objects_[key] = std::move(object);
  }
  void erase(const std::string& resource, const std::string& ns, const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    objects_.erase(resource + "/" + ns + "/" + name);
  }
  int replicas(const std::string& ns, const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    return objects_.at("deployments/" + ns + "/" + name)["spec"].value("replicas", -1);
  }
  std::vector<json> patches() {
    std::lock_guard<std::mutex> lock(mu_);
    return patches_;
  }

  kube::Result<kube::ObjectList> list(const kube::GroupVersionResource& resource,
                                      const std::string& ns, const kube::ListOptions&) override {
    std::lock_guard<std::mutex> lock(mu_);
    kube::ObjectList out;
    for (const auto& [key, obj] : objects_) {
      if (key.rfind(resource.resource + "/", 0) != 0) continue;
      if (!ns.empty() && kube::object_namespace(obj) != ns) continue;
      out.items.push_back(obj);
    }
    return out;
  }
  kube::Result<json> patch(const kube::ObjectRef& ref, kube::PatchType type, const json& patch,
                           const kube::PatchOptions& options) override {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_EQ(type, kube::PatchType::kMerge);
    EXPECT_EQ(options.subresource, "scale");
    auto it = objects_.find(ref.resource.resource + "/" + ref.ns + "/" + ref.name);
    if (it == objects_.end()) return kube::Status(kube::StatusCode::kNotFound, ref.name);
    patches_.push_back(json{{"name", ref.name}, {"patch", patch}});
    it->second["spec"]["replicas"] = patch["spec"]["replicas"];
    return it->second;
  }
  kube::Result<json> get(const kube::ObjectRef&) override { return unsupported(); }
  kube::Result<json> create(const kube::GroupVersionResource&, const json&,
                            const kube::WriteOptions&) override {
    return unsupported();
  }
  kube::Result<json> update(const kube::GroupVersionResource&, const json&,
                            const kube::WriteOptions&) override {
    return unsupported();
  }
  kube::Result<json> update_status(const kube::GroupVersionResource&, const json&,
                                   const kube::WriteOptions&) override {
    return unsupported();
  }
  kube::Result<json> remove(const kube::ObjectRef&, const kube::DeleteOptions&) override {
    return unsupported();
  }
  kube::Result<json> get_scale(const kube::ObjectRef&) override { return unsupported(); }
  kube::Result<json> update_scale(const kube::ObjectRef&, const json&) override {
    return unsupported();
  }
  kube::Result<std::unique_ptr<kube::WatchStream>> watch(const kube::GroupVersionResource&,
                                                         const std::string&,
                                                         const kube::ListOptions&) override {
    return kube::Status(kube::StatusCode::kMethodNotAllowed, "no watch here");
  }

 private:
  static kube::Status unsupported() {
    return kube::Status(kube::StatusCode::kMethodNotAllowed, "not used by the autoscaler");
  }
  std::mutex mu_;
  std::map<std::string, json> objects_;
  std::vector<json> patches_;
};

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

json pod(const std::string& function, const std::string& name) {
  return {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", name}, {"namespace", "team"}, {"labels", {{"kubefn.dev/function", function}}}}}};
}

class ClusterAutoscalerTest : public ::testing::Test {
 protected:
  ClusterAutoscalerTest() {
    options.refresh_every = 1;
    options.stable_window = 6s;
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
    scaler.tick();
  }
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

  FakeApi api;
  kube::FakeClock clock;
  Events events;
  prometheus::Registry registry;
  ClusterAutoscalerOptions options;
};

TEST_F(ClusterAutoscalerTest, ScalesUpOnLoadThenDownWhenItStops) {
  api.put("functions", function("resize", {{"minReplicas", 1}, {"maxReplicas", 5}, {"target", 1}}));
  api.put("deployments", deployment("resize", 1));
  api.put("pods", pod("resize", "resize-a"));
  ClusterAutoscaler scaler(api, clock, events, registry, options);
  scaler.tick();  // learns the function
  EXPECT_TRUE(api.patches().empty());

  // Four calls in flight on one replica, target one per replica: four replicas.
  second(scaler, "resize", {"resize-a"}, 4);
  ASSERT_EQ(api.replicas("team", "resize"), 4);
  ASSERT_EQ(api.patches().size(), 1u);
  EXPECT_EQ(api.patches()[0]["patch"], json::parse(R"({"spec":{"replicas":4}})"));
  ASSERT_EQ(events.all().size(), 1u);
  EXPECT_EQ(events.all()[0].object, "resize");
  EXPECT_EQ(events.all()[0].reason, "ScaledUp");
  EXPECT_NE(events.all()[0].message.find("scaled 1 -> 4: "), std::string::npos)
      << events.all()[0].message;
  EXPECT_EQ(gauge("kubefn_autoscaler_desired_replicas", "resize"), 4);
  EXPECT_EQ(gauge("kubefn_autoscaler_panic", "resize"), 1);
  EXPECT_GT(gauge("kubefn_autoscaler_observed_load", "resize"), 0);

  // The same load spread over the four: no write while the decision holds.
  const std::vector<std::string> four = {"resize-a", "resize-b", "resize-c", "resize-d"};
  for (const auto& p : four)
    api.put("pods", pod("resize", p));
  for (int i = 0; i < 3; ++i)
    second(scaler, "resize", four, 1);
  EXPECT_EQ(api.patches().size(), 1u);

  // Calls stop: after panic and the stable window the replicas go back to the minimum, at
  // most halving per tick.
  int last = 4;
  for (int i = 0; i < 40 && api.replicas("team", "resize") > 1; ++i) {
    std::vector<std::string> live(four.begin(), four.begin() + api.replicas("team", "resize"));
    second(scaler, "resize", live, 0);
    const int now = api.replicas("team", "resize");
    EXPECT_GE(now, last / 2);
    last = now;
  }
  EXPECT_EQ(api.replicas("team", "resize"), 1);
  EXPECT_EQ(events.all().back().reason, "ScaledDown");
  EXPECT_EQ(gauge("kubefn_autoscaler_panic", "resize"), 0);
}

TEST_F(ClusterAutoscalerTest, ReplicasThatStopReportingHoldTheCountUntilTheirPodsAreGone) {
  api.put("functions", function("thumb", {{"minReplicas", 1}, {"maxReplicas", 4}, {"target", 1}}));
  api.put("deployments", deployment("thumb", 2));
  api.put("pods", pod("thumb", "thumb-a"));
  api.put("pods", pod("thumb", "thumb-b"));
  ClusterAutoscaler scaler(api, clock, events, registry, options);
  scaler.tick();
  for (int i = 0; i < 3; ++i)
    second(scaler, "thumb", {"thumb-a", "thumb-b"}, 1);
  EXPECT_EQ(api.replicas("team", "thumb"), 2);
  // thumb-b goes silent (not idle): thumb-a alone reports nothing in flight. Past the 3 s
  // after which a replica is unknown, but within the stable window that would drop it.
  for (int i = 0; i < 4; ++i)
    second(scaler, "thumb", {"thumb-a"}, 0);
  auto d = scaler.last_decision("team", "thumb");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->unknown_replicas, 1) << d->reason;
  EXPECT_EQ(api.replicas("team", "thumb"), 2) << d->reason;
  // Its pod is deleted and replaced by thumb-c: thumb-b is forgotten at once, and the idle
  // function goes down to its minimum.
  api.erase("pods", "team", "thumb-b");
  api.put("pods", pod("thumb", "thumb-c"));
  second(scaler, "thumb", {"thumb-a", "thumb-c"}, 0);
  EXPECT_EQ(scaler.last_decision("team", "thumb")->unknown_replicas, 0)
      << scaler.last_decision("team", "thumb")->reason;
  for (int i = 0; i < 12 && api.replicas("team", "thumb") > 1; ++i)
    second(scaler, "thumb", {"thumb-a", "thumb-c"}, 0);
  EXPECT_EQ(api.replicas("team", "thumb"), 1);
}

TEST_F(ClusterAutoscalerTest, PinnedReplicasAndMissingDeploymentsAreLeftAlone) {
  api.put("functions", function("pinned", {{"target", 1}}, 3));
  api.put("deployments", deployment("pinned", 3));
  api.put("functions", function("new", {{"target", 1}}));  // no Deployment yet
  ClusterAutoscaler scaler(api, clock, events, registry, options);
  scaler.tick();
  for (int i = 0; i < 5; ++i) {
    second(scaler, "pinned", {"pinned-a"}, 30);
    second(scaler, "new", {"new-a"}, 30);
  }
  EXPECT_TRUE(api.patches().empty());
  EXPECT_EQ(api.replicas("team", "pinned"), 3);
  EXPECT_FALSE(scaler.last_decision("team", "pinned"));
  EXPECT_FALSE(scaler.last_decision("team", "new"));
}

TEST_F(ClusterAutoscalerTest, AQueuedCallAtZeroScalesFromZeroAtOnce) {
  api.put("functions", function("cold", {{"minReplicas", 0}, {"target", 1}}));
  api.put("deployments", deployment("cold", 0));
  ClusterAutoscaler scaler(api, clock, events, registry, options);
  scaler.tick();
  EXPECT_EQ(api.replicas("team", "cold"), 0);
  GatewayReport g;
  g.gateway = "gw";
  g.ns = "team";
  g.function = "cold";
  g.second_start_unix_ms = unix_ms();
  g.queued = 1;
  g.requests = 1;
  scaler.on_gateway(g);
  scaler.poke_queued();  // what the loop does when the gateway reports a queue
  EXPECT_EQ(api.replicas("team", "cold"), 1);
  ASSERT_FALSE(events.all().empty());
  EXPECT_EQ(events.all().back().reason, "ScaledFromZero");
}

}  // namespace
}  // namespace kubefn::autoscaler
