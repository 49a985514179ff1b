#include "kubefn/platform/local/local_autoscaler.hpp"

#include <algorithm>
#include <ostream>

namespace kubefn::platform::local {

using nlohmann::json;

LocalAutoscaler::LocalAutoscaler(gateway::Gateway& gateway, LocalPlatform& platform,
                                 std::function<std::vector<json>()> functions,
                                 controller::EventRecorder& events, std::ostream& log,
                                 std::chrono::milliseconds tick, ScaledHook on_scaled,
                                 prometheus::Registry* registry)
    : gateway_(gateway),
      platform_(platform),
      functions_(std::move(functions)),
      events_(events),
      log_(log),
      tick_(tick),
      on_scaled_(std::move(on_scaled)),
      metrics_(registry != nullptr ? std::make_unique<autoscaler::AutoscalerMetrics>(*registry)
                                   : nullptr),
      thread_([this] { loop(); }) {}

LocalAutoscaler::~LocalAutoscaler() {
  stop();
}

void LocalAutoscaler::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LocalAutoscaler::poke(const std::string& ns, const std::string& name) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    poked_.insert(ns + "/" + name);
  }
  cv_.notify_all();
}

void LocalAutoscaler::set_backlog(BacklogProvider provider) {
  std::lock_guard<std::mutex> lock(mu_);
  backlog_ = std::move(provider);
}

void LocalAutoscaler::loop() {
  using Clock = std::chrono::steady_clock;
  auto next = Clock::now() + tick_;
  std::uint64_t ticks = 0;
  for (;;) {
    std::set<std::string> poked;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_until(lock, next, [&] { return stop_ || !poked_.empty(); });
      if (stop_) return;
      poked.swap(poked_);
    }
    const autoscaler::TimePoint now = Clock::now();
    if (!poked.empty()) {
      // Scale from zero at once; the tick keeps the usual windows.
      bool known = true;
      for (const auto& key : poked)
        known = known && tracked_.count(key) > 0;
      if (!known) tick(now, true);
      for (const auto& key : poked) {
        auto it = tracked_.find(key);
        if (it == tracked_.end()) continue;
        const auto slash = key.find('/');
        const std::string ns = key.substr(0, slash), name = key.substr(slash + 1);
        const int current = static_cast<int>(platform_.replicas_wanted(ns, name).value_or(0));
        if (current > 0) continue;
        autoscaler::Decision d = it->second.scaler->poke(now, current, 1);
        if (d.desired > current && platform_.scale(ns, name, d.desired).ok()) {
          log_ << "kubefn: " << key << " scaled 0 -> " << d.desired << ": a call is waiting\n"
               << std::flush;
          events_.record(it->second.function, "Normal", "ScaledFromZero",
                         "scaled 0 -> " + std::to_string(d.desired) + ": a call is waiting");
          if (on_scaled_) on_scaled_(ns, name, d.desired, d.reason);
        }
      }
    }
    if (Clock::now() >= next) {
      tick(now, ticks++ % 5 == 0);
      next += tick_;
      if (next < Clock::now()) next = Clock::now() + tick_;
    }
  }
}

void LocalAutoscaler::tick(autoscaler::TimePoint now, bool full) {
  if (full) {
    std::set<std::string> seen;
    for (const auto& fn : functions_()) {
      auto parsed = controller::parse_function(fn);
      auto* spec = std::get_if<controller::FunctionSpec>(&parsed);
      if (spec == nullptr || spec->replicas) continue;  // invalid, or replicas pinned by the user
      const std::string key = spec->ns + "/" + spec->name;
      seen.insert(key);
      Tracked& t = tracked_[key];
      if (!t.scaler) {
        t.scaler = std::make_unique<autoscaler::Autoscaler>(autoscaler::scaling_of(*spec), now);
        if (metrics_) t.series = metrics_->add(spec->ns, spec->name);
      } else {
        t.scaler->set_spec(autoscaler::scaling_of(*spec));
      }
      t.function = fn;
    }
    for (auto it = tracked_.begin(); it != tracked_.end();) {
      if (seen.count(it->first) > 0) {
        ++it;
        continue;
      }
      if (metrics_) metrics_->remove(it->second.series);
      it = tracked_.erase(it);
    }
  }
  std::map<std::string, gateway::FunctionLoad> loads;
  for (auto& l : gateway_.take_load())
    loads[l.ns + "/" + l.name] = l;
  // Each function's queue triggers, summed: their fresh figures, as old as the oldest of them.
  BacklogProvider provider;
  {
    std::lock_guard<std::mutex> lock(mu_);
    provider = backlog_;
  }
  std::map<std::string, std::pair<double, autoscaler::TimePoint>> backlogs;
  if (provider) {
    for (const auto& b : provider()) {
      auto it = tracked_.find(b.ns + "/" + b.function);
      if (it == tracked_.end() || now - b.updated > it->second.scaler->spec().backlog_stale_after)
        continue;
      auto [sum, added] = backlogs.try_emplace(it->first, 0.0, b.updated);
      sum->second.first += b.pending;
      sum->second.second = std::min(sum->second.second, b.updated);
    }
  }
  for (auto& [key, t] : tracked_) {
    const auto slash = key.find('/');
    const std::string ns = key.substr(0, slash), name = key.substr(slash + 1);
    const auto wanted = platform_.replicas_wanted(ns, name);
    if (!wanted) continue;  // not running yet (building, or invalid)
    const gateway::FunctionLoad& load = loads[key];
    autoscaler::ReplicaSample sample;
    sample.replica = "gateway";  // the gateway sees every call of the function
    sample.whole_function = true;
    sample.second = now - tick_;
    sample.requests = static_cast<double>(load.requests);
    sample.inflight_peak = load.peak_inflight;
    sample.inflight_average =
        load.requests > 0 ? (load.inflight + load.peak_inflight) / 2.0 : load.inflight;
    t.scaler->record(sample);
    t.scaler->record_queued(now, load.queued);
    if (auto b = backlogs.find(key); b != backlogs.end()) {
      t.scaler->record_backlog(b->second.second, b->second.first);
    } else {
      t.scaler->record_backlog(now, 0);
    }
    const int current = static_cast<int>(*wanted);
    autoscaler::Decision d = t.scaler->decide(now, current);
    autoscaler::AutoscalerMetrics::set(t.series, d, load.ready_endpoints);
    if (d.desired == current) continue;
    if (!platform_.scale(ns, name, d.desired).ok()) continue;
    const std::string msg =
        "scaled " + std::to_string(current) + " -> " + std::to_string(d.desired) + ": " + d.reason;
    log_ << "kubefn: " << key << " " << msg << "\n" << std::flush;
    events_.record(t.function, "Normal", d.desired > current ? "ScaledUp" : "ScaledDown", msg);
    if (on_scaled_) on_scaled_(ns, name, d.desired, d.reason);
  }
}

}  // namespace kubefn::platform::local
