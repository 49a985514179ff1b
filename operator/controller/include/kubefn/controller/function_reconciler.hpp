// Level-triggered reconcile of one Function: read it, validate it, resolve its source, ask
// the platform to prepare, build and run it, and write status only when it changed.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "kubefn/controller/event_recorder.hpp"
#include "kubefn/controller/function_spec.hpp"
#include "kubefn/controller/kubernetes_platform.hpp"
#include "kubefn/controller/platform.hpp"
#include "kubefn/controller/source_fetcher.hpp"
#include "kubefn/kube/clock.hpp"
#include "kubefn/kube/kube_client.hpp"
#include "kubefn/kube/status.hpp"
#include "kubefn/kube/trigger_claims.hpp"

namespace kubefn::controller {

struct ReconcileResult {
  kube::Status error;                                 // not ok: retry with backoff
  std::optional<std::chrono::seconds> requeue_after;  // ok, but look again later
};

class FunctionReconciler {
 public:
  // Functions (and ConfigMaps named as sources) are read through `reader` and `client`;
  // status goes to `client`; what runs the function is `platform`'s business. URL sources
  // come through `url_sources` (null: UrlSources::shared(), over HTTP). `claims` judges the
  // Function's HTTP trigger host and path (null: not judged).
  FunctionReconciler(kube::KubeClient& client, ObjectReader& reader, kube::Clock& clock,
                     EventRecorder& events, Platform& platform, UrlSources* url_sources = nullptr,
                     const kube::TriggerClaims* claims = nullptr)
      : client_(client),
        reader_(reader),
        clock_(clock),
        events_(events),
        platform_(&platform),
        url_sources_(url_sources != nullptr ? url_sources : &UrlSources::shared()),
        claims_(claims) {}
  // The Kubernetes platform over the same client and reader.
  FunctionReconciler(kube::KubeClient& client, ObjectReader& reader, kube::Clock& clock,
                     EventRecorder& events, ConvergedDeployments* converged = nullptr,
                     BuildSettings build = {}, UrlSources* url_sources = nullptr,
                     const kube::TriggerClaims* claims = nullptr);

  ReconcileResult reconcile(const std::string& ns, const std::string& name);
  const WriteCounts& writes() const { return writes_; }

  static constexpr const char* kFieldManager = KubernetesPlatform::kFieldManager;

 private:
  ReconcileResult finish(nlohmann::json& function, nlohmann::json status, ReconcileResult r);

  kube::KubeClient& client_;
  ObjectReader& reader_;
  kube::Clock& clock_;
  EventRecorder& events_;
  std::unique_ptr<Platform> owned_platform_;
  Platform* platform_;
  UrlSources* url_sources_;
  const kube::TriggerClaims* claims_ = nullptr;
  WriteCounts writes_;
};

}  // namespace kubefn::controller
