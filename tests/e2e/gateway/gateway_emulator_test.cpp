// Routes follow the Kubernetes API: Functions, their Pods and the key Secret in the
// in-process API emulator, with a real kubefn-runtime behind the pods' address.
#include <gtest/gtest.h>

#include <future>

#include "function_crd.hpp"
#include "kubefn/emulator/kube_emulator.hpp"
#include "kubefn/gateway/gateway.hpp"
#include "kubefn/gateway/kubernetes_source.hpp"
#include "kubefn/kube/rest_kube_client.hpp"
#include "kubefn/testing/http_client.hpp"
#include "kubefn/testing/wait.hpp"
#include "runtime_process.hpp"

namespace kubefn::gateway {
namespace {

using kubefn::testing::http_request;
using kubefn::testing::http_status;
using kubefn::testing::RuntimeProcess;
using kubefn::testing::wait_until;
using nlohmann::json;
using std::chrono::seconds;

const kube::GroupVersionResource kFunctions{"kubefn.dev", "v1alpha1", "functions", true};
const kube::GroupVersionResource kPods{"", "v1", "pods", true};
const kube::GroupVersionResource kSecrets{"", "v1", "secrets", true};

json function(const std::string& name, const std::string& access) {
  return {{"apiVersion", "kubefn.dev/v1alpha1"},
          {"kind", "Function"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", {{"handler", "hello.greet"}, {"access", access}, {"concurrency", 10}}}};
}

json pod(const std::string& name, const std::string& function, std::uint16_t port) {
  return {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", name}, {"namespace", "default"}, {"labels", {{"kubefn.dev/function", function}}}}},
      {"spec",
       {{"containers",
         json::array({{{"name", "function"},
                       {"image", "r/f:1"},
                       {"ports", json::array({{{"name", "http"}, {"containerPort", port}}})}}})}}}};
}

// A Pod's status: its address, and whether it is Ready ("True" or "False").
json pod_status(const std::string& ready) {
  return {{"podIP", "127.0.0.1"},
          {"conditions", json::array({{{"type", "Ready"}, {"status", ready}}})}};
}

// The Secret the gateway reads its keys from, with `entries` as its data or stringData.
json keys_secret(const std::string& field, json entries) {
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", {{"name", "gateway-keys"}, {"namespace", "default"}}},
          {field, std::move(entries)}};
}

// A real kubefn-runtime serving hello.greet, an emulator with the Function CRD, a client of it,
// and a KubernetesSource filling the fixture's routes and keys from it; the test starts the
// gateway.
class GatewayEmulator : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(runtime_.started());
    kube::ClientConfig config;
    config.server = emu_.url();
    auto client = kube::make_rest_kube_client(config, clock_);
    ASSERT_TRUE(client.ok());
    client_ = std::move(*client);
    ASSERT_TRUE(controller::testing::install_function_crd(api(), KUBEFN_CRD_FILE).ok());
    KubernetesSourceOptions so;
    so.namespaces = {"default"};
    so.keys_secret_namespace = "default";
    so.keys_secret_name = "gateway-keys";
    source_ = std::make_unique<KubernetesSource>(api(), clock_, routes_, keys_, so);
    source_->start();
    ASSERT_TRUE(source_->wait_for_sync(seconds(10)));
  }
  void TearDown() override {
    if (gateway_) gateway_->stop();
    if (source_) source_->stop();
  }
  kube::KubeClient& api() { return *client_; }
  void start(GatewayOptions options = {}) {
    gateway_ = std::make_unique<Gateway>(routes_, keys_, options);
    ASSERT_TRUE(gateway_->start().ok());
  }
  std::uint16_t port() const { return gateway_->port(); }

  RuntimeProcess runtime_{KUBEFN_HELLO_SO, "greet"};
  emulator::KubeEmulator emu_;
  kube::RealClock clock_;
  std::unique_ptr<kube::KubeClient> client_;
  RouteTable routes_;
  KeyRing keys_;
  std::unique_ptr<KubernetesSource> source_;
  std::unique_ptr<Gateway> gateway_;
};

TEST_F(GatewayEmulator, RoutesFollowFunctionsPodsAndKeys) {
  GatewayOptions options;
  options.threads = 1;
  ASSERT_NO_FATAL_FAILURE(start(options));
  auto status_of = [&](const std::string& target,
                       const std::map<std::string, std::string>& headers = {}) {
    return http_status(port(), target, headers);
  };

  EXPECT_EQ(status_of("/default/hello"), 404);
  ASSERT_TRUE(api().create(kFunctions, function("hello", "public"), {}).ok());
  ASSERT_TRUE(wait_until([&] { return routes_.find("default", "hello") != nullptr; }, seconds(10)));
  EXPECT_EQ(status_of("/default/hello"), 503);  // no pod yet
  EXPECT_EQ(routes_.find("default", "hello")->concurrency, 10);

  // A pod that is not ready yet gives no capacity.
  auto created = api().create(kPods, pod("hello-1", "hello", runtime_.port()), {});
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  json with_status = *created;
  with_status["status"] = pod_status("False");
  auto updated = api().update_status(kPods, with_status, {});
  ASSERT_TRUE(updated.ok()) << updated.status().to_string();
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = routes_.find("default", "hello");
        return r && r->endpoints.size() == 1;
      },
      seconds(10)));
  EXPECT_EQ(status_of("/default/hello"), 503);

  // Ready: calls go through to the runtime.
  json ready = *updated;
  ready["status"]["conditions"] = json::array({{{"type", "Ready"}, {"status", "True"}}});
  ASSERT_TRUE(api().update_status(kPods, ready, {}).ok());
  ASSERT_TRUE(wait_until([&] { return status_of("/default/hello") == 200; }, seconds(10)));
  auto r = http_request(port(), "GET", "/default/hello?name=emulator");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hello emulator\n");

  // Private function: keys come from the Secret.
  ASSERT_TRUE(api().create(kFunctions, function("private", "private"), {}).ok());
  ASSERT_TRUE(api().create(kPods, pod("private-1", "private", runtime_.port()), {}).ok());
  auto priv = api().get({kPods, "default", "private-1"});
  ASSERT_TRUE(priv.ok());
  json pstatus = *priv;
  pstatus["status"] = pod_status("True");
  ASSERT_TRUE(api().update_status(kPods, pstatus, {}).ok());
  ASSERT_TRUE(wait_until([&] { return status_of("/default/private") == 401; }, seconds(10)));
  const std::map<std::string, std::string> auth = {{"Authorization", "Bearer s3cret"}};
  EXPECT_EQ(status_of("/default/private", auth), 403);
  const json secret = keys_secret("data", {{"token", "czNjcmV0"}});  // "s3cret"
  ASSERT_TRUE(api().create(kSecrets, secret, {}).ok());
  ASSERT_TRUE(wait_until([&] { return status_of("/default/private", auth) == 200; }, seconds(10)));

  // The pod goes away: so does the capacity.
  ASSERT_TRUE(api().remove({kPods, "default", "hello-1"}, {}).ok());
  ASSERT_TRUE(wait_until([&] { return status_of("/default/hello") == 503; }, seconds(10)));
  // The function goes away: 404.
  ASSERT_TRUE(api().remove({kFunctions, "default", "hello"}, {}).ok());
  ASSERT_TRUE(wait_until([&] { return status_of("/default/hello") == 404; }, seconds(10)));
}

// Trigger claims and scoped keys, as the gateway learns them from the API: the holder of a
// path is the Function created first (the emulator stamps creationTimestamp), and a Secret
// entry's ID.scopes limits its token.
TEST_F(GatewayEmulator, PathClaimsAndScopedKeysFollowTheApi) {
  ASSERT_NO_FATAL_FAILURE(start());

  // "zz-first" is created first: it holds /greet although "aa-later" sorts before it by name.
  for (const char* name : {"zz-first", "aa-later"}) {
    json fn = function(name, "private");
    fn["spec"]["triggers"] = {{"http", {{"path", "/greet"}}}};
    ASSERT_TRUE(api().create(kFunctions, fn, {}).ok());
    ASSERT_TRUE(wait_until([&] { return routes_.find("default", name) != nullptr; }, seconds(10)));
    if (std::string(name) == "zz-first") {
      // The next one in a later second, so the creationTimestamps differ.
      ASSERT_FALSE(routes_.find("default", name)->created.empty());
      const auto next = std::chrono::floor<seconds>(std::chrono::system_clock::now()) + seconds(1);
      ASSERT_TRUE(wait_until([&] { return std::chrono::system_clock::now() >= next; }, seconds(3)));
    }
  }
  json p = pod("first-1", "zz-first", runtime_.port());
  auto created = api().create(kPods, p, {});
  ASSERT_TRUE(created.ok());
  json ready = *created;
  ready["status"] = pod_status("True");
  ASSERT_TRUE(api().update_status(kPods, ready, {}).ok());
  EXPECT_EQ(routes_.find("default", "aa-later")->claims.summary().reason,
            kube::kPathConflictReason);

  json secret = keys_secret(
      "stringData",
      {{"admin", "admin-token"}, {"team", "team-token"}, {"team.scopes", "default/zz-first"}});
  ASSERT_TRUE(api().create(kSecrets, secret, {}).ok());
  auto status_of = [&](const std::string& target, const std::string& token) {
    return http_status(port(), target, {{"Authorization", "Bearer " + token}});
  };
  ASSERT_TRUE(
      wait_until([&] { return status_of("/greet?name=x", "team-token") == 200; }, seconds(10)));
  auto r =
      http_request(port(), "GET", "/greet?name=path", "", {{"Authorization", "Bearer team-token"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hello path\n");
  // The team's token opens its one function only; the admin's every one.
  EXPECT_EQ(status_of("/default/aa-later", "team-token"), 403);
  EXPECT_EQ(status_of("/default/aa-later", "admin-token"), 503);  // allowed; no replica
  // The holder goes: the path moves to the next claimant.
  ASSERT_TRUE(api().remove({kFunctions, "default", "zz-first"}, {}).ok());
  ASSERT_TRUE(wait_until([&] { return status_of("/greet", "admin-token") == 503; }, seconds(10)));
  EXPECT_TRUE(routes_.find("default", "aa-later")->claims.ok());
}

// The whole chain from the API: a pod whose function container runs but which the kubelet has
// not marked Ready gets a call waiting for a first replica through the gateway's own probe
// of the real runtime's /readyz, while the pod stays not Ready.
TEST_F(GatewayEmulator, AWaitingCallReachesARunningPodBeforeItIsReady) {
  GatewayOptions options;
  options.threads = 1;
  options.activation_timeout = seconds(20);
  ASSERT_NO_FATAL_FAILURE(start(options));
  ASSERT_TRUE(api().create(kFunctions, function("hello", "public"), {}).ok());
  ASSERT_TRUE(wait_until([&] { return routes_.find("default", "hello") != nullptr; }, seconds(10)));
  auto pending = std::async(std::launch::async, [&] {
    return http_request(port(), "GET", "/default/hello?name=probe", "", {}, seconds(30));
  });

  // Scheduled, its sandbox has an IP, the container is being created: nothing to probe yet.
  auto created = api().create(kPods, pod("hello-1", "hello", runtime_.port()), {});
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  json creating = *created;
  creating["status"] = pod_status("False");
  creating["status"]["containerStatuses"] = json::array(
      {{{"name", "function"}, {"ready", false}, {"state", {{"waiting", {{"reason", "x"}}}}}}});
  auto updated = api().update_status(kPods, creating, {});
  ASSERT_TRUE(updated.ok()) << updated.status().to_string();
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = routes_.find("default", "hello");
        return r && r->endpoints.size() == 1;
      },
      seconds(10)));
  EXPECT_FALSE(routes_.find("default", "hello")->endpoints[0].started);
  EXPECT_EQ(pending.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);

  // The container runs; the pod is still not Ready.
  json running = *updated;
  running["status"]["containerStatuses"][0]["state"] = {
      {"running", {{"startedAt", "2024-01-01T00:00:00Z"}}}};
  ASSERT_TRUE(api().update_status(kPods, running, {}).ok());
  ASSERT_EQ(pending.wait_for(seconds(10)), std::future_status::ready);
  auto r = pending.get();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello probe\n");
  auto route = routes_.find("default", "hello");
  ASSERT_EQ(route->endpoints.size(), 1u);
  EXPECT_TRUE(route->endpoints[0].started);
  EXPECT_FALSE(route->endpoints[0].ready);
  EXPECT_TRUE(route->endpoints[0].probed);
  auto pod_now = api().get({kPods, "default", "hello-1"});
  ASSERT_TRUE(pod_now.ok());
  EXPECT_EQ((*pod_now)["status"]["conditions"][0]["status"], "False");
}

}  // namespace
}  // namespace kubefn::gateway
