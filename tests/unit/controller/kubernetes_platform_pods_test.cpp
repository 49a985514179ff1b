// The Kubernetes platform reading its pods while a Function is not ready, under the reconcile
// core, on an in-memory API and a fake clock: what reaches the Function's conditions and
// Events, how often pods are listed and logs read, and that a recovery leaves no trace.
#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "kubefn/api/function.hpp"
#include "kubefn/controller/conditions.hpp"
#include "kubefn/controller/function_reconciler.hpp"
#include "kubefn/kube/fake_clock.hpp"
#include "kubefn/platform/kubernetes/desired.hpp"
#include "kubefn/platform/kubernetes/kubernetes_platform.hpp"
#include "kubefn/testing/fakes/fake_kube_client.hpp"
#include "kubefn/testing/fakes/recording_events.hpp"

namespace kubefn::platform::kubernetes {
namespace {

using controller::find_condition;
using ::kubefn::testing::FakeKubeClient;
using ::kubefn::testing::RecordingEvents;
using nlohmann::json;
using Strings = std::vector<std::string>;
using namespace std::chrono_literals;

// The in-memory API, plus pods/log as a kubelet would answer it (the fake serves none).
class LogServingClient final : public kube::KubeClient {
 public:
  explicit LogServingClient(FakeKubeClient& api) : api_(api) {}

  kube::Result<json> get(const kube::ObjectRef& ref) override { return api_.get(ref); }
  kube::Result<kube::ObjectList> list(const kube::GroupVersionResource& r, const std::string& ns,
                                      const kube::ListOptions& o) override {
    return api_.list(r, ns, o);
  }
  kube::Result<json> create(const kube::GroupVersionResource& r, const json& object,
                            const kube::WriteOptions& o) override {
    return api_.create(r, object, o);
  }
  kube::Result<json> update(const kube::GroupVersionResource& r, const json& object,
                            const kube::WriteOptions& o) override {
    return api_.update(r, object, o);
  }
  kube::Result<json> update_status(const kube::GroupVersionResource& r, const json& object,
                                   const kube::WriteOptions& o) override {
    return api_.update_status(r, object, o);
  }
  kube::Result<json> patch(const kube::ObjectRef& ref, kube::PatchType type, const json& p,
                           const kube::PatchOptions& o) override {
    return api_.patch(ref, type, p, o);
  }
  kube::Result<json> remove(const kube::ObjectRef& ref, const kube::DeleteOptions& o) override {
    return api_.remove(ref, o);
  }
  kube::Result<json> get_scale(const kube::ObjectRef& ref) override { return api_.get_scale(ref); }
  kube::Result<json> update_scale(const kube::ObjectRef& ref, const json& scale) override {
    return api_.update_scale(ref, scale);
  }
  kube::Result<std::unique_ptr<kube::WatchStream>> watch(const kube::GroupVersionResource& r,
                                                         const std::string& ns,
                                                         const kube::ListOptions& o) override {
    return api_.watch(r, ns, o);
  }

  kube::Result<std::string> get_log(const kube::ObjectRef& pod,
                                    const kube::LogOptions& options) override {
    std::lock_guard lock(mu_);
    requests_.push_back(options);
    if (!refusal_.ok()) return refusal_;
    auto it = logs_.find(pod.name);
    if (it == logs_.end()) return kube::Status(kube::StatusCode::kBadRequest, "no such log");
    return it->second;
  }

  void set_log(const std::string& pod, std::string text) {
    std::lock_guard lock(mu_);
    logs_[pod] = std::move(text);
  }
  void refuse_logs(kube::Status status) {
    std::lock_guard lock(mu_);
    refusal_ = std::move(status);
  }
  std::vector<kube::LogOptions> log_requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  FakeKubeClient& api_;
  mutable std::mutex mu_;
  std::map<std::string, std::string> logs_;
  std::vector<kube::LogOptions> requests_;
  kube::Status refusal_;
};

class NoFetches final : public controller::SourceFetcher {
 public:
  controller::FetchResult fetch(const std::string& url) override {
    ADD_FAILURE() << "fetched " << url;
    return {controller::FetchResult::Error::kUnavailable, {}, "no network in unit tests"};
  }
};

constexpr const char* kImage = "registry.test/hello:1";

struct Cluster {
  explicit Cluster(BuildSettings build = {}) : platform(client, std::move(build), &clock) {}

  FakeKubeClient api;
  LogServingClient client{api};
  controller::ClientReader reader{client};
  kube::FakeClock clock;
  RecordingEvents events;
  KubernetesPlatform platform;
  NoFetches fetcher;
  controller::UrlSources sources{fetcher};
  controller::FunctionReconciler reconciler{client, reader, clock, events, platform, sources};

  // One reconcile, which succeeds (what the user must fix is in the conditions).
  kube::ReconcileResult reconcile() {
    auto r = reconciler.reconcile("default", "hello");
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? r.value() : kube::ReconcileResult{};
  }
  json status() const {
    auto fn = api.peek({api::functions(), "default", "hello"});
    return fn ? fn->value("status", json::object()) : json::object();
  }
  json condition(const char* type) const { return find_condition(status(), type); }
  std::string reason(const char* type) const {
    const json c = condition(type);
    return c.is_null() ? "" : c.value("status", "") + " " + c.value("reason", "");
  }
  std::string message(const char* type) const { return condition(type).value("message", ""); }
  int pod_lists() const {
    int n = 0;
    for (const auto& c : api.call_log()) {
      if (c.verb == "list" && c.resource.resource == "pods") ++n;
    }
    return n;
  }

  void put_function(json spec) {
    api.put_object(
        api::functions(),
        {{"apiVersion", api::kApiVersion},
         {"kind", api::kKind},
         {"metadata",
          {{"name", "hello"}, {"namespace", "default"}, {"uid", "uid-hello"}, {"generation", 1}}},
         {"spec", std::move(spec)}});
  }
  // The Deployment controller's part: `ready` of `replicas` ready, generation observed.
  void deployment_status(int replicas, int ready) {
    auto d = api.peek({kube::resources::deployments(), "default", "hello"});
    ASSERT_TRUE(d.has_value());
    json dep = *d;
    dep["metadata"]["generation"] = 1;
    dep["status"] = {{"observedGeneration", 1},     {"replicas", replicas},
                     {"updatedReplicas", replicas}, {"readyReplicas", ready},
                     {"availableReplicas", ready},  {"unavailableReplicas", replicas - ready}};
    api.put_object(kube::resources::deployments(), dep);
  }
  // The kubelet's part: replica `name` with `container_status` for the function container.
  void replica(const std::string& name, json container_status, const std::string& image = kImage) {
    container_status["name"] = "function";
    api.put_object(
        kube::resources::pods(),
        {{"apiVersion", "v1"},
         {"kind", "Pod"},
         {"metadata",
          {{"name", name},
           {"namespace", "default"},
           {"uid", "uid-" + name},
           {"labels", {{"kubefn.dev/function", "hello"}}}}},
         {"spec",
          {{"nodeName", "node-1"},
           {"containers", json::array({{{"name", "function"}, {"image", image}}})}}},
         {"status",
          {{"phase", "Running"}, {"containerStatuses", json::array({container_status})}}}});
  }
};

json crash_loop(int restarts, const std::string& container_id) {
  return {
      {"ready", false},
      {"restartCount", restarts},
      {"state", {{"waiting", {{"reason", "CrashLoopBackOff"}, {"message", "back-off 40s"}}}}},
      {"lastState",
       {{"terminated", {{"exitCode", 139}, {"reason", "Error"}, {"containerID", container_id}}}}}};
}

json running(bool ready) {
  return {{"ready", ready},
          {"restartCount", 0},
          {"state", {{"running", {{"startedAt", "2026-01-01T00:00:00Z"}}}}}};
}

const json kPrebuilt = {{"handler", "hello.greet"}, {"image", kImage}};

TEST(KubernetesPlatformPods, ACrashLoopReachesTheConditionsWithItsLastLogLinesAndRecovers) {
  Cluster c;
  c.put_function(kPrebuilt);
  c.reconcile();  // makes the Service and the Deployment
  c.deployment_status(1, 0);
  c.replica("hello-7d9-abc", crash_loop(3, "containerd://one"));
  c.client.set_log("hello-7d9-abc",
                   "{\"ts\":\"t\",\"level\":\"info\",\"msg\":\"listening\"}\n"
                   "handling /crash\n");
  const int lists_before = c.pod_lists();

  auto r = c.reconcile();
  EXPECT_EQ(r.requeue_after, std::optional<std::chrono::seconds>(5s));
  EXPECT_EQ(c.reason("Ready"), "False CrashLoopBackOff");
  EXPECT_EQ(c.reason("DeploymentReady"), "False CrashLoopBackOff");
  EXPECT_EQ(c.message("Ready"),
            "replica hello-7d9-abc exited with code 139 (SIGSEGV), restarted 3 times; last log "
            "lines: listening | handling /crash; fix the handler and kubectl apply again");
  EXPECT_EQ(c.message("DeploymentReady"), c.message("Ready"));
  EXPECT_EQ(c.status()["readyReplicas"], 0);
  EXPECT_EQ(c.events.count("CrashLoopBackOff"), 1u);
  EXPECT_EQ(c.events.events().back().type, "Warning");
  EXPECT_EQ(c.pod_lists(), lists_before + 1);
  const auto asked = c.client.log_requests();
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].container, "function");
  EXPECT_TRUE(asked[0].previous);
  EXPECT_EQ(asked[0].tail_lines, kLogTailLines);
  EXPECT_EQ(asked[0].limit_bytes, kLogLimitBytes);

  // Looked at again before its time: what was found stands, with no request, no write and no
  // Event.
  const json before = c.status();
  const int writes = c.reconciler.writes().status_updates;
  c.clock.advance(2s);
  r = c.reconcile();
  EXPECT_EQ(r.requeue_after, std::optional<std::chrono::seconds>(3s));
  EXPECT_EQ(c.pod_lists(), lists_before + 1);
  EXPECT_EQ(c.status(), before);
  EXPECT_EQ(c.reconciler.writes().status_updates, writes);
  EXPECT_EQ(c.events.count("CrashLoopBackOff"), 1u);

  // Due: it crashed once more; the new instance's log is read, the message follows, the
  // reason (and so the Event) stays; the next look is later.
  c.replica("hello-7d9-abc", crash_loop(4, "containerd://two"));
  c.client.set_log("hello-7d9-abc", "handling /crash again\n");
  c.clock.advance(3s);
  r = c.reconcile();
  EXPECT_EQ(r.requeue_after, std::optional<std::chrono::seconds>(10s));
  EXPECT_NE(c.message("Ready").find("restarted 4 times; last log lines: handling /crash again;"),
            std::string::npos)
      << c.message("Ready");
  EXPECT_EQ(c.client.log_requests().size(), 2u);
  EXPECT_EQ(c.events.count("CrashLoopBackOff"), 1u);
  // The same instance again: listed, but its log is not read twice.
  c.clock.advance(10s);
  r = c.reconcile();
  EXPECT_EQ(r.requeue_after, std::optional<std::chrono::seconds>(20s));
  EXPECT_EQ(c.pod_lists(), lists_before + 3);
  EXPECT_EQ(c.client.log_requests().size(), 2u);

  // Fixed: the replica is ready, the Deployment available; nothing of the crash remains.
  c.replica("hello-7d9-abc", running(true));
  c.deployment_status(1, 1);
  r = c.reconcile();
  EXPECT_FALSE(r.requeue_after.has_value());
  EXPECT_EQ(c.reason("Ready"), "True Ready");
  EXPECT_EQ(c.message("Ready"), "");
  EXPECT_EQ(c.reason("DeploymentReady"), "True Available");
  EXPECT_EQ(c.message("DeploymentReady"), "1/1 ready");
  EXPECT_EQ(c.events.summary().back(), "Normal Ready");
  // And a crash later is news again.
  c.replica("hello-7d9-abc", crash_loop(1, "containerd://three"));
  c.deployment_status(1, 0);
  c.reconcile();
  EXPECT_EQ(c.reason("Ready"), "False CrashLoopBackOff");
  EXPECT_EQ(c.events.count("CrashLoopBackOff"), 2u);
}

TEST(KubernetesPlatformPods, ADeploymentChangeIsLookedAtAtOnce) {
  Cluster c;
  c.put_function(kPrebuilt);
  c.reconcile();
  c.deployment_status(1, 0);
  c.replica("hello-1", running(false));
  c.reconcile();
  EXPECT_EQ(c.reason("Ready"), "False Deploying");
  const int lists = c.pod_lists();
  // Nothing changed, not due: no list.
  c.reconcile();
  EXPECT_EQ(c.pod_lists(), lists);
  // The Deployment's status moved (a second replica): look now, whatever the schedule.
  c.replica("hello-2", {{"ready", false},
                        {"restartCount", 0},
                        {"state",
                         {{"waiting",
                           {{"reason", "ErrImagePull"},
                            {"message",
                             "failed to pull image \"registry.test/hello:1\": "
                             "401 Unauthorized"}}}}}});
  c.deployment_status(2, 0);
  c.reconcile();
  EXPECT_EQ(c.pod_lists(), lists + 1);
  EXPECT_EQ(c.reason("Ready"), "False ImagePullBackOff");
  EXPECT_EQ(c.reason("DeploymentReady"), "False ImagePullBackOff");
  EXPECT_NE(c.message("Ready").find("replica hello-2 cannot pull image \"registry.test/hello:1\" "
                                    "(ErrImagePull: failed to pull image"),
            std::string::npos)
      << c.message("Ready");
  EXPECT_NE(c.message("Ready").find("check spec.image"), std::string::npos);
  EXPECT_TRUE(c.client.log_requests().empty()) << "no log for a container that never ran";
}

TEST(KubernetesPlatformPods, PodsOfAnotherImageOrOfABuildAreNotTheReplicas) {
  Cluster c;
  c.put_function(kPrebuilt);
  c.reconcile();
  c.deployment_status(1, 0);
  c.replica("hello-old", crash_loop(3, "containerd://old"), "registry.test/hello:0");
  // Another Function's pod (the fake applies no label selector).
  c.replica("other-1", crash_loop(3, "containerd://x"));
  json other = *c.api.peek({kube::resources::pods(), "default", "other-1"});
  other["metadata"]["labels"]["kubefn.dev/function"] = "other";
  c.api.put_object(kube::resources::pods(), other);
  c.reconcile();
  EXPECT_EQ(c.reason("Ready"), "False Deploying");
  EXPECT_EQ(c.message("Ready"), "0/1 replicas ready");
}

TEST(KubernetesPlatformPods, ARefusedPodListIsANoteNotAFailure) {
  Cluster c;
  c.put_function(kPrebuilt);
  c.reconcile();
  c.deployment_status(1, 0);
  c.api.on("list", [](const FakeKubeClient::Call& call) -> std::optional<kube::Status> {
    if (call.resource.resource == "pods") {
      return kube::Status(kube::StatusCode::kForbidden, "pods is forbidden: RBAC says no");
    }
    return std::nullopt;
  });
  auto r = c.reconcile();
  EXPECT_EQ(r.requeue_after, std::optional<std::chrono::seconds>(5s));
  EXPECT_EQ(c.reason("Ready"), "False Deploying");
  EXPECT_EQ(c.message("Ready"),
            "0/1 replicas ready; its pods could not be read (Forbidden: pods is forbidden: RBAC "
            "says no)");
  EXPECT_EQ(c.events.count("ReconcileError"), 0u);
}

TEST(KubernetesPlatformPods, ARefusedLogReadSaysHowToReadIt) {
  Cluster c;
  c.put_function(kPrebuilt);
  c.reconcile();
  c.deployment_status(1, 0);
  c.replica("hello-1", crash_loop(2, "containerd://one"));
  c.client.refuse_logs(kube::Status(kube::StatusCode::kForbidden, "pods \"hello-1\" is forbidden"));
  c.reconcile();
  EXPECT_EQ(c.reason("Ready"), "False CrashLoopBackOff");
  EXPECT_NE(c.message("Ready").find("restarted 2 times; its log could not be read (Forbidden: pods "
                                    "\"hello-1\" is forbidden): kubectl logs hello-1 -c function "
                                    "--previous; fix the handler"),
            std::string::npos)
      << c.message("Ready");
}

TEST(KubernetesPlatformPods, ALongLogStaysWithinTheMessageBound) {
  Cluster c;
  c.put_function(kPrebuilt);
  c.reconcile();
  c.deployment_status(1, 0);
  c.replica("hello-1", crash_loop(2, "containerd://one"));
  std::string log;
  for (int i = 0; i < 200; ++i)
    log += "line " + std::to_string(i) + " " + std::string(300, 'x') + "\n";
  c.client.set_log("hello-1", log + "the last words\n");
  c.reconcile();
  const std::string m = c.message("Ready");
  EXPECT_LE(m.size(), kMaxProblemMessageBytes);
  EXPECT_NE(m.find("the last words"), std::string::npos) << m;
  EXPECT_NE(m.find("fix the handler and kubectl apply again"), std::string::npos) << m;
}

TEST(KubernetesPlatformPods, ANewVersionThatCrashesWhileTheOldServesSaysSo) {
  Cluster c;
  c.put_function(kPrebuilt);
  c.reconcile();
  c.deployment_status(1, 1);
  c.replica("hello-old", running(true));
  c.reconcile();
  ASSERT_EQ(c.reason("Ready"), "True Ready");
  // A new image: the Deployment rolls, the new replica crashes, the old one still serves.
  json fn = *c.api.peek({api::functions(), "default", "hello"});
  fn["spec"]["image"] = "registry.test/hello:2";
  fn["metadata"]["generation"] = 2;
  c.api.put_object(api::functions(), fn);
  c.reconcile();
  json dep = *c.api.peek({kube::resources::deployments(), "default", "hello"});
  dep["metadata"]["generation"] = 2;
  dep["status"] = {{"observedGeneration", 2}, {"replicas", 2},          {"updatedReplicas", 1},
                   {"readyReplicas", 1},      {"availableReplicas", 1}, {"unavailableReplicas", 1}};
  c.api.put_object(kube::resources::deployments(), dep);
  c.replica("hello-new", crash_loop(1, "containerd://new"), "registry.test/hello:2");
  c.client.set_log("hello-new", "boom\n");
  c.reconcile();
  EXPECT_EQ(c.reason("Ready"), "False CrashLoopBackOff");
  EXPECT_NE(c.message("Ready").find("replica hello-new exited with code 139 (SIGSEGV), restarted "
                                    "once; last log lines: boom; the previous replicas keep "
                                    "serving; fix the handler"),
            std::string::npos)
      << c.message("Ready");
}

// Build Jobs: a builder image that cannot be pulled is said on Built, not "is running".
class BuildPods : public ::testing::Test {
 protected:
  static BuildSettings settings() {
    BuildSettings b;
    b.registry = "registry.test/kubefn";
    b.base_image = "registry.test/kubefn/runtime:1";
    b.builder_image = "registry.test/kubefn/builder:1";
    return b;
  }
  json job() {
    auto jobs = c_.api.list(kube::resources::jobs(), "default", {});
    EXPECT_TRUE(jobs.ok() && jobs->items.size() == 1u);
    return jobs.ok() && !jobs->items.empty() ? jobs->items[0] : json::object();
  }
  void build_pod(json container_status, json conditions = json::array()) {
    const json j = job();
    container_status["name"] = "build";
    json pod = {
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata",
         {{"name", j["metadata"]["name"].get<std::string>() + "-x1"},
          {"namespace", "default"},
          {"uid", "uid-build"},
          {"labels", j["spec"]["template"]["metadata"]["labels"]}}},
        {"spec",
         {{"containers",
           json::array({{{"name", "build"}, {"image", "registry.test/kubefn/builder:1"}}})}}},
        {"status", {{"phase", "Pending"}, {"containerStatuses", json::array({container_status})}}}};
    if (!conditions.empty()) pod["status"]["conditions"] = conditions;
    c_.api.put_object(kube::resources::pods(), pod);
  }
  void job_status(json status) {
    json j = job();
    j["status"] = std::move(status);
    c_.api.put_object(kube::resources::jobs(), j);
  }

  Cluster c_{settings()};
};

TEST_F(BuildPods, ABuilderImageThatCannotBePulledIsSaidOnBuilt) {
  c_.put_function({{"handler", "hello.greet"}, {"source", {{"inline", "int a;"}}}});
  c_.reconcile();
  ASSERT_EQ(c_.reason("Built"), "False Building");
  job_status({{"active", 1}});
  build_pod({{"ready", false},
             {"restartCount", 0},
             {"state",
              {{"waiting",
                {{"reason", "ImagePullBackOff"},
                 {"message", "Back-off pulling image \"registry.test/kubefn/builder:1\""}}}}}});
  auto r = c_.reconcile();
  EXPECT_EQ(r.requeue_after, std::optional<std::chrono::seconds>(5s));
  EXPECT_EQ(c_.reason("Built"), "False ImagePullBackOff");
  EXPECT_EQ(c_.reason("Ready"), "False ImagePullBackOff");
  const std::string m = c_.message("Built");
  EXPECT_NE(m.find("cannot pull the builder image \"registry.test/kubefn/builder:1\""),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("--builder-image"), std::string::npos) << m;
  EXPECT_EQ(c_.events.count("ImagePullBackOff"), 1u);
  // Pulled at last: running, and said so (nothing stale).
  build_pod({{"ready", true}, {"restartCount", 0}, {"state", {{"running", json::object()}}}});
  job_status({{"active", 1}, {"ready", 1}});
  c_.reconcile();
  EXPECT_EQ(c_.reason("Built"), "False Building");
  EXPECT_EQ(c_.message("Built").find("pull"), std::string::npos) << c_.message("Built");
}

TEST_F(BuildPods, AJobPastItsDeadlineSaysWhatHeldItsPod) {
  c_.put_function({{"handler", "hello.greet"}, {"source", {{"inline", "int a;"}}}});
  c_.reconcile();
  build_pod({{"name", "build"}},
            json::array({{{"type", "PodScheduled"},
                          {"status", "False"},
                          {"reason", "Unschedulable"},
                          {"message", "0/1 nodes are available: 1 Insufficient cpu."}}}));
  job_status({{"conditions",
               json::array({{{"type", "Failed"},
                             {"status", "True"},
                             {"reason", "DeadlineExceeded"},
                             {"message", "Job was active longer than specified deadline"}}})}});
  c_.reconcile();
  EXPECT_EQ(c_.reason("Built"), "False BuildFailed");
  const std::string m = c_.message("Built");
  EXPECT_NE(m.find("Job was active longer than specified deadline; build pod"), std::string::npos)
      << m;
  EXPECT_NE(m.find("cannot be scheduled: 0/1 nodes are available: 1 Insufficient cpu."),
            std::string::npos)
      << m;
}

// The builder exited 0 and wrote its report: Built at once, with the image, before the kubelet
// reports the pod Succeeded and the Job controller marks the Job Complete. An exit without
// an image in the report (or a non-zero one) is no such shortcut.
TEST_F(BuildPods, ABuilderThatExitedZeroWithItsImageIsBuiltBeforeTheJobCompletes) {
  c_.put_function({{"handler", "hello.greet"}, {"source", {{"inline", "int a;"}}}});
  c_.reconcile();
  ASSERT_EQ(c_.reason("Built"), "False Building");
  const std::string image = "registry.test/kubefn/default/hello@sha256:" + std::string(64, 'a');
  build_pod({{"ready", false},
             {"restartCount", 0},
             {"state", {{"terminated", {{"exitCode", 0}, {"message", "{\"tag\":\"t\"}"}}}}}});
  job_status({{"active", 1}});
  c_.reconcile();
  EXPECT_EQ(c_.reason("Built"), "False Building") << "a report without an image";
  build_pod({{"ready", false},
             {"restartCount", 0},
             {"state",
              {{"terminated",
                {{"exitCode", 0}, {"message", json{{"image", image}}.dump()}}}}}});
  job_status({{"active", 0}, {"ready", 0}});
  c_.reconcile();
  EXPECT_EQ(c_.reason("Built"), "True Built");
  EXPECT_NE(c_.message("Built").find(image), std::string::npos) << c_.message("Built");
  EXPECT_EQ(c_.events.count("Built"), 1u);
  auto d = c_.api.peek({kube::resources::deployments(), "default", "hello"});
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ((*d)["spec"]["template"]["spec"]["containers"][0].value("image", ""), image);
}

}  // namespace
}  // namespace kubefn::platform::kubernetes
