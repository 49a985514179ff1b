#pragma once

// Stand-ins for two kube-controller-manager loops the operator relies on: the deployment
// controller (status follows spec after a delay) and the garbage collector (ownerReferences,
// with background, foreground and orphan propagation). One background thread, woken by every
// store write.

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "object_store.hpp"

namespace kubefn::emulator {

struct ControllerOptions {
  bool deployments = true;
  std::chrono::milliseconds deployment_ready_delay{0};
  bool garbage_collector = true;
};

class FakeControllers {
 public:
  FakeControllers(ObjectStore& store, ControllerOptions options);
  // Joins the loop; the store must be shut down first or concurrently.
  ~FakeControllers();
  FakeControllers(const FakeControllers&) = delete;
  FakeControllers& operator=(const FakeControllers&) = delete;

 private:
  using Clock = std::chrono::steady_clock;
  void run();
  // Both return the earliest time they want to run again (max() when idle).
  Clock::time_point sync_deployments();
  void sync_replica_set(const nlohmann::json& deployment);
  void collect_garbage();

  ObjectStore& store_;
  ControllerOptions options_;
  // uid -> (generation seen, when its status is due)
  std::map<std::string, std::pair<int64_t, Clock::time_point>> pending_;
  // Deployment uid -> the name of the ReplicaSet of its current template (no scan of every
  // ReplicaSet per sync: the emulator serves 10,000 Deployments).
  std::map<std::string, std::string> replica_sets_;
  std::thread thread_;
};

}  // namespace kubefn::emulator
