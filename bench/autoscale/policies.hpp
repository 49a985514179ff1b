// The scaling policies the simulator compares: kubefn's (the real decision code) and clones of
// Knative KPA, Kubernetes HPA and a fixed 10-minute keep-alive, all at their defaults.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "kubefn/autoscaler/autoscaler.hpp"

namespace kubefn::bench {

// What a replica did during one second (capacity one call at a time).
struct SecondStat {
  int replica = 0;
  double requests = 0;
  double busy = 0;  // seconds busy: the average calls in flight
  bool active = false;
};

struct View {
  double now = 0;
  int replicas = 0;  // ready or starting, not draining
  int ready = 0;
  int idle_ready = 0;
  int starting = 0;
  int queued = 0;
  // Seconds since each ready, idle replica was last used, longest first.
  std::vector<double> idle_for;
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual const char* name() const = 0;
  virtual double tick_s() const = 0;
  virtual int initial_replicas() const { return 0; }
  // Figures of the second that ends at `now`, for every replica that was ready in it.
  virtual void observe(double /*now*/, const std::vector<SecondStat>& /*stats*/,
                       double /*queue_average*/) {}
  virtual int decide(const View& view) = 0;
  // A call was queued; return a replica count to apply at once, or -1.
  virtual int on_queued(const View& /*view*/) { return -1; }
  virtual void removed(int /*replica*/) {}
};

struct PolicySettings {
  double target = 0.7;  // in flight per replica (of a capacity of one)
  int max_replicas = 50;
  // kubefn's spec.scaling.coldStartCost: idle replica-seconds one avoided cold start is worth.
  double cold_start_cost = autoscaler::kDefaultColdStartCost;
};

// kubefn at the settings' coldStartCost, named `name` (default "kubefn").
std::unique_ptr<Policy> make_kubefn(const PolicySettings& s, std::string name = "kubefn");
std::unique_ptr<Policy> make_kpa(const PolicySettings& s);
std::unique_ptr<Policy> make_hpa(const PolicySettings& s);
std::unique_ptr<Policy> make_keep_alive(const PolicySettings& s);

}  // namespace kubefn::bench
