#include "kubefn/metering/meter.hpp"

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

#include <algorithm>
#include <cstddef>
#include <limits>
#include <utility>

namespace kubefn::metering {
namespace {

constexpr std::size_t kBuckets = kLatencyBuckets.size() + 1;
constexpr double kBytesPerGB = 1073741824.0;  // 2^30
constexpr auto kRelaxed = std::memory_order_relaxed;

using Cumulative = std::array<std::uint64_t, kBuckets>;

// record() takes no lock: none of its atomics may hide one.
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<double>::is_always_lock_free);
static_assert(std::atomic<const PriceSheet*>::is_always_lock_free);

// The index of the first bucket whose upper bound is >= v (Prometheus's `le`), kBuckets - 1 for
// +Inf.
std::size_t bucket_of(double v) {
  return static_cast<std::size_t>(
      std::lower_bound(kLatencyBuckets.begin(), kLatencyBuckets.end(), v) -
      kLatencyBuckets.begin());
}

double non_negative(double v) {
  return v > 0 ? v : 0;
}

void add(std::atomic<double>& a, double v) {
  if (v != 0) a.fetch_add(v, kRelaxed);
}

// Per-bucket (non-cumulative) counts and the sum of one histogram.
struct Histogram {
  std::array<std::atomic<std::uint64_t>, kBuckets> counts{};
  std::atomic<double> sum{0};

  void observe(double v) {
    counts[bucket_of(v)].fetch_add(1, kRelaxed);
    add(sum, v);
  }
  void snapshot(Cumulative& out, double& out_sum) const {
    std::uint64_t running = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      running += counts[i].load(kRelaxed);
      out[i] = running;
    }
    out_sum = sum.load(kRelaxed);
  }
  void restore(const Cumulative& cumulative, double restored_sum) {
    std::uint64_t previous = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      // A cumulative count never falls; a malformed one that does adds nothing.
      const std::uint64_t c = cumulative[i];
      if (c > previous) counts[i].fetch_add(c - previous, kRelaxed);
      previous = std::max(previous, c);
    }
    add(sum, non_negative(restored_sum));
  }
};

prometheus::ClientMetric::Label label(std::string name, std::string value) {
  return prometheus::ClientMetric::Label{std::move(name), std::move(value)};
}

prometheus::MetricFamily family(std::string name, std::string help, prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

}  // namespace

struct FunctionMeter::State {
  std::string ns, name;
  std::array<std::atomic<std::uint64_t>, 4> invocations{};
  std::atomic<double> billed_seconds{0}, gb_seconds{0};
  std::atomic<std::uint64_t> cold_starts{0};
  Histogram latency, wait;
  std::atomic<double> starting_seconds{0}, busy_seconds{0}, idle_seconds{0};
  std::atomic<double> cpu_core_seconds{0}, memory_gb_seconds{0};
  std::atomic<double> cost_requests{0}, cost_cpu{0}, cost_memory{0}, cost_idle{0};
  std::atomic<int> replicas_starting{0}, replicas_ready{0};
  // Calls of event triggers only (a lock per such call; HTTP calls never take it).
  mutable std::mutex triggers_mu;
  std::map<std::string, TriggerTotals, std::less<>> by_trigger;

  Totals snapshot() const {
    Totals t;
    t.ns = ns;
    t.name = name;
    for (std::size_t i = 0; i < invocations.size(); ++i)
      t.invocations[i] = invocations[i].load(kRelaxed);
    t.billed_seconds = billed_seconds.load(kRelaxed);
    t.gb_seconds = gb_seconds.load(kRelaxed);
    t.cold_starts = cold_starts.load(kRelaxed);
    latency.snapshot(t.latency_buckets, t.latency_sum);
    wait.snapshot(t.wait_buckets, t.wait_sum);
    t.replicas.starting_seconds = starting_seconds.load(kRelaxed);
    t.replicas.busy_seconds = busy_seconds.load(kRelaxed);
    t.replicas.idle_seconds = idle_seconds.load(kRelaxed);
    t.replicas.cpu_core_seconds = cpu_core_seconds.load(kRelaxed);
    t.replicas.memory_gb_seconds = memory_gb_seconds.load(kRelaxed);
    t.cost_requests = cost_requests.load(kRelaxed);
    t.cost_cpu = cost_cpu.load(kRelaxed);
    t.cost_memory = cost_memory.load(kRelaxed);
    t.cost_idle = cost_idle.load(kRelaxed);
    t.replicas_starting = replicas_starting.load(kRelaxed);
    t.replicas_ready = replicas_ready.load(kRelaxed);
    {
      std::lock_guard lock(triggers_mu);
      t.by_trigger.insert(by_trigger.begin(), by_trigger.end());
    }
    return t;
  }
};

struct Meter::Impl {
  mutable std::mutex mu;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<FunctionMeter>> functions;
  // The sheet in force. Every sheet ever set stays alive (in `sheets`) until the Meter dies, so
  // record() can read the pointer without a lock or a reference count.
  std::atomic<const PriceSheet*> prices{nullptr};
  std::vector<std::unique_ptr<const PriceSheet>> sheets;

  const PriceSheet& current() const { return *prices.load(std::memory_order_acquire); }
};

std::uint64_t Totals::invocations_total() const {
  std::uint64_t n = 0;
  for (auto c : invocations)
    n += c;
  return n;
}

FunctionMeter::FunctionMeter(Meter& meter, std::string ns, std::string name)
    : meter_(meter), s_(std::make_unique<State>()) {
  s_->ns = std::move(ns);
  s_->name = std::move(name);
}

void FunctionMeter::record(const CallRecord& call) {
  State& s = *s_;
  const PriceSheet& p = meter_.impl_->current();
  auto outcome = static_cast<std::size_t>(call.outcome);
  if (outcome >= s.invocations.size()) outcome = static_cast<std::size_t>(Outcome::kError);
  s.invocations[outcome].fetch_add(1, kRelaxed);
  s.latency.observe(non_negative(call.latency_seconds));
  if (call.replica_wait_seconds >= 0) {
    s.cold_starts.fetch_add(1, kRelaxed);
    s.wait.observe(call.replica_wait_seconds);
  }
  const bool throttled = call.outcome == Outcome::kThrottled;  // never billed, never charged
  const double billed = throttled ? 0 : p.billed(call.execution_seconds);
  const double bytes =
      static_cast<double>(call.memory_bytes > 0 ? call.memory_bytes : p.default_memory_bytes);
  if (!call.trigger.empty()) {
    std::lock_guard lock(s.triggers_mu);
    auto it = s.by_trigger.find(call.trigger);
    if (it == s.by_trigger.end())
      it = s.by_trigger.emplace(std::string(call.trigger), TriggerTotals{}).first;
    ++it->second.invocations[outcome];
    it->second.billed_seconds += billed;
    it->second.gb_seconds += billed * bytes / kBytesPerGB;
  }
  if (throttled) return;
  add(s.billed_seconds, billed);
  add(s.gb_seconds, billed * bytes / kBytesPerGB);
  add(s.cost_requests, p.requests_per_million / 1e6);
}

void FunctionMeter::add_replica_usage(const ReplicaUsage& u) {
  State& s = *s_;
  const PriceSheet& p = meter_.impl_->current();
  const double starting = non_negative(u.starting_seconds);
  const double busy = non_negative(u.busy_seconds);
  const double idle = non_negative(u.idle_seconds);
  const double cpu = non_negative(u.cpu_core_seconds);
  const double memory = non_negative(u.memory_gb_seconds);
  add(s.starting_seconds, starting);
  add(s.busy_seconds, busy);
  add(s.idle_seconds, idle);
  add(s.cpu_core_seconds, cpu);
  add(s.memory_gb_seconds, memory);
  // Split the interval's core- and GB-seconds between starting+busy and idle in proportion to
  // their seconds; with no replica seconds at all, all of it counts as starting+busy.
  const double total = starting + busy + idle;
  const double idle_part = total > 0 ? idle / total : 0;
  const double active_part = 1 - idle_part;
  add(s.cost_cpu, cpu * active_part * p.cpu_core_hour / 3600);
  add(s.cost_memory, memory * active_part * p.memory_gb_hour / 3600);
  add(s.cost_idle,
      (cpu * idle_part * p.cpu_core_hour + memory * idle_part * p.memory_gb_hour) / 3600);
}

void FunctionMeter::set_replicas(int starting, int ready) {
  s_->replicas_starting.store(starting, kRelaxed);
  s_->replicas_ready.store(ready, kRelaxed);
}

Meter::Meter(PriceSheet prices) : impl_(std::make_unique<Impl>()) {
  set_prices(prices);
}

Meter::~Meter() = default;

FunctionMeter& Meter::function(std::string_view ns, std::string_view name) {
  std::lock_guard lock(impl_->mu);
  auto key = std::make_pair(std::string(ns), std::string(name));
  auto it = impl_->functions.find(key);
  if (it == impl_->functions.end()) {
    auto fm = std::unique_ptr<FunctionMeter>(new FunctionMeter(*this, key.first, key.second));
    it = impl_->functions.emplace(std::move(key), std::move(fm)).first;
  }
  return *it->second;
}

void Meter::set_prices(const PriceSheet& prices) {
  std::lock_guard lock(impl_->mu);
  const PriceSheet* now = impl_->prices.load(std::memory_order_relaxed);
  if (now != nullptr && *now == prices) return;
  impl_->sheets.push_back(std::make_unique<const PriceSheet>(prices));
  impl_->prices.store(impl_->sheets.back().get(), std::memory_order_release);
}

PriceSheet Meter::prices() const {
  return impl_->current();
}

std::vector<Totals> Meter::totals() const {
  std::lock_guard lock(impl_->mu);
  std::vector<Totals> out;
  out.reserve(impl_->functions.size());
  for (const auto& [key, fm] : impl_->functions)
    out.push_back(fm->s_->snapshot());
  return out;
}

void Meter::restore(const std::vector<Totals>& totals) {
  for (const Totals& t : totals) {
    FunctionMeter::State& s = *function(t.ns, t.name).s_;
    for (std::size_t i = 0; i < s.invocations.size(); ++i)
      s.invocations[i].fetch_add(t.invocations[i], kRelaxed);
    add(s.billed_seconds, non_negative(t.billed_seconds));
    add(s.gb_seconds, non_negative(t.gb_seconds));
    s.cold_starts.fetch_add(t.cold_starts, kRelaxed);
    s.latency.restore(t.latency_buckets, t.latency_sum);
    s.wait.restore(t.wait_buckets, t.wait_sum);
    add(s.starting_seconds, non_negative(t.replicas.starting_seconds));
    add(s.busy_seconds, non_negative(t.replicas.busy_seconds));
    add(s.idle_seconds, non_negative(t.replicas.idle_seconds));
    add(s.cpu_core_seconds, non_negative(t.replicas.cpu_core_seconds));
    add(s.memory_gb_seconds, non_negative(t.replicas.memory_gb_seconds));
    add(s.cost_requests, non_negative(t.cost_requests));
    add(s.cost_cpu, non_negative(t.cost_cpu));
    add(s.cost_memory, non_negative(t.cost_memory));
    add(s.cost_idle, non_negative(t.cost_idle));
    // replicas_starting/ready are gauges of this run's replicas: not restored.
  }
}

std::vector<prometheus::MetricFamily> Meter::Collect() const {
  using prometheus::ClientMetric;
  using prometheus::MetricType;
  const std::vector<Totals> all = totals();
  const PriceSheet p = prices();
  std::vector<prometheus::MetricFamily> out;

  if (!all.empty()) {
    auto invocations = family("kubefn_function_invocations_total",
                              "Calls through the gateway, by outcome.", MetricType::Counter);
    auto billed = family("kubefn_function_billed_seconds_total",
                         "Execution time of the calls, each rounded up to the billing granularity.",
                         MetricType::Counter);
    auto gb = family("kubefn_function_gb_seconds_total",
                     "Billed seconds times the function's memory size in GB (2^30 bytes).",
                     MetricType::Counter);
    auto cold = family("kubefn_function_cold_starts_total",
                       "Calls that waited for a first replica to start.", MetricType::Counter);
    auto wait =
        family("kubefn_function_replica_wait_seconds",
               "How long the calls that waited for a first replica waited.", MetricType::Histogram);
    auto latency = family("kubefn_function_latency_seconds",
                          "Caller-visible latency of every call, throttled ones included.",
                          MetricType::Histogram);
    auto replica_seconds = family("kubefn_function_replica_seconds_total",
                                  "Seconds the function's replicas spent starting, busy and idle.",
                                  MetricType::Counter);
    auto cpu = family("kubefn_function_cpu_core_seconds_total",
                      "Integral of max(request, usage) of the replicas' CPU, in core-seconds.",
                      MetricType::Counter);
    auto memory = family("kubefn_function_memory_gb_seconds_total",
                         "Integral of max(request, usage) of the replicas' memory, in GB-seconds.",
                         MetricType::Counter);
    auto cost = family("kubefn_function_cost_total",
                       "Cost by component at the prices in force when each part was used.",
                       MetricType::Counter);
    auto trigger_invocations =
        family("kubefn_function_trigger_invocations_total",
               "The calls event triggers made (a part of kubefn_function_invocations_total), by "
               "trigger and outcome.",
               MetricType::Counter);
    auto trigger_billed = family("kubefn_function_trigger_billed_seconds_total",
                                 "The billed seconds of the calls event triggers made, by trigger.",
                                 MetricType::Counter);
    auto trigger_gb =
        family("kubefn_function_trigger_gb_seconds_total",
               "The GB-seconds of the calls event triggers made, by trigger.", MetricType::Counter);
    auto replicas = family("kubefn_function_replicas", "The function's replicas now, by state.",
                           MetricType::Gauge);

    for (const Totals& t : all) {
      const std::vector<ClientMetric::Label> base = {label("namespace", t.ns),
                                                     label("function", t.name)};
      auto with = [&](std::vector<ClientMetric::Label> extra) {
        auto labels = base;
        for (auto& l : extra)
          labels.push_back(std::move(l));
        return labels;
      };
      auto counter = [&](prometheus::MetricFamily& f, double v,
                         std::vector<ClientMetric::Label> extra = {}) {
        ClientMetric m;
        m.label = with(std::move(extra));
        m.counter.value = v;
        f.metric.push_back(std::move(m));
      };
      auto histogram = [&](prometheus::MetricFamily& f, const Cumulative& buckets, double sum) {
        ClientMetric m;
        m.label = base;
        m.histogram.sample_count = buckets.back();
        m.histogram.sample_sum = sum;
        for (std::size_t i = 0; i < kBuckets; ++i) {
          ClientMetric::Bucket b;
          b.cumulative_count = buckets[i];
          b.upper_bound = i < kLatencyBuckets.size() ? kLatencyBuckets[i]
                                                     : std::numeric_limits<double>::infinity();
          m.histogram.bucket.push_back(b);
        }
        f.metric.push_back(std::move(m));
      };
      auto gauge = [&](prometheus::MetricFamily& f, double v,
                       std::vector<ClientMetric::Label> extra) {
        ClientMetric m;
        m.label = with(std::move(extra));
        m.gauge.value = v;
        f.metric.push_back(std::move(m));
      };

      for (std::size_t i = 0; i < kOutcomeNames.size(); ++i)
        counter(invocations, static_cast<double>(t.invocations[i]),
                {label("outcome", kOutcomeNames[i])});
      counter(billed, t.billed_seconds);
      counter(gb, t.gb_seconds);
      counter(cold, static_cast<double>(t.cold_starts));
      histogram(wait, t.wait_buckets, t.wait_sum);
      histogram(latency, t.latency_buckets, t.latency_sum);
      counter(replica_seconds, t.replicas.starting_seconds, {label("state", "starting")});
      counter(replica_seconds, t.replicas.busy_seconds, {label("state", "busy")});
      counter(replica_seconds, t.replicas.idle_seconds, {label("state", "idle")});
      counter(cpu, t.replicas.cpu_core_seconds);
      counter(memory, t.replicas.memory_gb_seconds);
      const std::pair<const char*, double> components[] = {{"requests", t.cost_requests},
                                                           {"cpu", t.cost_cpu},
                                                           {"memory", t.cost_memory},
                                                           {"idle", t.cost_idle}};
      for (const auto& [component, v] : components)
        counter(cost, v, {label("component", component), label("currency", p.currency)});
      gauge(replicas, t.replicas_starting, {label("state", "starting")});
      gauge(replicas, t.replicas_ready, {label("state", "ready")});
      for (const auto& [trigger, tt] : t.by_trigger) {
        for (std::size_t i = 0; i < kOutcomeNames.size(); ++i)
          counter(trigger_invocations, static_cast<double>(tt.invocations[i]),
                  {label("trigger", trigger), label("outcome", kOutcomeNames[i])});
        counter(trigger_billed, tt.billed_seconds, {label("trigger", trigger)});
        counter(trigger_gb, tt.gb_seconds, {label("trigger", trigger)});
      }
    }
    for (auto* f : {&invocations, &billed, &gb, &cold, &wait, &latency, &replica_seconds, &cpu,
                    &memory, &cost, &replicas, &trigger_invocations, &trigger_billed, &trigger_gb})
      if (!f->metric.empty()) out.push_back(std::move(*f));
  }

  const std::pair<const char*, std::pair<const char*, double>> price_gauges[] = {
      {"kubefn_price_cpu_core_hour", {"Capacity price per core-hour.", p.cpu_core_hour}},
      {"kubefn_price_memory_gb_hour",
       {"Capacity price per GB-hour (GB = 2^30 bytes).", p.memory_gb_hour}},
      {"kubefn_price_requests_per_million",
       {"Price per million invocations on this platform.", p.requests_per_million}},
      {"kubefn_price_lambda_requests_per_million",
       {"The hosted comparison's price per million requests.", p.lambda_requests_per_million}},
      {"kubefn_price_lambda_gb_second",
       {"The hosted comparison's price per GB-second of billed time.", p.lambda_gb_second}},
      {"kubefn_price_granularity_seconds",
       {"Each call's execution time is rounded up to a multiple of this.", p.granularity_seconds}},
      {"kubefn_price_default_memory_bytes",
       {"The memory size of a function that declares none.",
        static_cast<double>(p.default_memory_bytes)}},
  };
  for (const auto& [name, help_value] : price_gauges) {
    auto f = family(name, help_value.first, MetricType::Gauge);
    ClientMetric m;
    m.label = {label("currency", p.currency)};
    m.gauge.value = help_value.second;
    f.metric.push_back(std::move(m));
    out.push_back(std::move(f));
  }
  return out;
}

namespace {

nlohmann::json histogram_json(const Cumulative& buckets, double sum) {
  return {{"buckets", buckets}, {"sum", sum}};
}

void histogram_from_json(const nlohmann::json& j, Cumulative& buckets, double& sum) {
  const auto& b = j.at("buckets");
  if (!b.is_array() || b.size() != kBuckets) {
    throw nlohmann::json::other_error::create(
        501, "buckets: expected " + std::to_string(kBuckets) + " cumulative counts", &b);
  }
  for (std::size_t i = 0; i < kBuckets; ++i)
    buckets[i] = b[i].get<std::uint64_t>();
  sum = j.value("sum", 0.0);
}

}  // namespace

nlohmann::json to_json(const Totals& t) {
  nlohmann::json invocations = nlohmann::json::object();
  for (std::size_t i = 0; i < kOutcomeNames.size(); ++i)
    invocations[kOutcomeNames[i]] = t.invocations[i];
  return {
      {"namespace", t.ns},
      {"name", t.name},
      {"invocations", invocations},
      {"billed_seconds", t.billed_seconds},
      {"gb_seconds", t.gb_seconds},
      {"cold_starts", t.cold_starts},
      {"latency", histogram_json(t.latency_buckets, t.latency_sum)},
      {"wait", histogram_json(t.wait_buckets, t.wait_sum)},
      {"replica_seconds",
       {{"starting", t.replicas.starting_seconds},
        {"busy", t.replicas.busy_seconds},
        {"idle", t.replicas.idle_seconds}}},
      {"cpu_core_seconds", t.replicas.cpu_core_seconds},
      {"memory_gb_seconds", t.replicas.memory_gb_seconds},
      {"cost",
       {{"requests", t.cost_requests},
        {"cpu", t.cost_cpu},
        {"memory", t.cost_memory},
        {"idle", t.cost_idle}}},
      {"replicas", {{"starting", t.replicas_starting}, {"ready", t.replicas_ready}}},
  };
}

Totals totals_from_json(const nlohmann::json& j) {
  Totals t;
  t.ns = j.at("namespace").get<std::string>();
  t.name = j.at("name").get<std::string>();
  const auto& inv = j.at("invocations");
  for (std::size_t i = 0; i < kOutcomeNames.size(); ++i)
    t.invocations[i] = inv.value(kOutcomeNames[i], std::uint64_t{0});
  t.billed_seconds = j.value("billed_seconds", 0.0);
  t.gb_seconds = j.value("gb_seconds", 0.0);
  t.cold_starts = j.value("cold_starts", std::uint64_t{0});
  histogram_from_json(j.at("latency"), t.latency_buckets, t.latency_sum);
  histogram_from_json(j.at("wait"), t.wait_buckets, t.wait_sum);
  if (j.contains("replica_seconds")) {
    const auto& r = j.at("replica_seconds");
    t.replicas.starting_seconds = r.value("starting", 0.0);
    t.replicas.busy_seconds = r.value("busy", 0.0);
    t.replicas.idle_seconds = r.value("idle", 0.0);
  }
  t.replicas.cpu_core_seconds = j.value("cpu_core_seconds", 0.0);
  t.replicas.memory_gb_seconds = j.value("memory_gb_seconds", 0.0);
  if (j.contains("cost")) {
    const auto& c = j.at("cost");
    t.cost_requests = c.value("requests", 0.0);
    t.cost_cpu = c.value("cpu", 0.0);
    t.cost_memory = c.value("memory", 0.0);
    t.cost_idle = c.value("idle", 0.0);
  }
  if (j.contains("replicas")) {
    const auto& r = j.at("replicas");
    t.replicas_starting = r.value("starting", 0);
    t.replicas_ready = r.value("ready", 0);
  }
  return t;
}

}  // namespace kubefn::metering
