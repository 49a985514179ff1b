// Wires the Function reconciler into the machinery of a controller: informers on Functions
// and the objects they own, a rate-limited work queue, worker threads, and the metrics
// controller-runtime exposes (so stock dashboards work).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kubefn/controller/event_recorder.hpp"
#include "kubefn/controller/function_reconciler.hpp"
#include "kubefn/controller/platform.hpp"
#include "kubefn/controller/source_fetcher.hpp"
#include "kubefn/kube/clock.hpp"
#include "kubefn/kube/informer.hpp"
#include "kubefn/kube/kube_client.hpp"
#include "kubefn/kube/queue_worker_pool.hpp"
#include "kubefn/kube/trigger_claims.hpp"
#include "kubefn/kube/work_queue.hpp"

namespace kubefn::telemetry {
class LineWriter;
}  // namespace kubefn::telemetry

namespace kubefn::controller {

struct ControllerOptions {
  std::vector<std::string> namespaces;  // empty: all namespaces
  int workers = 2;
  kube::Clock::Duration resync_period = std::chrono::minutes(10);
  // Who may hold spec.triggers.http hosts (the gateway's flags must say the same): by
  // default no host is allowed; paths need no allowance.
  kube::ClaimPolicy claims;
  // Where the controller's JSON log lines go (a failed reconcile is one); null: stderr.
  telemetry::LineWriter* log = nullptr;
};

class FunctionController {
 public:
  // Functions run on `platform`; URL sources come through `url_sources`, shared by the
  // workers (so a source with an unchanged sha256 is fetched once). Both outlive the
  // controller.
  FunctionController(kube::KubeClient& client, kube::Clock& clock, EventRecorder& events,
                     prometheus::Registry& registry, Platform& platform, UrlSources& url_sources,
                     ControllerOptions options = {});
  ~FunctionController();  // stops
  FunctionController(const FunctionController&) = delete;
  FunctionController& operator=(const FunctionController&) = delete;

  void start();
  void stop();
  // True once every informer has listed its objects and the workers run.
  bool synced() const;
  // Looks at a Function again: what a platform calls when something it runs changed.
  void requeue(const std::string& ns, const std::string& name);

 private:
  class CacheReader;
  kube::ReconcileResult reconcile_key(const std::string& key);
  // Makes a failed reconcile seen: a log line, the error counter, a Warning Event.
  void report_failure(const std::string& ns, const std::string& name, const kube::Status& error);
  void enqueue_owner(const nlohmann::json& object);
  void enqueue(const nlohmann::json& function);
  // A Function changed or went: its claims are updated and the other claimants of the keys
  // it claimed or claims are looked at again (one may hold now, or hold no more).
  void on_function(const nlohmann::json& function, bool deleted);

  kube::KubeClient& client_;
  kube::Clock& clock_;
  EventRecorder& events_;
  Platform& platform_;
  UrlSources& url_sources_;
  ControllerOptions options_;
  std::unique_ptr<telemetry::LineWriter> stderr_log_;  // when options_.log is null
  telemetry::LineWriter* log_;
  std::unique_ptr<kube::WorkQueue> queue_;
  std::vector<std::unique_ptr<kube::Informer>> informers_;
  mutable std::mutex workers_mu_;
  std::unique_ptr<kube::QueueWorkerPool> workers_;
  std::thread starter_;  // waits for the caches to sync, then starts the workers
  std::unique_ptr<CacheReader> reader_;
  std::unique_ptr<kube::TriggerClaims> claims_;  // of every Function the informers see
  std::atomic<bool> started_{false};

  prometheus::Family<prometheus::Counter>* reconcile_total_;
  prometheus::Counter* reconcile_errors_;
  prometheus::Histogram* reconcile_time_;
  prometheus::Gauge* active_workers_;
  prometheus::Gauge* depth_;
  prometheus::Counter* adds_;
  prometheus::Counter* retries_;
  prometheus::Family<prometheus::Counter>* api_writes_;
};

}  // namespace kubefn::controller
