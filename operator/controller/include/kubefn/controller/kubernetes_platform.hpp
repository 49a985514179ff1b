// The Kubernetes platform: a content-hashed ConfigMap holds the source, a build Job turns it
// into an image, a Deployment runs it and a Service names it. Everything is owned by the
// Function, so deleting the Function deletes it all.
#pragma once

#include <mutex>
#include <string>
#include <unordered_map>

#include "kubefn/controller/platform.hpp"
#include "kubefn/kube/kube_client.hpp"

namespace kubefn::controller {

// Where the platform reads the objects it owns: the API itself, or the informers' caches
// (what the controller uses, so a converged Function costs no request).
class ObjectReader {
 public:
  virtual ~ObjectReader() = default;
  virtual kube::Result<nlohmann::json> get(const kube::ObjectRef& ref) = 0;
  // Objects of `resource` in `ns` labelled kubefn.dev/function=<function>.
  virtual kube::Result<std::vector<nlohmann::json>> list_owned(
      const kube::GroupVersionResource& resource, const std::string& ns,
      const std::string& function) = 0;
};

class ClientReader final : public ObjectReader {
 public:
  explicit ClientReader(kube::KubeClient& client) : client_(client) {}
  kube::Result<nlohmann::json> get(const kube::ObjectRef& ref) override { return client_.get(ref); }
  kube::Result<std::vector<nlohmann::json>> list_owned(const kube::GroupVersionResource& resource,
                                                       const std::string& ns,
                                                       const std::string& function) override;

 private:
  kube::KubeClient& client_;
};

// Per Deployment, the generation it had when the platform last found (or made) it equal to
// what it wanted, and a hash of that want. With it, the operator can cache Deployments
// without their pod templates: an unchanged generation and an unchanged want mean nothing to
// compare; anything else fetches the whole object once. Thread-safe.
class ConvergedDeployments {
 public:
  bool matches(const std::string& key, std::int64_t generation,
               const std::string& desired_hash) const;
  void remember(const std::string& key, std::int64_t generation, const std::string& desired_hash);
  void forget(const std::string& key);
  std::size_t size() const;

 private:
  struct Entry {
    std::int64_t generation = 0;
    std::string desired_hash;
  };
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

// How source builds run. With an empty `registry`, builds are off and only spec.image runs.
struct BuildSettings {
  std::string registry;         // repository prefix for built images, e.g. "registry:5000/kubefn"
  std::string base_image;       // the runtime base image the function layer goes on
  std::string builder_image;    // the image holding kubefn-build
  std::string registry_secret;  // a dockerconfigjson Secret in the Function's namespace (optional)
  bool plain_http = false;      // the registry speaks plain HTTP
  std::int64_t timeout_seconds = 600;
  // Where replicas send their load reports (the operator's stats stream, host:port); set as
  // KUBEFN_STATS_ADDRESS in every Deployment. Empty: replicas do not report.
  std::string stats_address;
};

class KubernetesPlatform final : public Platform {
 public:
  // Reads go to `reader`, writes (and reads of objects the user owns) to `client`. The reader
  // may serve Deployments without their pod template; the platform then fetches the whole
  // one from `client` when it must compare, which `converged` (optional) makes rare.
  KubernetesPlatform(kube::KubeClient& client, ObjectReader& reader, BuildSettings build = {},
                     ConvergedDeployments* converged = nullptr)
      : client_(client), reader_(reader), build_(std::move(build)), converged_(converged) {}

  StepOutcome prepare(const FunctionContext& ctx) override;
  BuildOutcome build(const FunctionContext& ctx) override;
  WorkloadOutcome run(const FunctionContext& ctx, const std::string& image) override;
  void forget(const std::string& ns, const std::string& name) override;
  kube::Status scale(const std::string& ns, const std::string& name,
                     std::int64_t replicas) override;

  static constexpr const char* kFieldManager = "kubefn-operator";

 private:
  BuildOutcome job_result(const FunctionContext& ctx, const nlohmann::json& job);

  kube::KubeClient& client_;
  ObjectReader& reader_;
  BuildSettings build_;
  ConvergedDeployments* converged_;
};

// True when every field set in `desired` has the same value in `live` (objects compared
// key by key, arrays element by element and of equal length). Fields the server added to
// `live` are ignored, so a defaulted object still matches what we asked for.
bool is_subset(const nlohmann::json& desired, const nlohmann::json& live);

}  // namespace kubefn::controller
