#include "policies.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

namespace kubefn::bench {
namespace {

using autoscaler::TimePoint;

TimePoint at(double s) {
  return TimePoint(
      std::chrono::duration_cast<autoscaler::Duration>(std::chrono::duration<double>(s)));
}

// kubefn: the real decision code, ticking every second.
class Kubefn final : public Policy {
 public:
  Kubefn(const PolicySettings& s, std::string name)
      : name_(std::move(name)), scaler_(spec(s), at(0)) {}
  const char* name() const override { return name_.c_str(); }
  double tick_s() const override { return 1.0; }
  // A new Function's Deployment is created without spec.replicas: one replica.
  int initial_replicas() const override { return 1; }

  void observe(double now, const std::vector<SecondStat>& stats, double queue) override {
    for (const SecondStat& st : stats) {
      autoscaler::ReplicaSample sample;
      sample.replica = std::to_string(st.replica);
      sample.second = at(now - 1);
      sample.requests = st.requests;
      sample.inflight_average = st.busy;
      sample.inflight_peak = st.active ? 1 : 0;
      sample.busy_seconds = st.busy;
      scaler_.record(sample);
    }
    scaler_.record_queued(at(now - 1), queue);
  }
  int decide(const View& v) override {
    const autoscaler::Decision d = scaler_.decide(at(v.now), v.replicas);
    if (debug_ && d.desired != v.replicas) {
      std::fprintf(stderr, "%8.0f %3d -> %3d  %s\n", v.now, v.replicas, d.desired,
                   d.reason.c_str());
    }
    return d.desired;
  }
  int on_queued(const View& v) override {
    if (v.replicas > 0) return -1;
    return scaler_.poke(at(v.now), 0, v.queued).desired;
  }
  void removed(int replica) override { scaler_.forget_replica(std::to_string(replica)); }

 private:
  static autoscaler::ScalingSpec spec(const PolicySettings& s) {
    autoscaler::ScalingSpec sp;  // defaults, as a Function gets them
    sp.target = s.target;
    sp.max_replicas = s.max_replicas;
    sp.keep_alive.cold_start_cost = s.cold_start_cost;
    return sp;
  }
  std::string name_;
  autoscaler::Autoscaler scaler_;
  bool debug_ = std::getenv("KUBEFN_AUTOSCALE_DEBUG") != nullptr;
};

// Knative KPA at its defaults: 2 s tick, 60 s stable and 6 s panic windows over 1 s buckets,
// panic at 200%, scale-up 1000x, scale-down 2x; zero once the stable window has drained and
// 30 s of grace have passed; the activator pokes it at zero.
class Kpa final : public Policy {
 public:
  explicit Kpa(const PolicySettings& s) : s_(s) {}
  const char* name() const override { return "knative-kpa"; }
  double tick_s() const override { return 2.0; }
  int initial_replicas() const override { return 1; }  // initial-scale defaults to 1

  void observe(double, const std::vector<SecondStat>& stats, double queue) override {
    double total = queue;
    for (const SecondStat& st : stats)
      total += st.busy;
    buckets_.push_back(total);
    if (buckets_.size() > 60) buckets_.pop_front();
  }

  int decide(const View& v) override {
    const int ready = std::max(1, v.ready);
    double stable = 0, panic = 0;
    const std::size_t n = buckets_.size();
    for (std::size_t i = 0; i < n; ++i) {
      stable += buckets_[i];
      if (i + 6 >= n) panic += buckets_[i];
    }
    if (n > 0) {
      stable /= static_cast<double>(n);
      panic /= static_cast<double>(std::min<std::size_t>(n, 6));
    }
    const int dspc = static_cast<int>(std::ceil(stable / s_.target - 1e-9));
    const int dppc = static_cast<int>(std::ceil(panic / s_.target - 1e-9));
    const int max_up = static_cast<int>(std::ceil(1000.0 * ready));
    const int max_down = v.ready == 0 ? 0 : v.ready / 2;
    const int ds = std::clamp(dspc, std::min(max_down, max_up), max_up);
    const int dp = std::clamp(dppc, std::min(max_down, max_up), max_up);
    const bool over = static_cast<double>(dppc) / ready >= 2.0;
    if (over) {
      panicking_ = true;
      panic_time_ = v.now;
    } else if (panicking_ && v.now > panic_time_ + 60) {
      panicking_ = false;
      max_panic_ = 0;
    }
    int desired = ds;
    if (panicking_) {
      desired = std::max(ds, dp);
      desired = max_panic_ = std::max(max_panic_, desired);
    }
    // Scale to zero: the PodAutoscaler holds one replica until desired has been 0 for the
    // grace period (and it has been active for a stable window).
    if (desired == 0) {
      if (zero_since_ < 0) zero_since_ = v.now;
      if (v.now - zero_since_ < 30 && v.replicas > 0) desired = 1;
    } else {
      zero_since_ = -1;
    }
    return std::min(desired, s_.max_replicas);
  }

  int on_queued(const View& v) override { return v.replicas == 0 ? 1 : -1; }

 private:
  PolicySettings s_;
  std::deque<double> buckets_;
  bool panicking_ = false;
  double panic_time_ = 0;
  int max_panic_ = 0;
  double zero_since_ = -1;
};

// Kubernetes HPA v2 at its defaults on a CPU-utilisation-like metric (busy fraction of the
// ready replicas over the sync period): 15 s sync, 10% tolerance, scale-up by at most
// max(+4, x2) per period, 300 s scale-down stabilisation, minReplicas 1. It sees no queue.
class Hpa final : public Policy {
 public:
  explicit Hpa(const PolicySettings& s) : s_(s) {}
  const char* name() const override { return "k8s-hpa"; }
  double tick_s() const override { return 15.0; }
  int initial_replicas() const override { return 1; }

  void observe(double, const std::vector<SecondStat>& stats, double) override {
    for (const SecondStat& st : stats) {
      busy_ += st.busy;
      replica_seconds_ += 1;
    }
  }

  int decide(const View& v) override {
    const int current = std::max(1, v.replicas);
    int recommendation = current;
    if (replica_seconds_ > 0) {
      const double utilisation = busy_ / replica_seconds_;
      const double ratio = utilisation / s_.target;
      if (std::fabs(ratio - 1.0) > 0.1) {
        recommendation = static_cast<int>(std::ceil(std::max(1, v.ready) * ratio - 1e-9));
      }
    }
    busy_ = replica_seconds_ = 0;
    recommendation = std::clamp(recommendation, 1, s_.max_replicas);
    history_.emplace_back(v.now, recommendation);
    while (!history_.empty() && history_.front().first < v.now - 300)
      history_.pop_front();
    int desired = recommendation;
    if (desired < current) {
      for (const auto& [t, r] : history_)
        desired = std::max(desired, r);
      desired = std::min(desired, current);
    } else {
      desired = std::min(desired, std::max(current + 4, current * 2));
    }
    return std::clamp(desired, 1, s_.max_replicas);
  }

 private:
  PolicySettings s_;
  double busy_ = 0, replica_seconds_ = 0;
  std::deque<std::pair<double, int>> history_;
};

// Fixed keep-alive (AWS Lambda / OpenWhisk style): one replica per call in flight; a call
// that finds none free starts one; a replica unused for 10 minutes goes.
class KeepAlive final : public Policy {
 public:
  explicit KeepAlive(const PolicySettings& s) : s_(s) {}
  const char* name() const override { return "keepalive-10m"; }
  double tick_s() const override { return 1.0; }

  int decide(const View& v) override {
    int expired = 0;
    for (double idle : v.idle_for) {
      if (idle >= 600) ++expired;
    }
    return v.replicas - expired;
  }
  int on_queued(const View& v) override {
    if (v.idle_ready == 0 && v.queued > v.starting) {
      return std::min(s_.max_replicas, v.replicas + (v.queued - v.starting));
    }
    return -1;
  }

 private:
  PolicySettings s_;
};

}  // namespace

std::unique_ptr<Policy> make_kubefn(const PolicySettings& s, std::string name) {
  return std::make_unique<Kubefn>(s, std::move(name));
}
std::unique_ptr<Policy> make_kpa(const PolicySettings& s) {
  return std::make_unique<Kpa>(s);
}
std::unique_ptr<Policy> make_hpa(const PolicySettings& s) {
  return std::make_unique<Hpa>(s);
}
std::unique_ptr<Policy> make_keep_alive(const PolicySettings& s) {
  return std::make_unique<KeepAlive>(s);
}

}  // namespace kubefn::bench
