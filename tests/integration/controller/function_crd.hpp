#pragma once

// Installs the Function CRD into an API (the emulator) and waits until Functions are served.

#include <chrono>
#include <string>
#include <thread>

#include "kubefn/emulator/yaml_to_json.hpp"
#include "kubefn/kube/kube_client.hpp"
#include "kubefn/testing/temp_dir.hpp"

namespace kubefn::controller::testing {

inline kube::Status install_function_crd(kube::KubeClient& api, const std::string& crd_file) {
  auto created = api.create(
      {"apiextensions.k8s.io", "v1", "customresourcedefinitions", false},
      emulator::yaml_to_json(::kubefn::testing::read_file(crd_file)).value_or(nullptr), {});
  if (!created.ok()) return created.status();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  const kube::GroupVersionResource functions{"kubefn.dev", "v1alpha1", "functions", true};
  while (!api.list(functions, "default", {}).ok()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return kube::Status(kube::StatusCode::kTimeout, "Functions not served 10 s after the CRD");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return {};
}

}  // namespace kubefn::controller::testing
