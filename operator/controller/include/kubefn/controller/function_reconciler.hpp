// Level-triggered reconcile of one Function: read it and the world, compute the desired
// objects with the pure builders, converge, and write status only when it changed.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "kubefn/controller/event_recorder.hpp"
#include "kubefn/controller/function_spec.hpp"
#include "kubefn/kube/clock.hpp"
#include "kubefn/kube/kube_client.hpp"
#include "kubefn/kube/status.hpp"

namespace kubefn::controller {

namespace gvr {
kube::GroupVersionResource functions();
kube::GroupVersionResource deployments();
kube::GroupVersionResource services();
kube::GroupVersionResource config_maps();
}  // namespace gvr

struct ReconcileResult {
  kube::Status error;                                 // not ok: retry with backoff
  std::optional<std::chrono::seconds> requeue_after;  // ok, but look again later
};

// Counts of what one reconcile wrote, for metrics and for tests.
struct WriteCounts {
  int creates = 0;
  int updates = 0;
  int deletes = 0;
  int status_updates = 0;
};

// Where the reconciler reads the Function and the objects it owns: the API itself, or the
// informers' caches (what the controller uses, so a converged Function costs no request).
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

// Per Deployment, the generation it had when the reconciler last found (or made) it equal to
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

class FunctionReconciler {
 public:
  // Reads go to `reader`, writes (and reads of objects the user owns) to `client`. The reader
  // may serve Deployments without their pod template; the reconciler then fetches the whole
  // one from `client` when it must compare, which `converged` (optional) makes rare.
  FunctionReconciler(kube::KubeClient& client, ObjectReader& reader, kube::Clock& clock,
                     EventRecorder& events, ConvergedDeployments* converged = nullptr)
      : client_(client), reader_(reader), clock_(clock), events_(events), converged_(converged) {}

  ReconcileResult reconcile(const std::string& ns, const std::string& name);
  const WriteCounts& writes() const { return writes_; }

  static constexpr const char* kFieldManager = "kubefn-operator";

 private:
  ReconcileResult finish(nlohmann::json& function, nlohmann::json status, ReconcileResult r);

  kube::KubeClient& client_;
  ObjectReader& reader_;
  kube::Clock& clock_;
  EventRecorder& events_;
  ConvergedDeployments* converged_;
  WriteCounts writes_;
};

// True when every field set in `desired` has the same value in `live` (objects compared
// key by key, arrays element by element and of equal length). Fields the server added to
// `live` are ignored, so a defaulted object still matches what we asked for.
bool is_subset(const nlohmann::json& desired, const nlohmann::json& live);

}  // namespace kubefn::controller
