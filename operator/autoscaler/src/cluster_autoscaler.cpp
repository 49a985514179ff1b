#include "kubefn/autoscaler/cluster_autoscaler.hpp"

#include <algorithm>
#include <cmath>

#include "kubefn/controller/desired.hpp"
#include "kubefn/controller/kubernetes_platform.hpp"

namespace kubefn::autoscaler {

using nlohmann::json;

namespace {

std::string key_of(const std::string& ns, const std::string& name) {
  return ns + "/" + name;
}

// One resource over the configured namespaces (all pages).
kube::Result<std::vector<json>> list_all(kube::KubeClient& client,
                                         const kube::GroupVersionResource& resource,
                                         const std::vector<std::string>& namespaces,
                                         const std::string& selector) {
  std::vector<json> out;
  const std::vector<std::string> scopes =
      namespaces.empty() ? std::vector<std::string>{""} : namespaces;
  for (const auto& ns : scopes) {
    kube::ListOptions opts;
    opts.label_selector = selector;
    opts.limit = 500;
    for (;;) {
      auto page = client.list(resource, ns, opts);
      if (!page.ok()) return page.status();
      for (auto& item : page.value().items)
        out.push_back(std::move(item));
      if (page.value().continue_token.empty()) break;
      opts.continue_token = page.value().continue_token;
    }
  }
  return out;
}

}  // namespace

ScalingSpec scaling_of(const controller::FunctionSpec& spec, Duration stable_window) {
  ScalingSpec s;
  s.min_replicas = static_cast<int>(spec.min_replicas);
  s.max_replicas = static_cast<int>(spec.max_replicas);
  s.metric = spec.metric == controller::ScalingMetric::kRps ? Metric::kRps : Metric::kConcurrency;
  s.target = spec.target.value_or(std::max(1.0, 0.7 * static_cast<double>(spec.concurrency)));
  s.scale_to_zero_grace = std::chrono::seconds(spec.scale_to_zero_grace_seconds);
  s.keep_alive.mode = spec.learned_keep_alive ? KeepAliveMode::kLearned : KeepAliveMode::kFixed;
  s.stable_window = stable_window;
  return s.normalized();
}

ClusterAutoscaler::ClusterAutoscaler(kube::KubeClient& client, kube::Clock& clock,
                                     controller::EventRecorder& events,
                                     prometheus::Registry& registry,
                                     ClusterAutoscalerOptions options)
    : client_(client),
      clock_(clock),
      events_(events),
      options_(std::move(options)),
      desired_family_(prometheus::BuildGauge()
                          .Name("kubefn_autoscaler_desired_replicas")
                          .Help("Replicas the autoscaler decided on at its last tick")
                          .Register(registry)),
      load_family_(prometheus::BuildGauge()
                       .Name("kubefn_autoscaler_observed_load")
                       .Help("The function's metric averaged over the stable window")
                       .Register(registry)),
      panic_family_(prometheus::BuildGauge()
                        .Name("kubefn_autoscaler_panic")
                        .Help("1 while the function is in panic mode, else 0")
                        .Register(registry)) {}

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

TimePoint ClusterAutoscaler::time_of(std::int64_t unix_ms, TimePoint now) const {
  const auto wall_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wall_now().time_since_epoch())
          .count();
  TimePoint t = now - std::chrono::milliseconds(wall_ms - unix_ms);
  // A reporter whose clock runs ahead would otherwise report seconds still to come.
  return std::min(t, now - std::chrono::duration_cast<Duration>(options_.tick));
}

void ClusterAutoscaler::drop_gauges(Tracked& t) {
  if (t.desired != nullptr) desired_family_.Remove(t.desired);
  if (t.load != nullptr) load_family_.Remove(t.load);
  if (t.panic != nullptr) panic_family_.Remove(t.panic);
  t.desired = t.load = t.panic = nullptr;
}

void ClusterAutoscaler::refresh(TimePoint now) {
  using controller::kFunctionLabel;
  auto functions = list_all(client_, controller::gvr::functions(), options_.namespaces, "");
  if (!functions.ok()) return;  // keep what we had; the next refresh tries again
  std::set<std::string> seen;
  for (const auto& fn : functions.value()) {
    auto parsed = controller::parse_function(fn);
    auto* spec = std::get_if<controller::FunctionSpec>(&parsed);
    if (spec == nullptr || spec->replicas) continue;  // invalid, or replicas pinned by the user
    const std::string key = key_of(spec->ns, spec->name);
    seen.insert(key);
    Tracked& t = tracked_[key];
    if (!t.scaler) {
      t.scaler = std::make_unique<Autoscaler>(scaling_of(*spec, options_.stable_window), now);
      const prometheus::Labels labels{{"namespace", spec->ns}, {"function", spec->name}};
      t.desired = &desired_family_.Add(labels);
      t.load = &load_family_.Add(labels);
      t.panic = &panic_family_.Add(labels);
    } else {
      t.scaler->set_spec(scaling_of(*spec, options_.stable_window));
    }
    t.function = fn;
  }
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    if (seen.count(it->first) == 0) {
      drop_gauges(it->second);
      it = tracked_.erase(it);
    } else {
      ++it;
    }
  }

  const std::string selector = kFunctionLabel;  // label exists
  auto deployments =
      list_all(client_, controller::gvr::deployments(), options_.namespaces, selector);
  if (deployments.ok()) {
    std::map<std::string, int> replicas;
    for (const auto& d : deployments.value()) {
      const std::string fn =
          d["metadata"].value("labels", json::object()).value(kFunctionLabel, "");
      if (fn.empty() || fn != kube::object_name(d)) continue;  // named like the Function
      replicas[key_of(kube::object_namespace(d), fn)] =
          d.value("spec", json::object()).value("replicas", 1);
    }
    for (auto& [key, t] : tracked_) {
      auto it = replicas.find(key);
      t.current = it == replicas.end() ? std::nullopt : std::optional<int>(it->second);
    }
  }

  auto pods = list_all(client_, controller::gvr::pods(), options_.namespaces, selector);
  if (pods.ok()) {
    std::map<std::string, std::set<std::string>> by_function;
    for (const auto& p : pods.value()) {
      const std::string fn =
          p["metadata"].value("labels", json::object()).value(kFunctionLabel, "");
      by_function[key_of(kube::object_namespace(p), fn)].insert(kube::object_name(p));
    }
    for (auto& [key, t] : tracked_) {
      std::set<std::string>& now_pods = by_function[key];
      // Only a pod seen before and gone now is forgotten: a new pod's first samples may come
      // before the list shows it.
      for (const auto& old : t.pods) {
        if (now_pods.count(old) == 0) t.scaler->forget_replica(old);
      }
      t.pods = std::move(now_pods);
    }
  }
}

void ClusterAutoscaler::scale(const std::string& key, Tracked& t, const Decision& d, int current) {
  const auto slash = key.find('/');
  kube::PatchOptions opts;
  opts.field_manager = options_.field_manager;
  opts.subresource = "scale";
  auto r = client_.patch(
      kube::ObjectRef{controller::gvr::deployments(), key.substr(0, slash), key.substr(slash + 1)},
      kube::PatchType::kMerge, json{{"spec", {{"replicas", d.desired}}}}, opts);
  if (!r.ok()) return;  // decided again next tick
  ++writes_;
  t.current = d.desired;
  const std::string message =
      "scaled " + std::to_string(current) + " -> " + std::to_string(d.desired) + ": " + d.reason;
  const char* reason = current == 0          ? "ScaledFromZero"
                       : d.desired > current ? "ScaledUp"
                                             : "ScaledDown";
  events_.record(t.function, "Normal", reason, message);
}

void ClusterAutoscaler::tick() {
  std::lock_guard<std::mutex> lock(mu_);
  const TimePoint now = clock_.now();
  if (ticks_++ % static_cast<std::uint64_t>(std::max(options_.refresh_every, 1)) == 0) {
    refresh(now);
  }
  std::vector<ReplicaReport> replicas;
  std::vector<GatewayReport> gateways;
  {
    std::lock_guard<std::mutex> in(in_mu_);
    replicas.swap(replica_in_);
    gateways.swap(gateway_in_);
    queued_keys_.clear();
    poked_ = false;
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
    if (!t.current) continue;  // no Deployment yet
    const int current = *t.current;
    Decision d = t.scaler->decide(now, current);
    t.desired->Set(d.desired);
    t.load->Set(d.stable_value);
    t.panic->Set(d.panic ? 1 : 0);
    if (d.desired != current) scale(key, t, d, current);
    t.last = std::move(d);
  }
}

void ClusterAutoscaler::poke_queued() {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::string> keys;
  {
    std::lock_guard<std::mutex> in(in_mu_);
    keys = queued_keys_;
    poked_ = false;
  }
  const TimePoint now = clock_.now();
  for (const auto& key : keys) {
    auto it = tracked_.find(key);
    if (it == tracked_.end() || !it->second.current || *it->second.current != 0) continue;
    Decision d = it->second.scaler->poke(now, 0, 1);
    if (d.desired > 0) scale(key, it->second, d, 0);
    it->second.last = std::move(d);
  }
}

void ClusterAutoscaler::start() {
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

}  // namespace kubefn::autoscaler
