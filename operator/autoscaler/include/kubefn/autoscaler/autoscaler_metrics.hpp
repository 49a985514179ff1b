// The autoscaler's per-function metrics, the same in the operator and in kubefn up:
// kubefn_autoscaler_{desired,actual}_replicas, kubefn_autoscaler_observed_load and
// kubefn_autoscaler_panic, each labelled namespace and function.
#pragma once

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <string>

#include "kubefn/autoscaler/autoscaler.hpp"

namespace kubefn::autoscaler {

class AutoscalerMetrics {
 public:
  // One function's series.
  struct Series {
    prometheus::Gauge* desired = nullptr;
    prometheus::Gauge* actual = nullptr;
    prometheus::Gauge* load = nullptr;
    prometheus::Gauge* panic = nullptr;
  };

  explicit AutoscalerMetrics(prometheus::Registry& registry);

  Series add(const std::string& ns, const std::string& function);
  // The decision and the replicas the function has ready now.
  static void set(const Series& series, const Decision& decision, int actual);
  // The function is gone: its series go too.
  void remove(Series& series);

 private:
  prometheus::Family<prometheus::Gauge>& desired_;
  prometheus::Family<prometheus::Gauge>& actual_;
  prometheus::Family<prometheus::Gauge>& load_;
  prometheus::Family<prometheus::Gauge>& panic_;
};

}  // namespace kubefn::autoscaler
