// The Kubernetes API a test runs against: the in-repo emulator (a `kube-emulator` child on
// port 0, the whole API the test's own) or the real control plane `scripts/cluster` runs (a
// namespace of the test's own in it). Suites take an ApiKind parameter and run the same cases
// against both; the real cluster's instances are named Cluster/... and labelled `cluster`.
#pragma once

#include <memory>
#include <ostream>
#include <string>

#include "kubefn/testing/process.hpp"

namespace kubefn::testing {

enum class ApiKind { kEmulator, kCluster };

// "Emulator" or "Cluster": the instantiation prefix CTest labels by.
std::string api_kind_name(ApiKind kind);
inline void PrintTo(ApiKind kind, std::ostream* os) { *os << api_kind_name(kind); }

// The kubectl the tests drive: $KUBEFN_KUBECTL, else the pinned one scripts/tools/build puts
// in .tools/bin (the cluster's version).
std::string test_kubectl(const std::string& fallback);

class TestApi {
 public:
  // Starts the emulator (`emulator_binary`) or opens a fresh namespace named after `test_name`
  // on the cluster whose state folder is $KUBEFN_CLUSTER_DIR. Writes `dir`/kubeconfig, whose
  // context's namespace is ns(). On failure error() says why and nothing else is set.
  TestApi(ApiKind kind, const std::string& emulator_binary, const std::string& dir,
          const std::string& test_name, const std::string& kubectl);
  // Deletes the namespace (without waiting) or stops the emulator.
  ~TestApi();
  TestApi(const TestApi&) = delete;
  TestApi& operator=(const TestApi&) = delete;

  ApiKind kind() const { return kind_; }
  bool real() const { return kind_ == ApiKind::kCluster; }
  const std::string& error() const { return error_; }
  const std::string& server() const { return server_; }
  const std::string& kubeconfig() const { return kubeconfig_; }
  const std::string& ns() const { return ns_; }
  // The cluster's admin kubeconfig (cluster-scoped objects); kubeconfig() on the emulator.
  const std::string& admin_kubeconfig() const { return admin_kubeconfig_; }
  // The cluster's state folder (certificates, component logs); empty on the emulator.
  const std::string& cluster_dir() const { return cluster_dir_; }

  // kubectl apply of a CRD file, then waits until it is Established. Empty on success, else
  // kubectl's error. On the shared cluster another test may be creating the same CRD at that
  // moment: a lost race answers AlreadyExists, and the next apply finds it.
  std::string install_crd(const std::string& crd_file, const std::string& crd_name) const;

 private:
  ApiKind kind_;
  std::string kubectl_;
  std::string error_;
  std::string server_;
  std::string kubeconfig_;
  std::string admin_kubeconfig_;
  std::string cluster_dir_;
  std::string ns_ = "default";
  std::unique_ptr<ChildProcess> emulator_;
};

// A DNS-1123 label from a test's name: lower case, '-' for anything else, at most 40 characters,
// and a random suffix so reruns and parallel tests never share one.
std::string namespace_for(const std::string& test_name);

}  // namespace kubefn::testing

// Instantiates a TEST_P suite (parameter ApiKind) against the emulator, as Emulator/..., and
// against the real cluster, as Cluster/... (CTest labels those `cluster`).
#define KUBEFN_ON_BOTH_APIS(suite)                                                       \
  INSTANTIATE_TEST_SUITE_P(Emulator, suite,                                              \
                           ::testing::Values(::kubefn::testing::ApiKind::kEmulator),     \
                           [](const auto&) { return std::string("Emulator"); });         \
  KUBEFN_ON_CLUSTER(suite)

// Instantiates a TEST_P suite against the real cluster only, as Cluster/...
#define KUBEFN_ON_CLUSTER(suite)                                                         \
  INSTANTIATE_TEST_SUITE_P(Cluster, suite,                                               \
                           ::testing::Values(::kubefn::testing::ApiKind::kCluster),      \
                           [](const auto&) { return std::string("Cluster"); })
