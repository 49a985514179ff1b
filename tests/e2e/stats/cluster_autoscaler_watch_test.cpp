// The cluster autoscaler's watches against the API emulator over real HTTP: what changes in the
// API is in the autoscaler's hands before its next tick, and a tick itself asks nothing of the
// API. Ticks are driven by hand on a fake clock; the API client runs on the real one.
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <mutex>

#include "function_crd.hpp"
#include "kubefn/autoscaler/cluster_autoscaler.hpp"
#include "kubefn/emulator/kube_emulator.hpp"
#include "kubefn/kube/fake_clock.hpp"
#include "kubefn/kube/rest_kube_client.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::autoscaler {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using kubefn::testing::wait_until;

class CountingEvents final : public controller::EventRecorder {
 public:
  void record(const json&, const std::string&, const std::string& reason,
              const std::string&) override {
    std::lock_guard<std::mutex> lock(mu_);
    reasons_.push_back(reason);
  }
  std::vector<std::string> reasons() {
    std::lock_guard<std::mutex> lock(mu_);
    return reasons_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> reasons_;
};

std::string deployment_path(const std::string& name) {
  return "/apis/apps/v1/namespaces/default/deployments/" + name;
}

class ClusterAutoscalerWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kube::ClientConfig config;
    config.server = emu.url();
    auto made = kube::make_rest_kube_client(config, real_clock);
    ASSERT_TRUE(made.ok()) << made.status().message();
    client = std::move(*made);
    ASSERT_TRUE(controller::testing::install_function_crd(*client, KUBEFN_CRD_FILE).ok());
    options.stable_window = 6s;
    scaler = std::make_unique<ClusterAutoscaler>(*client, clock, events, registry, options);
    scaler->watch();
    ASSERT_TRUE(scaler->wait_for_sync(10s));
  }
  void TearDown() override {
    if (scaler) scaler->stop();
  }

  void create_function(const std::string& name, int max_replicas) {
    json fn = {{"apiVersion", "kubefn.dev/v1alpha1"},
               {"kind", "Function"},
               {"metadata", {{"name", name}, {"namespace", "default"}}},
               {"spec",
                {{"handler", name + ".run"},
                 {"image", "r/" + name + ":1"},
                 {"scaling", {{"minReplicas", 1}, {"maxReplicas", max_replicas}, {"target", 1}}}}}};
    auto r = emu.call("POST", "/apis/kubefn.dev/v1alpha1/namespaces/default/functions", fn);
    ASSERT_EQ(r.status, 201) << r.body.dump();
  }
  void create_deployment(const std::string& name, int replicas) {
    const json labels = {{"kubefn.dev/function", name}};
    json dep = {
        {"apiVersion", "apps/v1"},
        {"kind", "Deployment"},
        {"metadata", {{"name", name}, {"namespace", "default"}, {"labels", labels}}},
        {"spec",
         {{"replicas", replicas},
          {"selector", {{"matchLabels", labels}}},
          {"template",
           {{"metadata", {{"labels", labels}}},
            {"spec", {{"containers", {{{"name", "fn"}, {"image", "r/" + name + ":1"}}}}}}}}}}};
    auto r = emu.call("POST", "/apis/apps/v1/namespaces/default/deployments", dep);
    ASSERT_EQ(r.status, 201) << r.body.dump();
  }
  void create_pod(const std::string& function, const std::string& name) {
    json pod = {{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata",
                 {{"name", name},
                  {"namespace", "default"},
                  {"labels", {{"kubefn.dev/function", function}}}}},
                {"spec", {{"containers", {{{"name", "fn"}, {"image", "r/" + function + ":1"}}}}}}};
    auto r = emu.call("POST", "/api/v1/namespaces/default/pods", pod);
    ASSERT_EQ(r.status, 201) << r.body.dump();
  }
  int replicas(const std::string& name) {
    auto d = emu.get(deployment_path(name));
    return d ? (*d)["spec"].value("replicas", -1) : -1;
  }
  // Waits until the autoscaler tracks the Function and sees its Deployment at `replicas`.
  void wait_seen(const std::string& name, int replicas) {
    ASSERT_TRUE(wait_until(
        [&] {
          return scaler->tracks("default", name) &&
                 scaler->current_replicas("default", name) == replicas;
        },
        10s));
  }
  // One second passes on the fake clock: each named replica reports `inflight` calls in flight
  // throughout it; then one tick.
  void second(const std::string& fn, const std::vector<std::string>& pods, double inflight) {
    clock.advance(1s);
    const std::int64_t unix_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock.wall_now().time_since_epoch())
            .count();
    for (const auto& p : pods) {
      ReplicaReport r;
      r.ns = "default";
      r.function = fn;
      r.replica = p;
      r.second_start_unix_ms = unix_ms - 1000;
      r.inflight_average = inflight;
      r.inflight_peak = inflight;
      r.requests = inflight * 10;
      scaler->on_replica(r);
    }
    scaler->tick();
  }

  emulator::KubeEmulator emu;
  kube::RealClock real_clock;
  kube::FakeClock clock;
  std::unique_ptr<kube::KubeClient> client;
  CountingEvents events;
  prometheus::Registry registry;
  ClusterAutoscalerOptions options;
  std::unique_ptr<ClusterAutoscaler> scaler;
};

TEST_F(ClusterAutoscalerWatchTest, AFunctionCreatedAfterTheStartIsScaledAtItsFirstLoadedTick) {
  second("late", {}, 0);  // nothing known yet
  create_function("late", 5);
  create_deployment("late", 1);
  wait_seen("late", 1);
  // The first tick with load writes the scale: no list period to wait for.
  second("late", {"late-a"}, 4);
  EXPECT_EQ(replicas("late"), 4);
  EXPECT_EQ(scaler->scale_writes(), 1u);
  ASSERT_EQ(events.reasons().size(), 1u);
  EXPECT_EQ(events.reasons()[0], "ScaledUp");
  // The write comes back by watch.
  EXPECT_TRUE(wait_until([&] { return scaler->current_replicas("default", "late") == 4; }, 10s));
}

TEST_F(ClusterAutoscalerWatchTest, AScaleWrittenBySomeoneElseIsSeenAtTheNextTick) {
  create_function("ext", 6);
  create_deployment("ext", 1);
  wait_seen("ext", 1);
  for (int i = 0; i < 3; ++i)
    second("ext", {"ext-a"}, 1);
  ASSERT_EQ(scaler->scale_writes(), 0u);
  // The load doubles and, before the autoscaler's next tick, someone else scales to two: the
  // tick sees two, decides two, and writes nothing back.
  auto r = emu.call("PATCH", deployment_path("ext") + "/scale", json{{"spec", {{"replicas", 2}}}},
                    "application/merge-patch+json");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  wait_seen("ext", 2);
  second("ext", {"ext-a", "ext-b"}, 1);
  auto d = scaler->last_decision("default", "ext");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->desired, 2) << d->reason;
  EXPECT_EQ(scaler->scale_writes(), 0u);
  EXPECT_EQ(replicas("ext"), 2);
}

TEST_F(ClusterAutoscalerWatchTest, ADeletedPodsReplicaIsForgottenAtOnce) {
  create_function("thumb", 4);
  create_deployment("thumb", 2);
  create_pod("thumb", "thumb-a");
  create_pod("thumb", "thumb-b");
  wait_seen("thumb", 2);
  for (int i = 0; i < 3; ++i)
    second("thumb", {"thumb-a", "thumb-b"}, 1);
  // thumb-b goes silent: past the 3 s after which a replica is unknown, it holds the count.
  for (int i = 0; i < 4; ++i)
    second("thumb", {"thumb-a"}, 0);
  ASSERT_TRUE(scaler->last_decision("default", "thumb"));
  EXPECT_EQ(scaler->last_decision("default", "thumb")->unknown_replicas, 1);
  EXPECT_EQ(replicas("thumb"), 2);
  // Its Pod is deleted and replaced by thumb-c: forgotten before any tick.
  auto r = emu.call("DELETE", "/api/v1/namespaces/default/pods/thumb-b");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  create_pod("thumb", "thumb-c");
  ASSERT_TRUE(wait_until([&] { return scaler->replicas_forgotten() == 1; }, 10s));
  second("thumb", {"thumb-a", "thumb-c"}, 0);
  EXPECT_EQ(scaler->last_decision("default", "thumb")->unknown_replicas, 0)
      << scaler->last_decision("default", "thumb")->reason;
}

TEST_F(ClusterAutoscalerWatchTest, SteadyTicksMakeNoRequests) {
  for (int f = 0; f < 5; ++f) {
    const std::string name = "calm-" + std::to_string(f);
    create_function(name, 4);
    create_deployment(name, 2);
  }
  for (int f = 0; f < 5; ++f)
    wait_seen("calm-" + std::to_string(f), 2);
  // One second for all five, then one tick.
  auto all_seconds = [&] {
    clock.advance(1s);
    const std::int64_t unix_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock.wall_now().time_since_epoch())
            .count();
    for (int f = 0; f < 5; ++f) {
      for (const char* p : {"-a", "-b"}) {
        ReplicaReport r;
        r.ns = "default";
        r.function = "calm-" + std::to_string(f);
        r.replica = r.function + p;
        r.second_start_unix_ms = unix_ms - 1000;
        r.inflight_average = r.inflight_peak = 1;
        r.requests = 10;
        scaler->on_replica(r);
      }
    }
    scaler->tick();
  };
  for (int i = 0; i < 3; ++i)
    all_seconds();
  const std::size_t before = emu.requests_served();
  const std::uint64_t writes = scaler->scale_writes();
  for (int i = 0; i < 20; ++i)
    all_seconds();
  EXPECT_EQ(emu.requests_served(), before);
  EXPECT_EQ(scaler->scale_writes(), writes);
  EXPECT_EQ(writes, 0u);
  EXPECT_EQ(scaler->last_decision("default", "calm-0")->desired, 2);
}

}  // namespace
}  // namespace kubefn::autoscaler
