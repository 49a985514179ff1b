// The Function reconciler on the Kubernetes platform against the in-process API emulator over
// real HTTP: objects in, objects, status and events out.
#include "kubefn/controller/function_reconciler.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "function_crd.hpp"
#include "kubefn/controller/conditions.hpp"
#include "kubefn/controller/source_digest.hpp"
#include "kubefn/emulator/kube_emulator.hpp"
#include "kubefn/kube/rest_kube_client.hpp"
#include "kubefn/platform/kubernetes/kubernetes_platform.hpp"
#include "kubefn/testing/fakes/recording_events.hpp"
#include "kubefn/testing/source_server.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::controller {
namespace {

using ::kubefn::testing::RecordingEvents;
using ::kubefn::testing::wait_until;
using nlohmann::json;
using platform::kubernetes::BuildSettings;
using platform::kubernetes::KubernetesPlatform;
using namespace std::chrono_literals;

json function_with(const std::string& name, json spec) {
  return {{"apiVersion", "kubefn.dev/v1alpha1"},
          {"kind", "Function"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", std::move(spec)}};
}

class ReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kube::ClientConfig config;
    config.server = emulator_.url();
    kube::RestClientOptions options;
    options.retry.max_attempts = 2;
    options.retry.backoff =
        kube::Backoff{std::chrono::milliseconds(5), std::chrono::milliseconds(20)};
    auto client = kube::make_rest_kube_client(config, clock_, options);
    ASSERT_TRUE(client.ok()) << client.status().to_string();
    client_ = std::move(client).value();
    auto installed = testing::install_function_crd(*client_, KUBEFN_CRD_FILE);
    ASSERT_TRUE(installed.ok()) << installed.to_string();
    reader_ = std::make_unique<ClientReader>(*client_);
    platform_ = std::make_unique<KubernetesPlatform>(*client_);
    reconciler_ = std::make_unique<FunctionReconciler>(*client_, *reader_, clock_, events_,
                                                       *platform_, url_sources_);
  }

  json create(const json& fn) {
    auto r = client_->create(api::functions(), fn, {});
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? r.value() : json();
  }
  json get(const kube::GroupVersionResource& r, const std::string& name) {
    auto got = client_->get({r, "default", name});
    return got.ok() ? got.value() : json();
  }
  kube::Result<kube::ReconcileResult> reconcile(const std::string& name) {
    return reconciler_->reconcile("default", name);
  }
  // One reconcile whose outcome the test reads from what it wrote, not from its result.
  void reconcile_once(const std::string& name) { (void)reconcile(name); }
  json ready(const std::string& name) {
    return find_condition(get(api::functions(), name).value("status", json::object()), "Ready");
  }
  // Reconciles (as watch events would trigger) until the Function is Ready.
  bool converge(const std::string& name) {
    return wait_until(
        [&] {
          reconcile_once(name);
          return ready(name).value("status", "") == "True";
        },
        10s);
  }
  WriteCounts writes() const { return reconciler_->writes(); }
  static int total(const WriteCounts& w) {
    return w.creates + w.updates + w.deletes + w.status_updates;
  }

  // The reconciler's own checks of a spec are what these tests are about, so the API stores
  // what the CRD's schema would refuse (a Function written before a schema tightened, or
  // under a CRD without one); Emulator/OperatorE2E covers the schema's refusals.
  static emulator::EmulatorOptions without_schema_validation() {
    emulator::EmulatorOptions o;
    o.crd_schema_validation = false;
    return o;
  }

  kube::RealClock clock_;
  emulator::KubeEmulator emulator_{without_schema_validation()};
  std::unique_ptr<kube::KubeClient> client_;
  RecordingEvents events_;
  std::unique_ptr<ClientReader> reader_;
  UrlSources url_sources_;  // over HTTP(S); only UrlSourceTest's Functions name URLs
  std::unique_ptr<KubernetesPlatform> platform_;
  std::unique_ptr<FunctionReconciler> reconciler_;
};

TEST_F(ReconcilerTest, MissingFunctionIsDone) {
  auto r = reconcile("ghost");
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(total(writes()), 0);
}

TEST_F(ReconcilerTest, InvalidSpecBecomesAConditionAndIsNotRetriedHot) {
  create(function_with("bad", {{"handler", "greet"}, {"image", "r/x:1"}}));
  auto r = reconcile("bad");
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(r->requeue_after.has_value());
  json c = ready("bad");
  EXPECT_EQ(c["status"], "False");
  EXPECT_EQ(c["reason"], "InvalidHandler");
  EXPECT_NE(c["message"].get<std::string>().find("hello.greet"), std::string::npos);
  EXPECT_EQ(get(api::functions(), "bad")["status"]["observedGeneration"], 1);
  EXPECT_TRUE(events_.has("InvalidHandler"));
  EXPECT_TRUE(get(kube::resources::deployments(), "bad").is_null());
  const int before = total(writes());
  reconcile_once("bad");
  EXPECT_EQ(total(writes()), before) << "a second look at an unchanged bad spec wrote";
}

TEST_F(ReconcilerTest, PrebuiltImageConvergesAndThenWritesNothing) {
  create(function_with("hello", {{"handler", "hello.greet"}, {"image", "registry.local/hello:1"}}));
  ASSERT_TRUE(converge("hello"));
  json dep = get(kube::resources::deployments(), "hello");
  json svc = get(kube::resources::services(), "hello");
  ASSERT_FALSE(dep.is_null());
  ASSERT_FALSE(svc.is_null());
  json fn = get(api::functions(), "hello");
  EXPECT_EQ(dep["metadata"]["ownerReferences"][0]["uid"], fn["metadata"]["uid"]);
  EXPECT_EQ(svc["metadata"]["ownerReferences"][0]["uid"], fn["metadata"]["uid"]);
  EXPECT_EQ(dep["spec"]["template"]["spec"]["containers"][0]["image"], "registry.local/hello:1");
  EXPECT_EQ(dep["spec"]["replicas"], 1);
  EXPECT_EQ(fn["status"]["image"], "registry.local/hello:1");
  EXPECT_EQ(fn["status"]["readyReplicas"], 1);
  EXPECT_EQ(fn["status"]["selector"], "kubefn.dev/function=hello");
  EXPECT_TRUE(events_.has("DeploymentCreated"));
  EXPECT_TRUE(events_.has("ServiceCreated"));
  const int before = total(writes());
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(reconcile("hello").ok());
  EXPECT_EQ(total(writes()), before) << "reconciling a converged Function wrote to the API";
}

TEST_F(ReconcilerTest, InlineSourceIsStoredContentHashedAndWaitsForABuild) {
  create(function_with("echo", {{"handler", "echo.echo"}, {"source", {{"inline", "int a;"}}}}));
  reconcile_once("echo");
  json fn = get(api::functions(), "echo");
  const std::string digest = fn["status"]["sourceDigest"];
  ASSERT_EQ(digest.size(), 64u);
  json cm = get(kube::resources::config_maps(), "echo-src-" + digest.substr(0, 10));
  ASSERT_FALSE(cm.is_null());
  EXPECT_EQ(cm["data"]["echo.cpp"], "int a;");
  EXPECT_EQ(cm["immutable"], true);
  EXPECT_EQ(ready("echo")["reason"], "BuildsDisabled");
  EXPECT_FALSE(get(kube::resources::services(), "echo").is_null());
  EXPECT_TRUE(get(kube::resources::deployments(), "echo").is_null());
}

TEST_F(ReconcilerTest, SourceEditKeepsThePreviousImageServingUntilItsBuildExists) {
  create(function_with("echo", {{"handler", "echo.echo"}, {"source", {{"inline", "int a;"}}}}));
  reconcile_once("echo");
  // A build records the image it made for this digest (the seam the builder fills).
  json fn = get(api::functions(), "echo");
  fn["status"]["image"] = "registry.local/echo@sha256:aaaa";
  fn["status"]["imageSourceDigest"] = fn["status"]["sourceDigest"];
  ASSERT_TRUE(client_->update_status(api::functions(), fn, {}).ok());
  ASSERT_TRUE(converge("echo"));
  json dep = get(kube::resources::deployments(), "echo");
  const std::string first_cm = dep["spec"]["template"]["spec"]["volumes"][1]["configMap"]["name"];
  EXPECT_EQ(first_cm.rfind("echo-src-", 0), 0u);

  fn = get(api::functions(), "echo");
  fn["spec"]["source"]["inline"] = "int b;";
  ASSERT_TRUE(client_->update(api::functions(), fn, {}).ok());
  reconcile_once("echo");
  EXPECT_EQ(ready("echo")["reason"], "BuildsDisabled");
  dep = get(kube::resources::deployments(), "echo");
  EXPECT_EQ(dep["spec"]["template"]["spec"]["containers"][0]["image"],
            "registry.local/echo@sha256:aaaa");
  EXPECT_FALSE(get(kube::resources::config_maps(), first_cm).is_null())
      << "old source still in use";
}

// With a registry configured, a source without an image gets a build Job; the builder's
// termination message carries the image (or the compiler's first errors) back.
class BuildReconcilerTest : public ReconcilerTest {
 protected:
  void SetUp() override {
    ReconcilerTest::SetUp();
    BuildSettings build;
    build.registry = "registry.local:5000/kubefn";
    build.base_image = "registry.local:5000/kubefn/runtime:1";
    build.builder_image = "registry.local:5000/kubefn/builder:1";
    build.registry_secret = "push-creds";
    build.plain_http = true;
    platform_ = std::make_unique<KubernetesPlatform>(*client_, build);
    reconciler_ = std::make_unique<FunctionReconciler>(*client_, *reader_, clock_, events_,
                                                       *platform_, url_sources_);
  }
  json job_of(const std::string& fn_name) {
    const std::string digest = get(api::functions(), fn_name)["status"]["sourceDigest"];
    return get(kube::resources::jobs(), fn_name + "-build-" + digest.substr(0, 10));
  }
  // Plays the part of the Job controller and the kubelet: the Job finished, and its pod's
  // container terminated with `message`.
  void finish_job(const json& job, bool succeeded, const std::string& message) {
    const std::string name = job["metadata"]["name"];
    json pod = {{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata",
                 {{"name", name + "-x1"},
                  {"namespace", "default"},
                  {"labels", job["spec"]["template"]["metadata"]["labels"]}}},
                {"spec", {{"containers", json::array({{{"name", "build"}, {"image", "b"}}})}}}};
    auto created = client_->create(kube::resources::pods(), pod, {});
    ASSERT_TRUE(created.ok()) << created.status().to_string();
    json p = created.value();
    p["status"] = {
        {"phase", succeeded ? "Succeeded" : "Failed"},
        {"containerStatuses",
         json::array(
             {{{"name", "build"},
               {"state",
                {{"terminated", {{"exitCode", succeeded ? 0 : 1}, {"message", message}}}}}}})}};
    ASSERT_TRUE(client_->update_status(kube::resources::pods(), p, {}).ok());
    json j = get(kube::resources::jobs(), name);
    j["status"] = {
        {"conditions", json::array({{{"type", succeeded ? "Complete" : "Failed"},
                                     {"status", "True"},
                                     {"message", succeeded ? "" : "BackoffLimitExceeded"}}})}};
    ASSERT_TRUE(client_->update_status(kube::resources::jobs(), j, {}).ok());
  }
};

TEST_F(BuildReconcilerTest, SourceGetsABuildJobWithTheSourceAndCredentials) {
  create(function_with("echo", {{"handler", "echo.echo"},
                                {"source", {{"inline", "int a;"}}},
                                {"dependencies", json::array({"zlib1g-dev"})}}));
  EXPECT_TRUE(reconcile("echo").ok());
  json job = job_of("echo");
  ASSERT_FALSE(job.is_null());
  EXPECT_EQ(ready("echo")["reason"], "Building");
  EXPECT_EQ(find_condition(get(api::functions(), "echo")["status"], "Built")["reason"], "Building");
  EXPECT_TRUE(events_.has("BuildStarted"));
  EXPECT_EQ(job["metadata"]["ownerReferences"][0]["name"], "echo");
  const json& pod = job["spec"]["template"]["spec"];
  EXPECT_EQ(pod["containers"][0]["image"], "registry.local:5000/kubefn/builder:1");
  const std::string args = pod["containers"][0]["args"].dump();
  for (const char* want : {"\"echo.echo\"", "\"registry.local:5000/kubefn/default/echo\"",
                           "\"zlib1g-dev\"", "\"--plain-http\"", "\"/dev/termination-log\""}) {
    EXPECT_NE(args.find(want), std::string::npos) << want << " not in " << args;
  }
  // Dependencies are the builder image's: the build installs nothing, unprivileged.
  EXPECT_EQ(args.find("--install-dependencies"), std::string::npos) << args;
  EXPECT_EQ(pod["securityContext"]["runAsNonRoot"], true);
  const std::string volumes = pod["volumes"].dump();
  EXPECT_NE(volumes.find("echo-src-"), std::string::npos);
  EXPECT_NE(volumes.find("push-creds"), std::string::npos);
  EXPECT_TRUE(get(kube::resources::deployments(), "echo").is_null())
      << "nothing to run before the build";
  // Looking again while it runs creates nothing more.
  const int before = total(writes());
  reconcile_once("echo");
  EXPECT_EQ(total(writes()), before);
}

TEST_F(BuildReconcilerTest, FinishedBuildSetsTheImageAndTheDeploymentRunsIt) {
  create(function_with("echo", {{"handler", "echo.echo"}, {"source", {{"inline", "int a;"}}}}));
  reconcile_once("echo");
  finish_job(job_of("echo"), true,
             R"({"image":"registry.local:5000/kubefn/default/echo@sha256:abc","cached":false})");
  ASSERT_TRUE(converge("echo"));
  json fn = get(api::functions(), "echo");
  EXPECT_EQ(fn["status"]["image"], "registry.local:5000/kubefn/default/echo@sha256:abc");
  EXPECT_EQ(fn["status"]["imageSourceDigest"], fn["status"]["sourceDigest"]);
  EXPECT_EQ(find_condition(fn["status"], "Built")["status"], "True");
  EXPECT_EQ(get(kube::resources::deployments(),
                "echo")["spec"]["template"]["spec"]["containers"][0]["image"],
            "registry.local:5000/kubefn/default/echo@sha256:abc");
  EXPECT_TRUE(events_.has("Built"));
  // An unchanged source never builds again, even once the finished Job is gone.
  ASSERT_TRUE(
      client_->remove({kube::resources::jobs(), "default", job_of("echo")["metadata"]["name"]}, {})
          .ok());
  const int before = total(writes());
  reconcile_once("echo");
  EXPECT_EQ(total(writes()), before);
  EXPECT_TRUE(job_of("echo").is_null());
}

TEST_F(BuildReconcilerTest, FailedBuildReportsTheCompilerErrorAndKeepsThePreviousImage) {
  create(function_with("echo", {{"handler", "echo.echo"}, {"source", {{"inline", "int a;"}}}}));
  reconcile_once("echo");
  finish_job(job_of("echo"), true, R"({"image":"r.local/echo@sha256:one"})");
  ASSERT_TRUE(converge("echo"));

  json fn = get(api::functions(), "echo");
  fn["spec"]["source"]["inline"] = "int a = ;";
  ASSERT_TRUE(client_->update(api::functions(), fn, {}).ok());
  reconcile_once("echo");
  finish_job(
      job_of("echo"), false,
      R"({"error":"compile failed: echo.cpp:1:9: error: expected primary-expression before ';' token"})");
  reconcile_once("echo");
  json built = find_condition(get(api::functions(), "echo")["status"], "Built");
  EXPECT_EQ(built["status"], "False");
  EXPECT_EQ(built["reason"], "BuildFailed");
  EXPECT_NE(built["message"].get<std::string>().find("echo.cpp:1:9: error"), std::string::npos)
      << built.dump();
  EXPECT_EQ(ready("echo")["reason"], "BuildFailed");
  EXPECT_EQ(get(kube::resources::deployments(),
                "echo")["spec"]["template"]["spec"]["containers"][0]["image"],
            "r.local/echo@sha256:one");
  EXPECT_TRUE(events_.has("BuildFailed"));
}

// A dependency the builder image lacks: the builder names it (it installs nothing), and that
// reaches Built through the termination message as a compile error does.
TEST_F(BuildReconcilerTest, ADependencyTheBuilderImageLacksIsNamedOnBuilt) {
  create(function_with("echo", {{"handler", "echo.echo"},
                                {"source", {{"inline", "int a;"}}},
                                {"dependencies", json::array({"libfoo-dev"})}}));
  reconcile_once("echo");
  finish_job(
      job_of("echo"), false,
      R"({"error":"package libfoo-dev is not installed in the builder image; remove it from spec.dependencies, or build with a builder image that has it"})");
  reconcile_once("echo");
  json built = find_condition(get(api::functions(), "echo")["status"], "Built");
  EXPECT_EQ(built["reason"], "BuildFailed");
  EXPECT_NE(built["message"].get<std::string>().find(
                "package libfoo-dev is not installed in the builder image"),
            std::string::npos)
      << built.dump();
}

// A build pod whose builder image cannot be pulled never runs: Built says so, not "running".
TEST_F(BuildReconcilerTest, ABuilderImageThatCannotBePulledIsSaidOnBuilt) {
  create(function_with("echo", {{"handler", "echo.echo"}, {"source", {{"inline", "int a;"}}}}));
  reconcile_once("echo");
  const json job = job_of("echo");
  ASSERT_FALSE(job.is_null());
  json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata",
               {{"name", job["metadata"]["name"].get<std::string>() + "-x1"},
                {"namespace", "default"},
                {"labels", job["spec"]["template"]["metadata"]["labels"]}}},
              {"spec", job["spec"]["template"]["spec"]}};
  auto created = client_->create(kube::resources::pods(), pod, {});
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  json p = created.value();
  p["status"] = {
      {"phase", "Pending"},
      {"containerStatuses",
       json::array({{{"name", "build"},
                     {"ready", false},
                     {"restartCount", 0},
                     {"state",
                      {{"waiting",
                        {{"reason", "ErrImagePull"},
                         {"message",
                          "failed to pull and unpack image "
                          "\"registry.local:5000/kubefn/builder:1\": 403 Forbidden"}}}}}}})}};
  ASSERT_TRUE(client_->update_status(kube::resources::pods(), p, {}).ok());
  auto r = reconcile("echo");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_TRUE(r->requeue_after.has_value()) << "a stuck build is looked at again";
  json built = find_condition(get(api::functions(), "echo")["status"], "Built");
  EXPECT_EQ(built["status"], "False");
  EXPECT_EQ(built["reason"], "ImagePullBackOff");
  const std::string m = built["message"];
  EXPECT_NE(m.find("cannot pull the builder image \"registry.local:5000/kubefn/builder:1\" "
                   "(ErrImagePull: failed to pull and unpack image"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("403 Forbidden"), std::string::npos) << m;
  EXPECT_NE(m.find("--builder-image"), std::string::npos) << m;
  EXPECT_EQ(ready("echo")["reason"], "ImagePullBackOff");
  EXPECT_TRUE(events_.has("ImagePullBackOff"));
}

// URL sources, served by a real HTTP server in the test; the reconciler fetches them through
// one UrlSources, as the controller's workers share one.
class UrlSourceTest : public BuildReconcilerTest {
 protected:
  void SetUp() override {
    BuildReconcilerTest::SetUp();
    ASSERT_TRUE(server_.ok());
    BuildSettings build;
    build.registry = "registry.local:5000/kubefn";
    platform_ = std::make_unique<KubernetesPlatform>(*client_, build);
    reconciler_ = std::make_unique<FunctionReconciler>(*client_, *reader_, clock_, events_,
                                                       *platform_, sources_);
    server_.set("/hello.cpp", {200, kSource, {}, false});
  }
  json url_function(const std::string& name, const std::string& path, const std::string& sha) {
    return function_with(name, {{"handler", "hello.greet"},
                                {"source", {{"url", server_.url(path)}, {"sha256", sha}}}});
  }
  json source_ready(const std::string& name) {
    return find_condition(get(api::functions(), name)["status"], "SourceReady");
  }
  static std::string message_of(const json& condition) { return condition.value("message", ""); }

  static constexpr const char* kSource =
      "#include <kubefn/function.hpp>\n"
      "std::string greet(const kubefn::Event&, kubefn::Context&) { return \"hi\\n\"; }\n"
      "KUBEFN_HANDLER(greet);\n";
  ::kubefn::testing::SourceServer server_;
  HttpSourceFetcher fetcher_;
  UrlSources sources_{fetcher_};
};

TEST_F(UrlSourceTest, UrlSourceGetsItsConfigMapAndTheDigestOfTheSameTextInline) {
  create(url_function("u", "/hello.cpp", sha256_hex(kSource)));
  create(function_with("i", {{"handler", "hello.greet"}, {"source", {{"inline", kSource}}}}));
  ASSERT_TRUE(reconcile("u").ok());
  ASSERT_TRUE(reconcile("i").ok());
  EXPECT_EQ(source_ready("u")["status"], "True") << source_ready("u").dump();
  const std::string digest = get(api::functions(), "u")["status"].value("sourceDigest", "");
  ASSERT_FALSE(digest.empty());
  EXPECT_EQ(digest, get(api::functions(), "i")["status"].value("sourceDigest", ""));
  json cm = get(kube::resources::config_maps(), "u-src-" + digest.substr(0, 10));
  ASSERT_FALSE(cm.is_null());
  EXPECT_EQ(cm["data"]["hello.cpp"], kSource);
  // Built like any source: a build Job mounting that ConfigMap.
  json job = job_of("u");
  ASSERT_FALSE(job.is_null());
  EXPECT_NE(job["spec"]["template"]["spec"]["volumes"].dump().find("u-src-" + digest.substr(0, 10)),
            std::string::npos);
  EXPECT_EQ(ready("u")["reason"], "Building");
  EXPECT_EQ(server_.requests("/hello.cpp"), 1);
}

TEST_F(UrlSourceTest, ResyncsOfAnUnchangedSha256DoNotFetchAgain) {
  create(url_function("u", "/hello.cpp", sha256_hex(kSource)));
  reconcile_once("u");
  finish_job(job_of("u"), true, R"({"image":"registry.local:5000/kubefn/default/u@sha256:one"})");
  ASSERT_TRUE(converge("u"));
  EXPECT_EQ(server_.requests("/hello.cpp"), 1);
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(reconcile("u").ok());
  // A reconciler per reconcile, as the controller makes them, sharing the fetched sources.
  FunctionReconciler again(*client_, *reader_, clock_, events_, *platform_, sources_);
  EXPECT_TRUE(again.reconcile("default", "u").ok());
  EXPECT_EQ(server_.requests("/hello.cpp"), 1);
  EXPECT_EQ(ready("u")["status"], "True");
  // Another Function naming the same sha256 does not fetch either.
  create(url_function("v", "/hello.cpp", sha256_hex(kSource)));
  reconcile_once("v");
  EXPECT_EQ(source_ready("v")["status"], "True");
  EXPECT_EQ(server_.requests("/hello.cpp"), 1);
}

TEST_F(UrlSourceTest, WrongSha256IsSourceDigestMismatchWithBothDigests) {
  const std::string wrong(64, 'a');
  create(url_function("u", "/hello.cpp", wrong));
  auto r = reconcile("u");
  EXPECT_TRUE(r.ok());
  ASSERT_TRUE(r->requeue_after.has_value());
  json c = source_ready("u");
  EXPECT_EQ(c["status"], "False");
  EXPECT_EQ(c["reason"], "SourceDigestMismatch");
  const std::string m = message_of(c);
  EXPECT_NE(m.find("serves sha256 " + sha256_hex(kSource)), std::string::npos) << m;
  EXPECT_NE(m.find("spec.source.sha256 says " + wrong), std::string::npos) << m;
  EXPECT_NE(m.find("sha256sum"), std::string::npos) << m;
  EXPECT_EQ(ready("u")["reason"], "SourceDigestMismatch");
  EXPECT_TRUE(events_.has("SourceDigestMismatch"));
  EXPECT_FALSE(get(api::functions(), "u")["status"].contains("sourceDigest"));
  auto jobs = client_->list(kube::resources::jobs(), "default", {});
  ASSERT_TRUE(jobs.ok());
  EXPECT_TRUE(jobs.value().items.empty()) << "nothing is built from a source that failed its check";
}

TEST_F(UrlSourceTest, NotFoundAndRefusedAreSourceUnavailableRetriedWithBackoff) {
  create(url_function("u", "/missing.cpp", sha256_hex(kSource)));
  auto first = reconcile("u");
  EXPECT_TRUE(first.ok());
  json c = source_ready("u");
  EXPECT_EQ(c["status"], "False");
  EXPECT_EQ(c["reason"], "SourceUnavailable");
  EXPECT_NE(message_of(c).find("404"), std::string::npos) << message_of(c);
  EXPECT_NE(message_of(c).find(server_.url("/missing.cpp")), std::string::npos) << message_of(c);
  auto second = reconcile("u");
  ASSERT_TRUE(first->requeue_after.has_value());
  ASSERT_TRUE(second->requeue_after.has_value());
  EXPECT_EQ(*first->requeue_after, UrlSources::kFirstRetry);
  EXPECT_EQ(*second->requeue_after, 2 * UrlSources::kFirstRetry);
  EXPECT_EQ(server_.requests("/missing.cpp"), 2);

  // Nothing listens on a port just closed.
  std::uint16_t closed = 0;
  {
    ::kubefn::testing::SourceServer gone;
    closed = gone.port();
  }
  create(function_with("r", {{"handler", "hello.greet"},
                             {"source",
                              {{"url", "http://127.0.0.1:" + std::to_string(closed) + "/hello.cpp"},
                               {"sha256", sha256_hex(kSource)}}}}));
  EXPECT_TRUE(reconcile("r").ok());
  EXPECT_EQ(source_ready("r")["reason"], "SourceUnavailable");
  EXPECT_NE(message_of(source_ready("r")).find(std::to_string(closed)), std::string::npos);
}

TEST_F(UrlSourceTest, BodiesOverOneMiBAreSourceTooLarge) {
  const std::string big((1 << 20) + 1, 'x');
  server_.set("/big.cpp", {200, big, {}, false});
  server_.set("/big-chunked.cpp", {200, big, {}, true});
  for (const auto& [name, path] :
       {std::pair{"big", "/big.cpp"}, std::pair{"chunked", "/big-chunked.cpp"}}) {
    create(url_function(name, path, sha256_hex(big)));
    EXPECT_TRUE(reconcile(name).ok());
    json c = source_ready(name);
    EXPECT_EQ(c["reason"], "SourceTooLarge") << name << ": " << c.dump();
    EXPECT_NE(message_of(c).find("1 MiB"), std::string::npos) << message_of(c);
    EXPECT_NE(message_of(c).find("ConfigMap"), std::string::npos) << message_of(c);
  }
  // Exactly 1 MiB is fine.
  const std::string max(1 << 20, 'y');
  server_.set("/max.cpp", {200, max, {}, true});
  create(url_function("max", "/max.cpp", sha256_hex(max)));
  reconcile_once("max");
  EXPECT_EQ(source_ready("max")["status"], "True") << source_ready("max").dump();
}

TEST_F(UrlSourceTest, RedirectsAreFollowedAtMostFiveTimes) {
  server_.set("/moved.cpp", {302, "", {{"Location", "/hello.cpp"}}, false});
  create(url_function("m", "/moved.cpp", sha256_hex(kSource)));
  reconcile_once("m");
  EXPECT_EQ(source_ready("m")["status"], "True") << source_ready("m").dump();
  EXPECT_EQ(server_.requests("/hello.cpp"), 1);

  server_.set("/loop.cpp", {302, "", {{"Location", server_.url("/loop.cpp")}}, false});
  create(url_function("loop", "/loop.cpp", std::string(64, 'b')));
  reconcile_once("loop");
  EXPECT_EQ(source_ready("loop")["reason"], "SourceUnavailable");
  EXPECT_NE(message_of(source_ready("loop")).find("more than 5"), std::string::npos)
      << message_of(source_ready("loop"));
  EXPECT_EQ(server_.requests("/loop.cpp"), 6);
}

TEST(HttpSourceFetcherTest, TimesOutAndRefusesRedirectsOffHttp) {
  ::kubefn::testing::SourceServer server;
  ASSERT_TRUE(server.ok());
  server.set("/stalls.cpp", {200, "", {}, false, true});
  server.set("/ftp.cpp", {302, "", {{"Location", "ftp://127.0.0.1/x.cpp"}}, false});
  FetchLimits limits;
  limits.timeout = std::chrono::seconds(1);
  HttpSourceFetcher fetcher(limits);
  FetchResult stalled = fetcher.fetch(server.url("/stalls.cpp"));
  EXPECT_EQ(stalled.error, FetchResult::Error::kUnavailable);
  EXPECT_NE(stalled.message.find(server.url("/stalls.cpp")), std::string::npos) << stalled.message;
  EXPECT_NE(stalled.message.find("within 1 s"), std::string::npos) << stalled.message;
  FetchResult ftp = fetcher.fetch(server.url("/ftp.cpp"));
  EXPECT_EQ(ftp.error, FetchResult::Error::kUnavailable);
  EXPECT_NE(ftp.message.find("is not http(s)"), std::string::npos) << ftp.message;
}

TEST_F(UrlSourceTest, AFailingNewUrlKeepsThePreviousImageServing) {
  create(url_function("u", "/hello.cpp", sha256_hex(kSource)));
  reconcile_once("u");
  finish_job(job_of("u"), true, R"({"image":"registry.local:5000/kubefn/default/u@sha256:one"})");
  ASSERT_TRUE(converge("u"));
  const json before = get(api::functions(), "u")["status"];

  json fn = get(api::functions(), "u");
  fn["spec"]["source"]["url"] = server_.url("/gone.cpp");
  fn["spec"]["source"]["sha256"] = std::string(64, 'c');
  ASSERT_TRUE(client_->update(api::functions(), fn, {}).ok());
  EXPECT_TRUE(reconcile("u").ok());
  json status = get(api::functions(), "u")["status"];
  EXPECT_EQ(find_condition(status, "SourceReady")["reason"], "SourceUnavailable");
  EXPECT_EQ(ready("u")["reason"], "SourceUnavailable");
  EXPECT_EQ(status["image"], before["image"]);
  EXPECT_EQ(status["sourceDigest"], before["sourceDigest"]);
  EXPECT_EQ(get(kube::resources::deployments(),
                "u")["spec"]["template"]["spec"]["containers"][0]["image"],
            "registry.local:5000/kubefn/default/u@sha256:one");
  EXPECT_EQ(status["observedGeneration"], 2);
}

TEST_F(ReconcilerTest, DriftIsRepairedAndDeletedChildrenComeBack) {
  create(function_with("hello", {{"handler", "hello.greet"}, {"image", "r/hello:1"}}));
  ASSERT_TRUE(converge("hello"));
  json dep = get(kube::resources::deployments(), "hello");
  dep["spec"]["template"]["spec"]["containers"][0]["image"] = "evil/image:latest";
  ASSERT_TRUE(client_->update(kube::resources::deployments(), dep, {}).ok());
  // The emulator's Deployment controller writes status meanwhile, so a reconcile may meet a
  // 409 and need another go, as the work queue would give it.
  EXPECT_TRUE(wait_until(
      [&] {
        reconcile_once("hello");
        return get(kube::resources::deployments(),
                   "hello")["spec"]["template"]["spec"]["containers"][0]["image"] == "r/hello:1";
      },
      10s));
  EXPECT_TRUE(events_.has("DeploymentUpdated"));

  ASSERT_TRUE(client_->remove({kube::resources::services(), "default", "hello"}, {}).ok());
  ASSERT_TRUE(client_->remove({kube::resources::deployments(), "default", "hello"}, {}).ok());
  ASSERT_TRUE(converge("hello"));
  EXPECT_FALSE(get(kube::resources::services(), "hello").is_null());
  EXPECT_FALSE(get(kube::resources::deployments(), "hello").is_null());
}

TEST_F(ReconcilerTest, ReplicasBelongToTheScaleOwnerWithinMinAndMax) {
  create(function_with("hello", {{"handler", "hello.greet"},
                                 {"image", "r/hello:1"},
                                 {"scaling", {{"minReplicas", 0}, {"maxReplicas", 3}}}}));
  ASSERT_TRUE(converge("hello"));
  // Sets the Deployment's replicas through /scale, as the autoscaler would; the emulator's
  // Deployment controller may win a race for the resourceVersion, so retry on conflict.
  auto scale = [&](int n) {
    return wait_until(
        [&] {
          auto s = client_->get_scale({kube::resources::deployments(), "default", "hello"});
          if (!s.ok()) return false;
          json body = s.value();
          body["spec"]["replicas"] = n;
          return client_->update_scale({kube::resources::deployments(), "default", "hello"}, body)
              .ok();
        },
        10s);
  };
  ASSERT_TRUE(scale(2));
  const int updates = writes().updates;
  reconcile_once("hello");
  EXPECT_EQ(get(kube::resources::deployments(), "hello")["spec"]["replicas"], 2);
  EXPECT_EQ(writes().updates, updates) << "the reconciler fought the scale owner";
  ASSERT_TRUE(scale(7));  // beyond maxReplicas
  EXPECT_TRUE(wait_until(
      [&] {
        reconcile_once("hello");
        return get(kube::resources::deployments(), "hello")["spec"]["replicas"] == 3;
      },
      10s));
  ASSERT_TRUE(scale(0));  // scale to zero is allowed with minReplicas 0
  ASSERT_TRUE(wait_until(
      [&] {
        reconcile_once("hello");
        return ready("hello")["reason"] == "ScaledToZero";
      },
      10s));
}

TEST_F(ReconcilerTest, SomeoneElsesDeploymentIsAConflictNotATakeover) {
  json foreign = {{"apiVersion", "apps/v1"},
                  {"kind", "Deployment"},
                  {"metadata", {{"name", "web"}, {"namespace", "default"}}},
                  {"spec",
                   {{"replicas", 1},
                    {"selector", {{"matchLabels", {{"app", "web"}}}}},
                    {"template",
                     {{"metadata", {{"labels", {{"app", "web"}}}}},
                      {"spec", {{"containers", {{{"name", "web"}, {"image", "nginx"}}}}}}}}}}};
  ASSERT_TRUE(client_->create(kube::resources::deployments(), foreign, {}).ok());
  create(function_with("web", {{"handler", "web.serve"}, {"image", "r/web:1"}}));
  reconcile_once("web");
  EXPECT_EQ(ready("web")["reason"], "DeploymentConflict");
  EXPECT_EQ(get(kube::resources::deployments(),
                "web")["spec"]["template"]["spec"]["containers"][0]["image"],
            "nginx");
}

TEST_F(ReconcilerTest, MissingSourceConfigMapIsReportedAndLookedAtAgain) {
  create(function_with(
      "cm", {{"handler", "cm.run"}, {"source", {{"configMapRef", {{"name", "code"}}}}}}));
  auto r = reconcile("cm");
  EXPECT_TRUE(r.ok());
  ASSERT_TRUE(r->requeue_after.has_value());
  EXPECT_EQ(ready("cm")["reason"], "SourceNotFound");
  EXPECT_NE(ready("cm")["message"].get<std::string>().find("code"), std::string::npos);
  json code = {{"apiVersion", "v1"},
               {"kind", "ConfigMap"},
               {"metadata", {{"name", "code"}, {"namespace", "default"}}},
               {"data", {{"cm.cpp", "int c;"}}}};
  ASSERT_TRUE(client_->create(kube::resources::config_maps(), code, {}).ok());
  reconcile_once("cm");
  EXPECT_EQ(ready("cm")["reason"], "BuildsDisabled");
}

TEST_F(ReconcilerTest, DeletingTheFunctionCascadesToItsObjects) {
  create(function_with("hello", {{"handler", "hello.greet"}, {"image", "r/hello:1"}}));
  ASSERT_TRUE(converge("hello"));
  ASSERT_TRUE(client_->remove({api::functions(), "default", "hello"}, {}).ok());
  EXPECT_TRUE(reconcile("hello").ok());
  EXPECT_TRUE(wait_until(
      [&] {
        return get(kube::resources::deployments(), "hello").is_null() &&
               get(kube::resources::services(), "hello").is_null();
      },
      10s));
}

TEST_F(ReconcilerTest, ApiErrorsComeBackForABackedOffRetry) {
  create(function_with("hello", {{"handler", "hello.greet"}, {"image", "r/hello:1"}}));
  emulator_.inject_error("get", "deployments", 500, 10);
  auto r = reconcile("hello");
  EXPECT_FALSE(r.ok());
  emulator_.reset();
}

}  // namespace
}  // namespace kubefn::controller

namespace kubefn::controller {
namespace {

struct BadRow {
  const char* name;
  nlohmann::json spec;
  const char* reason;
};

class ReconcilerBadRows : public ReconcilerTest, public ::testing::WithParamInterface<BadRow> {};

// Bad specs in, one status write and one Warning event out, and no objects made.
TEST_P(ReconcilerBadRows, BecomeConditionsAndCreateNothing) {
  create(function_with("bad", GetParam().spec));
  auto r = reconcile("bad");
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(ready("bad")["reason"], GetParam().reason) << ready("bad").dump();
  EXPECT_EQ(writes().creates, 0);
  EXPECT_EQ(writes().status_updates, 1);
  ASSERT_EQ(events_.events().size(), 1u);
  EXPECT_EQ(events_.events()[0].type, "Warning");
  EXPECT_TRUE(get(kube::resources::deployments(), "bad").is_null());
  EXPECT_TRUE(get(kube::resources::services(), "bad").is_null());
}

INSTANTIATE_TEST_SUITE_P(
    Table, ReconcilerBadRows,
    ::testing::Values(
        BadRow{"handler", {{"handler", "nodot"}, {"image", "i"}}, "InvalidHandler"},
        BadRow{"runtime",
               {{"handler", "a.b"}, {"image", "i"}, {"runtime", "go1.14"}},
               "UnknownRuntime"},
        BadRow{"no_source", {{"handler", "a.b"}}, "MissingSource"},
        BadRow{"two_sources",
               {{"handler", "a.b"},
                {"source",
                 {{"inline", "x"}, {"url", "https://e/x.cpp"}, {"sha256", std::string(64, 'a')}}}},
               "ConflictingSource"},
        BadRow{"min_over_max",
               {{"handler", "a.b"},
                {"image", "i"},
                {"scaling", {{"minReplicas", 3}, {"maxReplicas", 1}}}},
               "InvalidScaling"},
        BadRow{"reserved_env",
               {{"handler", "a.b"},
                {"image", "i"},
                {"env", {{{"name", "FUNC_PORT"}, {"value", "1"}}}}},
               "InvalidEnv"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace kubefn::controller
