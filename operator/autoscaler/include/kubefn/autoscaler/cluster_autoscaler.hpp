// The autoscaler in the operator: one Autoscaler per Function, fed with the samples the
// replicas, the gateway and the dispatchers stream (see StatsServer), deciding every tick and
// writing the Deployment's scale subresource when the decision differs from what the
// Deployment has.
//
// Functions (their spec.scaling), Deployments (their spec.replicas) and Pods (to forget
// replicas that are gone) are watched by the autoscaler's own informers, trimmed to what it
// reads; their handlers keep the per-Function state current, so a tick reads nothing from the
// API. A Function whose spec.replicas is set is left alone: the user pinned it.
#pragma once

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kubefn/autoscaler/autoscaler.hpp"
#include "kubefn/autoscaler/autoscaler_metrics.hpp"
#include "kubefn/autoscaler/function_scaling.hpp"
#include "kubefn/autoscaler/stats_server.hpp"
#include "kubefn/controller/event_recorder.hpp"
#include "kubefn/controller/function_spec.hpp"
#include "kubefn/kube/clock.hpp"
#include "kubefn/kube/informer.hpp"
#include "kubefn/kube/kube_client.hpp"

namespace kubefn::autoscaler {

struct ClusterAutoscalerOptions {
  std::vector<std::string> namespaces;  // empty: all
  std::chrono::milliseconds tick{1000};
  // The informers hand their whole caches to the handlers again this often (zero: never). Not
  // needed for correctness: every change arrives by watch, and a 410 relists.
  kube::Clock::Duration resync_period = kube::Clock::Duration::zero();
  std::string field_manager = "kubefn-autoscaler";
  // Window defaults applied to every Function (not Function fields).
  Duration stable_window = std::chrono::seconds(60);
  // Samples held between ticks; more are dropped.
  std::size_t max_pending = 100000;
};

class ClusterAutoscaler final : public StatsSink {
 public:
  ClusterAutoscaler(kube::KubeClient& client, kube::Clock& clock, controller::EventRecorder& events,
                    prometheus::Registry& registry, ClusterAutoscalerOptions options = {});
  ~ClusterAutoscaler() override;  // stops

  void on_replica(const ReplicaReport& report) override;
  void on_gateway(const GatewayReport& report) override;
  // The latest report of each queue trigger is kept (dispatcher replicas share a consumer and
  // report the same backlog: the latest wins, they are not added up); each tick feeds the sum
  // over a Function's triggers to its Autoscaler. A report older than the Function's
  // backlog_stale_after counts as 0 (a dispatcher gone), and a trigger a dispatcher stops
  // reporting is dropped with its figure. Pending events for a function at zero poke.
  void on_dispatcher(const DispatcherReport& report) override;

  // Starts the informers (start() does too; idempotent). Until they have synced, ticks decide
  // only for what they have seen.
  void watch();
  // Waits (real time) until every informer has listed once; false on timeout.
  bool wait_for_sync(std::chrono::milliseconds timeout);

  // One pass at clock.now(): feeds the samples received since the last pass, decides for every
  // Function and writes the scale where the decision differs. Reads nothing from the API.
  void tick();
  // Decides at once for Functions at zero whose calls the gateway queues, or whose queue
  // triggers have events pending.
  void poke_queued();

  // The informers and a thread ticking on the clock (and poking as soon as the gateway queues
  // a call for a function at zero).
  void start();
  // Stops the ticking thread and the informers.
  void stop();

  // The latest decision for ns/name, if any (for tests and status).
  std::optional<Decision> last_decision(const std::string& ns, const std::string& name) const;
  std::uint64_t scale_writes() const;
  // Whether ns/name is a Function the autoscaler scales (seen, valid, replicas not pinned).
  bool tracks(const std::string& ns, const std::string& name) const;
  // The Deployment's spec.replicas as last seen (or written); nullopt: no Deployment seen.
  std::optional<int> current_replicas(const std::string& ns, const std::string& name) const;
  // Replicas forgotten because their Pod was deleted.
  std::uint64_t replicas_forgotten() const;

 private:
  struct Tracked {
    std::unique_ptr<Autoscaler> scaler;
    nlohmann::json function;  // trimmed: for events, and to tell a spec change from the rest
    std::optional<Decision> last;
    AutoscalerMetrics::Series series;
  };

  // Informer handlers, called on the informers' threads.
  void function_seen(const nlohmann::json& function);
  void function_gone(const nlohmann::json& function);
  void deployment_seen(const nlohmann::json& deployment);
  void deployment_gone(const nlohmann::json& deployment);
  void pod_seen(const nlohmann::json& pod);
  void pod_gone(const nlohmann::json& pod);

  void scale(const std::string& key, Tracked& t, const Decision& d, int current);
  TimePoint time_of(std::int64_t unix_ms, TimePoint now) const;
  // Feeds ns/name's backlog: the sum of its triggers' fresh reports, at the oldest of their
  // times (0 now when there is none); drops the stale ones. Takes in_mu_.
  void feed_backlog(const std::string& key, Tracked& t, TimePoint now);
  void drop_gauges(Tracked& t);

  kube::KubeClient& client_;
  kube::Clock& clock_;
  controller::EventRecorder& events_;
  const ClusterAutoscalerOptions options_;
  AutoscalerMetrics metrics_;

  // Samples received and the run loop's state, guarded by in_mu_.
  mutable std::mutex in_mu_;
  std::condition_variable run_cv_;
  bool stop_ = false;
  std::vector<ReplicaReport> replica_in_;
  std::vector<GatewayReport> gateway_in_;
  std::set<std::string> queued_keys_;  // functions the gateway queues calls for
  // The latest backlog report of each queue trigger: "ns/name" -> trigger -> report.
  struct TriggerBacklog {
    double pending = 0;
    std::int64_t unix_ms = 0;
    std::string dispatcher;  // who sent it
  };
  std::map<std::string, std::map<std::string, TriggerBacklog>> backlog_in_;
  std::set<std::string> backlog_keys_;  // functions with events pending since the last poke
  bool poked_ = false;
  std::uint64_t dropped_ = 0;

  // Decision state, guarded by mu_ (one pass at a time).
  mutable std::mutex mu_;
  std::map<std::string, Tracked> tracked_;  // "ns/name"
  // Deployments named like their Function, seen or not: "ns/name" -> spec.replicas.
  std::map<std::string, int> deployments_;
  // The Pods of each Function ("ns/name") and whether each is Ready.
  std::map<std::string, std::map<std::string, bool>> pods_;
  // The resourceVersion of our last scale write per Deployment: an event older than it (a
  // watch lagging behind the write) would bring back the count the write replaced.
  std::map<std::string, std::uint64_t> written_;
  std::uint64_t forgotten_ = 0;
  std::uint64_t ticks_ = 0;
  std::uint64_t writes_ = 0;

  std::thread thread_;

  // The informers, guarded by watch_mu_; their handlers take mu_, so stop() must not hold it.
  std::mutex watch_mu_;
  std::vector<std::unique_ptr<kube::Informer>> informers_;
};

}  // namespace kubefn::autoscaler
