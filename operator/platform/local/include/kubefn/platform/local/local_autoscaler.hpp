// Scaling on the local platform: every tick, the gateway's per-function load goes into the
// autoscaler's decision code (the same code the cluster's autoscaler runs), and its decision
// becomes the local replica count. A request that finds no ready replica pokes it at once,
// so a function at zero gets a replica without waiting for the tick. With a backlog provider
// (the in-process dispatcher's), the events pending in each function's queue triggers go in
// too, read every tick.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "kubefn/autoscaler/autoscaler.hpp"
#include "kubefn/autoscaler/autoscaler_metrics.hpp"
#include "kubefn/autoscaler/function_scaling.hpp"
#include "kubefn/controller/event_recorder.hpp"
#include "kubefn/controller/function_spec.hpp"
#include "kubefn/gateway/gateway.hpp"
#include "kubefn/platform/local/local_platform.hpp"

namespace kubefn::platform::local {

class LocalAutoscaler {
 public:
  // `functions` lists the live Function objects (the API's view); `events` gets one Event
  // per scaling step, with the decision's reason.
  // Called after each scale the autoscaler applied, with the decision's replicas and reason
  // (kubefn up writes them to the Function's status.scaling).
  using ScaledHook = std::function<void(const std::string& ns, const std::string& name, int desired,
                                        const std::string& reason)>;
  // One queue trigger's pending events, as measured at `updated`.
  struct TriggerBacklog {
    std::string ns, function;
    double pending = 0;
    autoscaler::TimePoint updated;
  };
  using BacklogProvider = std::function<std::vector<TriggerBacklog>()>;

  LocalAutoscaler(gateway::Gateway& gateway, LocalPlatform& platform,
                  std::function<std::vector<nlohmann::json>()> functions,
                  controller::EventRecorder& events, std::ostream& log,
                  std::chrono::milliseconds tick = std::chrono::seconds(1),
                  ScaledHook on_scaled = nullptr, prometheus::Registry* registry = nullptr);
  ~LocalAutoscaler();  // stops
  LocalAutoscaler(const LocalAutoscaler&) = delete;
  LocalAutoscaler& operator=(const LocalAutoscaler&) = delete;

  // A request is waiting for a replica of ns/name: decide now (from any thread).
  void poke(const std::string& ns, const std::string& name);
  // Where the queue triggers' backlogs come from (any thread; null: none). Called on the
  // autoscaler's thread every tick.
  void set_backlog(BacklogProvider provider);
  void stop();

 private:
  struct Tracked {
    std::unique_ptr<autoscaler::Autoscaler> scaler;
    nlohmann::json function;
    autoscaler::AutoscalerMetrics::Series series;
  };
  void loop();
  void tick(autoscaler::TimePoint now, bool full);

  gateway::Gateway& gateway_;
  LocalPlatform& platform_;
  std::function<std::vector<nlohmann::json>()> functions_;
  controller::EventRecorder& events_;
  std::ostream& log_;
  const std::chrono::milliseconds tick_;
  const ScaledHook on_scaled_;
  BacklogProvider backlog_;                                 // guarded by mu_
  std::unique_ptr<autoscaler::AutoscalerMetrics> metrics_;  // with a registry

  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> poked_;  // "ns/name"
  bool stop_ = false;
  std::map<std::string, Tracked> tracked_;  // by "ns/name"; the loop thread's own
  std::thread thread_;
};

}  // namespace kubefn::platform::local
