// Routes follow the Kubernetes API: Functions, their Pods and the key Secret in the
// in-process API emulator, with a real kubefn-runtime behind the pods' address.
#include <gtest/gtest.h>

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

using nlohmann::json;
using std::chrono::seconds;
using testing::http_request;
using testing::wait_until;

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

TEST(GatewayEmulator, RoutesFollowFunctionsPodsAndKeys) {
  testing::RuntimeProcess runtime(KUBEFN_HELLO_SO, "greet");
  ASSERT_TRUE(runtime.started());
  emulator::KubeEmulator emu;
  kube::RealClock clock;
  kube::ClientConfig config;
  config.server = emu.url();
  auto client = kube::make_rest_kube_client(config, clock);
  ASSERT_TRUE(client.ok());
  kube::KubeClient& api = **client;
  ASSERT_TRUE(controller::testing::install_function_crd(api, KUBEFN_CRD_FILE).ok());

  RouteTable routes;
  KeyRing keys;
  KubernetesSourceOptions so;
  so.namespaces = {"default"};
  so.keys_secret_namespace = "default";
  so.keys_secret_name = "gateway-keys";
  KubernetesSource source(api, clock, routes, keys, so);
  source.start();
  ASSERT_TRUE(source.wait_for_sync(std::chrono::seconds(10)));
  GatewayOptions options;
  options.threads = 1;
  Gateway gateway(routes, keys, options);
  ASSERT_TRUE(gateway.start().ok());
  const std::uint16_t port = gateway.port();
  auto status_of = [&](const std::string& target,
                       const std::map<std::string, std::string>& headers = {}) {
    auto r = http_request(port, "GET", target, "", headers);
    return r ? r->status : 0;
  };

  EXPECT_EQ(status_of("/default/hello"), 404);
  ASSERT_TRUE(api.create(kFunctions, function("hello", "public"), {}).ok());
  ASSERT_TRUE(wait_until([&] { return routes.find("default", "hello") != nullptr; }, seconds(10)));
  EXPECT_EQ(status_of("/default/hello"), 503);  // no pod yet
  EXPECT_EQ(routes.find("default", "hello")->concurrency, 10);

  // A pod that is not ready yet gives no capacity.
  auto created = api.create(kPods, pod("hello-1", "hello", runtime.port()), {});
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  json with_status = *created;
  with_status["status"] = {{"podIP", "127.0.0.1"},
                           {"conditions", json::array({{{"type", "Ready"}, {"status", "False"}}})}};
  auto updated = api.update_status(kPods, with_status, {});
  ASSERT_TRUE(updated.ok()) << updated.status().to_string();
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = routes.find("default", "hello");
        return r && r->endpoints.size() == 1;
      },
      seconds(10)));
  EXPECT_EQ(status_of("/default/hello"), 503);

  // Ready: calls go through to the runtime.
  json ready = *updated;
  ready["status"]["conditions"] = json::array({{{"type", "Ready"}, {"status", "True"}}});
  ASSERT_TRUE(api.update_status(kPods, ready, {}).ok());
  ASSERT_TRUE(wait_until([&] { return status_of("/default/hello") == 200; }, seconds(10)));
  auto r = http_request(port, "GET", "/default/hello?name=emulator");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hello emulator\n");

  // Private function: keys come from the Secret.
  ASSERT_TRUE(api.create(kFunctions, function("private", "private"), {}).ok());
  ASSERT_TRUE(api.create(kPods, pod("private-1", "private", runtime.port()), {}).ok());
  auto priv = api.get({kPods, "default", "private-1"});
  ASSERT_TRUE(priv.ok());
  json pstatus = *priv;
  pstatus["status"] = {{"podIP", "127.0.0.1"},
                       {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}};
  ASSERT_TRUE(api.update_status(kPods, pstatus, {}).ok());
  ASSERT_TRUE(wait_until([&] { return status_of("/default/private") == 401; }, seconds(10)));
  const std::map<std::string, std::string> auth = {{"Authorization", "Bearer s3cret"}};
  EXPECT_EQ(status_of("/default/private", auth), 403);
  json secret = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata", {{"name", "gateway-keys"}, {"namespace", "default"}}},
                 {"data", {{"token", "czNjcmV0"}}}};  // "s3cret"
  ASSERT_TRUE(api.create(kSecrets, secret, {}).ok());
  ASSERT_TRUE(wait_until([&] { return status_of("/default/private", auth) == 200; }, seconds(10)));

  // The pod goes away: so does the capacity.
  ASSERT_TRUE(api.remove({kPods, "default", "hello-1"}, {}).ok());
  ASSERT_TRUE(wait_until([&] { return status_of("/default/hello") == 503; }, seconds(10)));
  // The function goes away: 404.
  ASSERT_TRUE(api.remove({kFunctions, "default", "hello"}, {}).ok());
  ASSERT_TRUE(wait_until([&] { return status_of("/default/hello") == 404; }, seconds(10)));
  gateway.stop();
  source.stop();
}

// Trigger claims and scoped keys, as the gateway learns them from the API: the holder of a
// path is the Function created first (the emulator stamps creationTimestamp), and a Secret
// entry's ID.scopes limits its token.
TEST(GatewayEmulator, PathClaimsAndScopedKeysFollowTheApi) {
  testing::RuntimeProcess runtime(KUBEFN_HELLO_SO, "greet");
  ASSERT_TRUE(runtime.started());
  emulator::KubeEmulator emu;
  kube::RealClock clock;
  kube::ClientConfig config;
  config.server = emu.url();
  auto client = kube::make_rest_kube_client(config, clock);
  ASSERT_TRUE(client.ok());
  kube::KubeClient& api = **client;
  ASSERT_TRUE(controller::testing::install_function_crd(api, KUBEFN_CRD_FILE).ok());
  RouteTable routes;
  KeyRing keys;
  KubernetesSourceOptions so;
  so.namespaces = {"default"};
  so.keys_secret_namespace = "default";
  so.keys_secret_name = "gateway-keys";
  KubernetesSource source(api, clock, routes, keys, so);
  source.start();
  ASSERT_TRUE(source.wait_for_sync(std::chrono::seconds(10)));
  Gateway gateway(routes, keys, GatewayOptions{});
  ASSERT_TRUE(gateway.start().ok());

  // "zz-first" is created first: it holds /greet although "aa-later" sorts before it by name.
  for (const char* name : {"zz-first", "aa-later"}) {
    json fn = function(name, "private");
    fn["spec"]["triggers"] = {{"http", {{"path", "/greet"}}}};
    ASSERT_TRUE(api.create(kFunctions, fn, {}).ok());
    ASSERT_TRUE(wait_until([&] { return routes.find("default", name) != nullptr; }, seconds(10)));
    if (std::string(name) == "zz-first") {
      // The next one in a later second, so the creationTimestamps differ.
      ASSERT_FALSE(routes.find("default", name)->created.empty());
      const auto next = std::chrono::floor<seconds>(std::chrono::system_clock::now()) + seconds(1);
      ASSERT_TRUE(wait_until([&] { return std::chrono::system_clock::now() >= next; }, seconds(3)));
    }
  }
  json p = pod("first-1", "zz-first", runtime.port());
  auto created = api.create(kPods, p, {});
  ASSERT_TRUE(created.ok());
  json ready = *created;
  ready["status"] = {{"podIP", "127.0.0.1"},
                     {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}};
  ASSERT_TRUE(api.update_status(kPods, ready, {}).ok());
  EXPECT_EQ(routes.find("default", "aa-later")->claims.summary().reason,
            kube::kPathConflictReason);

  json secret = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata", {{"name", "gateway-keys"}, {"namespace", "default"}}},
                 {"stringData",
                  {{"admin", "admin-token"},
                   {"team", "team-token"},
                   {"team.scopes", "default/zz-first"}}}};
  ASSERT_TRUE(api.create(kSecrets, secret, {}).ok());
  auto status_of = [&](const std::string& target, const std::string& token) {
    auto r = http_request(gateway.port(), "GET", target, "",
                          {{"Authorization", "Bearer " + token}});
    return r ? r->status : 0;
  };
  ASSERT_TRUE(wait_until([&] { return status_of("/greet?name=x", "team-token") == 200; },
                         seconds(10)));
  auto r = http_request(gateway.port(), "GET", "/greet?name=path", "",
                        {{"Authorization", "Bearer team-token"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hello path\n");
  // The team's token opens its one function only; the admin's every one.
  EXPECT_EQ(status_of("/default/aa-later", "team-token"), 403);
  EXPECT_EQ(status_of("/default/aa-later", "admin-token"), 503);  // allowed; no replica
  // The holder goes: the path moves to the next claimant.
  ASSERT_TRUE(api.remove({kFunctions, "default", "zz-first"}, {}).ok());
  ASSERT_TRUE(wait_until([&] { return status_of("/greet", "admin-token") == 503; }, seconds(10)));
  EXPECT_TRUE(routes.find("default", "aa-later")->claims.ok());
  gateway.stop();
  source.stop();
}

}  // namespace
}  // namespace kubefn::gateway
