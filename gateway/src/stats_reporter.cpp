#include "stats_reporter.hpp"

#include "kubefn/stats/sampler.hpp"

namespace kubefn::gateway {

kubefn::v1::StatsSample gateway_sample(const std::string& gateway,
                                       std::int64_t second_start_unix_ms,
                                       const std::vector<FunctionLoad>& loads) {
  kubefn::v1::StatsSample sample;
  auto* g = sample.mutable_gateway();
  g->set_gateway(gateway);
  g->set_second_start_unix_ms(second_start_unix_ms);
  for (const auto& l : loads) {
    if (l.requests == 0 && l.inflight == 0 && l.peak_inflight == 0 && l.queued == 0) continue;
    auto* f = g->add_functions();
    f->set_namespace_(l.ns);
    f->set_function(l.name);
    f->set_requests(l.requests);
    f->set_inflight(l.inflight);
    f->set_peak_inflight(l.peak_inflight);
    f->set_queued(l.queued);
    f->set_ready_endpoints(l.ready_endpoints);
  }
  return sample;
}

GatewayStatsReporter::GatewayStatsReporter(Gateway& gateway, stats::StatsStreamOptions stream,
                                           std::string name, std::chrono::milliseconds period)
    : gateway_(gateway),
      name_(std::move(name)),
      period_(period),
      stream_(std::move(stream)),
      thread_([this] { run(); }) {}

GatewayStatsReporter::~GatewayStatsReporter() {
  stop();
}

void GatewayStatsReporter::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  stream_.stop();
}

void GatewayStatsReporter::demand(const std::string& ns, const std::string& name) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto key = std::make_pair(ns, name);
    if (sent_early_.count(key) > 0 || !demanded_.insert(std::move(key)).second) return;
  }
  cv_.notify_all();
}

void GatewayStatsReporter::run() {
  std::int64_t started = stats::unix_ms_now();
  gateway_.take_load();  // start the first second clean
  auto next = std::chrono::steady_clock::now() + period_;
  for (;;) {
    std::set<std::pair<std::string, std::string>> early;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_until(lock, next, [&] { return stop_ || !demanded_.empty(); }) && stop_) return;
      early.swap(demanded_);
      sent_early_.insert(early.begin(), early.end());
    }
    if (!early.empty()) {
      // Calls are waiting: one sample now with at least one queued call for each function.
      std::vector<FunctionLoad> waiting;
      for (const auto& [ns, name] : early) {
        FunctionLoad l;
        l.ns = ns;
        l.name = name;
        l.queued = 1;
        waiting.push_back(std::move(l));
      }
      stream_.offer(gateway_sample(name_, stats::unix_ms_now(), waiting));
      if (std::chrono::steady_clock::now() < next) continue;
    }
    const std::int64_t now = stats::unix_ms_now();
    auto sample = gateway_sample(name_, started, gateway_.take_load());
    started = now;
    next += period_;
    if (next < std::chrono::steady_clock::now()) next = std::chrono::steady_clock::now() + period_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      sent_early_.clear();
    }
    if (sample.gateway().functions_size() > 0) stream_.offer(std::move(sample));
  }
}

}  // namespace kubefn::gateway
