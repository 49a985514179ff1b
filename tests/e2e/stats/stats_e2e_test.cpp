// The stats stream end to end. A test client streams a Function's load over gRPC to the
// operator's stats server; the cluster autoscaler writes the Deployment's scale in the API
// emulator, up and then down. And a real kubefn-runtime, pointed at an in-test stats server,
// reports the calls it served.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "function_crd.hpp"
#include "kubefn/api/function.hpp"
#include "kubefn/autoscaler/cluster_autoscaler.hpp"
#include "kubefn/autoscaler/stats_server.hpp"
#include "kubefn/emulator/kube_emulator.hpp"
#include "kubefn/kube/rest_kube_client.hpp"
#include "kubefn/testing/http_client.hpp"
#include "kubefn/testing/wait.hpp"
#include "kubefn/v1/stats.grpc.pb.h"
#include "runtime_process.hpp"

namespace kubefn::autoscaler {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using kubefn::testing::wait_until;

const char* kDeploymentPath = "/apis/apps/v1/namespaces/default/deployments/resize";

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Plays the function's replicas: keeps one Pod per replica the Deployment wants (as its
// controller would) and, once a second, streams each Pod's share of the load.
class LoadClient {
 public:
  LoadClient(emulator::KubeEmulator& emu, std::uint16_t port) : emu_(emu) {
    stub_ = kubefn::v1::Stats::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                           grpc::InsecureChannelCredentials()));
    writer_ = stub_->Report(&ctx_, &summary_);
    thread_ = std::thread([this] { run(); });
  }
  ~LoadClient() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    writer_->WritesDone();
    writer_->Finish();
  }
  void set_load(double in_flight) { load_ = in_flight; }
  int samples() const { return samples_; }
  int write_failures() const { return failures_; }

 private:
  void sync_pods(int want) {
    for (int i = 0; i < std::max(want, have_); ++i) {
      const std::string name = "resize-" + std::to_string(i);
      if (i < want && i >= have_) {
        emu_.call("POST", "/api/v1/namespaces/default/pods",
                  json{{"apiVersion", "v1"},
                       {"kind", "Pod"},
                       {"metadata",
                        {{"name", name},
                         {"namespace", "default"},
                         {"labels", {{"kubefn.dev/function", "resize"}}}}},
                       {"spec", {{"containers", {{{"name", "fn"}, {"image", "r/resize:1"}}}}}}});
      } else if (i >= want && i < have_) {
        emu_.call("DELETE", "/api/v1/namespaces/default/pods/" + name);
      }
    }
    have_ = want;
  }
  void run() {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        // Paced at one sample per replica a second, like the runtimes.
        if (cv_.wait_for(lock, 1s, [&] { return stop_; })) return;
      }
      auto dep = emu_.get(kDeploymentPath);
      if (!dep) continue;
      const int want = (*dep)["spec"].value("replicas", 0);
      sync_pods(want);
      const std::int64_t second = unix_ms_now() / 1000 * 1000 - 1000;
      for (int i = 0; i < want; ++i) {
        kubefn::v1::StatsSample s;
        auto* r = s.mutable_replica();
        r->set_namespace_("default");
        r->set_function("resize");
        r->set_replica("resize-" + std::to_string(i));
        r->set_second_start_unix_ms(second);
        r->set_inflight_average(load_ / want);
        r->set_inflight_peak(load_ / want);
        r->set_requests(static_cast<std::uint64_t>(load_ * 10 / want));
        if (writer_->Write(s)) {
          ++samples_;
        } else {
          ++failures_;
        }
      }
    }
  }

  emulator::KubeEmulator& emu_;
  std::unique_ptr<kubefn::v1::Stats::Stub> stub_;
  grpc::ClientContext ctx_;
  kubefn::v1::ReportSummary summary_;
  std::unique_ptr<grpc::ClientWriter<kubefn::v1::StatsSample>> writer_;
  std::atomic<double> load_{0};
  std::atomic<int> samples_{0};
  std::atomic<int> failures_{0};
  int have_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

TEST(StatsE2E, DeploymentScaleFollowsAStreamedLoadUpAndDown) {
  emulator::KubeEmulator emu;
  kube::RealClock clock;
  kube::ClientConfig config;
  config.server = emu.url();
  auto client = kube::make_rest_kube_client(config, clock);
  ASSERT_TRUE(client.ok());
  kube::KubeClient& api = **client;
  ASSERT_TRUE(controller::testing::install_function_crd(api, KUBEFN_CRD_FILE).ok());
  json fn = {{"apiVersion", "kubefn.dev/v1alpha1"},
             {"kind", "Function"},
             {"metadata", {{"name", "resize"}, {"namespace", "default"}}},
             {"spec",
              {{"handler", "resize.run"},
               {"image", "r/resize:1"},
               {"scaling", {{"minReplicas", 1}, {"maxReplicas", 6}, {"target", 1}}}}}};
  ASSERT_TRUE(api.create(api::functions(), fn, {}).ok());
  const json labels = {{"kubefn.dev/function", "resize"}};
  json dep = {{"apiVersion", "apps/v1"},
              {"kind", "Deployment"},
              {"metadata", {{"name", "resize"}, {"namespace", "default"}, {"labels", labels}}},
              {"spec",
               {{"replicas", 1},
                {"selector", {{"matchLabels", labels}}},
                {"template",
                 {{"metadata", {{"labels", labels}}},
                  {"spec", {{"containers", {{{"name", "fn"}, {"image", "r/resize:1"}}}}}}}}}}};
  ASSERT_TRUE(api.create(kube::resources::deployments(), dep, {}).ok());

  controller::ApiEventRecorder events(api, clock);
  prometheus::Registry registry;
  ClusterAutoscalerOptions options;
  options.stable_window = 6s;  // the decision's windows, shortened so the test ends soon
  ClusterAutoscaler scaler(api, clock, events, registry, options);
  StatsServer server(scaler, "127.0.0.1", 0);
  ASSERT_TRUE(server.start().ok());
  scaler.start();

  auto replicas = [&] {
    auto d = emu.get(kDeploymentPath);
    return d ? (*d)["spec"].value("replicas", -1) : -1;
  };
  auto why = [&] {
    auto d = scaler.last_decision("default", "resize");
    return "replicas " + std::to_string(replicas()) + "; " + (d ? d->reason : "no decision");
  };
  {
    LoadClient load(emu, server.port());
    // Four calls in flight, one per replica wanted: up to four.
    load.set_load(4);
    ASSERT_TRUE(wait_until([&] { return replicas() == 4; }, 40s, 50ms)) << why();
    EXPECT_GT(server.samples(), 0u);
    // The calls stop: back down to the minimum once panic and the stable window pass.
    load.set_load(0);
    ASSERT_TRUE(wait_until([&] { return replicas() == 1; }, 90s, 50ms)) << why();
    EXPECT_EQ(load.write_failures(), 0);
  }
  scaler.stop();
  server.stop();

  auto list = api.list({"", "v1", "events", true}, "default", {});
  ASSERT_TRUE(list.ok());
  std::set<std::string> reasons;
  for (const auto& e : list.value().items) {
    if (e.value("involvedObject", json::object()).value("name", "") == "resize")
      reasons.insert(e.value("reason", ""));
  }
  EXPECT_TRUE(reasons.count("ScaledUp")) << list.value().items.size() << " events";
  EXPECT_TRUE(reasons.count("ScaledDown")) << list.value().items.size() << " events";

  // The Function's status says the last scale and why.
  auto live = api.get(kube::ObjectRef{api::functions(), "default", "resize"});
  ASSERT_TRUE(live.ok());
  const json scaling = live->value("status", json::object()).value("scaling", json::object());
  EXPECT_EQ(scaling.value("desiredReplicas", -1), 1) << live->dump();
  EXPECT_NE(scaling.value("reason", "").find("concurrency"), std::string::npos) << live->dump();
  EXPECT_FALSE(scaling.value("lastScaleTime", "").empty()) << live->dump();
}

class RecordingSink : public StatsSink {
 public:
  void on_replica(const ReplicaReport& r) override {
    std::lock_guard<std::mutex> lock(mu_);
    reports_.push_back(r);
  }
  void on_gateway(const GatewayReport&) override {}
  std::vector<ReplicaReport> reports() const {
    std::lock_guard<std::mutex> lock(mu_);
    return reports_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<ReplicaReport> reports_;
};

TEST(StatsE2E, RuntimeReportsTheCallsItServed) {
  RecordingSink sink;
  StatsServer server(sink, "127.0.0.1", 0);
  ASSERT_TRUE(server.start().ok());
  kubefn::testing::RuntimeProcess rt(
      KUBEFN_HELLO_SO, "greet",
      {{"KUBEFN_STATS_ADDRESS", "127.0.0.1:" + std::to_string(server.port())},
       {"KUBEFN_FUNCTION_NAME", "hello"},
       {"POD_NAMESPACE", "team"},
       {"POD_NAME", "hello-5d8f-x2k"}});
  ASSERT_TRUE(rt.started()) << rt.stderr_text();
  constexpr int kCalls = 37;
  for (int i = 0; i < kCalls; ++i) {
    auto r = kubefn::testing::http_request(rt.port(), "GET", "/?name=n" + std::to_string(i));
    ASSERT_TRUE(r && r->status == 200);
  }
  auto total = [&] {
    double sum = 0;
    for (const auto& r : sink.reports())
      sum += r.requests;
    return sum;
  };
  // Samples come once a second; the calls are in those that cover their seconds.
  ASSERT_TRUE(wait_until([&] { return total() >= kCalls; }, 20s))
      << total() << " of " << kCalls << "\n"
      << rt.stderr_text();
  // And no more than were made, a second later too.
  const std::size_t seen = sink.reports().size();
  ASSERT_TRUE(wait_until([&] { return sink.reports().size() >= seen + 2; }, 20s));
  EXPECT_EQ(total(), kCalls);
  for (const auto& r : sink.reports()) {
    EXPECT_EQ(r.ns, "team");
    EXPECT_EQ(r.function, "hello");
    EXPECT_EQ(r.replica, "hello-5d8f-x2k");
    EXPECT_EQ(r.second_start_unix_ms % 1000, 0);
    EXPECT_GE(r.inflight_peak, r.inflight_average);
  }
  EXPECT_EQ(server.streams(), 1u);
  EXPECT_NE(rt.stderr_text().find("stats stream to 127.0.0.1:"), std::string::npos);
}

TEST(StatsE2E, RuntimeServesWithoutReportsWhenThePluginIsMissing) {
  kubefn::testing::RuntimeProcess rt(
      KUBEFN_HELLO_SO, "greet",
      {{"KUBEFN_STATS_ADDRESS", "127.0.0.1:9"}, {"KUBEFN_STATS_PLUGIN", "/nonexistent/stats.so"}});
  ASSERT_TRUE(rt.started()) << rt.stderr_text();
  auto r = kubefn::testing::http_request(rt.port(), "GET", "/?name=x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(rt.stderr_text().find("load reports are off"), std::string::npos) << rt.stderr_text();
}

}  // namespace
}  // namespace kubefn::autoscaler
