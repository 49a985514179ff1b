// The autoscaler on the real control plane: the real kubefn-operator (with its stats stream on)
// runs a Function as a Deployment; a test client streams each of its pods' load over gRPC, as
// the runtimes do; the operator writes the Deployment's /scale, the real Deployment and
// ReplicaSet controllers and the scheduler make the pods (kwok marks them Ready), and the
// Function's status.scaling is written through its status subresource.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "kubefn/testing/command.hpp"
#include "kubefn/testing/free_port.hpp"
#include "kubefn/testing/process.hpp"
#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/test_api.hpp"
#include "kubefn/testing/wait.hpp"
#include "kubefn/v1/stats.grpc.pb.h"

namespace kubefn::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class ClusterAutoscaling : public ::testing::TestWithParam<ApiKind> {
 protected:
  void SetUp() override {
    api_ = std::make_unique<TestApi>(GetParam(), KUBEFN_EMULATOR_BIN, dir_.path().string(),
                                     "autoscale", test_kubectl(KUBEFN_DEFAULT_KUBECTL));
    ASSERT_TRUE(api_->error().empty()) << api_->error();
    const std::string crd = api_->install_crd(
        std::string(KUBEFN_SOURCE_DIR) + "/crds/function.yaml", "functions.kubefn.dev");
    ASSERT_TRUE(crd.empty()) << crd;
  }

  CommandResult kubectl(std::vector<std::string> args, const std::string& stdin_text = {}) {
    std::vector<std::string> argv = {test_kubectl(KUBEFN_DEFAULT_KUBECTL), "--kubeconfig",
                                     api_->kubeconfig(), "--cache-dir", dir_.file("kube-cache")};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, {}, 60s, stdin_text);
  }

  json get(const std::string& what) {
    auto r = kubectl({"get", what, "-o", "json"});
    return r.exit_code == 0 ? json::parse(r.out, nullptr, false) : json();
  }

  TempDir dir_;
  std::unique_ptr<TestApi> api_;
};

TEST_P(ClusterAutoscaling, StreamedLoadMovesARealDeploymentsScaleUpAndDown) {
  const std::string ns = api_->ns();
  // --stats-port takes no 0 (it means off): a port free a moment ago.
  const std::uint16_t stats_port = free_port();
  ChildProcess op({KUBEFN_OPERATOR_BIN, "--kubeconfig", api_->kubeconfig(), "--metrics-port", "0",
                   "--bind-address", "127.0.0.1", "--identity", "op", "--namespaces", ns,
                   "--stats-port", std::to_string(stats_port)},
                  {}, dir_.file("op.out"), dir_.file("op.err"));
  ASSERT_TRUE(wait_until(
      [&] { return read_file(dir_.file("op.err")).find("stats stream on") != std::string::npos; },
      20s, 50ms))
      << read_file(dir_.file("op.err"));
  auto applied = kubectl(
      {"apply", "-f", "-"},
      "apiVersion: kubefn.dev/v1alpha1\nkind: Function\nmetadata:\n  name: resize\n  namespace: " +
          ns +
          "\nspec:\n  handler: resize.run\n  image: registry.local/resize:1\n  scaling:\n"
          "    minReplicas: 1\n    maxReplicas: 6\n    target: 1\n    stableWindow: 6\n");
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  ASSERT_TRUE(wait_until(
      [&] {
        return kubectl({"get", "fn", "resize", "-o",
                        "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"})
                   .out == "True";
      },
      60s, 200ms))
      << read_file(dir_.file("op.err"));

  // The runtimes' part: once a second each Ready pod reports its share of the load.
  auto stub = kubefn::v1::Stats::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(stats_port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  kubefn::v1::ReportSummary summary;
  auto writer = stub->Report(&ctx, &summary);
  std::atomic<double> load{4};
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::thread reporter([&] {
    while (!stop.load()) {
      std::vector<std::string> ready;
      json pods = get("pods");
      for (const auto& p : pods.value("items", json::array())) {
        if (p["metadata"].value("labels", json::object()).value("kubefn.dev/function", "") !=
            "resize")
          continue;
        for (const auto& c : p["status"].value("conditions", json::array())) {
          if (c.value("type", "") == "Ready" && c.value("status", "") == "True")
            ready.push_back(p["metadata"].value("name", ""));
        }
      }
      const auto second =
          std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::system_clock::now().time_since_epoch())
                  .count() /
              1000 * 1000 -
          1000;
      for (const auto& name : ready) {
        kubefn::v1::StatsSample s;
        auto* r = s.mutable_replica();
        r->set_namespace_(ns);
        r->set_function("resize");
        r->set_replica(name);
        r->set_second_start_unix_ms(second);
        r->set_inflight_average(load.load() / static_cast<double>(ready.size()));
        r->set_inflight_peak(load.load() / static_cast<double>(ready.size()));
        r->set_requests(static_cast<std::uint64_t>(load.load() * 10 / ready.size()));
        if (!writer->Write(s)) ++failures;
      }
      for (int i = 0; i < 10 && !stop.load(); ++i) std::this_thread::sleep_for(100ms);
    }
  });
  auto replicas = [&] {
    auto r = kubectl({"get", "--raw",
                      "/apis/apps/v1/namespaces/" + ns + "/deployments/resize/scale"});
    json scale = json::parse(r.out, nullptr, false);
    return scale.is_object() ? scale["spec"].value("replicas", -1) : -1;
  };
  auto ready_replicas = [&] {
    return kubectl({"get", "deploy", "resize", "-o", "jsonpath={.status.readyReplicas}"}).out;
  };
  // Four calls in flight, target one each: four replicas, made and Ready by the cluster.
  const bool up = wait_until([&] { return replicas() == 4 && ready_replicas() == "4"; }, 60s,
                             200ms);
  EXPECT_TRUE(up) << "scale " << replicas() << ", ready " << ready_replicas() << "\n"
                  << read_file(dir_.file("op.err"));
  // The calls stop: back to the minimum once the panic and stable windows have passed.
  load = 0;
  const bool down = up && wait_until([&] { return replicas() == 1; }, 90s, 200ms);
  EXPECT_TRUE(down) << "scale " << replicas() << "\n" << read_file(dir_.file("op.err"));
  stop = true;
  reporter.join();
  writer->WritesDone();
  writer->Finish();
  EXPECT_EQ(failures.load(), 0);

  json fn = get("fn/resize");
  const json scaling = fn.value("status", json::object()).value("scaling", json::object());
  EXPECT_EQ(scaling.value("desiredReplicas", -1), 1) << fn.dump();
  EXPECT_FALSE(scaling.value("lastScaleTime", "").empty()) << fn.dump();
  auto events = kubectl({"get", "events", "--field-selector", "involvedObject.name=resize", "-o",
                         "jsonpath={.items[*].reason}"});
  EXPECT_NE(events.out.find("ScaledUp"), std::string::npos) << events.out;
  EXPECT_NE(events.out.find("ScaledDown"), std::string::npos) << events.out;
}

// The emulator's variant is StatsE2E.DeploymentScaleFollowsAStreamedLoadUpAndDown (in process).
KUBEFN_ON_CLUSTER(ClusterAutoscaling);

}  // namespace
}  // namespace kubefn::testing
