#pragma once

// A fresh in-process API emulator per test and a real HTTP KubeClient pointed at it.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "kubefn/emulator/kube_emulator.hpp"
#include "kubefn/kube/clock.hpp"
#include "kubefn/kube/kube_client.hpp"
#include "kubefn/kube/rest_kube_client.hpp"
#include "kubefn/testing/status_matchers.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::kube::testing {

using kubefn::testing::IsOk;
using kubefn::testing::StatusIs;
using kubefn::testing::wait_until;
using ::testing::Not;

// The custom resource the tests use: status and scale subresources, like Function.
inline const GroupVersionResource kGadgets{"test.kubefn.dev", "v1", "gadgets", true};

inline nlohmann::json gadget_crd() {
  return nlohmann::json::parse(R"({
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.test.kubefn.dev"},
    "spec": {"group": "test.kubefn.dev", "scope": "Namespaced",
      "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
      "versions": [{"name": "v1", "served": true, "storage": true,
        "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
          "statusReplicasPath": ".status.replicas"}},
        "schema": {"openAPIV3Schema": {"type": "object",
                                       "x-kubernetes-preserve-unknown-fields": true}}}]}})");
}

inline nlohmann::json gadget(const std::string& name, int replicas) {
  return {{"apiVersion", "test.kubefn.dev/v1"},
          {"kind", "Gadget"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", {{"replicas", replicas}, {"color", "red"}}}};
}

inline nlohmann::json config_map(const std::string& name, const std::string& value,
                                 const std::string& ns = "default") {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", ns}, {"labels", {{"app", "test"}}}}},
          {"data", {{"value", value}}}};
}

inline RestClientOptions fast_retries() {
  RestClientOptions options;
  options.retry.max_attempts = 4;
  options.retry.backoff = Backoff{std::chrono::milliseconds(10), std::chrono::milliseconds(100)};
  options.request_timeout = std::chrono::seconds(10);
  return options;
}

class EmulatorClientTest : public ::testing::Test {
 protected:
  explicit EmulatorClientTest(emulator::EmulatorOptions options = {})
      : emulator_(std::move(options)) {}

  void SetUp() override { client_ = make_client(); }

  std::unique_ptr<KubeClient> make_client(ClientConfig config = {},
                                          const RestClientOptions& options = fast_retries()) {
    if (config.server.empty()) config.server = emulator_.url();
    auto client = make_rest_kube_client(config, clock_, options);
    EXPECT_THAT(client, IsOk());
    return client.ok() ? std::move(*client) : nullptr;
  }

  void install_gadgets() {
    auto created = client_->create(
        {"apiextensions.k8s.io", "v1", "customresourcedefinitions", false}, gadget_crd(), {});
    ASSERT_THAT(created, IsOk());
    ASSERT_TRUE(wait_until([&] { return client_->list(kGadgets, "default", {}).ok(); },
                           std::chrono::seconds(10)));
  }

  RealClock clock_;
  emulator::KubeEmulator emulator_;
  std::unique_ptr<KubeClient> client_;
};

}  // namespace kubefn::kube::testing
