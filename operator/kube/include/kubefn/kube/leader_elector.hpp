#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "kubefn/kube/clock.hpp"
#include "kubefn/kube/kube_client.hpp"
#include "kubefn/kube/result.hpp"

namespace kubefn::kube {

struct LeaderElectionConfig {
  std::string lease_namespace;
  std::string lease_name;
  std::string identity;  // unique per candidate, e.g. the pod name
  Clock::Duration lease_duration = std::chrono::seconds(15);
  Clock::Duration renew_deadline = std::chrono::seconds(10);
  Clock::Duration retry_period = std::chrono::seconds(2);
};

// Called from the elector's thread; they must return quickly.
struct LeaderCallbacks {
  std::function<void()> on_started_leading;
  std::function<void()> on_stopped_leading;
  std::function<void(const std::string& identity)> on_new_leader;
  // Stopping while leading could not give the lease back: the next leader waits it out.
  std::function<void(const Status& error)> on_release_failed;
};

// Leader election on a coordination.k8s.io/v1 Lease. A candidate takes the lease when it is
// free or its holder has not renewed it within leaseDurationSeconds of *local* time since the
// record last changed (so clocks need not agree), renews it every retry period, loses it on a
// conflicting write or when renewals keep failing past the renew deadline, and releases it on
// stop() so that another candidate can take over at once.
class LeaderElector {
 public:
  LeaderElector(KubeClient& client, Clock& clock, LeaderElectionConfig config,
                LeaderCallbacks callbacks);
  ~LeaderElector();  // stops, releasing the lease if held
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  void start();
  void stop();

  bool is_leader() const { return leader_; }
  std::string observed_leader() const;

  // One round of the protocol, exposed so the logic can be tested step by step: true if this
  // candidate holds the lease afterwards.
  Result<bool> try_acquire_or_renew();
  // Gives the lease up if this candidate holds it.
  Status release();

 private:
  void run();
  bool lead();  // renews until lost or stopped; false when stopping
  bool pause(Clock::Duration duration);
  nlohmann::json desired_spec(const nlohmann::json& current) const;
  void observe(const nlohmann::json& spec);
  ObjectRef lease_ref() const;

  KubeClient& client_;
  Clock& clock_;
  const LeaderElectionConfig config_;
  const LeaderCallbacks callbacks_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> leader_{false};
  nlohmann::json observed_spec_;
  Clock::TimePoint observed_at_{};
  std::string observed_holder_;
  std::thread thread_;
};

// MicroTime as the API writes it: "2026-11-23T20:19:46.123456Z".
std::string format_micro_time(Clock::WallTime time);

}  // namespace kubefn::kube
