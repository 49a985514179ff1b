// Level-triggered reconcile of one Function: read it, validate it, resolve its source, ask
// the platform to prepare, build and run it, and write status only when it changed.
#pragma once

#include <string>
#include <variant>

#include "kubefn/controller/event_recorder.hpp"
#include "kubefn/controller/function_spec.hpp"
#include "kubefn/controller/object_reader.hpp"
#include "kubefn/controller/platform.hpp"
#include "kubefn/controller/source_fetcher.hpp"
#include "kubefn/kube/clock.hpp"
#include "kubefn/kube/kube_client.hpp"
#include "kubefn/kube/queue_worker_pool.hpp"
#include "kubefn/kube/result.hpp"
#include "kubefn/kube/trigger_claims.hpp"

namespace kubefn::controller {

class FunctionReconciler {
 public:
  // Functions (and the objects a platform keeps) are read through `reader`; ConfigMaps named
  // as sources (which no cache holds) and status go to `client`; what runs the function is
  // `platform`'s business. URL sources come through `url_sources`. `claims` judges the
  // Function's HTTP trigger host and path (null: not judged).
  FunctionReconciler(kube::KubeClient& client, ObjectReader& reader, kube::Clock& clock,
                     EventRecorder& events, Platform& platform, UrlSources& url_sources,
                     const kube::TriggerClaims* claims = nullptr)
      : client_(client),
        reader_(reader),
        clock_(clock),
        events_(events),
        platform_(platform),
        url_sources_(url_sources),
        claims_(claims) {}

  // An error is an API error (a read or write refused or failed): the caller retries with
  // backoff. Otherwise requeue_after, when set, says when to look again without an event;
  // what the user must fix is in the Function's conditions, not here.
  kube::Result<kube::ReconcileResult> reconcile(const std::string& ns, const std::string& name);
  const WriteCounts& writes() const { return writes_; }

 private:
  // The source text of `spec` (empty for a prebuilt image), or the outcome that stops the
  // reconcile at SourceReady (an API error in its `error`).
  std::variant<std::string, StepOutcome> resolve_source(const FunctionSpec& spec);
  kube::Result<kube::ReconcileResult> finish(nlohmann::json& function, nlohmann::json status,
                                             kube::Result<kube::ReconcileResult> r);

  kube::KubeClient& client_;
  ObjectReader& reader_;
  kube::Clock& clock_;
  EventRecorder& events_;
  Platform& platform_;
  UrlSources& url_sources_;
  const kube::TriggerClaims* claims_ = nullptr;
  WriteCounts writes_;
};

}  // namespace kubefn::controller
