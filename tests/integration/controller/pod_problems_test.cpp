// What a real node says about a Function's pods, written into the API emulator as a kubelet
// would (pod status, and the previous container's log through pods/log), and what the
// reconciler on the Kubernetes platform makes of it: the Function's conditions and Events,
// over real HTTP. The emulator's Deployment controller is off: the test writes the
// Deployment's status too, as kube-controller-manager would for pods that never get ready.
#include <gtest/gtest.h>

#include "function_crd.hpp"
#include "kubefn/controller/conditions.hpp"
#include "kubefn/controller/function_reconciler.hpp"
#include "kubefn/emulator/kube_emulator.hpp"
#include "kubefn/kube/fake_clock.hpp"
#include "kubefn/kube/rest_kube_client.hpp"
#include "kubefn/platform/kubernetes/kubernetes_platform.hpp"
#include "kubefn/testing/fakes/recording_events.hpp"

namespace kubefn::controller {
namespace {

using ::kubefn::testing::RecordingEvents;
using nlohmann::json;
using platform::kubernetes::KubernetesPlatform;
using namespace std::chrono_literals;

class PodProblemsTest : public ::testing::Test {
 protected:
  static emulator::EmulatorOptions options() {
    emulator::EmulatorOptions o;
    o.deployment_controller = false;
    return o;
  }

  void SetUp() override {
    kube::ClientConfig config;
    config.server = emulator_.url();
    kube::RestClientOptions rest;
    rest.retry.max_attempts = 1;
    auto client = kube::make_rest_kube_client(config, real_clock_, rest);
    ASSERT_TRUE(client.ok()) << client.status().to_string();
    client_ = std::move(client).value();
    auto installed = testing::install_function_crd(*client_, KUBEFN_CRD_FILE);
    ASSERT_TRUE(installed.ok()) << installed.to_string();
    reader_ = std::make_unique<ClientReader>(*client_);
    // The platform's looks at pods are timed by a clock the test moves.
    platform_ = std::make_unique<KubernetesPlatform>(
        *client_, platform::kubernetes::BuildSettings{}, &clock_);
    reconciler_ = std::make_unique<FunctionReconciler>(*client_, *reader_, clock_, events_,
                                                       *platform_, url_sources_);
  }

  json get(const kube::GroupVersionResource& r, const std::string& name) {
    auto got = client_->get({r, "default", name});
    return got.ok() ? got.value() : json();
  }
  void reconcile() {
    auto r = reconciler_->reconcile("default", "hello");
    ASSERT_TRUE(r.ok()) << r.status().to_string();
  }
  json condition(const char* type) {
    return find_condition(get(api::functions(), "hello").value("status", json::object()), type);
  }
  // The Deployment controller's part: the generation seen, `ready` of `replicas` ready.
  void deployment_status(int replicas, int ready) {
    json d = get(kube::resources::deployments(), "hello");
    ASSERT_FALSE(d.is_null());
    d["status"] = {{"observedGeneration", d["metadata"]["generation"]},
                   {"replicas", replicas},
                   {"updatedReplicas", replicas},
                   {"readyReplicas", ready},
                   {"availableReplicas", ready},
                   {"unavailableReplicas", replicas - ready}};
    auto written = client_->update_status(kube::resources::deployments(), d, {});
    ASSERT_TRUE(written.ok()) << written.status().to_string();
  }
  // The ReplicaSet controller's and the scheduler's part: a replica of the Deployment's
  // template, on a node.
  void create_replica(const std::string& name) {
    const json d = get(kube::resources::deployments(), "hello");
    json pod = {{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata",
                 {{"name", name},
                  {"namespace", "default"},
                  {"labels", d["spec"]["template"]["metadata"]["labels"]}}},
                {"spec", d["spec"]["template"]["spec"]}};
    pod["spec"]["nodeName"] = "node-1";
    auto created = client_->create(kube::resources::pods(), pod, {});
    ASSERT_TRUE(created.ok()) << created.status().to_string();
  }
  // The kubelet's part: the function container's status.
  void replica_status(const std::string& name, json container_status) {
    json pod = get(kube::resources::pods(), name);
    container_status["name"] = "function";
    container_status["image"] = pod["spec"]["containers"][0]["image"];
    pod["status"] = {{"phase", "Running"}, {"containerStatuses", json::array({container_status})}};
    auto written = client_->update_status(kube::resources::pods(), pod, {});
    ASSERT_TRUE(written.ok()) << written.status().to_string();
  }

  kube::RealClock real_clock_;  // the REST client's retries
  kube::FakeClock clock_;
  emulator::KubeEmulator emulator_{options()};
  std::unique_ptr<kube::KubeClient> client_;
  RecordingEvents events_;
  std::unique_ptr<ClientReader> reader_;
  UrlSources url_sources_;
  std::unique_ptr<KubernetesPlatform> platform_;
  std::unique_ptr<FunctionReconciler> reconciler_;
};

json crash_loop_back_off(int restarts, int exit_code) {
  return {{"ready", false},
          {"restartCount", restarts},
          {"state",
           {{"waiting",
             {{"reason", "CrashLoopBackOff"},
              {"message", "back-off 40s restarting failed container=function"}}}}},
          {"lastState",
           {{"terminated",
             {{"exitCode", exit_code},
              {"reason", "Error"},
              {"containerID", "containerd://" + std::to_string(restarts)}}}}}};
}

TEST_F(PodProblemsTest, ACrashingFunctionSaysWhyWithItsLastLogLinesAndRecovers) {
  auto created =
      client_->create(api::functions(),
                      {{"apiVersion", "kubefn.dev/v1alpha1"},
                       {"kind", "Function"},
                       {"metadata", {{"name", "hello"}, {"namespace", "default"}}},
                       {"spec", {{"handler", "hello.greet"}, {"image", "registry.local/hello:1"}}}},
                      {});
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  reconcile();
  ASSERT_EQ(condition("Ready").value("reason", ""), "Deploying");

  create_replica("hello-7d9-abc");
  replica_status("hello-7d9-abc", crash_loop_back_off(3, 139));
  emulator_.set_pod_log(
      "default", "hello-7d9-abc", "function",
      "{\"ts\":\"2026-01-01T00:00:00Z\",\"level\":\"info\",\"msg\":\"listening\"}\n"
      "about to dereference null\n",
      /*previous=*/true);
  deployment_status(1, 0);
  reconcile();
  json ready = condition("Ready");
  EXPECT_EQ(ready["status"], "False");
  EXPECT_EQ(ready["reason"], "CrashLoopBackOff");
  EXPECT_EQ(ready["message"],
            "replica hello-7d9-abc exited with code 139 (SIGSEGV), restarted 3 times; last log "
            "lines: listening | about to dereference null; fix the handler and kubectl apply "
            "again");
  EXPECT_EQ(condition("DeploymentReady")["reason"], "CrashLoopBackOff");
  EXPECT_EQ(events_.count("CrashLoopBackOff"), 1u);
  EXPECT_EQ(events_.events().back().type, "Warning");

  // It crashes again: the next look (once due) tells, and no second Event.
  replica_status("hello-7d9-abc", crash_loop_back_off(4, 139));
  emulator_.set_pod_log("default", "hello-7d9-abc", "function", "still null\n", true);
  reconcile();
  EXPECT_NE(condition("Ready")["message"].get<std::string>().find("restarted 3 times"),
            std::string::npos)
      << "looked again before its time";
  clock_.advance(5s);
  reconcile();
  EXPECT_NE(condition("Ready")["message"].get<std::string>().find(
                "restarted 4 times; last log lines: still null;"),
            std::string::npos)
      << condition("Ready").dump();
  EXPECT_EQ(events_.count("CrashLoopBackOff"), 1u);

  // Fixed: running and ready, the Deployment available; the condition says so, and only so.
  replica_status("hello-7d9-abc",
                 {{"ready", true}, {"restartCount", 4}, {"state", {{"running", json::object()}}}});
  deployment_status(1, 1);
  reconcile();
  ready = condition("Ready");
  EXPECT_EQ(ready["status"], "True");
  EXPECT_EQ(ready["reason"], "Ready");
  EXPECT_EQ(ready["message"], "");
  EXPECT_EQ(condition("DeploymentReady")["message"], "1/1 ready");
}

TEST_F(PodProblemsTest, AnImageThatCannotBePulledNamesTheImageAndTheKubeletsWords) {
  auto created = client_->create(
      api::functions(),
      {{"apiVersion", "kubefn.dev/v1alpha1"},
       {"kind", "Function"},
       {"metadata", {{"name", "hello"}, {"namespace", "default"}}},
       {"spec", {{"handler", "hello.greet"}, {"image", "registry.local/hello:nope"}}}},
      {});
  ASSERT_TRUE(created.ok());
  reconcile();
  create_replica("hello-1");
  replica_status("hello-1",
                 {{"ready", false},
                  {"restartCount", 0},
                  {"state",
                   {{"waiting",
                     {{"reason", "ImagePullBackOff"},
                      {"message",
                       "Back-off pulling image \"registry.local/hello:nope\": ErrImagePull: "
                       "registry.local/hello:nope: not found"}}}}}});
  deployment_status(1, 0);
  reconcile();
  json ready = condition("Ready");
  EXPECT_EQ(ready["reason"], "ImagePullBackOff");
  const std::string m = ready["message"];
  EXPECT_NE(m.find("replica hello-1 cannot pull image \"registry.local/hello:nope\" "
                   "(ImagePullBackOff: Back-off pulling image"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("not found"), std::string::npos) << m;
  EXPECT_NE(m.find("check spec.image"), std::string::npos) << m;
  EXPECT_EQ(events_.count("ImagePullBackOff"), 1u);
}

}  // namespace
}  // namespace kubefn::controller
