#include "kubefn/controller/function_controller.hpp"

#include <unistd.h>

#include <unordered_map>

#include "kubefn/controller/function_reconciler.hpp"
#include "kubefn/kube/rate_limiter.hpp"
#include "kubefn/telemetry/json_log.hpp"

namespace kubefn::controller {

using nlohmann::json;

namespace {
const prometheus::Labels kController{{"controller", "function"}};
const prometheus::Labels kQueue{{"name", "function"}};
}  // namespace

// Reads from the informers' caches; resources without an informer go to the API.
class FunctionController::CacheReader final : public ObjectReader {
 public:
  explicit CacheReader(kube::KubeClient& client) : client_(client) {}
  void add(const kube::GroupVersionResource& r, const std::string& ns,
           const kube::ObjectCache& cache) {
    caches_[r.resource + "|" + ns] = &cache;
  }
  kube::Result<json> get(const kube::ObjectRef& ref) override {
    const kube::ObjectCache* cache = find(ref.resource, ref.ns);
    if (cache == nullptr) return client_.get(ref);
    auto snap = cache->get(ref.ns, ref.name);
    if (!snap) {
      return kube::Status(kube::StatusCode::kNotFound,
                          ref.resource.resource + " \"" + ref.name + "\" not found");
    }
    return *snap;
  }
  kube::Result<std::vector<json>> list_owned(const kube::GroupVersionResource& r,
                                             const std::string& ns,
                                             const std::string& function) override {
    const kube::ObjectCache* cache = find(r, ns);
    if (cache == nullptr) return ClientReader(client_).list_owned(r, ns, function);
    std::vector<json> out;
    for (const auto& snap : cache->list_labelled(api::kFunctionLabel, function)) {
      if (kube::object_namespace(*snap) == ns) out.push_back(*snap);
    }
    return out;
  }

 private:
  const kube::ObjectCache* find(const kube::GroupVersionResource& r, const std::string& ns) const {
    auto it = caches_.find(r.resource + "|" + ns);
    if (it == caches_.end()) it = caches_.find(r.resource + "|");
    return it == caches_.end() ? nullptr : it->second;
  }

  kube::KubeClient& client_;
  std::unordered_map<std::string, const kube::ObjectCache*> caches_;
};

FunctionController::FunctionController(kube::KubeClient& client, kube::Clock& clock,
                                       EventRecorder& events, prometheus::Registry& registry,
                                       Platform& platform, UrlSources& url_sources,
                                       ControllerOptions options)
    : client_(client),
      clock_(clock),
      events_(events),
      platform_(platform),
      url_sources_(url_sources),
      options_(std::move(options)),
      log_(options_.log) {
  if (log_ == nullptr) {
    // Each line is written at once: a failure must be in the log even if the process dies.
    stderr_log_ = std::make_unique<telemetry::LineWriter>(STDERR_FILENO, 0);
    log_ = stderr_log_.get();
  }
  if (options_.namespaces.empty()) options_.namespaces.push_back("");
  claims_ = std::make_unique<kube::TriggerClaims>(options_.claims);
  queue_ =
      std::make_unique<kube::WorkQueue>(clock_, kube::make_default_controller_rate_limiter(clock_));
  reconcile_total_ = &prometheus::BuildCounter()
                          .Name("controller_runtime_reconcile_total")
                          .Help("Total number of reconciliations per controller")
                          .Register(registry);
  for (const char* result : {"success", "error", "requeue", "requeue_after"}) {
    reconcile_total_->Add({{"controller", "function"}, {"result", result}});
  }
  reconcile_errors_ = &prometheus::BuildCounter()
                           .Name("controller_runtime_reconcile_errors_total")
                           .Help("Total number of reconciliation errors per controller")
                           .Register(registry)
                           .Add(kController);
  reconcile_time_ = &prometheus::BuildHistogram()
                         .Name("controller_runtime_reconcile_time_seconds")
                         .Help("Length of time per reconciliation per controller")
                         .Register(registry)
                         .Add(kController, prometheus::Histogram::BucketBoundaries{
                                               0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                               2.5, 5, 10, 30, 60});
  prometheus::BuildGauge()
      .Name("controller_runtime_max_concurrent_reconciles")
      .Help("Maximum number of concurrent reconciles per controller")
      .Register(registry)
      .Add(kController)
      .Set(options_.workers);
  active_workers_ = &prometheus::BuildGauge()
                         .Name("controller_runtime_active_workers")
                         .Help("Number of currently used workers per controller")
                         .Register(registry)
                         .Add(kController);
  depth_ = &prometheus::BuildGauge()
                .Name("workqueue_depth")
                .Help("Current depth of workqueue")
                .Register(registry)
                .Add(kQueue);
  adds_ = &prometheus::BuildCounter()
               .Name("workqueue_adds_total")
               .Help("Total number of adds handled by workqueue")
               .Register(registry)
               .Add(kQueue);
  retries_ = &prometheus::BuildCounter()
                  .Name("workqueue_retries_total")
                  .Help("Total number of retries handled by workqueue")
                  .Register(registry)
                  .Add(kQueue);
  api_writes_ = &prometheus::BuildCounter()
                     .Name("kubefn_operator_api_writes_total")
                     .Help("Writes the Function reconciler made to the Kubernetes API")
                     .Register(registry);
}

FunctionController::~FunctionController() {
  stop();
}

void FunctionController::enqueue(const json& function) {
  queue_->add(kube::object_key(function));
  adds_->Increment();
  depth_->Set(static_cast<double>(queue_->ready()));
}

void FunctionController::on_function(const json& function, bool deleted) {
  const kube::Claimant claimant = kube::claimant_of(function);
  const std::vector<std::string> others =
      deleted ? claims_->remove(claimant.ns, claimant.name) : claims_->upsert(claimant);
  enqueue(function);
  for (const std::string& key : others) {
    queue_->add(key);
    adds_->Increment();
  }
  depth_->Set(static_cast<double>(queue_->ready()));
}

void FunctionController::requeue(const std::string& ns, const std::string& name) {
  queue_->add(ns + "/" + name);
  adds_->Increment();
  depth_->Set(static_cast<double>(queue_->ready()));
}

void FunctionController::enqueue_owner(const json& object) {
  const json& labels = object["metadata"].value("labels", json::object());
  auto it = labels.find(api::kFunctionLabel);
  if (it == labels.end() || !it->is_string()) return;
  queue_->add(kube::object_namespace(object) + "/" + it->get<std::string>());
  adds_->Increment();
  depth_->Set(static_cast<double>(queue_->ready()));
}

void FunctionController::report_failure(const std::string& ns, const std::string& name,
                                        const kube::Status& error) {
  const std::string message = error.to_string();
  std::string fields = ",\"controller\":\"function\",\"function\":";
  telemetry::append_json_string(fields, ns + "/" + name);
  fields += ",\"error\":";
  telemetry::append_json_string(fields, message);
  telemetry::log_event(*log_, "error", "reconcile failed", fields);
  reconcile_errors_->Increment();
  // On the Function, for kubectl describe: the user sees an RBAC refusal, a quota or a webhook
  // that rejects what the platform writes without reading the operator's log. A Function
  // gone meanwhile gets none, and neither does a write that lost an optimistic-concurrency
  // race (409 Conflict): a routine retry the next reconcile resolves, logged and counted but
  // not the user's problem.
  if (error.is_conflict()) return;
  auto function = reader_->get(kube::ObjectRef{api::functions(), ns, name});
  if (function.ok()) events_.record(function.value(), "Warning", "ReconcileError", message);
}

kube::ReconcileResult FunctionController::reconcile_key(const std::string& key) {
  const auto slash = key.find('/');
  const std::string ns = key.substr(0, slash);
  const std::string name = key.substr(slash + 1);
  active_workers_->Increment();
  const auto start = clock_.now();
  FunctionReconciler reconciler(client_, *reader_, clock_, events_, platform_, url_sources_,
                                claims_.get());
  kube::Result<kube::ReconcileResult> r = kube::ReconcileResult{};
  try {
    r = reconciler.reconcile(ns, name);
  } catch (const std::exception& e) {
    // An object of a shape the reconciler did not expect: retry later rather than crash.
    r = kube::Status(kube::StatusCode::kUnknown,
                     "reconcile of " + key + " failed: " + std::string(e.what()));
  }
  reconcile_time_->Observe(std::chrono::duration<double>(clock_.now() - start).count());
  active_workers_->Decrement();
  const WriteCounts& w = reconciler.writes();
  for (auto [verb, n] : {std::pair{"create", w.creates}, std::pair{"update", w.updates},
                         std::pair{"delete", w.deletes}, std::pair{"status", w.status_updates}}) {
    if (n > 0) api_writes_->Add({{"verb", verb}}).Increment(n);
  }
  depth_->Set(static_cast<double>(queue_->ready()));
  if (!r.ok()) {
    reconcile_total_->Add({{"controller", "function"}, {"result", "error"}}).Increment();
    report_failure(ns, name, r.status());
    retries_->Increment();
    return kube::ReconcileResult{true, std::nullopt};
  }
  if (r->requeue_after) {
    reconcile_total_->Add({{"controller", "function"}, {"result", "requeue_after"}}).Increment();
  } else {
    reconcile_total_->Add({{"controller", "function"}, {"result", "success"}}).Increment();
  }
  return *r;
}

namespace {

// What the reconciler never reads, dropped before caching: field-manager bookkeeping, and,
// on Functions, the copy of the whole object kubectl keeps in an annotation (a second copy of
// the source). Owned objects keep their annotations: an update is written from the cached
// copy, and must not drop what others put there.
void trim_owned(json& object) {
  object["metadata"].erase("managedFields");
}

void trim_function(json& object) {
  trim_owned(object);
  json& meta = object["metadata"];
  if (auto a = meta.find("annotations"); a != meta.end() && a->is_object()) {
    a->erase("kubectl.kubernetes.io/last-applied-configuration");
  }
}

}  // namespace

void FunctionController::start() {
  if (started_.exchange(true)) return;
  reader_ = std::make_unique<CacheReader>(client_);
  for (const auto& ns : options_.namespaces) {
    kube::InformerOptions fn;
    fn.resource = api::functions();
    fn.ns = ns;
    fn.resync_period = options_.resync_period;
    fn.transform = trim_function;
    // Read by name only; kept compact (decoded per read, a few microseconds) since every
    // Function and its objects stay cached for the operator's life.
    fn.cache = {std::vector<std::string>{}, true};
    informers_.push_back(std::make_unique<kube::Informer>(
        client_, clock_, fn,
        kube::InformerHandlers{[this](const json& o) { on_function(o, false); },
                               [this](const json&, const json& o) { on_function(o, false); },
                               [this](const json& o) { on_function(o, true); }}));
    reader_->add(api::functions(), ns, informers_.back()->cache());
    // What the platform keeps in the API; a platform with none tells of its changes by
    // requeue().
    for (const OwnedResource& owned : platform_.owned_resources()) {
      kube::InformerOptions o;
      o.resource = owned.resource;
      o.ns = ns;
      o.label_selector = api::kFunctionLabel;
      o.transform = [trim = owned.trim](json& object) {
        trim_owned(object);
        if (trim) trim(object);
      };
      o.cache = {std::vector<std::string>{api::kFunctionLabel}, true};  // list_owned()
      informers_.push_back(std::make_unique<kube::Informer>(
          client_, clock_, o,
          kube::InformerHandlers{[this](const json& x) { enqueue_owner(x); },
                                 [this](const json&, const json& x) { enqueue_owner(x); },
                                 [this](const json& x) { enqueue_owner(x); }}));
      reader_->add(owned.resource, ns, informers_.back()->cache());
    }
  }
  for (auto& i : informers_)
    i->start();
  // Reconcile from complete caches only, or a Function would look as if it owned nothing.
  // The wait runs on its own thread: start() is called from the leader elector's callback,
  // which must return quickly.
  starter_ = std::thread([this] {
    for (auto& i : informers_) {
      while (!i->wait_for_sync(std::chrono::milliseconds(200))) {
        if (!started_) return;
      }
    }
    std::lock_guard<std::mutex> lock(workers_mu_);
    if (!started_) return;
    workers_ = std::make_unique<kube::QueueWorkerPool>(
        *queue_, options_.workers, [this](const std::string& key) { return reconcile_key(key); });
  });
}

void FunctionController::stop() {
  if (!started_.exchange(false)) return;
  if (starter_.joinable()) starter_.join();
  for (auto& i : informers_)
    i->stop();
  queue_->shut_down();
  {
    std::lock_guard<std::mutex> lock(workers_mu_);
    workers_.reset();  // joins
  }
  informers_.clear();
}

bool FunctionController::synced() const {
  if (!started_) return false;
  std::lock_guard<std::mutex> lock(workers_mu_);
  return workers_ != nullptr;
}

}  // namespace kubefn::controller
