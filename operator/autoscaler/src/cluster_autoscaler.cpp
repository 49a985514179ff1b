#include "kubefn/autoscaler/cluster_autoscaler.hpp"

#include <algorithm>
#include <cmath>

#include "kubefn/api/function.hpp"
#include "kubefn/controller/scaling_status.hpp"

namespace kubefn::autoscaler {

using nlohmann::json;

namespace {

std::string key_of(const std::string& ns, const std::string& name) {
  return ns + "/" + name;
}

// resourceVersions are opaque, but etcd's (and the emulator's) are increasing integers; zero
// when one is not.
std::uint64_t version_number(const std::string& rv) {
  std::uint64_t v = 0;
  for (char c : rv) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

std::string function_label(const json& object) {
  const json& meta = object.value("metadata", json::object());
  const json& labels = meta.value("labels", json::object());
  auto it = labels.find(api::kFunctionLabel);
  return it != labels.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// What the handlers read, and nothing else, is kept in the informers' caches.
json trimmed_metadata(const json& object, bool keep_function_label) {
  const json& meta = object.value("metadata", json::object());
  json out = json::object();
  for (const char* field : {"name", "namespace", "uid", "resourceVersion"}) {
    if (auto it = meta.find(field); it != meta.end()) out[field] = *it;
  }
  if (keep_function_label) {
    const std::string fn = function_label(object);
    if (!fn.empty()) out["labels"] = {{api::kFunctionLabel, fn}};
  }
  return out;
}

// A Function keeps its spec (parsed for spec.scaling and spec.replicas) and what an event
// needs to name it; its status and annotations go.
void trim_function(json& object) {
  json out = {{"apiVersion", object.value("apiVersion", "")},
              {"kind", object.value("kind", "")},
              {"metadata", trimmed_metadata(object, false)}};
  if (auto it = object.find("spec"); it != object.end()) out["spec"] = std::move(*it);
  object = std::move(out);
}

// A Deployment keeps its spec.replicas; a Pod only its name and Function.
void trim_deployment(json& object) {
  json out = {{"metadata", trimmed_metadata(object, true)}};
  const json& spec = object.value("spec", json::object());
  out["spec"] = {{"replicas", spec.value("replicas", 1)}};
  object = std::move(out);
}

// A Pod keeps its name, its Function and whether it is Ready (for the actual-replicas metric).
void trim_pod(json& object) {
  bool ready = false;
  const json& status = object.value("status", json::object());
  for (const auto& c : status.value("conditions", json::array())) {
    if (c.value("type", "") == api::condition::kReady) ready = c.value("status", "") == "True";
  }
  if (object.value("metadata", json::object()).contains("deletionTimestamp")) ready = false;
  object = json{{"metadata", trimmed_metadata(object, true)}, {"ready", ready}};
}

}  // namespace

ClusterAutoscaler::ClusterAutoscaler(kube::KubeClient& client, kube::Clock& clock,
                                     controller::EventRecorder& events,
                                     prometheus::Registry& registry,
                                     ClusterAutoscalerOptions options)
    : client_(client),
      clock_(clock),
      events_(events),
      options_(std::move(options)),
      metrics_(registry) {}

ClusterAutoscaler::~ClusterAutoscaler() {
  stop();
}

void ClusterAutoscaler::on_replica(const ReplicaReport& report) {
  std::lock_guard<std::mutex> lock(in_mu_);
  if (replica_in_.size() + gateway_in_.size() >= options_.max_pending) {
    ++dropped_;
    return;
  }
  replica_in_.push_back(report);
}

void ClusterAutoscaler::on_gateway(const GatewayReport& report) {
  {
    std::lock_guard<std::mutex> lock(in_mu_);
    if (replica_in_.size() + gateway_in_.size() >= options_.max_pending) {
      ++dropped_;
      return;
    }
    gateway_in_.push_back(report);
    if (report.queued <= 0) return;
    queued_keys_.insert(key_of(report.ns, report.function));
    poked_ = true;
  }
  run_cv_.notify_all();
}

void ClusterAutoscaler::on_dispatcher(const DispatcherReport& report) {
  bool poke = false;
  {
    std::lock_guard<std::mutex> lock(in_mu_);
    std::set<std::pair<std::string, std::string>> reported;
    for (const auto& t : report.triggers)
      reported.emplace(key_of(t.ns, t.function), t.trigger);
    // What this dispatcher reported last and no longer runs is gone.
    for (auto f = backlog_in_.begin(); f != backlog_in_.end();) {
      for (auto e = f->second.begin(); e != f->second.end();) {
        const bool gone =
            e->second.dispatcher == report.dispatcher && reported.count({f->first, e->first}) == 0;
        e = gone ? f->second.erase(e) : std::next(e);
      }
      f = f->second.empty() ? backlog_in_.erase(f) : std::next(f);
    }
    for (const auto& t : report.triggers) {
      const std::string key = key_of(t.ns, t.function);
      auto [e, added] = backlog_in_[key].try_emplace(t.trigger);
      // The latest report per trigger, whichever dispatcher sent it.
      if (!added && report.second_start_unix_ms < e->second.unix_ms) continue;
      e->second = TriggerBacklog{t.pending, report.second_start_unix_ms, report.dispatcher};
      if (t.pending > 0) {
        backlog_keys_.insert(key);
        poke = true;
      }
    }
    if (poke) poked_ = true;
  }
  if (poke) run_cv_.notify_all();
}

void ClusterAutoscaler::feed_backlog(const std::string& key, Tracked& t, TimePoint now) {
  const Duration stale = t.scaler->spec().backlog_stale_after;
  const auto wall_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wall_now().time_since_epoch())
          .count();
  double pending = 0;
  std::optional<TimePoint> oldest;
  {
    std::lock_guard<std::mutex> in(in_mu_);
    auto f = backlog_in_.find(key);
    if (f != backlog_in_.end()) {
      for (auto e = f->second.begin(); e != f->second.end();) {
        // A reporter whose clock runs ahead does not report the future.
        const TimePoint at =
            std::min<TimePoint>(now, now - std::chrono::milliseconds(wall_ms - e->second.unix_ms));
        if (now - at > stale) {  // its dispatcher stopped reporting it
          e = f->second.erase(e);
          continue;
        }
        pending += e->second.pending;
        oldest = oldest ? std::min(*oldest, at) : at;
        ++e;
      }
      if (f->second.empty()) backlog_in_.erase(f);
    }
  }
  t.scaler->record_backlog(oldest.value_or(now), pending);
}

TimePoint ClusterAutoscaler::time_of(std::int64_t unix_ms, TimePoint now) const {
  const auto wall_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wall_now().time_since_epoch())
          .count();
  TimePoint t = now - std::chrono::milliseconds(wall_ms - unix_ms);
  // A reporter whose clock runs ahead would otherwise report seconds still to come.
  return std::min(t, now - std::chrono::duration_cast<Duration>(options_.tick));
}

void ClusterAutoscaler::drop_gauges(Tracked& t) {
  metrics_.remove(t.series);
}

void ClusterAutoscaler::function_seen(const json& fn) {
  const std::string key = key_of(kube::object_namespace(fn), kube::object_name(fn));
  auto parsed = controller::parse_function(fn);
  auto* spec = std::get_if<controller::FunctionSpec>(&parsed);
  std::lock_guard<std::mutex> lock(mu_);
  if (spec == nullptr || spec->replicas) {  // invalid, or replicas pinned by the user
    if (auto it = tracked_.find(key); it != tracked_.end()) {
      drop_gauges(it->second);
      tracked_.erase(it);
    }
    return;
  }
  Tracked& t = tracked_[key];
  if (!t.scaler) {
    t.scaler =
        std::make_unique<Autoscaler>(scaling_of(*spec, options_.stable_window), clock_.now());
    t.series = metrics_.add(spec->ns, spec->name);
  } else if (t.function.value("spec", json()) != fn.value("spec", json())) {
    t.scaler->set_spec(scaling_of(*spec, options_.stable_window));
  }
  t.function = fn;
}

void ClusterAutoscaler::function_gone(const json& fn) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tracked_.find(key_of(kube::object_namespace(fn), kube::object_name(fn)));
  if (it == tracked_.end()) return;
  drop_gauges(it->second);
  tracked_.erase(it);
}

void ClusterAutoscaler::deployment_seen(const json& d) {
  const std::string fn = function_label(d);
  if (fn.empty() || fn != kube::object_name(d)) return;  // named like the Function
  const int replicas = d.value("spec", json::object()).value("replicas", 1);
  const std::string key = key_of(kube::object_namespace(d), fn);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto w = written_.find(key); w != written_.end()) {
    const std::uint64_t v = version_number(kube::object_resource_version(d));
    if (v != 0 && v < w->second) return;  // from before our own write
    written_.erase(w);
  }
  deployments_[key] = replicas;
}

void ClusterAutoscaler::deployment_gone(const json& d) {
  const std::string fn = function_label(d);
  if (fn.empty() || fn != kube::object_name(d)) return;
  std::lock_guard<std::mutex> lock(mu_);
  deployments_.erase(key_of(kube::object_namespace(d), fn));
  written_.erase(key_of(kube::object_namespace(d), fn));
}

void ClusterAutoscaler::pod_seen(const json& p) {
  const std::string fn = function_label(p);
  if (fn.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  pods_[key_of(kube::object_namespace(p), fn)][kube::object_name(p)] = p.value("ready", false);
}

void ClusterAutoscaler::pod_gone(const json& p) {
  const std::string fn = function_label(p);
  if (fn.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  const std::string key = key_of(kube::object_namespace(p), fn);
  if (auto it = pods_.find(key); it != pods_.end()) {
    it->second.erase(kube::object_name(p));
    if (it->second.empty()) pods_.erase(it);
  }
  auto it = tracked_.find(key);
  if (it == tracked_.end()) return;
  // Its samples stop with it: the replica no longer counts as one that went silent.
  it->second.scaler->forget_replica(kube::object_name(p));
  ++forgotten_;
}

void ClusterAutoscaler::watch() {
  std::lock_guard<std::mutex> lock(watch_mu_);
  if (!informers_.empty()) return;
  const std::vector<std::string> scopes =
      options_.namespaces.empty() ? std::vector<std::string>{""} : options_.namespaces;
  // Read by handlers only: compact, no label index.
  const kube::ObjectCacheOptions cache{std::vector<std::string>{}, true};
  for (const auto& ns : scopes) {
    kube::InformerOptions fn;
    fn.resource = api::functions();
    fn.ns = ns;
    fn.resync_period = options_.resync_period;
    fn.transform = trim_function;
    fn.cache = cache;
    informers_.push_back(std::make_unique<kube::Informer>(
        client_, clock_, fn,
        kube::InformerHandlers{[this](const json& o) { function_seen(o); },
                               [this](const json&, const json& o) { function_seen(o); },
                               [this](const json& o) { function_gone(o); }}));

    kube::InformerOptions dep = fn;
    dep.resource = kube::resources::deployments();
    dep.label_selector = api::kFunctionLabel;  // label exists
    dep.transform = trim_deployment;
    informers_.push_back(std::make_unique<kube::Informer>(
        client_, clock_, dep,
        kube::InformerHandlers{[this](const json& o) { deployment_seen(o); },
                               [this](const json&, const json& o) { deployment_seen(o); },
                               [this](const json& o) { deployment_gone(o); }}));

    kube::InformerOptions pod = dep;
    pod.resource = kube::resources::pods();
    pod.resync_period = kube::Clock::Duration::zero();
    pod.transform = trim_pod;
    informers_.push_back(std::make_unique<kube::Informer>(
        client_, clock_, pod,
        kube::InformerHandlers{[this](const json& o) { pod_seen(o); },
                               [this](const json&, const json& o) { pod_seen(o); },
                               [this](const json& o) { pod_gone(o); }}));
  }
  for (auto& i : informers_)
    i->start();
}

bool ClusterAutoscaler::wait_for_sync(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::lock_guard<std::mutex> lock(watch_mu_);
  if (informers_.empty()) return false;
  for (auto& i : informers_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!i->wait_for_sync(std::max(left, std::chrono::milliseconds(0)))) return false;
  }
  return true;
}

void ClusterAutoscaler::scale(const std::string& key, Tracked& t, const Decision& d, int current) {
  const auto slash = key.find('/');
  kube::PatchOptions opts;
  opts.field_manager = options_.field_manager;
  opts.subresource = "scale";
  auto r = client_.patch(
      kube::ObjectRef{kube::resources::deployments(), key.substr(0, slash), key.substr(slash + 1)},
      kube::PatchType::kMerge, json{{"spec", {{"replicas", d.desired}}}}, opts);
  if (!r.ok()) return;  // decided again next tick
  ++writes_;
  deployments_[key] = d.desired;  // the watch brings the same soon
  if (const std::uint64_t v = version_number(kube::object_resource_version(*r)); v != 0) {
    written_[key] = v;
  }
  const std::string message =
      "scaled " + std::to_string(current) + " -> " + std::to_string(d.desired) + ": " + d.reason;
  const char* reason = current == 0          ? "ScaledFromZero"
                       : d.desired > current ? "ScaledUp"
                                             : "ScaledDown";
  events_.record(t.function, "Normal", reason, message);
  // The Function's status.scaling says the same; best effort, like the Event.
  (void)controller::record_scaling(client_, key.substr(0, slash), key.substr(slash + 1), d.desired,
                                   d.reason, clock_.wall_now(), options_.field_manager);
}

void ClusterAutoscaler::tick() {
  std::lock_guard<std::mutex> lock(mu_);
  const TimePoint now = clock_.now();
  ++ticks_;
  std::vector<ReplicaReport> replicas;
  std::vector<GatewayReport> gateways;
  {
    std::lock_guard<std::mutex> in(in_mu_);
    replicas.swap(replica_in_);
    gateways.swap(gateway_in_);
    queued_keys_.clear();
    backlog_keys_.clear();
    poked_ = false;
    // Reports of Functions not tracked (deleted, pinned, not seen yet) go once stale.
    const auto wall_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wall_now().time_since_epoch())
            .count();
    const auto stale_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(ScalingSpec{}.backlog_stale_after)
            .count();
    for (auto f = backlog_in_.begin(); f != backlog_in_.end();) {
      if (tracked_.count(f->first) == 0) {
        for (auto e = f->second.begin(); e != f->second.end();) {
          e = wall_ms - e->second.unix_ms > stale_ms ? f->second.erase(e) : std::next(e);
        }
      }
      f = f->second.empty() ? backlog_in_.erase(f) : std::next(f);
    }
  }
  for (const auto& r : replicas) {
    auto it = tracked_.find(key_of(r.ns, r.function));
    if (it == tracked_.end()) continue;
    ReplicaSample s;
    s.replica = r.replica;
    s.second = time_of(r.second_start_unix_ms, now);
    s.requests = r.requests;
    s.inflight_average = r.inflight_average;
    s.inflight_peak = r.inflight_peak;
    s.busy_seconds = r.busy_seconds;
    it->second.scaler->record(s);
  }
  for (const auto& g : gateways) {
    auto it = tracked_.find(key_of(g.ns, g.function));
    if (it == tracked_.end()) continue;
    // The replicas report the calls they serve; the gateway adds what waits for capacity.
    it->second.scaler->record_queued(time_of(g.second_start_unix_ms, now), g.queued);
  }
  for (auto& [key, t] : tracked_) {
    auto dep = deployments_.find(key);
    if (dep == deployments_.end()) continue;  // no Deployment yet
    const int current = dep->second;
    feed_backlog(key, t, now);
    Decision d = t.scaler->decide(now, current);
    int ready = 0;
    if (auto p = pods_.find(key); p != pods_.end()) {
      for (const auto& [name, is_ready] : p->second)
        ready += is_ready ? 1 : 0;
    }
    AutoscalerMetrics::set(t.series, d, ready);
    if (d.desired != current) scale(key, t, d, current);
    t.last = std::move(d);
  }
}

void ClusterAutoscaler::poke_queued() {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::string> keys, backlogged;
  {
    std::lock_guard<std::mutex> in(in_mu_);
    keys = queued_keys_;
    backlogged.swap(backlog_keys_);
    poked_ = false;
  }
  const TimePoint now = clock_.now();
  for (const auto& key : keys) {
    auto it = tracked_.find(key);
    auto dep = deployments_.find(key);
    if (it == tracked_.end() || dep == deployments_.end() || dep->second != 0) continue;
    feed_backlog(key, it->second, now);
    Decision d = it->second.scaler->poke(now, 0, 1);
    if (d.desired > 0) scale(key, it->second, d, 0);
    it->second.last = std::move(d);
  }
  // Events wait in a queue trigger of a function at zero: its replicas now, as many as the
  // backlog asks for.
  for (const auto& key : backlogged) {
    auto it = tracked_.find(key);
    auto dep = deployments_.find(key);
    if (it == tracked_.end() || dep == deployments_.end() || dep->second != 0) continue;
    feed_backlog(key, it->second, now);
    Decision d = it->second.scaler->decide(now, 0);
    if (d.desired > 0) scale(key, it->second, d, 0);
    it->second.last = std::move(d);
  }
}

void ClusterAutoscaler::start() {
  watch();
  std::lock_guard<std::mutex> lock(in_mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] {
    auto next = clock_.now() + options_.tick;
    for (;;) {
      bool poked = false;
      {
        std::unique_lock<std::mutex> lock(in_mu_);
        while (!stop_ && !poked_ && clock_.now() < next)
          clock_.wait_until(lock, run_cv_, next);
        if (stop_) return;
        poked = poked_;
      }
      if (poked) poke_queued();
      if (clock_.now() >= next) {
        tick();
        next += options_.tick;
        if (next < clock_.now()) next = clock_.now() + options_.tick;
      }
    }
  });
}

void ClusterAutoscaler::stop() {
  {
    std::lock_guard<std::mutex> lock(in_mu_);
    stop_ = true;
  }
  run_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::vector<std::unique_ptr<kube::Informer>> informers;
  {
    std::lock_guard<std::mutex> lock(watch_mu_);
    informers.swap(informers_);
  }
  for (auto& i : informers)
    i->stop();
}

std::optional<Decision> ClusterAutoscaler::last_decision(const std::string& ns,
                                                         const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tracked_.find(key_of(ns, name));
  if (it == tracked_.end()) return std::nullopt;
  return it->second.last;
}

std::uint64_t ClusterAutoscaler::scale_writes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return writes_;
}

bool ClusterAutoscaler::tracks(const std::string& ns, const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  return tracked_.count(key_of(ns, name)) != 0;
}

std::optional<int> ClusterAutoscaler::current_replicas(const std::string& ns,
                                                       const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = deployments_.find(key_of(ns, name));
  if (it == deployments_.end()) return std::nullopt;
  return it->second;
}

std::uint64_t ClusterAutoscaler::replicas_forgotten() const {
  std::lock_guard<std::mutex> lock(mu_);
  return forgotten_;
}

}  // namespace kubefn::autoscaler
