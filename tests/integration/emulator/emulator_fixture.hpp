#pragma once

// Shared fixture: a fresh emulator per test, an HTTP client, and a "Widget" custom resource
// (status and scale subresources, printer columns) to exercise CRD-served kinds.

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "kubefn/emulator/kube_emulator.hpp"
#include "kubefn/testing/http_client.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::emulator::testing {

using kubefn::testing::HttpClient;
using kubefn::testing::HttpReply;
using kubefn::testing::RequestOptions;
using kubefn::testing::wait_until;
using kubefn::testing::WatchReader;

inline const char kWidgets[] = "/apis/emulator.kubefn.dev/v1/namespaces/default/widgets";
inline const char kConfigMaps[] = "/api/v1/namespaces/default/configmaps";
inline const char kDeployments[] = "/apis/apps/v1/namespaces/default/deployments";

inline nlohmann::json widget_crd() {
  return nlohmann::json::parse(R"({
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.emulator.kubefn.dev"},
    "spec": {"group": "emulator.kubefn.dev", "scope": "Namespaced",
      "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
      "versions": [{"name": "v1", "served": true, "storage": true,
        "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
          "statusReplicasPath": ".status.replicas", "labelSelectorPath": ".status.selector"}},
        "additionalPrinterColumns": [
          {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
          {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
          {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
        "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}})");
}

inline nlohmann::json widget(const std::string& name, const std::string& color,
                             nlohmann::json labels = nlohmann::json::object()) {
  return {{"apiVersion", "emulator.kubefn.dev/v1"},
          {"kind", "Widget"},
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"spec", {{"color", color}, {"replicas", 1}}}};
}

inline nlohmann::json config_map(const std::string& name,
                                 nlohmann::json labels = nlohmann::json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"data", {{"k", "v"}}}};
}

inline nlohmann::json deployment(const std::string& name, int replicas) {
  return nlohmann::json::parse(R"({"apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": ")" + name +
                               R"(", "labels": {"app": ")" + name + R"("}},
    "spec": {"replicas": )" + std::to_string(replicas) +
                               R"(,
      "selector": {"matchLabels": {"app": ")" +
                               name + R"("}},
      "template": {"metadata": {"labels": {"app": ")" +
                               name + R"("}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"},
                                {"name": "side", "image": "busybox:1"}]}}}})");
}

inline std::string rv_of(const nlohmann::json& obj) {
  return obj["metadata"]["resourceVersion"].get<std::string>();
}

class EmulatorTest : public ::testing::Test {
 protected:
  explicit EmulatorTest(EmulatorOptions options = {})
      : emu_(std::move(options)), http_(emu_.port(), emu_.ca_pem()) {}

  void install_widgets() {
    auto r = http_.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", widget_crd());
    ASSERT_EQ(r.status, 201) << r.body;
  }

  nlohmann::json create(const std::string& collection, const nlohmann::json& obj) {
    auto r = http_.post(collection, obj);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json();
  }

  KubeEmulator emu_;
  HttpClient http_;
};

}  // namespace kubefn::emulator::testing
