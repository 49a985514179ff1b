// Per-function metering: what callers used (invocations, billed time, GB-seconds, cold starts,
// waits, latency) and what replicas held (starting, busy and idle seconds, the integral of
// max(request, usage) of CPU and memory), priced as it happens at the prices in force at that
// moment, exported as Prometheus families named kubefn_function_* and kubefn_price_*; the
// calls event triggers made are split out by trigger (kubefn_function_trigger_*).
//
// Thread-safe. record() is the gateway's hot path: after a function's first call it takes no
// lock and allocates nothing (relaxed atomics only).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "kubefn/metering/price_sheet.hpp"

namespace kubefn::metering {

enum class Outcome { kSuccess = 0, kError = 1, kTimeout = 2, kThrottled = 3 };
inline constexpr std::array<const char*, 4> kOutcomeNames = {"success", "error", "timeout",
                                                             "throttled"};

// One finished call, as the gateway saw it.
struct CallRecord {
  Outcome outcome = Outcome::kSuccess;
  // The function's execution time: the runtime's own measure of the handler when it gave one,
  // else the time the replica took to answer as the gateway measured it; 0 for throttled
  // calls (never billed).
  double execution_seconds = 0;
  // From the request's head to the response's last byte, as the caller saw it (throttled calls
  // included).
  double latency_seconds = 0;
  // The call waited for a first replica to start (a cold start) this long; < 0: it did not.
  double replica_wait_seconds = -1;
  // The function's memory size in bytes; <= 0: the price sheet's default.
  std::int64_t memory_bytes = 0;
  // The event trigger that made the call (a schedule's, a queue's, or "async"); empty: an
  // HTTP call. The gateway takes it only from the platform's own callers.
  std::string_view trigger = {};
};

// A function's calls made by one event trigger (since this process started metering).
struct TriggerTotals {
  std::array<std::uint64_t, 4> invocations{};  // by Outcome
  double billed_seconds = 0;
  double gb_seconds = 0;
};

// What one replica held over an interval (a delta, added to the totals).
struct ReplicaUsage {
  double starting_seconds = 0;   // created, not yet ready
  double busy_seconds = 0;       // ready, at least one call in flight
  double idle_seconds = 0;       // ready, no call in flight
  double cpu_core_seconds = 0;   // integral of max(request, usage) in cores
  double memory_gb_seconds = 0;  // integral of max(request, usage) in GB (2^30 bytes)
};

// Latency and wait histograms share these bounds (seconds).
inline constexpr std::array<double, 20> kLatencyBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1,      2.5,   5,      10,    30,   60,    120,  300, 600,  900};

// Totals of one function since metering began (restored ones included).
struct Totals {
  std::string ns, name;
  std::array<std::uint64_t, 4> invocations{};  // by Outcome
  double billed_seconds = 0;
  double gb_seconds = 0;
  std::uint64_t cold_starts = 0;
  // Cumulative counts per bucket of kLatencyBuckets plus +Inf, and the sums.
  std::array<std::uint64_t, kLatencyBuckets.size() + 1> latency_buckets{};
  double latency_sum = 0;
  std::array<std::uint64_t, kLatencyBuckets.size() + 1> wait_buckets{};
  double wait_sum = 0;
  ReplicaUsage replicas;  // cumulative
  // Cost by component, at the prices in force when each part was used.
  double cost_requests = 0, cost_cpu = 0, cost_memory = 0, cost_idle = 0;
  // Replicas now (gauges, not totals).
  int replicas_starting = 0, replicas_ready = 0;
  // The part of the calls above that event triggers made, by trigger name (not kept in the
  // history: since this process started).
  std::map<std::string, TriggerTotals> by_trigger;

  std::uint64_t invocations_total() const;
};

nlohmann::json to_json(const Totals& t);
Totals totals_from_json(const nlohmann::json& j);  // throws nlohmann::json::exception

class Meter;

// One function's accumulators; obtained from Meter::function() and valid as long as the Meter.
class FunctionMeter {
 public:
  // Counts the call by outcome and observes its latency (every call) and its wait (a cold
  // start: replica_wait_seconds >= 0). A call that was not throttled is billed at the prices in
  // force now: billed(execution_seconds), times its memory size in GB, and requestsPerMillion/1e6.
  void record(const CallRecord& call);
  // Adds the interval's usage and prices it now: its core- and GB-seconds are split between
  // starting+busy and idle in proportion to (starting + busy) and idle seconds; the first part
  // is the cpu and memory cost, the second (cpu and memory together) the idle cost. An
  // interval with no replica seconds counts all of it as starting+busy. Negative fields add 0.
  void add_replica_usage(const ReplicaUsage& usage);
  void set_replicas(int starting, int ready);

 private:
  friend class Meter;
  FunctionMeter(Meter& meter, std::string ns, std::string name);
  struct State;
  Meter& meter_;
  std::unique_ptr<State> s_;
};

class Meter : public prometheus::Collectable {
 public:
  explicit Meter(PriceSheet prices = {});
  ~Meter() override;

  // The function's meter, created on first use (under a lock; callers cache the reference).
  FunctionMeter& function(std::string_view ns, std::string_view name);

  // Prices from now on; what was used before keeps the prices it was priced at.
  void set_prices(const PriceSheet& prices);
  PriceSheet prices() const;

  std::vector<Totals> totals() const;
  // Adds restored totals (for example from the last run's history) to each function's,
  // before any record of this run (counters stay monotonic across restarts of `kubefn up`).
  void restore(const std::vector<Totals>& totals);

  // kubefn_function_* and kubefn_price_* families (prometheus::Collectable).
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  friend class FunctionMeter;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kubefn::metering
