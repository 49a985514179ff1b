// What every trigger runner of a dispatcher shares.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "kubefn/controller/event_recorder.hpp"
#include "kubefn/delivery/gateway_caller.hpp"
#include "kubefn/delivery/in_flight_gate.hpp"
#include "kubefn/dispatch/dispatcher.hpp"
#include "kubefn/kube/clock.hpp"
#include "kubefn/kube/kube_client.hpp"
#include "kubefn/schedule/time_zone_database.hpp"
#include "kubefn/telemetry/json_log.hpp"
#include "kubefn/triggers/trigger_spec.hpp"

namespace kubefn::dispatch {

struct DispatchMetrics {
  explicit DispatchMetrics(prometheus::Registry& registry);
  // One per event, when it is done: delivered or dead_lettered.
  prometheus::Family<prometheus::Counter>& events;
  // One per call to the function: delivered, failed or throttled.
  prometheus::Family<prometheus::Counter>& attempts;
  // Runs of schedules: claimed, skipped (missed or forbidden), resumed.
  prometheus::Family<prometheus::Counter>& schedule_runs;
  // Events waiting in a queue trigger's source.
  prometheus::Family<prometheus::Gauge>& pending;
};

// The queue triggers' backlogs as their runners last measured them, by ns/function/trigger
// (the key of Dispatcher's runners). Thread-safe.
class BacklogBoard {
 public:
  void set(const std::string& ns, const std::string& function, const std::string& trigger,
           double pending, kube::Clock::TimePoint updated) {
    std::lock_guard<std::mutex> lock(mu_);
    entries_[ns + "/" + function + "/" + trigger] =
        Backlog{ns, function, trigger, pending, updated};
  }
  void erase(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    entries_.erase(key);
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mu_);
    entries_.clear();
  }
  std::vector<Backlog> all() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Backlog> out;
    out.reserve(entries_.size());
    for (const auto& [key, b] : entries_)
      out.push_back(b);
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, Backlog> entries_;
};

struct Context {
  kube::KubeClient& client;
  kube::Clock& clock;
  controller::EventRecorder& events;
  delivery::FunctionCaller& caller;
  DispatchMetrics metrics;
  schedule::TimeZoneDatabase zones;
  std::string field_manager;
  telemetry::LineWriter& log;
  BacklogBoard backlog;  // what the queue triggers measure of their sources
};

// A JSON log line naming the function and trigger, with `error`.
void log_trigger(Context& ctx, std::string_view level, std::string_view msg, const std::string& ns,
                 const std::string& function, const std::string& trigger, const std::string& error);

// The Function a trigger belongs to, as far as delivering to it goes.
struct FunctionInfo {
  std::string ns;
  std::string name;
  std::chrono::milliseconds timeout{180000};
  std::shared_ptr<delivery::InFlightGate> gate;  // shared by the function's triggers
};

// A stop flag with a wait on the context's clock that it cuts short.
class Stopper {
 public:
  explicit Stopper(kube::Clock& clock) : clock_(clock) {}
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
  }
  bool stopped() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stopped_;
  }
  // Waits `d` on the clock, or less when stopped (then false) or poked (then true).
  bool wait(kube::Clock::Duration d) {
    std::unique_lock<std::mutex> lock(mu_);
    const auto deadline = clock_.now() + d;
    const std::uint64_t poked = pokes_;
    while (!stopped_ && pokes_ == poked && clock_.now() < deadline) {
      clock_.wait_until(lock, cv_, deadline);
    }
    return !stopped_;
  }
  void poke() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++pokes_;
    }
    cv_.notify_all();
  }

 private:
  kube::Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  std::uint64_t pokes_ = 0;
};

// A running trigger: stopped and joined on destruction.
class TriggerRunner {
 public:
  virtual ~TriggerRunner() = default;
};

// The outcome of delivering one event with its retry policy.
struct Delivered {
  bool ok = false;       // a 2xx came back
  bool stopped = false;  // the dispatcher stopped first: the event is not done
  int attempts = 0;
  delivery::CallResult last;
};

// Sends `event` until a 2xx, retrying failures with backoff up to the policy's retries and
// waiting out throttling without spending them (for at most `max_throttled`).
Delivered deliver_with_retries(Context& ctx, const FunctionInfo& fn, const std::string& trigger,
                               const delivery::Event& event, const triggers::RetryPolicy& policy,
                               Stopper& stopper,
                               std::chrono::hours max_throttled = std::chrono::hours(6));

}  // namespace kubefn::dispatch
